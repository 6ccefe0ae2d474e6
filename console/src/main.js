// The console's shell: sign-in, the menu (by permission), the language switch, the unread
// message count, and the hash router that draws one page at a time into <main>.
import './styles.css';
import { api, ApiError, session } from './api.js';
import { add, fill, h } from './dom.js';
import { initLocale, LOCALES, locale, setLocale, t } from './i18n.js';
import { homeFor, menuFor } from './perms.js';
import { navigate, parseHash } from './router.js';
import { errorBanner, field, FormErrors, busy } from './ui.js';
import * as tenant from './pages/tenant.js';
import * as inbox from './pages/inbox.js';

const root = document.getElementById('app');
const state = { me: null, unread: 0, timers: [] };
const lazy = {
  monitor: () => import('./pages/monitor.js'),
  designer: () => import('./pages/designer.js'),
  forms: () => import('./pages/forms.js'),
};

const ROUTES = [
  [/^\/catalog$/, (ctx) => tenant.catalog(ctx)],
  [/^\/cart$/, (ctx) => tenant.cart(ctx)],
  [/^\/applications$/, (ctx) => tenant.applications(ctx)],
  [/^\/applications\/([^/]+)$/, (ctx, id) => tenant.application(ctx, id)],
  [/^\/messages$/, (ctx) => tenant.messages(ctx)],
  [/^\/inbox$/, (ctx) => inbox.inbox(ctx)],
  [/^\/inbox\/([^/]+)$/, (ctx, id) => inbox.inbox(ctx, id)],
  [/^\/monitor$/, async (ctx) => (await lazy.monitor()).monitor(ctx)],
  [/^\/monitor\/([^/]+)$/, async (ctx, id) => (await lazy.monitor()).instance(ctx, id)],
  [/^\/designer$/, async (ctx) => (await lazy.designer()).designer(ctx)],
  [/^\/designer\/([^/]+)\/(\d+)$/, async (ctx, key, v) => (await lazy.designer()).designer(ctx, key, Number(v))],
  [/^\/forms$/, async (ctx) => (await lazy.forms()).forms(ctx)],
];

function stopTimers() {
  for (const id of state.timers) clearInterval(id);
  state.timers = [];
}

async function loadMe() {
  state.me = await api('GET', '/auth/me');
  return state.me;
}

async function refreshUnread() {
  if (!state.me) return;
  try {
    const { unread } = await api('GET', '/site-messages/unread-count');
    state.unread = unread;
    const el = document.getElementById('unread-count');
    if (el) {
      el.textContent = String(unread);
      el.hidden = unread === 0;
    }
  } catch { /* the next poll tries again */ }
}

function languageSwitch() {
  return h('label', { class: 'lang' }, h('span', { class: 'sr-only' }, t('language')),
    h('select', { id: 'language', 'aria-label': t('language'), onchange: (e) => { setLocale(e.target.value); render(); } },
      LOCALES.map((l) => h('option', { value: l, selected: l === locale() }, l === 'zh-CN' ? '简体中文' : 'English'))));
}

function shell(current) {
  const me = state.me;
  const menu = menuFor(me);
  const nav = h('nav', { 'aria-label': 'main' }, menu.map(([route, key]) => h('a', {
    href: `#${route}`, class: current.startsWith(route) ? 'active' : '', 'aria-current': current.startsWith(route) ? 'page' : undefined,
    dataset: { nav: route.slice(1) },
  }, t(key), route === '/messages' ? h('span', { id: 'unread-count', class: 'count', hidden: state.unread === 0, 'aria-label': t('unread') }, String(state.unread)) : null)));
  const who = me.user.display_name || me.user.username;
  const header = h('header', { class: 'top' },
    h('a', { class: 'brand', href: `#${homeFor(me)}` }, t('app_name')), nav,
    h('div', { class: 'right' }, languageSwitch(),
      h('span', { class: 'who', title: (me.roles || []).join(', ') }, `${who}${me.tenant ? ` · ${me.tenant.code}` : ''}`),
      h('button', { type: 'button', class: 'link', id: 'logout', onclick: logout }, t('logout'))));
  const main = h('main', { id: 'view', tabindex: '-1' });
  fill(root, header, main);
  document.documentElement.lang = locale();
  return main;
}

async function logout() {
  try { await api('POST', '/auth/logout', { json: { refresh_token: session.refreshToken } }); } catch { /* gone anyway */ }
  session.clear();
  state.me = null;
  stopTimers();
  navigate('/login');
}

function loginPage(note) {
  stopTimers();
  const username = field('username', t('username'), h('input', { autocomplete: 'username', required: true }));
  const password = field('password', t('password'), h('input', { type: 'password', autocomplete: 'current-password', required: true }));
  const tenantCode = field('tenant', t('tenant'), h('input', { autocomplete: 'organization' }));
  const errors = new FormErrors([username, password, tenantCode]);
  const button = h('button', { type: 'submit', class: 'primary' }, t('login'));
  const form = h('form', { class: 'login card', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    await busy(button, async () => {
      errors.clear();
      try {
        const tokens = await api('POST', '/auth/login', { json: {
          username: username.input.value.trim(), password: password.input.value, tenant: tenantCode.input.value.trim() || null } });
        session.save(tokens);
        await loadMe();
        navigate(homeFor(state.me));
      } catch (err) {
        errors.show(err);
      }
    });
  } }, h('h1', {}, t('login_title')), note ? h('div', { class: 'banner' }, note) : null,
  errors.banner, username.el, password.el, tenantCode.el, button);
  fill(root, h('div', { class: 'login-page' }, h('div', { class: 'login-head' }, h('span', { class: 'brand' }, t('app_name')), languageSwitch()), form));
  document.documentElement.lang = locale();
  username.input.focus();
}

let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  const { path, parts, query } = parseHash(window.location.hash);
  if (!session.token) return loginPage();
  if (path === '/login') return navigate(state.me ? homeFor(state.me) : '/catalog');
  try {
    if (!state.me) await loadMe();
  } catch (err) {
    session.clear();
    return loginPage(err instanceof ApiError && err.status === 401 ? t('session_expired') : err.message);
  }
  if (path === '/') return navigate(homeFor(state.me));
  stopTimers();
  const main = shell(path);
  const ctx = {
    me: state.me, query, parts, main, navigate, refreshUnread,
    every(ms, fn) { state.timers.push(setInterval(fn, ms)); },
    stale: () => seq !== renderSeq,
  };
  refreshUnread();
  state.timers.push(setInterval(refreshUnread, 15000));
  for (const [pattern, handler] of ROUTES) {
    const m = path.match(pattern);
    if (m) {
      try {
        await handler(ctx, ...m.slice(1).map(decodeURIComponent));
      } catch (err) {
        if (!ctx.stale()) add(main, errorBanner(err));
      }
      return undefined;
    }
  }
  add(main, h('p', { class: 'empty' }, t('not_found')));
  return undefined;
}

window.addEventListener('hashchange', render);
window.addEventListener('aicmp:logout', () => { state.me = null; loginPage(t('session_expired')); });
initLocale();
render();
