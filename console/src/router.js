// Hash routes: "#/applications/AP1?tab=todo" -> {path: "/applications/AP1", parts, query}.
// The server serves one page at /console/, so every view lives behind the hash.

export function parseHash(hash) {
  const text = (hash || '').replace(/^#/, '') || '/';
  const [path, search = ''] = text.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { path: `/${parts.map(encodeURIComponent).join('/')}`, parts, query: Object.fromEntries(new URLSearchParams(search)) };
}

export function href(path, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  return `#${path}${q ? `?${q}` : ''}`;
}

export function navigate(path, query = {}) {
  const target = href(path, query);
  if (window.location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else window.location.hash = target;
}
