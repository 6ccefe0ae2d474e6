// The task inbox: todo / done / urged with counts, a list moved through with the keyboard, and the
// open task in tabs (its form, rendered from the task's JSON Schema with the server's errors on
// the fields; history; the diagram with the task marked; the application it concerns). Claim,
// unclaim, delegate, return, complete. New tasks appear without a reload (polled).
import { api, query } from '../api.js';
import { add, clear, fill, h } from '../dom.js';
import { groupErrors } from '../fielderrors.js';
import { fmtDate, fmtNumber, t } from '../i18n.js';
import { renderForm } from '../form/render.js';
import { quoteBox } from '../quote.js';
import { applyFilter, choices, EMPTY, SavedFilters } from '../inboxfilter.js';
import { badge, busy, errorBanner, field, FormErrors, loading, table, toast } from '../ui.js';

const TABS = ['todo', 'done', 'urged'];
const POLL_MS = 10000;

export async function inbox(ctx, openId = null) {
  const { main } = ctx;
  const tab = TABS.includes(ctx.query.tab) ? ctx.query.tab : 'todo';
  const counts = h('div', { class: 'tabs', role: 'tablist' });
  const list = h('ul', { class: 'tasklist', role: 'listbox', tabindex: '0', 'aria-label': t('inbox'), id: 'task-list' });
  const detail = h('div', { class: 'taskdetail', id: 'task-detail' }, h('p', { class: 'empty' }, t('select_task')));
  const saved = new SavedFilters(ctx.me.user.username);
  let filter = { ...EMPTY };
  const filterBar = h('details', { class: 'filters', id: 'task-filters' });
  add(main, h('h1', {}, t('inbox')), counts, h('div', { class: 'inbox' }, h('div', {}, filterBar, list), detail));
  let all = [];
  let loaded = false;
  let items = [];
  let selected = openId;

  function drawFilters() {
    const platformStaff = !ctx.me.tenant;
    const control = (name, el) => { el.addEventListener('change', () => { filter = { ...filter, [name]: el.value }; drawList(); }); return el; };
    const pick = (name, values, labels = values) => control(name, h('select', { name, 'aria-label': t(name === 'process' ? 'process' : 'filter_tenant') },
      h('option', { value: '' }, t('all')), values.map((v, i) => h('option', { value: v, selected: filter[name] === v }, labels[i]))));
    const savedPick = h('select', { id: 'saved-filter', 'aria-label': t('saved_filters'), onchange: (e) => {
      filter = { ...EMPTY, ...(saved.all()[e.target.value] || {}) };
      drawFilters();
      drawList();
    } }, h('option', { value: '' }, `${t('saved_filters')}…`), Object.keys(saved.all()).map((n) => h('option', { value: n }, n)));
    const name = h('input', { id: 'filter-name', class: 'short', placeholder: t('filter_name'), 'aria-label': t('filter_name') });
    const text = h('input', { name: 'text', type: 'search', value: filter.text, placeholder: t('text_search'), 'aria-label': t('text_search') });
    text.addEventListener('input', () => { filter = { ...filter, text: text.value }; drawList(); });
    fill(filterBar, h('summary', {}, t('filters')), h('div', { class: 'filter-grid' }, savedPick, text,
      pick('process', choices(all, 'process_key')),
      platformStaff ? pick('tenant', choices(all, 'tenant_id')) : null,
      h('label', {}, t('date_from'), control('from', h('input', { type: 'date', name: 'from', value: filter.from }))),
      h('label', {}, t('date_to'), control('to', h('input', { type: 'date', name: 'to', value: filter.to }))),
      h('label', {}, t('sort'), control('sort', h('select', { name: 'sort' }, ['newest', 'oldest', 'due'].map((v) => h('option', { value: v, selected: filter.sort === v }, t(`sort_${v}`)))))),
      h('div', { class: 'actions' }, name, h('button', { type: 'button', id: 'save-filter', onclick: () => {
        if (!name.value.trim()) return name.focus();
        saved.save(name.value.trim(), filter);
        return drawFilters();
      } }, t('save_filter')), h('button', { type: 'button', onclick: () => { saved.remove(savedPick.value); drawFilters(); } }, t('delete')))));
  }

  let urgedIds = new Set(); // todo tasks their initiator urged: marked in the list
  async function loadCounts() {
    const [totals, urged] = await Promise.all([
      Promise.all(TABS.map((x) => api('GET', `/tasks${query({ tab: x, page_size: 1 })}`).then((r) => r.total).catch(() => '?'))),
      tab === 'todo' ? api('GET', `/tasks${query({ tab: 'urged', page_size: 100 })}`).catch(() => ({ items: [] })) : { items: [] },
    ]);
    urgedIds = new Set(urged.items.map((x) => x.id));
    fill(counts, TABS.map((x, i) => h('a', { role: 'tab', href: `#/inbox?tab=${x}`, 'aria-selected': String(x === tab),
      class: x === tab ? 'tab active' : 'tab', dataset: { tab: x } }, t(`tab_${x}`), h('span', { class: 'count', dataset: { count: x } }, String(totals[i])))));
  }

  async function loadList() {
    const result = await api('GET', `/tasks${query({ tab, page_size: 100 })}`);
    const before = loaded ? new Set(all.map((x) => x.id)) : null;
    all = result.items;
    drawList(before);
    if (!loaded) drawFilters();
    loaded = true;
  }

  function drawList(before = null) {
    items = applyFilter(all, filter);
    fill(list, items.length ? items.map((task) => h('li', {
      role: 'option', id: `task-${task.id}`, 'aria-selected': String(task.id === selected),
      class: [task.id === selected ? 'selected' : '', before && !before.has(task.id) ? 'new' : ''].join(' '),
      dataset: { task: task.id, business: task.business_key || '' },
      onclick: () => open(task.id),
    }, h('div', { class: 'task-name' }, task.task_name || task.task_spec, task.urged || urgedIds.has(task.id) ? h('span', { class: 'badge urged' }, t('urged')) : null),
    h('div', { class: 'muted' }, `${task.process_key} · ${fmtDate(task.completed_at || task.created_at)}${task.assignee ? ` · ${task.assignee}` : ''}`)))
      : h('li', { class: 'empty' }, t('empty')));
  }

  function open(id) {
    selected = id;
    for (const li of list.querySelectorAll('li[data-task]')) {
      const on = li.dataset.task === id;
      li.classList.toggle('selected', on);
      li.setAttribute('aria-selected', String(on));
    }
    list.setAttribute('aria-activedescendant', `task-${id}`);
    if (tab === 'done') showDone(items.find((x) => x.id === id));
    else showTask(ctx, detail, id, async () => { selected = null; await refresh(); fill(detail, h('p', { class: 'empty' }, t('select_task'))); });
    window.history.replaceState(null, '', `#/inbox/${encodeURIComponent(id)}${tab === 'todo' ? '' : `?tab=${tab}`}`);
  }

  function showDone(task) {
    fill(detail, task ? h('div', { class: 'card' }, h('h2', {}, task.task_name || task.task_spec),
      h('p', {}, `${t('completed')}: ${fmtDate(task.completed_at)}`), task.business_key ? applicationTab(task.business_key) : null) : null);
  }

  list.addEventListener('keydown', (e) => {
    const ids = items.map((x) => x.id);
    if (!ids.length) return;
    const at = ids.indexOf(selected);
    if (e.key === 'ArrowDown' || e.key === 'j') { e.preventDefault(); focusRow(ids[Math.min(ids.length - 1, at + 1)]); }
    if (e.key === 'ArrowUp' || e.key === 'k') { e.preventDefault(); focusRow(ids[Math.max(0, at - 1)]); }
    if (e.key === 'Enter' && selected) { e.preventDefault(); open(selected); }
  });
  function focusRow(id) {
    selected = id;
    for (const li of list.querySelectorAll('li[data-task]')) li.classList.toggle('selected', li.dataset.task === id);
    list.setAttribute('aria-activedescendant', `task-${id}`);
    list.querySelector(`li[data-task="${CSS.escape(id)}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  async function refresh() {
    await loadCounts();
    await loadList();
  }
  await refresh();
  if (openId) open(openId);
  ctx.every(POLL_MS, () => { if (!ctx.stale()) refresh().catch(() => {}); });
}

async function showTask(ctx, detail, id, afterDone) {
  fill(detail, loading());
  let d;
  try {
    d = await api('GET', `/tasks/${encodeURIComponent(id)}`);
  } catch (err) {
    fill(detail, errorBanner(err));
    return;
  }
  const task = d.task;
  const me = ctx.me.user.username;
  const mineNow = task.assignee === me;
  const path = `/tasks/${encodeURIComponent(id)}`;
  const banner = h('div');
  const act = (label, action, body) => {
    const b = h('button', { type: 'button', dataset: { action } }, label);
    b.addEventListener('click', () => busy(b, async () => {
      try {
        await api('POST', `${path}/${action}`, { json: body ? body() : undefined });
        toast(`${label}: ${t('done')}`);
        if (action === 'claim' || action === 'unclaim') showTask(ctx, detail, id, afterDone);
        else afterDone();
      } catch (err) {
        fill(banner, errorBanner(err));
      }
    }));
    return b;
  };

  const tabs = [['form', t('form')], ['history', t('history')], ['diagram', t('diagram')]];
  if (task.business_key) tabs.push(['application', t('application')]);
  const panel = h('div', { class: 'tabpanel', role: 'tabpanel' });
  const tabBar = h('div', { class: 'tabs small', role: 'tablist' });
  const show = (name) => {
    for (const b of tabBar.children) {
      b.classList.toggle('active', b.dataset.tab === name);
      b.setAttribute('aria-selected', String(b.dataset.tab === name));
    }
    clear(panel);
    if (name === 'form') add(panel, formTab(d, path, mineNow || !task.assignee, banner, afterDone));
    if (name === 'history') historyTab(panel, task.instance_id);
    if (name === 'diagram') {
      add(panel, loading());
      showDiagram(panel, d.context.process_key, d.context.process_version, task.task_spec, d.context.started_at)
        .then(() => panel.querySelector('.loading')?.remove()).catch((err) => fill(panel, errorBanner(err)));
    }
    if (name === 'application') add(panel, applicationTab(task.business_key, ctx.me));
  };
  add(tabBar, ...tabs.map(([name, label]) => h('button', { type: 'button', role: 'tab', class: 'tab', dataset: { tab: name }, onclick: () => show(name) }, label)));

  fill(detail, h('div', { class: 'card' },
    h('h2', { id: 'task-title' }, task.task_name || task.task_spec),
    h('p', { class: 'muted' }, `${d.context.process_name || d.context.process_key} v${d.context.process_version} · ${t('created_at')} ${fmtDate(task.created_at)}`
      + `${task.assignee ? ` · ${t('assignee')}: ${task.assignee}` : ''}${task.due_at ? ` · ${t('due')} ${fmtDate(task.due_at)}` : ''}`),
    d.context.instructions ? h('p', { class: 'instructions' }, d.context.instructions) : null,
    h('div', { class: 'actions' },
      !task.assignee ? act(t('claim'), 'claim') : null,
      mineNow ? act(t('unclaim'), 'unclaim') : null,
      delegateControl(path, banner, afterDone),
      act(t('return_task'), 'return', () => ({ comment: '' }))),
    banner, tabBar, panel));
  show('form');
}

function formTab(d, path, workable, banner, afterDone) {
  if (!d.schema) {
    const b = h('button', { type: 'button', class: 'primary', id: 'complete-task' }, t('complete'));
    b.addEventListener('click', () => busy(b, async () => {
      try { await api('POST', `${path}/complete`, { json: { data: {} } }); afterDone(); } catch (err) { fill(banner, errorBanner(err)); }
    }));
    return h('div', {}, h('p', { class: 'muted' }, t('no_form')), workable ? b : null);
  }
  const form = renderForm(d.schema, d.ui_schema || {}, d.data || {}, { readOnly: !workable });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'complete-task', disabled: !workable }, t('complete'));
  return h('form', { novalidate: true, class: 'task-form', onsubmit: (e) => {
    e.preventDefault();
    busy(submit, async () => {
      clear(banner);
      if (!form.check()) return;
      try {
        await api('POST', `${path}/complete`, { json: { data: form.value() } });
        toast(`${t('complete')}: ${t('done')}`);
        afterDone();
      } catch (err) {
        const { fields, general } = groupErrors(err.errors, form.keys());
        form.showErrors(fields);
        if (general.length || !Object.keys(fields).length) fill(banner, errorBanner(err));
      }
    });
  } }, form.el, submit);
}

function delegateControl(path, banner, afterDone) {
  const to = field('to_user', t('delegate_to'), h('input', { class: 'short' }));
  const errors = new FormErrors([to], banner);
  const b = h('button', { type: 'submit', dataset: { action: 'delegate' } }, t('delegate'));
  return h('details', { class: 'inline-form' }, h('summary', {}, t('delegate')), h('form', { novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    busy(b, async () => {
      try { await api('POST', `${path}/delegate`, { json: { to_user: to.input.value.trim() } }); afterDone(); } catch (err) { errors.show(err); }
    });
  } }, to.el, b));
}

async function historyTab(panel, instanceId) {
  add(panel, loading());
  try {
    const inst = await api('GET', `/process-instances/${encodeURIComponent(instanceId)}`);
    fill(panel, table([
      { label: t('step'), render: (s) => s.task_name || s.task_spec },
      { label: t('status'), key: 'state' }, { label: t('actor'), render: (s) => s.actor || '' },
      { label: t('at'), render: (s) => fmtDate(s.at) },
    ], (inst.history || []).filter((s) => s.task_type !== 'StartEvent' || s.actor)));
  } catch (err) {
    fill(panel, errorBanner(err));
  }
}

function applicationTab(applicationId, me = null) {
  const box = h('div', { class: 'app-summary' }, loading());
  api('GET', `/applications/${encodeURIComponent(applicationId)}`).then((app) => {
    fill(box, h('h3', {}, h('a', { href: `#/applications/${encodeURIComponent(app.id)}` }, `${app.number || ''} ${app.title || ''}`), ' ', badge(app.status)),
      h('p', {}, app.purpose), h('p', {}, `${t('applicant')}: ${app.applicant}`),
      table([{ label: t('product'), key: 'product_name' }, { label: t('spec'), key: 'spec_name' },
        { label: t('quantity'), render: (i) => fmtNumber(i.quantity) },
        { label: t('specs_gpu'), render: (i) => (i.gpu_count ? `${i.gpu_model} × ${i.gpu_count}` : '—') }], app.items || []),
      me ? quoteBox(me, app.id) : null);
  }).catch((err) => fill(box, errorBanner(err)));
  return box;
}

async function showDiagram(panel, key, version, taskSpec, startedAt) {
  const { showTaskDiagram } = await import('../diagram.js');
  await showTaskDiagram(panel, key, version, taskSpec, startedAt);
}
