import { describe, expect, it } from 'vitest';
import { fold, queryTerms, textsMatch } from './search';

describe('search as the server does it', () => {
  it('folds Vietnamese to plain letters, đ as d', () => {
    expect(fold('Nguyễn Văn An')).toBe('nguyen van an');
    expect(fold('Đức')).toBe('duc');
    expect(fold('điện thoại')).toBe('dien thoai');
  });

  it('finds words whatever their accents, the last as a prefix', () => {
    const terms = queryTerms('nguyen van a');
    expect(terms).toEqual(['nguyen', 'van', 'a']);
    expect(textsMatch(terms, 'Chị Nguyễn Văn An')).toBe(true);
    expect(textsMatch(queryTerms('duc'), 'Trần Đức')).toBe(true);
    expect(textsMatch(queryTerms('đức'), 'Le Duc')).toBe(true);
    expect(textsMatch(queryTerms('dien thoai'), 'xin chào', 'Điện thoại còn không?')).toBe(true);
    expect(textsMatch(queryTerms('die thoai'), 'Điện thoại')).toBe(false);
  });

  it('treats decomposed text as the same text', () => {
    expect(textsMatch(queryTerms('nguyễn'), 'Nguye\u0302\u0303n')).toBe(true);
  });

  it('matches nothing for punctuation only, and bounds long queries', () => {
    expect(queryTerms('%%% "" *')).toEqual([]);
    expect(textsMatch(queryTerms('%%%'), 'anything')).toBe(false);
    expect(queryTerms('từ '.repeat(5000)).length).toBe(8);
  });
});
