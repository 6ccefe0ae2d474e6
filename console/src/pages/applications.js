// Applications: the list (newest first, by status), and one application with its items, totals,
// attachments, approval history, current step, order, and the actions its status allows.
import { api, idempotencyKey, query } from '../api.js';
import { add, fill, h } from '../dom.js';
import { fmtDate, fmtNumber, statusLabel, t } from '../i18n.js';
import { can } from '../perms.js';
import { decisionOf, peopleSteps } from '../history.js';
import { quoteBox } from '../quote.js';
import { badge, busy, errorBanner, field, FormErrors, loading, section, table, toast } from '../ui.js';

const STATUSES = ['draft', 'pending', 'returned', 'approved', 'ordered', 'cancelled'];

export async function applications(ctx) {
  const { main } = ctx;
  const status = ctx.query.status || '';
  const page = Number(ctx.query.page || 1);
  const filter = h('select', { id: 'status-filter', 'aria-label': t('status'), onchange: (e) => ctx.navigate('/applications', { status: e.target.value }) },
    h('option', { value: '' }, t('all')), STATUSES.map((s) => h('option', { value: s, selected: s === status }, statusLabel(s))));
  const body = h('div', {}, loading());
  add(main, h('div', { class: 'titlebar' }, h('h1', {}, t('applications')), filter), body);
  const result = await api('GET', `/applications${query({ status, page, page_size: 20 })}`);
  fill(body, table([
    { label: t('number'), render: (a) => h('a', { href: `#/applications/${encodeURIComponent(a.id)}` }, a.number || a.id.slice(0, 8)) },
    { label: t('title'), render: (a) => a.title || a.purpose },
    { label: t('applicant'), key: 'applicant' },
    { label: t('status'), render: (a) => badge(a.status) },
    { label: t('created_at'), render: (a) => fmtDate(a.created_at) },
  ], result.items, { rowKey: (a) => a.id }), pager(ctx, '/applications', { status }, result));
}

export function pager(ctx, path, params, result) {
  const pages = Math.max(1, Math.ceil(result.total / result.page_size));
  if (pages <= 1) return null;
  return h('div', { class: 'pager' },
    h('button', { type: 'button', disabled: result.page <= 1, onclick: () => ctx.navigate(path, { ...params, page: result.page - 1 }) }, t('prev')),
    h('span', {}, t('page_of', { page: result.page, total: result.total })),
    h('button', { type: 'button', disabled: result.page >= pages, onclick: () => ctx.navigate(path, { ...params, page: result.page + 1 }) }, t('next')));
}

export async function application(ctx, id) {
  const { main } = ctx;
  const path = `/applications/${encodeURIComponent(id)}`;
  const app = await api('GET', path);
  const reload = () => ctx.navigate(`/applications/${id}`);
  const act = (label, action, { kind = '', body } = {}) => {
    const button = h('button', { type: 'button', class: kind, dataset: { action } }, label);
    button.addEventListener('click', () => busy(button, async () => {
      try {
        await api('POST', `${path}/${action}`, { json: body ? body() : undefined, headers: { 'Idempotency-Key': idempotencyKey() } });
        toast(`${label}: ${t('done')}`);
        reload();
      } catch (err) {
        actions.after(errorBanner(err));
      }
    }));
    return button;
  };
  const mine = app.applicant_id === ctx.me.user.id;
  const actions = h('div', { class: 'actions' },
    mine && app.status === 'draft' ? act(t('submit'), 'submit', { kind: 'primary' }) : null,
    mine && app.status === 'returned' ? act(t('resubmit'), 'resubmit', { kind: 'primary' }) : null,
    mine && app.status === 'pending' && !app.approvals ? act(t('withdraw'), 'withdraw') : null,
    mine && app.status === 'pending' ? act(t('urge'), 'urge', { body: () => ({ comment: null }) }) : null,
    mine && ['draft', 'returned'].includes(app.status) ? act(t('cancel'), 'cancel', { kind: 'danger' }) : null);

  add(main, h('div', { class: 'titlebar' }, h('h1', {}, `${t('application')} ${app.number || ''}`), badge(app.status)), actions,
    section(t('detail'), h('dl', { class: 'facts' },
      fact(t('title'), app.title), fact(t('purpose'), app.purpose), fact(t('applicant'), app.applicant),
      fact(t('created_at'), fmtDate(app.created_at)), fact(t('updated_at'), fmtDate(app.updated_at)),
      app.order ? fact(t('order'), h('strong', { id: 'order-number' }, `${app.order.number} (${statusLabel(app.order.status)})`)) : null)));
  if (mine && ['draft', 'returned'].includes(app.status)) add(main, editForm(app, path, reload));
  add(main, section(t('items'), table([
    { label: t('product'), key: 'product_name' }, { label: t('spec'), key: 'spec_name' },
    { label: t('quantity'), render: (i) => fmtNumber(i.quantity) }, { label: t('specs_vcpu'), render: (i) => fmtNumber(i.vcpu) },
    { label: t('specs_memory'), render: (i) => fmtNumber(i.memory_gib) },
    { label: t('specs_gpu'), render: (i) => (i.gpu_count ? `${i.gpu_model} × ${i.gpu_count}` : '—') },
  ], app.items || []), totals(app.totals), quoteBox(ctx.me, app.id)));
  if (app.current_tasks?.length) {
    add(main, section(t('current_tasks'), table([
      { label: t('step'), render: (task) => task.task_name || task.task_spec },
      { label: t('assignee'), render: (task) => task.assignee || (task.candidates || []).join(', ') },
      { label: t('created_at'), render: (task) => fmtDate(task.created_at) },
    ], app.current_tasks)));
    if (can(ctx.me, 'task:work') && !mine && app.status === 'pending') add(main, decisionForm(path, reload));
  }
  const stepColumns = [
    { label: t('step'), render: (s) => s.task_name || s.task_spec },
    { label: t('status'), key: 'state' },
    { label: t('actor'), render: (s) => s.actor || '' },
    { label: t('comment'), render: (s) => { const d = decisionOf(s); return d ? [d.stage, d.decision, d.comment].filter(Boolean).join(' · ') : ''; } },
    { label: t('at'), render: (s) => fmtDate(s.at) },
  ];
  const history = app.history || [];
  add(main, section(t('history'), table(stepColumns, peopleSteps(history), { empty: t('empty') }),
    h('details', { class: 'all-steps' }, h('summary', {}, `${t('all_steps')} (${history.length})`), table(stepColumns, history))));
  add(main, attachmentsSection(app, path, mine && ['draft', 'returned'].includes(app.status), reload));
}

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value ?? '')];
}

function totals(tot) {
  if (!tot) return null;
  return h('p', { class: 'totals' }, `${t('totals')}: ${t('specs_vcpu')} ${fmtNumber(tot.vcpu)} · ${t('specs_memory')} ${fmtNumber(tot.memory_gib)} · `
    + `${t('specs_gpu')} ${fmtNumber(tot.gpus)}${tot.gpus_by_model && Object.keys(tot.gpus_by_model).length
      ? ` (${Object.entries(tot.gpus_by_model).map(([m, n]) => `${m} × ${n}`).join(', ')})` : ''}`);
}

function editForm(app, path, reload) {
  const title = field('title', t('title'), h('input', { value: app.title || '' }));
  const purpose = field('purpose', t('purpose'), h('textarea', { rows: '3' }, app.purpose || ''));
  const errors = new FormErrors([title, purpose]);
  const save = h('button', { type: 'submit' }, t('save'));
  return section(t('edit'), h('form', { novalidate: true, id: 'edit-application', onsubmit: (e) => {
    e.preventDefault();
    busy(save, async () => {
      try {
        await api('PATCH', path, { json: { title: title.input.value, purpose: purpose.input.value } });
        toast(t('saved'));
        reload();
      } catch (err) {
        errors.show(err);
      }
    });
  } }, errors.banner, title.el, purpose.el, save));
}

function decisionForm(path, reload) {
  const decision = field('decision', t('decision'), h('select', {}, h('option', { value: 'approve' }, t('approve')), h('option', { value: 'reject' }, t('reject'))));
  const comment = field('comment', t('comment'), h('textarea', { rows: '2' }));
  const errors = new FormErrors([decision, comment]);
  const send = h('button', { type: 'submit', class: 'primary', id: 'send-decision' }, t('decide'));
  return section(t('decision'), h('form', { novalidate: true, id: 'decision-form', onsubmit: (e) => {
    e.preventDefault();
    busy(send, async () => {
      try {
        await api('POST', `${path}/decision`, { json: { decision: decision.input.value, comment: comment.input.value || null } });
        toast(`${t('decide')}: ${t('done')}`);
        reload();
      } catch (err) {
        errors.show(err);
      }
    });
  } }, errors.banner, decision.el, comment.el, send));
}

function attachmentsSection(app, path, editable, reload) {
  const list = table([
    { label: t('attachments'), render: (a) => h('a', { href: '#', onclick: (e) => { e.preventDefault(); download(path, a); } }, a.filename) },
    { label: t('size'), render: (a) => (a.size < 1024 ? `${fmtNumber(a.size)} B` : `${fmtNumber((a.size / 1024).toFixed(1))} KiB`) },
    { label: t('created_at'), render: (a) => fmtDate(a.created_at) },
  ], app.attachments || []);
  if (!editable) return section(t('attachments'), list);
  const file = field('file', t('upload'), h('input', { type: 'file' }));
  const errors = new FormErrors([file]);
  const upload = h('button', { type: 'submit' }, t('upload'));
  return section(t('attachments'), list, h('form', { novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    busy(upload, async () => {
      const form = new FormData();
      if (file.input.files[0]) form.append('file', file.input.files[0]);
      try {
        await api('POST', `${path}/attachments`, { form, headers: { 'Idempotency-Key': idempotencyKey() } });
        reload();
      } catch (err) {
        errors.show(err);
      }
    });
  } }, errors.banner, file.el, upload));
}

async function download(path, attachment) {
  const res = await api('GET', `${path}/attachments/${encodeURIComponent(attachment.id)}`, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: attachment.filename });
  add(document.body, a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
