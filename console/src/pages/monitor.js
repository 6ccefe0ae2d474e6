// The process monitor (operators, designers): instances filtered by status and key; one instance
// with its diagram (active and completed elements marked), history, data changes, incidents with
// retry, and suspend / resume / cancel.
import { api, query } from '../api.js';
import { add, fill, h } from '../dom.js';
import { fmtDate, statusLabel, t } from '../i18n.js';
import { can } from '../perms.js';
import { showDiagram } from '../diagram.js';
import { badge, busy, errorBanner, loading, section, table, toast } from '../ui.js';
import { pager } from './applications.js';

const STATUSES = ['running', 'suspended', 'completed', 'cancelled', 'error'];

export async function monitor(ctx) {
  const { main } = ctx;
  const q = { status: ctx.query.status || '', key: ctx.query.key || '', business_key: ctx.query.business_key || '' };
  const page = Number(ctx.query.page || 1);
  const status = h('select', { id: 'instance-status', 'aria-label': t('status') }, h('option', { value: '' }, t('all')),
    STATUSES.map((s) => h('option', { value: s, selected: s === q.status }, statusLabel(s))));
  const key = h('input', { id: 'instance-key', value: q.key, placeholder: t('key'), 'aria-label': t('key') });
  const filters = h('form', { class: 'searchbar', onsubmit: (e) => {
    e.preventDefault();
    ctx.navigate('/monitor', { status: status.value, key: key.value.trim() });
  } }, status, key, h('button', { type: 'submit' }, t('search')));
  const body = h('div', {}, loading());
  add(main, h('h1', {}, t('instances')), filters, body);
  const [result, incidents] = await Promise.all([
    api('GET', `/process-instances${query({ ...q, page, page_size: 25 })}`),
    can(ctx.me, 'incident:read') ? api('GET', '/incidents?status=open&page_size=50').catch(() => null) : null,
  ]);
  fill(body, table([
    { label: t('instance'), render: (i) => h('a', { href: `#/monitor/${encodeURIComponent(i.id)}` }, i.id.slice(0, 8)) },
    { label: t('key'), key: 'process_key' }, { label: 'business key', render: (i) => i.business_key || '' },
    { label: t('tenant'), render: (i) => i.tenant_id || '' }, { label: t('status'), render: (i) => badge(i.status) },
    { label: t('created_at'), render: (i) => fmtDate(i.created_at) }, { label: t('updated_at'), render: (i) => fmtDate(i.updated_at) },
  ], result.items, { rowKey: (i) => i.id }), pager(ctx, '/monitor', q, result));
  if (incidents?.items?.length) add(main, section(`${t('incidents')} (${incidents.total})`, incidentTable(incidents.items, () => ctx.navigate('/monitor', q))));
}

function incidentTable(items, reload) {
  return table([
    { label: t('instance'), render: (x) => h('a', { href: `#/monitor/${encodeURIComponent(x.instance_id)}` }, x.instance_id.slice(0, 8)) },
    { label: t('element'), render: (x) => x.task_spec || '' }, { label: 'code', render: (x) => x.error_code || x.kind },
    { label: t('error'), key: 'message' }, { label: t('created_at'), render: (x) => fmtDate(x.created_at) },
    { label: t('actions'), render: (x) => (x.status === 'open' ? retryButton(x, reload) : statusLabel(x.status)) },
  ], items);
}

function retryButton(incident, reload) {
  const b = h('button', { type: 'button', dataset: { action: 'retry' } }, t('retry'));
  b.addEventListener('click', () => busy(b, async () => {
    try { await api('POST', `/incidents/${encodeURIComponent(incident.id)}/retry`); toast(t('retry')); reload(); } catch (err) { toast(err.message, 'error'); }
  }));
  return b;
}

export async function instance(ctx, id) {
  const { main } = ctx;
  const path = `/process-instances/${encodeURIComponent(id)}`;
  const inst = await api('GET', path);
  const reload = () => ctx.navigate(`/monitor/${id}`);
  const act = (action, label, kind = '') => {
    const b = h('button', { type: 'button', class: kind, dataset: { action } }, label);
    b.addEventListener('click', () => busy(b, async () => {
      try { await api('POST', `${path}/${action}`); toast(`${label}: ${t('done')}`); reload(); } catch (err) { main.prepend(errorBanner(err)); }
    }));
    return b;
  };
  const manage = can(ctx.me, 'process-instance:manage');
  add(main, h('div', { class: 'titlebar' }, h('h1', {}, `${inst.process_key} v${inst.version}`), badge(inst.status)),
    h('p', { class: 'muted' }, `${inst.id} · ${inst.business_key || ''} · ${inst.initiator || ''} · ${fmtDate(inst.created_at)}`),
    manage ? h('div', { class: 'actions' },
      inst.status === 'running' ? act('suspend', t('suspend')) : null,
      inst.status === 'suspended' ? act('resume', t('resume')) : null,
      ['running', 'suspended', 'error'].includes(inst.status) ? act('cancel', t('cancel'), 'danger') : null) : null);
  const diagramBox = h('div', { class: 'card' }, h('h2', {}, t('diagram')));
  add(main, diagramBox);
  const completed = (inst.history || []).filter((s) => s.state === 'COMPLETED').map((s) => s.task_spec);
  const active = [...(inst.current_tasks || []).map((x) => x.task_spec),
    ...(inst.history || []).filter((s) => ['STARTED', 'READY', 'WAITING'].includes(s.state)).map((s) => s.task_spec)];
  const failed = (inst.incidents || []).filter((x) => x.status === 'open').map((x) => x.task_spec).filter(Boolean);
  showDiagram(diagramBox, inst.process_key, inst.version, { active, completed, failed }).catch((err) => add(diagramBox, errorBanner(err)));
  if (inst.incidents?.length) add(main, section(t('incidents'), incidentTable(inst.incidents, reload)));
  add(main, section(t('current_tasks'), table([
    { label: t('step'), render: (x) => x.task_name || x.task_spec }, { label: t('assignee'), render: (x) => x.assignee || x.lane || '' },
    { label: t('created_at'), render: (x) => fmtDate(x.created_at) },
  ], inst.current_tasks || [])));
  add(main, section(`${t('history')} / ${t('variables')}`, table([
    { label: t('step'), render: (s) => s.task_name || s.task_spec }, { label: t('status'), key: 'state' },
    { label: t('actor'), render: (s) => s.actor || '' }, { label: t('at'), render: (s) => fmtDate(s.at) },
    { label: t('variables'), render: (s) => (s.data_changed ? h('code', {}, JSON.stringify(s.data_changed)) : '') },
  ], inst.history || [])));
}
