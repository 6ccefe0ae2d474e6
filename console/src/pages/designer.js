// The process designer: the definitions you can see (platform-wide and your tenant's), their
// versions, the bpmn-js modeler (its bpmn.io watermark stays visible), a properties panel for the
// element in hand (a service task's operator picked from the registered ones), validate and deploy
// (the findings marked on their elements and listed by line), simulate (the path a run takes
// highlighted on the diagram, and where it stopped), the exact XML of any version, and two
// versions' XML compared.
import Modeler from 'bpmn-js/lib/Modeler';
import { api } from '../api.js';
import { add, clear, fill, h } from '../dom.js';
import { changesOnly, diffLines } from '../diff.js';
import { placeFindings } from '../findings.js';
import { fmtDate, t } from '../i18n.js';
import { busy, errorBanner, loading, section, table, toast } from '../ui.js';
import { drawProps } from './designer-props.js';

const NEW_XML = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" id="Definitions_new" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="new_process" name="New process" isExecutable="true">
    <bpmn:startEvent id="start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="new_process">
    <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="160" width="36" height="36" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>`;

export async function designer(ctx, key = null, version = null) {
  const { main } = ctx;
  const side = h('div', { class: 'card defs' }, loading());
  const canvasEl = h('div', { class: 'diagram modeler', id: 'modeler' });
  const props = h('div', { class: 'card props', id: 'properties' }, h('h2', {}, t('properties')));
  const findings = h('div', { id: 'findings' });
  const formFiles = h('input', { type: 'file', id: 'form-files', multiple: true, accept: '.json,.dmn,.bpmn' });
  const filename = h('input', { id: 'bpmn-filename', value: key ? `${key}.bpmn` : 'new_process.bpmn', class: 'short', 'aria-label': 'file' });
  const deployButton = h('button', { type: 'button', class: 'primary', id: 'deploy' }, t('deploy'));
  const validateButton = h('button', { type: 'button', id: 'validate' }, t('validate'));
  const simulateButton = h('button', { type: 'button', id: 'simulate' }, t('simulate'));
  const answers = h('input', { id: 'simulate-tasks', class: 'short', placeholder: t('simulate_answers_hint'),
    'aria-label': t('simulate_answers'), title: t('simulate_answers') });
  const toolbar = h('div', { class: 'actions' }, h('label', {}, `${t('form_files')}: `, formFiles), filename,
    validateButton, simulateButton, answers, deployButton);
  add(main, h('div', { class: 'titlebar' }, h('h1', {}, key ? `${t('nav_designer')}: ${key} v${version}` : t('nav_designer')),
    h('a', { href: '#/designer', class: 'button' }, t('new_process'))),
  h('div', { class: 'designer-layout designer' }, side, h('div', {}, toolbar, findings, canvasEl), props));

  const modeler = new Modeler({ container: canvasEl });
  window.aicmpModeler = modeler; // for people (and the browser tests) at the developer console
  const xml = key ? await (await api('GET', `/process-definitions/${encodeURIComponent(key)}/versions/${version}/xml`, { raw: true })).text() : NEW_XML;
  await modeler.importXML(xml);
  modeler.get('canvas').zoom('fit-viewport');
  const marked = []; // [element id, marker class]
  const mark = (id, cls) => { modeler.get('canvas').addMarker(id, cls); marked.push([id, cls]); };
  const clearMarks = () => { for (const [id, cls] of marked.splice(0)) modeler.get('canvas').removeMarker(id, cls); };

  let inHand = null;
  let operators = null; // the registered operators, for the service task's picker (null: not loaded)
  const redraw = () => drawProps(props, modeler, inHand, operators);
  modeler.on('selection.changed', ({ newSelection }) => { inHand = newSelection[0] || null; redraw(); });
  modeler.on('element.changed', ({ element }) => { if (element === inHand && !props.contains(document.activeElement)) redraw(); });
  redraw();
  api('GET', '/operators').then((list) => { operators = list; if (!props.contains(document.activeElement)) redraw(); })
    .catch(() => { operators = null; }); // without the list the operator stays a text field

  /** The modeler's XML and the form files, as the multipart body deploy, validate and simulate take. */
  async function upload() {
    const { xml: out } = await modeler.saveXML({ format: true });
    const form = new FormData();
    form.append('files', new Blob([out], { type: 'application/xml' }), filename.value.trim() || 'process.bpmn');
    for (const f of formFiles.files) form.append('files', f, f.name);
    return form;
  }

  /** Findings (file, line, element id, message) marked on their elements and listed under `message`. */
  function showFindings(errors, message, id, kind = 'error') {
    const registry = modeler.get('elementRegistry');
    const { byElement, unplaced } = placeFindings(errors, filename.value.trim(), (elId) => Boolean(registry.get(elId)));
    if (kind === 'error') for (const elId of Object.keys(byElement)) mark(elId, 'finding-element');
    add(findings, h('div', { class: kind === 'error' ? 'banner error' : 'banner', role: kind === 'error' ? 'alert' : 'status', id }, message,
      Object.entries(byElement).map(([elId, msgs]) => h('div', {}, h('a', { href: '#', onclick: (e) => {
        e.preventDefault();
        const el = registry.get(elId);
        modeler.get('selection').select(el);
        modeler.get('canvas').scrollToElement(el);
      } }, `[${elId}]`), ` ${t('line')} ${msgs.join('; ')}`)),
      unplaced.map((u) => h('div', {}, u))));
  }

  validateButton.addEventListener('click', () => busy(validateButton, async () => {
    clearMarks();
    clear(findings);
    try {
      const result = await api('POST', '/process-definitions/validate', { form: await upload() });
      if (result.valid) add(findings, h('div', { class: 'banner', role: 'status', id: 'validate-result' }, t('model_valid')));
      else showFindings(result.errors, t('model_invalid', { n: result.errors.length }), 'validate-errors');
      if (result.warnings.length) showFindings(result.warnings, t('warnings'), 'validate-warnings', 'warning');
    } catch (err) {
      add(findings, errorBanner(err));
    }
  }));

  simulateButton.addEventListener('click', () => busy(simulateButton, async () => {
    clearMarks();
    clear(findings);
    const form = await upload();
    if (answers.value.trim()) form.append('tasks', answers.value.trim());
    try {
      const run = await api('POST', '/process-definitions/simulate', { form });
      if (!run.valid) {
        showFindings(run.errors, t('model_invalid', { n: run.errors.length }), 'simulate-errors');
        return;
      }
      const registry = modeler.get('elementRegistry');
      const onDiagram = (id) => Boolean(registry.get(id));
      const seen = new Set(run.path.filter(onDiagram));
      for (const id of seen) mark(id, 'path-element');
      for (const flow of registry.filter((e) => e.type === 'bpmn:SequenceFlow')) { // a flow between two steps taken
        const i = run.path.indexOf(flow.source?.id);
        if (i >= 0 && run.path.slice(i + 1).includes(flow.target?.id)) mark(flow.id, 'path-element');
      }
      for (const id of run.stopped_at.filter(onDiagram)) mark(id, 'stopped-element');
      const outcome = run.completed ? t('simulate_completed') : `${t('simulate_stopped')}: ${run.problem || ''}`;
      add(findings, h('div', { class: run.completed ? 'banner' : 'banner error', role: 'status', id: 'simulate-result' },
        `${t('simulate')} ${run.process}: ${outcome}`,
        h('div', { class: 'muted', id: 'simulate-path' }, run.labels.join(' → ')),
        run.stopped_at.length ? h('div', {}, `${t('simulate_stopped_at')}: ${run.stopped_at.join(', ')}`) : null,
        run.stubbed.length ? h('div', { class: 'muted' }, `${t('simulate_stubbed')}: ${run.stubbed.join(', ')}`) : null));
    } catch (err) {
      add(findings, errorBanner(err));
    }
  }));

  deployButton.addEventListener('click', () => busy(deployButton, async () => {
    clearMarks();
    clear(findings);
    const form = await upload();
    try {
      const result = await api('POST', '/process-definitions', { form });
      const names = result.definitions.map((d) => `${d.key} v${d.version}${d.created ? '' : ' (=)'}`).join(', ');
      add(findings, h('div', { class: 'banner', role: 'status', id: 'deploy-result' }, `${t('deployed')}: ${names}`,
        (result.warnings || []).map((w) => h('div', { class: 'muted' }, `${w.element_id || ''} ${w.message}`))));
      toast(`${t('deployed')}: ${names}`);
      loadDefinitions();
    } catch (err) {
      showFindings(err.errors, err.message, 'deploy-errors');
    }
  }));

  async function loadDefinitions() {
    try {
      const defs = await api('GET', '/process-definitions?page_size=100');
      const byKey = new Map(); // a tenant's variant and the platform's version of one key: one entry
      for (const d of defs.items) (byKey.get(d.key) || byKey.set(d.key, []).get(d.key)).push(d);
      fill(side, h('h2', {}, t('definitions')), h('ul', { class: 'deflist' }, [...byKey].map(([k, list]) => h('li', {},
        h('details', { open: k === key, ontoggle: (e) => { if (e.target.open) versionsInto(e.target, k); } },
          h('summary', { dataset: { key: k } }, k, h('span', { class: 'muted' },
            ` ${list.map((d) => `${scopeOf(ctx.me, d.tenant_id)} v${d.version}`).join(' · ')}`)),
          h('div', { class: 'versions' }))))));
      const openOne = side.querySelector('details[open]');
      if (openOne) versionsInto(openOne, key);
    } catch (err) {
      fill(side, errorBanner(err));
    }
  }
  await loadDefinitions();

  async function versionsInto(details, defKey) {
    const box = details.querySelector('.versions');
    fill(box, loading());
    const versions = await api('GET', `/process-definitions/${encodeURIComponent(defKey)}/versions`);
    const picks = [];
    const compare = h('button', { type: 'button', class: 'compare' }, t('compare'));
    compare.addEventListener('click', () => {
      const chosen = picks.filter((p) => p.input.checked).map((p) => p.version);
      if (chosen.length === 2) showDiff(ctx, main, defKey, chosen[1], chosen[0]);
      else toast(`${t('compare')}: 2 ${t('versions')}`, 'error');
    });
    fill(box, table([
      { label: '', render: (v) => { const input = h('input', { type: 'checkbox', 'aria-label': `${t('compare')} v${v.version}` }); picks.push({ input, version: v.version }); return input; } },
      { label: t('version'), render: (v) => h('a', { href: `#/designer/${encodeURIComponent(defKey)}/${v.version}`,
        title: `${t('open_in_modeler')} · ${fmtDate(v.created_at)}` }, `v${v.version}`) },
      { label: t('scope'), render: (v) => scopeOf(ctx.me, v.tenant_id) },
      { label: 'XML', render: (v) => h('button', { type: 'button', class: 'link', title: t('download_xml'), onclick: () => downloadXml(defKey, v.version, v.filename) }, '⇩') },
    ], versions), compare);
  }
}

/** "platform" for a platform-wide version, the tenant's code for the caller's own tenant. */
function scopeOf(me, tenantId) {
  if (!tenantId) return t('platform');
  return me?.tenant?.id === tenantId ? me.tenant.code : tenantId;
}

async function downloadXml(key, version, filename) {
  const res = await api('GET', `/process-definitions/${encodeURIComponent(key)}/versions/${version}/xml`, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: filename || `${key}-v${version}.bpmn` });
  add(document.body, a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function showDiff(ctx, main, key, older, newer) {
  const get = async (v) => (await api('GET', `/process-definitions/${encodeURIComponent(key)}/versions/${v}/xml`, { raw: true })).text();
  const [a, b] = await Promise.all([get(older), get(newer)]);
  const lines = changesOnly(diffLines(a, b));
  main.querySelector('#xml-diff')?.remove();
  const box = section(`${t('diff_title')}: ${key} v${older} → v${newer}`, h('pre', { class: 'diff' },
    lines.length ? lines.map((d) => h('span', { class: d.op === '+' ? 'add' : d.op === '-' ? 'del' : '' }, `${d.op} ${d.line}\n`)) : '='));
  box.id = 'xml-diff';
  add(main, box);
  box.scrollIntoView();
}
