import { de } from './de.js';
import { en, type MessageKey, type Messages } from './en.js';

/** The small message catalogue: every visible word goes through `t()`. */
export type Language = 'en' | 'de';
export type { MessageKey };

const catalogues: Record<Language, Messages> = { en, de };
const STORAGE_KEY = 'loupe.language';
let current: Language = 'en';
const listeners = new Set<() => void>();

export function isLanguage(v: unknown): v is Language {
  return v === 'en' || v === 'de';
}

/** URL `?lang=` wins, then this device's choice, then the gateway's default. */
export function initLanguage(gatewayDefault: Language, fromUrl: string | null): void {
  const stored = localStorage.getItem(STORAGE_KEY);
  current = isLanguage(fromUrl) ? fromUrl : isLanguage(stored) ? stored : gatewayDefault;
  document.documentElement.lang = current;
}

export function language(): Language {
  return current;
}

/** The locale numbers and dates are written in for the current language. */
export function locale(): 'en-GB' | 'de-DE' {
  return current === 'de' ? 'de-DE' : 'en-GB';
}

export function setLanguage(lang: Language): void {
  current = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
  listeners.forEach((l) => l());
}

export function onLanguageChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  const text = catalogues[current][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`));
}

/** Plural: `base.one` for 1, `base.other` otherwise; `{count}` is filled in. */
export function tn(base: string, count: number, vars: Record<string, string | number> = {}): string {
  return t(`${base}.${count === 1 ? 'one' : 'other'}` as MessageKey, { count, ...vars });
}

/** A value the API names (an event, an action): translated when the catalogue knows it, else shown as sent. */
export function tOr(key: string, fallback: string): string {
  return key in en ? t(key as MessageKey) : fallback;
}

/** A defect class as the operator reads it: translated when known, else the label made readable. */
export function className(label: string): string {
  return tOr(`class.${label}`, label.replace(/[_-]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase()));
}

/** Verdict as a short word in capitals (shown next to its icon, never as colour alone). */
export function verdictWord(v: 'pass' | 'fail' | 'review' | 'error' | null): string {
  return t(`verdict.${v ?? 'error'}Word` as MessageKey);
}
