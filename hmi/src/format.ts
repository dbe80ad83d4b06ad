import { locale, t } from './i18n/index.js';

/** Waiting times as an operator reads them: "12 s", "2:05 min". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t('time.seconds', { n: s });
  return t('time.minutes', { m: Math.floor(s / 60), s: String(s % 60).padStart(2, '0') });
}

export function clock(iso: string | number | Date, withSeconds = true): string {
  return new Date(iso).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', ...(withSeconds ? { second: '2-digit' } : {}) });
}

export function percent(v: number | null, digits = 1): string {
  if (v === null) return '–';
  return `${(v * 100).toLocaleString(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits })} %`;
}

export function num(v: number, digits = 0): string {
  return v.toLocaleString(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Part ids can be long ULIDs: keep the end, which is what changes from part to part. */
export function shortPart(partId: string): string {
  return partId.length > 14 ? `…${partId.slice(-10)}` : partId;
}
