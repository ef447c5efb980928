// Canned responses in the composer: `/` and a shortcut offer them; the one chosen is inserted with its
// variables filled in from the conversation, the agent and the page.

import type { CannedResponse } from './types';

/** What the variables stand for in one conversation. */
export interface CannedContext {
  customer: string;
  agent: string;
  page: string;
}

/** Most suggestions shown at once. */
export const MAX_SUGGESTIONS = 8;

/** The text with `{{customer.name}}`, `{{agent.name}}` and `{{page.name}}` filled in (spaces inside the braces allowed). */
export function render(text: string, context: CannedContext): string {
  const values: Record<string, string> = {
    'customer.name': context.customer,
    'agent.name': context.agent,
    'page.name': context.page,
  };
  return text.replace(/\{\{\s*([a-z.]+)\s*\}\}/g, (whole, name: string) => values[name] ?? whole);
}

/**
 * The shortcut being typed, when the composer holds only `/` and a shortcut (no space yet): what
 * suggestions are for. Null otherwise.
 */
export function typedShortcut(text: string): string | null {
  const match = /^\/([a-z0-9_-]*)$/i.exec(text);
  return match ? match[1].toLowerCase() : null;
}

/** The responses whose shortcut starts with `typed`, then those whose shortcut or text contains it. */
export function suggestions(all: CannedResponse[], typed: string): CannedResponse[] {
  const starts = all.filter((c) => c.shortcut.startsWith(typed));
  const contains = all.filter((c) => !c.shortcut.startsWith(typed) && (c.shortcut.includes(typed) || c.text.toLowerCase().includes(typed)));
  return [...starts, ...contains].slice(0, MAX_SUGGESTIONS);
}
