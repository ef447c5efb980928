/**
 * Search as the server does it (domain::search): case and accents ignored, đ as d, every word of the
 * query found as a word, the last one as the start of a word (people search as they type). The server
 * searches every message; the console uses this to keep a live list filtered by what it can see.
 */

const MAX_TERMS = 8;
const MAX_TERM_CHARS = 32;
const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}]*/gu;

/** Lowercase without accents. */
export function fold(text: string): string {
  return text.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/g, 'd');
}

/** The words of a text, folded. */
function words(text: string): string[] {
  return (text.normalize('NFC').match(WORD) ?? []).map(fold).filter((w) => w.length > 0);
}

/** The folded words of a query (at most 8, each cut to 32 characters); none for punctuation only. */
export function queryTerms(query: string): string[] {
  return words(query.slice(0, 1000))
    .slice(0, MAX_TERMS)
    .map((w) => [...w].slice(0, MAX_TERM_CHARS).join(''));
}

/** Whether any of `texts` has every term (the last as a prefix), accents and case ignored. */
export function textsMatch(terms: string[], ...texts: string[]): boolean {
  if (terms.length === 0) return false;
  const last = terms[terms.length - 1];
  const whole = terms.slice(0, -1);
  return texts.some((text) => {
    const found = words(text);
    return whole.every((t) => found.includes(t)) && found.some((w) => w.startsWith(last));
  });
}
