import { describe, expect, it } from 'vitest';
import { findNumbers } from './phones';

const numbers = (text: string) => findNumbers(text).map((f) => f.number);

describe('phone numbers in a message, as the server finds them', () => {
  it('finds them as customers write them', () => {
    expect(numbers('sdt em 0912 345 678 nhé')).toEqual(['+84912345678']);
    expect(numbers('0912.345.678')).toEqual(['+84912345678']);
    expect(numbers('gọi 0912-345-678 hoặc +84 983 111 222')).toEqual(['+84912345678', '+84983111222']);
    expect(numbers('84912345678')).toEqual(['+84912345678']);
    expect(numbers('máy bàn 028 3822 1234')).toEqual(['+842838221234']);
    expect(numbers('0912345678 0983111222')).toEqual(['+84912345678', '+84983111222']);
    expect(findNumbers('Số của chị: 0912.345.678 ạ')[0].text).toBe('0912.345.678');
  });

  it('leaves prices, dates and codes alone', () => {
    for (const text of ['giá 250.000đ', '12.05.2024', 'DH0912345678', '0912 345 67', '09123456789', '01234567890', '1900 1234', 'x0912345678']) {
      expect(numbers(text)).toEqual([]);
    }
  });
});
