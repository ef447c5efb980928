// How the call center's figures read: a share as a percentage, an average wait as m:ss, and a dash
// where there was nothing to measure (the server's `null`).

import { formatDuration, i18n } from './i18n.svelte';

export function percent(share: number | null | undefined, tag = i18n.tag): string {
  if (share === null || share === undefined) return '—';
  return new Intl.NumberFormat(tag, { style: 'percent', maximumFractionDigits: 1 }).format(share);
}

export function seconds(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : formatDuration(value);
}

/** The days `from` through `until` (YYYY-MM-DD) shifted by `days`: the calendar's, not a clock's. */
export function shiftDay(day: string, days: number): string {
  const [y, m, d] = day.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + days));
  return date.toISOString().slice(0, 10);
}
