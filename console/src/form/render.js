// Draws a JSON Schema + UI schema form (fields from ./schema.js) and puts error messages beside
// their fields. One renderer for the inbox and the form designer's preview.
import { add, h, uid } from '../dom.js';
import { t } from '../i18n.js';
import { coerce, fieldsOf, initialData, missingRequired } from './schema.js';

/** renderForm(schema, ui, data) -> {el, value(), showErrors({key: [messages]}), check()} */
export function renderForm(schema, ui = {}, data = {}, { readOnly = false } = {}) {
  const fields = fieldsOf(schema || {}, ui || {});
  const start = initialData(schema || {}, data || {});
  const inputs = new Map(); // key -> {read(), errorEl, inputEl}
  const el = h('div', { class: 'jsonform' });
  if (schema?.title) add(el, h('h3', { class: 'form-title' }, schema.title));
  if (schema?.description) add(el, h('p', { class: 'hint' }, schema.description));
  for (const field of fields) add(el, drawField(field, start[field.name], inputs, readOnly));

  function collect(list, source) {
    const out = {};
    for (const field of list) {
      if (field.children) {
        out[field.name] = collect(field.children, source);
        continue;
      }
      const entry = inputs.get(field.key);
      if (!entry) continue;
      const value = coerce(field, entry.read());
      if (value !== undefined) out[field.name] = value;
    }
    return out;
  }

  function showErrors(byField = {}) {
    for (const [key, entry] of inputs) {
      const messages = byField[key] || [];
      entry.errorEl.textContent = messages.join('; ');
      entry.errorEl.hidden = messages.length === 0;
      if (messages.length) entry.inputEl.setAttribute('aria-invalid', 'true');
      else entry.inputEl.removeAttribute('aria-invalid');
    }
    const first = [...inputs.values()].find((e) => !e.errorEl.hidden);
    first?.inputEl.focus?.();
  }

  return {
    el,
    fields,
    value: () => collect(fields),
    showErrors,
    /** Required fields filled? Shows their messages and answers false when not. */
    check() {
      const missing = missingRequired(fields, collect(fields));
      showErrors(Object.fromEntries(missing.map((k) => [k, [t('required')]])));
      return missing.length === 0;
    },
    keys: () => [...inputs.keys()],
  };
}

function drawField(field, value, inputs, readOnly) {
  if (field.hidden) return null;
  if (field.children) {
    const set = h('fieldset', { class: 'subform' }, h('legend', {}, field.title));
    for (const child of field.children) add(set, drawField(child, value?.[child.name], inputs, readOnly));
    return set;
  }
  const id = uid('fld');
  const errorId = `${id}-error`;
  const errorEl = h('div', { class: 'field-error', id: errorId, role: 'alert', hidden: true });
  const disabled = readOnly || field.readOnly;
  const common = { id, name: field.key, 'aria-describedby': errorId, disabled, dataset: { field: field.key } };
  let inputEl;
  let read;
  const label = h('label', { for: id }, field.title, field.required ? h('span', { class: 'req', title: t('required') }, ' *') : null);
  if (field.widget === 'radio') {
    const group = h('div', { class: 'radios', role: 'radiogroup', 'aria-labelledby': `${id}-label`, id, dataset: { field: field.key } });
    for (const [i, option] of field.options.entries()) {
      const rid = `${id}-${i}`;
      add(group, h('label', { class: 'radio', for: rid },
        h('input', { type: 'radio', id: rid, name: id, value: String(option.value), checked: String(option.value) === String(value), disabled }),
        ` ${option.label}`));
    }
    inputEl = group;
    read = () => group.querySelector('input:checked')?.value ?? '';
    return h('div', { class: 'field', dataset: { key: field.key } },
      h('span', { class: 'label', id: `${id}-label` }, field.title, field.required ? ' *' : ''), group,
      field.description ? h('div', { class: 'hint' }, field.description) : null, errorEl,
      register(inputs, field, read, errorEl, group));
  }
  if (field.widget === 'select') {
    inputEl = h('select', common,
      field.required ? null : h('option', { value: '' }, '—'),
      field.options.map((o) => h('option', { value: String(o.value), selected: String(o.value) === String(value) }, o.label)));
    read = () => inputEl.value;
  } else if (field.widget === 'textarea' || field.widget === 'json') {
    const text = field.widget === 'json' ? (value === undefined ? '' : JSON.stringify(value, null, 2)) : (value ?? '');
    inputEl = h('textarea', { ...common, rows: field.rows, placeholder: field.placeholder }, text);
    read = () => inputEl.value;
  } else if (field.widget === 'checkbox') {
    inputEl = h('input', { ...common, type: 'checkbox', checked: Boolean(value) });
    read = () => inputEl.checked;
  } else {
    const type = { number: 'text', date: 'date', datetime: 'datetime-local', email: 'email', password: 'password' }[field.widget] || 'text';
    const shown = field.widget === 'datetime' && value ? String(value).slice(0, 16) : (value ?? '');
    inputEl = h('input', { ...common, type, value: String(shown), placeholder: field.placeholder,
      inputmode: field.widget === 'number' ? 'decimal' : undefined });
    read = () => inputEl.value;
  }
  return h('div', { class: 'field', dataset: { key: field.key } }, label, inputEl,
    field.description ? h('div', { class: 'hint' }, field.description) : null, errorEl,
    register(inputs, field, read, errorEl, inputEl));
}

function register(inputs, field, read, errorEl, inputEl) {
  inputs.set(field.key, { read, errorEl, inputEl });
  return null;
}
