import { describe, expect, it } from 'vitest';
import { percent, seconds, shiftDay } from './figures';

describe('figures', () => {
  it('reads a share as a percentage in the language chosen, and nothing measured as a dash', () => {
    expect(percent(0.874, 'en-GB')).toBe('87.4%');
    expect(percent(0.874, 'vi-VN')).toMatch(/^87,4\s?%$/);
    expect(percent(1, 'en-GB')).toBe('100%');
    expect(percent(null)).toBe('—');
  });

  it('reads an average wait as minutes and seconds', () => {
    expect(seconds(8.4)).toBe('0:08');
    expect(seconds(142.5)).toBe('2:22');
    expect(seconds(null)).toBe('—');
  });

  it('moves a day by calendar days, across months and leap years', () => {
    expect(shiftDay('2026-12-07', -6)).toBe('2026-12-01');
    expect(shiftDay('2026-03-01', -1)).toBe('2026-02-28');
    expect(shiftDay('2028-03-01', -1)).toBe('2028-02-29');
    expect(shiftDay('2026-12-31', 1)).toBe('2027-01-01');
  });
});
