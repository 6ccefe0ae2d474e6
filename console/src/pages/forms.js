// The form designer: a form's JSON Schema and UI schema edited side by side with a live preview,
// drawn by the same renderer as the inbox; new forms start from a template. The files it makes
// are deployed with their process (the designer's form files).
import { add, clear, fill, h } from '../dom.js';
import { t } from '../i18n.js';
import { renderForm } from '../form/render.js';
import { TEMPLATES } from '../form/templates.js';

export function forms(ctx) {
  const { main } = ctx;
  const pick = h('select', { id: 'form-template', 'aria-label': t('template') },
    Object.keys(TEMPLATES).map((k) => h('option', { value: k }, t(`tpl_${k}`))));
  const schemaText = h('textarea', { class: 'code', id: 'form-schema', spellcheck: 'false', 'aria-label': t('form_schema') });
  const uiText = h('textarea', { class: 'code', id: 'form-ui-schema', spellcheck: 'false', 'aria-label': t('ui_schema') });
  const preview = h('div', { class: 'card', id: 'form-preview' });
  const sample = h('pre', { class: 'diff', id: 'form-sample' });
  const problems = h('div', { role: 'alert', class: 'field-error' });
  const name = h('input', { id: 'form-name', class: 'short', value: 'my-form', 'aria-label': 'file' });
  const save = (suffix, text) => {
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const a = h('a', { href: url, download: `${name.value.trim() || 'form'}-${suffix}.json` });
    add(document.body, a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  let current = null;
  function draw() {
    clear(problems);
    let schema;
    let ui;
    try { schema = JSON.parse(schemaText.value); } catch (err) { add(problems, `${t('form_schema')}: ${t('invalid_json')} (${err.message})`); return; }
    try { ui = uiText.value.trim() ? JSON.parse(uiText.value) : {}; } catch (err) { add(problems, `${t('ui_schema')}: ${t('invalid_json')} (${err.message})`); return; }
    current = renderForm(schema, ui, {});
    const form = h('form', { novalidate: true, onsubmit: (e) => { e.preventDefault(); current.check(); showSample(); }, oninput: showSample, onchange: showSample },
      current.el, h('button', { type: 'submit' }, t('validate')));
    fill(preview, h('h2', {}, t('preview')), form);
    showSample();
  }
  function showSample() {
    if (current) sample.textContent = JSON.stringify(current.value(), null, 2);
  }
  function load(key) {
    schemaText.value = JSON.stringify(TEMPLATES[key].schema, null, 2);
    uiText.value = JSON.stringify(TEMPLATES[key].ui, null, 2);
    draw();
  }
  pick.addEventListener('change', () => load(pick.value));
  let timer = null;
  for (const area of [schemaText, uiText]) area.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(draw, 250); });
  add(main, h('div', { class: 'titlebar' }, h('h1', {}, t('nav_forms')), h('label', {}, `${t('template')} `, pick), name,
    h('button', { type: 'button', onclick: () => save('schema', schemaText.value) }, `⇩ ${t('form_schema')}`),
    h('button', { type: 'button', onclick: () => save('uischema', uiText.value) }, `⇩ ${t('ui_schema')}`)),
  problems,
  h('div', { class: 'split' }, h('div', {}, h('label', { for: 'form-schema' }, t('form_schema')), schemaText,
    h('label', { for: 'form-ui-schema' }, t('ui_schema')), uiText),
  h('div', {}, preview, h('h2', {}, t('sample_data')), sample)));
  load(pick.value);
}
