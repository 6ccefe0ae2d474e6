// The inbox's personal filters and sorting, applied to the tasks loaded (the newest 100 of a tab):
// by process, tenant, text (task name or business key), creation dates; sorted by created or due
// time. Saved filters are kept per user in this browser (localStorage).

export const EMPTY = Object.freeze({ process: '', tenant: '', text: '', from: '', to: '', sort: 'newest' });
const SORTS = {
  newest: (a, b) => cmp(b.created_at, a.created_at),
  oldest: (a, b) => cmp(a.created_at, b.created_at),
  due: (a, b) => cmp(a.due_at || '9999', b.due_at || '9999'),
};

function cmp(a, b) {
  const x = a || '';
  const y = b || '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The tasks a filter keeps, in its order. Dates are whole days (yyyy-mm-dd) in UTC. */
export function applyFilter(tasks, filter = EMPTY) {
  const f = { ...EMPTY, ...filter };
  const text = f.text.trim().toLowerCase();
  const kept = tasks.filter((task) => {
    if (f.process && task.process_key !== f.process) return false;
    if (f.tenant && task.tenant_id !== f.tenant) return false;
    if (text && ![task.task_name, task.task_spec, task.business_key].some((v) => (v || '').toLowerCase().includes(text))) return false;
    const day = (task.created_at || '').slice(0, 10);
    if (f.from && day < f.from) return false;
    if (f.to && day > f.to) return false;
    return true;
  });
  return kept.sort(SORTS[f.sort] || SORTS.newest);
}

/** The distinct values of a field among the tasks, for the filter's choices. */
export function choices(tasks, fieldName) {
  return [...new Set(tasks.map((t) => t[fieldName]).filter(Boolean))].sort();
}

export class SavedFilters {
  constructor(user, storage = globalThis.localStorage) {
    this.key = `aicmp.filters.${user}`;
    this.storage = storage;
  }

  all() {
    try {
      const parsed = JSON.parse(this.storage?.getItem(this.key) || '{}');
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
    } catch {
      return {};
    }
  }

  save(name, filter) {
    const all = this.all();
    all[name] = { ...EMPTY, ...filter };
    this.storage?.setItem(this.key, JSON.stringify(all));
  }

  remove(name) {
    const all = this.all();
    delete all[name];
    this.storage?.setItem(this.key, JSON.stringify(all));
  }
}
