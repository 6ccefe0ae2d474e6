// zh-CN first, English switchable; the choice is kept in localStorage. Dates, numbers and money
// are formatted with Intl in the chosen locale (the API sends UTC ISO times and money as strings).
import { MESSAGES } from './messages.js';

export const LOCALES = ['zh-CN', 'en'];
export const DEFAULT_LOCALE = 'zh-CN';
const KEY = 'aicmp.locale';
let current = DEFAULT_LOCALE;

export function initLocale(storage = globalThis.localStorage) {
  const saved = storage?.getItem(KEY);
  current = LOCALES.includes(saved) ? saved : DEFAULT_LOCALE;
  return current;
}

export function setLocale(locale, storage = globalThis.localStorage) {
  if (!LOCALES.includes(locale)) throw new Error(`unknown locale ${locale}`);
  current = locale;
  storage?.setItem(KEY, locale);
}

export function locale() {
  return current;
}

/** The word for `key` in the current locale, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}, loc = current) {
  const table = MESSAGES[loc] || MESSAGES[DEFAULT_LOCALE];
  const text = table[key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** A status's label ("pending" -> 审批中), the raw value when there is none. */
export function statusLabel(status, loc = current) {
  const key = `status_${status}`;
  return key in (MESSAGES[loc] || {}) ? t(key, {}, loc) : String(status ?? '');
}

/** An ISO time in the user's locale and time zone; '' for none; the input when unparsable. */
export function fmtDate(iso, loc = current, timeZone = undefined) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(loc, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(d);
}

/** Money in the user's locale. `amount` is a decimal string (the API never sends money as a float):
 * its digits are rounded as text and put into Intl's parts (the integer as a BigInt), so no cent
 * is lost to binary floating point on any engine. */
export function fmtMoney(amount, currency = 'CNY', loc = current) {
  if (amount === null || amount === undefined || amount === '') return '';
  const text = String(amount).trim();
  if (!/^-?\d+(\.\d+)?$/.test(text)) return text;
  const formatter = new Intl.NumberFormat(loc, { style: 'currency', currency });
  const digits = formatter.resolvedOptions().maximumFractionDigits;
  const rounded = roundDecimal(text, digits);
  const negative = rounded.startsWith('-') && /[1-9]/.test(rounded);
  const [whole, fraction = ''] = rounded.replace('-', '').split('.');
  const numeric = new Set(['integer', 'group', 'decimal', 'fraction']);
  const number = formatter.formatToParts(BigInt(whole)).filter((p) => numeric.has(p.type))
    .map((p) => (p.type === 'fraction' ? fraction : p.value)).join('');
  const template = formatter.formatToParts(negative ? -1n : 1n);
  let placed = false;
  return template.map((p) => {
    if (!numeric.has(p.type)) return p.value;
    if (placed) return '';
    placed = true;
    return number;
  }).join('');
}

/** Round a decimal string half away from zero to `digits` places, as a string. */
export function roundDecimal(text, digits) {
  const negative = text.startsWith('-');
  const [intPart, frac = ''] = text.replace('-', '').split('.');
  if (frac.length <= digits) return `${negative ? '-' : ''}${intPart}${digits ? '.' : ''}${frac.padEnd(digits, '0')}`;
  const kept = BigInt(intPart + frac.slice(0, digits));
  const up = Number(frac[digits]) >= 5 ? 1n : 0n;
  const total = (kept + up).toString().padStart(digits + 1, '0');
  const whole = digits ? total.slice(0, -digits) : total;
  const part = digits ? total.slice(-digits) : '';
  return `${negative ? '-' : ''}${whole}${digits ? '.' : ''}${part}`;
}

export function fmtNumber(value, loc = current) {
  if (value === null || value === undefined || value === '') return '';
  const text = String(value);
  if (!/^-?\d+(\.\d+)?$/.test(text)) return text;
  return new Intl.NumberFormat(loc, { maximumFractionDigits: 3 }).format(text);
}
