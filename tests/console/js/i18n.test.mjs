// Words, dates and money in the user's locale (console/src/i18n.js, console/src/messages.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MESSAGES } from '../../../console/src/messages.js';
import { DEFAULT_LOCALE, fmtDate, fmtMoney, initLocale, roundDecimal, setLocale, statusLabel, t } from '../../../console/src/i18n.js';

function memory() {
  const data = new Map();
  return { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, String(v)) };
}

test('zh-CN and English have the same keys, none empty', () => {
  const zh = Object.keys(MESSAGES['zh-CN']).sort();
  const en = Object.keys(MESSAGES.en).sort();
  assert.deepEqual(zh, en);
  for (const table of Object.values(MESSAGES)) for (const [k, v] of Object.entries(table)) assert.ok(v.trim(), k);
});

test('zh-CN comes first; a chosen locale is remembered; an unknown one is refused', () => {
  const storage = memory();
  assert.equal(DEFAULT_LOCALE, 'zh-CN');
  assert.equal(initLocale(storage), 'zh-CN');
  assert.equal(t('login'), '登录');
  setLocale('en', storage);
  assert.equal(initLocale(storage), 'en');
  assert.equal(t('login'), 'Sign in');
  assert.throws(() => setLocale('fr', storage));
  storage.setItem('aicmp.locale', 'xx');
  assert.equal(initLocale(storage), 'zh-CN');
});

test('placeholders are filled; an unknown key shows itself', () => {
  assert.equal(t('page_of', { page: 2, total: 41 }, 'en'), 'Page 2, 41 in all');
  assert.equal(t('page_of', { page: 2, total: 41 }, 'zh-CN'), '第 2 页，共 41 条');
  assert.equal(t('no_such_key', {}, 'en'), 'no_such_key');
  assert.equal(statusLabel('ordered', 'zh-CN'), '已下单');
  assert.equal(statusLabel('mystery', 'en'), 'mystery');
});

test('dates in the locale and time zone asked for', () => {
  const iso = '2026-03-02T09:05:00+00:00';
  const en = fmtDate(iso, 'en', 'UTC');
  assert.ok(en.includes('Mar') && en.includes('2026') && en.includes('9:05'), en);
  const zh = fmtDate(iso, 'zh-CN', 'Asia/Shanghai');
  assert.ok(zh.includes('2026年3月2日') && zh.includes('17:05'), zh);
  assert.equal(fmtDate(null, 'en'), '');
  assert.equal(fmtDate('not a date', 'en'), 'not a date');
});

test('money from decimal strings, exact to the cent, in the locale', () => {
  assert.ok(fmtMoney('1234567.89', 'CNY', 'zh-CN').includes('1,234,567.89'));
  assert.ok(fmtMoney('1234567.89', 'CNY', 'zh-CN').includes('¥'));
  assert.equal(fmtMoney('1234567.89', 'USD', 'en'), '$1,234,567.89');
  // beyond a float's 15-16 digits nothing is lost: the digits never pass through a Number
  assert.equal(fmtMoney('90071992547409.93', 'USD', 'en'), '$90,071,992,547,409.93');
  assert.equal(fmtMoney('2.675', 'USD', 'en'), '$2.68'); // a float would round 2.675 down
  assert.equal(fmtMoney('-1234.5', 'USD', 'en'), '-$1,234.50');
  assert.equal(fmtMoney('-0.001', 'USD', 'en'), '$0.00');
  assert.equal(fmtMoney('1234', 'JPY', 'en'), '¥1,234');
  assert.equal(fmtMoney('', 'USD', 'en'), '');
  assert.equal(roundDecimal('2.675', 2), '2.68');
  assert.equal(roundDecimal('-0.005', 2), '-0.01');
  assert.equal(roundDecimal('9.999', 2), '10.00');
  assert.equal(roundDecimal('7', 0), '7');
});
