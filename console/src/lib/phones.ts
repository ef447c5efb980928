/**
 * Vietnamese phone numbers in a message, as customers write them (`0912 345 678`, `0912.345.678`,
 * `+84 912 345 678`, a landline `028 3822 1234`): the same rule as the server's
 * `domain::phone::find_numbers`, so the console can offer to keep a number the customer wrote.
 */

export interface FoundNumber {
  /** As written. */
  text: string;
  /** Normalised (E.164), as the server stores customers' numbers. */
  number: string;
}

function isVietnamese(digits: string, plus: boolean): string | null {
  let national: string;
  if (digits.startsWith('84') && (plus || !digits.startsWith('0'))) national = `0${digits.slice(2)}`;
  else if (plus) return null;
  else national = digits;
  const mobile = national.length === 10 && /^0[35789]/.test(national);
  const landline = national.length === 11 && national.startsWith('02');
  return mobile || landline ? `+84${national.slice(1)}` : null;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);

export function findNumbers(text: string): FoundNumber[] {
  const found: FoundNumber[] = [];
  let i = 0;
  while (i < text.length) {
    const start = i;
    const plus = text[i] === '+';
    const firstDigit = plus ? i + 1 : i;
    if (!isDigit(text[firstDigit]) || isWordChar(text[start - 1]) || text[start - 1] === '+') {
      i += 1;
      continue;
    }
    const groups: [number, number][] = [];
    let at = firstDigit;
    for (;;) {
      const from = at;
      while (isDigit(text[at])) at += 1;
      groups.push([from, at]);
      const joined = (text[at] === ' ' || text[at] === '.' || text[at] === '-') && isDigit(text[at + 1]);
      if (!joined || groups.length === 6) break;
      at += 1;
    }
    const joinedAfter = isWordChar(text[groups[groups.length - 1][1]]);
    let match: FoundNumber | null = null;
    let end = groups[0][1];
    for (let count = groups.length; count >= 1 && !match; count--) {
      if (count === groups.length && joinedAfter) continue;
      const digits = groups.slice(0, count).map(([a, b]) => text.slice(a, b)).join('');
      const number = isVietnamese(digits, plus);
      if (number) {
        end = groups[count - 1][1];
        match = { text: text.slice(start, end), number };
      }
    }
    if (match) found.push(match);
    i = Math.max(end, i + 1);
  }
  return found;
}
