// Small pieces every page uses: labelled inputs with an error line, a form's error display,
// tables, a status badge, a toast.
import { add, clear, h, uid } from './dom.js';
import { ApiError } from './api.js';
import { groupErrors } from './fielderrors.js';
import { statusLabel, t } from './i18n.js';

/** A labelled control with its own error line; returns {el, input, error}. */
export function field(name, labelText, input) {
  const id = input.id || uid(name);
  input.id = id;
  input.name ||= name;
  input.dataset.field = name;
  const error = h('div', { class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true });
  input.setAttribute('aria-describedby', error.id);
  const el = h('div', { class: 'field', dataset: { key: name } }, h('label', { for: id }, labelText), input, error);
  return { el, input, error, name };
}

/** A form's error display: messages beside the fields they name, the rest in a banner. */
export class FormErrors {
  constructor(fields, banner = h('div', { class: 'banner error', role: 'alert', hidden: true })) {
    this.fields = new Map(fields.map((f) => [f.name, f]));
    this.banner = banner;
  }

  clear() {
    for (const f of this.fields.values()) {
      f.error.hidden = true;
      f.error.textContent = '';
      f.input.removeAttribute('aria-invalid');
    }
    this.banner.hidden = true;
    clear(this.banner);
  }

  show(err) {
    this.clear();
    if (!(err instanceof ApiError)) {
      this.general([String(err?.message || err)]);
      return;
    }
    const { fields, general } = groupErrors(err.errors, [...this.fields.keys()]);
    let first = null;
    for (const [name, messages] of Object.entries(fields)) {
      const f = this.fields.get(name);
      f.error.textContent = messages.join('; ');
      f.error.hidden = false;
      f.input.setAttribute('aria-invalid', 'true');
      first ||= f.input;
    }
    const lines = Object.keys(fields).length && !general.length ? [] : [err.message, ...general];
    if (lines.length) this.general(lines);
    (first || this.banner).focus?.();
  }

  general(lines) {
    clear(this.banner);
    for (const line of lines) add(this.banner, h('div', {}, line));
    this.banner.hidden = false;
  }
}

/** A banner for an error outside any form. */
export function errorBanner(err) {
  const text = err instanceof ApiError ? `${err.message}` : String(err?.message || err);
  const lines = err instanceof ApiError ? groupErrors(err.errors).general : [];
  return h('div', { class: 'banner error', role: 'alert' }, text, lines.map((l) => h('div', {}, l)));
}

export function badge(status) {
  return h('span', { class: `badge status-${status}` }, statusLabel(status));
}

export function table(columns, rows, { onRow, rowKey, empty = t('empty'), rowAttrs } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('table', { class: 'grid' },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((row, i) => h('tr', {
      ...(rowAttrs ? rowAttrs(row, i) : {}),
      dataset: rowKey ? { key: rowKey(row) } : undefined,
      class: [rowAttrs?.(row, i)?.class, onRow ? 'clickable' : ''].filter(Boolean).join(' ') || undefined,
      onclick: onRow ? () => onRow(row) : undefined,
    }, columns.map((c) => h('td', {}, c.render ? c.render(row) : String(row[c.key] ?? '')))))));
}

let toastTimer = null;
export function toast(text, kind = 'ok') {
  let el = document.getElementById('toast');
  if (!el) {
    el = h('div', { id: 'toast', role: 'status' });
    add(document.body, el);
  }
  el.className = `toast ${kind}`;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

export function loading() {
  return h('p', { class: 'loading' }, t('loading'));
}

/** Disable a button while `work` runs (no double submit), then re-enable it. */
export async function busy(button, work) {
  if (button.disabled) return undefined;
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}

export function section(titleText, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, titleText), children);
}
