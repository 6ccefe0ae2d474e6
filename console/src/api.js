// The one way the console calls /api/v1: bearer token, JSON in and out, and every failure as an
// ApiError carrying the API's {code, message, errors} so pages can put messages beside fields.

const BASE = '/api/v1';
const TOKEN = 'aicmp.token';
const REFRESH = 'aicmp.refresh';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || 'error';
    this.errors = Array.isArray(body?.errors) ? body.errors : [];
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  save(tokens) {
    sessionStorage.setItem(TOKEN, tokens.access_token);
    if (tokens.refresh_token) sessionStorage.setItem(REFRESH, tokens.refresh_token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(REFRESH);
  },
  get refreshToken() { return sessionStorage.getItem(REFRESH); },
};

/** A query string from an object, leaving out empty values; arrays repeat the key. */
export function query(params = {}) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

let refreshing = null;

async function refresh() {
  const token = session.refreshToken;
  if (!token) return false;
  refreshing ||= fetch(`${BASE}/auth/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })
    .then(async (res) => {
      if (!res.ok) return false;
      session.save(await res.json());
      return true;
    }).catch(() => false).finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  return refreshing;
}

/**
 * api('GET', '/applications', {query: {...}}), api('POST', '/cart/items', {json: {...}}),
 * api('POST', '/process-definitions', {form: formData}), {raw: true} for the Response itself.
 */
export async function api(method, path, { json, form, headers = {}, raw = false, retried = false } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let res;
  try {
    res = await fetch(`${BASE}${path}`, init);
  } catch (err) {
    throw new ApiError(0, { code: 'network_error', message: String(err?.message || err) });
  }
  if (res.status === 401 && !retried && session.token && !path.startsWith('/auth/')) {
    if (await refresh()) return api(method, path, { json, form, headers, raw, retried: true });
    session.clear();
    window.dispatchEvent(new CustomEvent('aicmp:logout', { detail: { expired: true } }));
  }
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { body = null; }
    throw new ApiError(res.status, body);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

/** A fresh Idempotency-Key for one user action (a retry of the same action reuses it). */
export function idempotencyKey() {
  return globalThis.crypto?.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}
