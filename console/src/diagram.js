// A read-only BPMN diagram (bpmn-js NavigatedViewer, loaded on first use) with elements marked:
// the current task(s), the completed ones, and the ones with an error. bpmn.io's watermark stays.
import { api } from './api.js';
import { add, h } from './dom.js';

async function definitionXml(key, version) {
  const res = await api('GET', `/process-definitions/${encodeURIComponent(key)}/versions/${version}/xml`, { raw: true });
  return res.text();
}

async function draw(container, xml, key, { active = [], completed = [], failed = [] } = {}) {
  const { default: Viewer } = await import('bpmn-js/lib/NavigatedViewer');
  const canvasEl = h('div', { class: 'diagram', dataset: { process: key } });
  add(container, canvasEl);
  const viewer = new Viewer({ container: canvasEl });
  await viewer.importXML(xml);
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  const mark = (ids, cls) => [...new Set(ids)].filter((id) => registry.get(id)).forEach((id) => canvas.addMarker(id, cls));
  mark(completed, 'done-element');
  mark(active, 'active-element');
  mark(failed, 'failed-element');
  canvas.zoom('fit-viewport');
  return viewer;
}

export async function showDiagram(container, key, version, marks = {}) {
  return draw(container, await definitionXml(key, version), key, marks);
}

/** The ids of the call activities in a process XML and the keys they call. */
export function calledKeys(xml) {
  const out = [];
  const re = /<(?:\w+:)?callActivity\b[^>]*>/g;
  for (const tag of xml.match(re) || []) {
    const called = /calledElement="([^"]+)"/.exec(tag);
    const id = /\sid="([^"]+)"/.exec(tag);
    if (called && id) out.push({ id: id[1], key: called[1] });
  }
  return out;
}

/** The version of `key` a call made at `startedAt` bound to: the newest one deployed by then. */
export function boundVersion(versions, startedAt) {
  const at = startedAt ? new Date(startedAt).getTime() : Infinity;
  const sorted = [...versions].sort((a, b) => b.version - a.version);
  return sorted.find((v) => new Date(v.created_at).getTime() <= at) || sorted[0];
}

/** A task's diagram: its instance's process, or, when the task lies in a called process, that one
 * (the version the instance bound to), with the task marked. Answers a caption to show above it. */
export async function showTaskDiagram(container, key, version, taskSpec, startedAt) {
  const xml = await definitionXml(key, version);
  const hasTask = new RegExp(`\\sid="${taskSpec.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`).test(xml);
  if (!hasTask) {
    for (const call of calledKeys(xml)) {
      try {
        const bound = boundVersion(await api('GET', `/process-definitions/${encodeURIComponent(call.key)}/versions`), startedAt);
        const calledXml = bound && await definitionXml(call.key, bound.version);
        if (calledXml && calledXml.includes(`id="${taskSpec}"`)) {
          add(container, h('p', { class: 'muted' }, `${key} v${version} › ${call.id} › ${call.key} v${bound.version}`));
          return draw(container, calledXml, call.key, { active: [taskSpec] });
        }
      } catch { /* a called key this user cannot see: try the next */ }
    }
  }
  return draw(container, xml, key, { active: [taskSpec] });
}
