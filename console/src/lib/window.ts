// Messenger's messaging window, as the `page` driver applies it (domain::facebook::messaging_policy):
// a page answers freely within 24 hours of the customer's last message, then as a human agent
// (the HUMAN_AGENT tag) up to 7 days, then not at all. The composer says which before the agent types.

import type { Message } from './types';

const HOUR_MS = 3_600_000;
export const STANDARD_WINDOW_MS = 24 * HOUR_MS;
export const HUMAN_AGENT_WINDOW_MS = 7 * 24 * HOUR_MS;

export type MessagingWindow =
  /** A normal reply, until `until`. */
  | { kind: 'response'; until: number }
  /** Only as a human agent, until `until`. */
  | { kind: 'human_agent'; until: number }
  /** Facebook would refuse: the customer never wrote, or last wrote more than 7 days ago. */
  | { kind: 'closed'; lastWrote: number | null };

/**
 * The window of a thread at `now`, from its loaded messages; null when it cannot be told (no message
 * from the customer among those loaded, and older ones not loaded yet).
 */
export function messagingWindow(now: number, messages: Message[], complete: boolean): MessagingWindow | null {
  let last: number | null = null;
  for (const message of messages) {
    if (message.direction !== 'in') continue;
    const at = Date.parse(message.sent_at);
    if (!Number.isNaN(at) && (last === null || at > last)) last = at;
  }
  if (last === null) return complete ? { kind: 'closed', lastWrote: null } : null;
  const age = now - last;
  if (age <= STANDARD_WINDOW_MS) return { kind: 'response', until: last + STANDARD_WINDOW_MS };
  if (age <= HUMAN_AGENT_WINDOW_MS) return { kind: 'human_agent', until: last + HUMAN_AGENT_WINDOW_MS };
  return { kind: 'closed', lastWrote: last };
}

/** "5 giờ 12 phút" / "5 h 12 min": what is left of a window. */
export function left(ms: number): { hours: number; minutes: number } {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  return { hours: Math.floor(minutes / 60), minutes: minutes % 60 };
}
