// Text, links and images from Facebook or callers are untrusted: only http(s) URLs become links or
// images, so a `javascript:` or `data:` URL can never run or load, and text is shown without the
// controls that would reorder it (below).

export function safeUrl(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

// Bidirectional-text controls in text from Facebook or callers could make it read in another order
// than it is written ("\u202Eabc" shows as "cba", a number can look like another): the embeddings,
// overrides and isolates (U+202A–U+202E, U+2066–U+2069) are shown as a visible `[U+202E]`, and the
// invisible direction marks (U+200E, U+200F, U+061C), which only move the characters around them, are
// dropped. Where such text sits inside a sentence of ours it is also isolated (`<bdi>`), so even the
// ordinary right-to-left letters of a name cannot move the words beside it.
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/** Untrusted text as it is shown: a string (empty for nothing) without working bidi controls. */
export function safeText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(BIDI_CONTROLS, (control) => {
    if (control === '\u200E' || control === '\u200F' || control === '\u061C') return '';
    return `[U+${control.charCodeAt(0).toString(16).toUpperCase()}]`;
  });
}

export function initials(name: string): string {
  const parts = name.replace(BIDI_CONTROLS, '').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = parts[0][0] ?? '';
  const last = parts.length > 1 ? (parts[parts.length - 1][0] ?? '') : '';
  return (first + last).toUpperCase();
}

/**
 * `safeText`, isolated with FSI…PDI for plain-text places where `<bdi>` cannot go: an `<option>`, a
 * `confirm()` or a browser notification.
 */
export function isolated(value: unknown): string {
  return `\u2068${safeText(value)}\u2069`;
}
