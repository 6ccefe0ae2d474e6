// Site messages: newest first, unread ones marked; opening one marks it read.
import { api, query } from '../api.js';
import { add, h } from '../dom.js';
import { fmtDate, t } from '../i18n.js';
import { busy, table } from '../ui.js';
import { pager } from './applications.js';

export async function messages(ctx) {
  const { main } = ctx;
  const unreadOnly = ctx.query.unread === 'true';
  const page = Number(ctx.query.page || 1);
  const result = await api('GET', `/site-messages${query({ unread: unreadOnly ? 'true' : '', page, page_size: 20 })}`);
  const readAll = h('button', { type: 'button', id: 'read-all' }, t('read_all'));
  readAll.addEventListener('click', () => busy(readAll, async () => {
    await api('POST', '/site-messages/read-all');
    await ctx.refreshUnread();
    ctx.navigate('/messages', { unread: unreadOnly ? 'true' : '' });
  }));
  add(main, h('div', { class: 'titlebar' }, h('h1', {}, t('messages')),
    h('label', { class: 'inline' }, h('input', { type: 'checkbox', id: 'unread-only', checked: unreadOnly,
      onchange: (e) => ctx.navigate('/messages', { unread: e.target.checked ? 'true' : '' }) }), ` ${t('unread')}`), readAll),
  table([
    { label: t('title'), render: (m) => h('span', { class: m.read ? '' : 'unread-dot' }, m.title) },
    { label: t('detail'), render: (m) => m.body },
    { label: t('application'), render: (m) => (m.link?.application_id
      ? h('a', { href: `#/applications/${encodeURIComponent(m.link.application_id)}`, onclick: () => markRead(m) }, m.link.number || t('open')) : '') },
    { label: t('created_at'), render: (m) => fmtDate(m.created_at) },
    { label: t('actions'), render: (m) => (m.read ? '' : h('button', { type: 'button', class: 'link', onclick: async (e) => {
      await markRead(m);
      e.target.closest('tr').querySelector('.unread-dot')?.classList.remove('unread-dot');
      e.target.remove();
      ctx.refreshUnread();
    } }, t('mark_read'))) },
  ], result.items, { rowKey: (m) => m.id, rowAttrs: (m) => ({ 'data-kind': m.kind, class: m.read ? 'read' : 'unread' }) }),
  pager(ctx, '/messages', { unread: unreadOnly ? 'true' : '' }, result));
}

async function markRead(message) {
  if (!message.read) await api('POST', `/site-messages/${encodeURIComponent(message.id)}/read`);
}
