// The inbox's personal filters and sorting (console/src/inboxfilter.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyFilter, choices, SavedFilters } from '../../../console/src/inboxfilter.js';

const tasks = [
  { id: 'a', task_name: 'Approve (organisation)', process_key: 'application', tenant_id: 't1', business_key: 'APP-1', created_at: '2026-03-02T09:00:00Z', due_at: '2026-03-03T09:00:00Z' },
  { id: 'b', task_name: 'Review voucher', process_key: 'voucher', tenant_id: 't2', business_key: 'V-7', created_at: '2026-03-04T09:00:00Z', due_at: null },
  { id: 'c', task_name: 'Approve (platform)', process_key: 'application', tenant_id: 't2', business_key: 'APP-2', created_at: '2026-03-03T09:00:00Z', due_at: '2026-03-02T12:00:00Z' },
];
const ids = (list) => list.map((t) => t.id);

test('no filter: everything, newest first', () => {
  assert.deepEqual(ids(applyFilter(tasks)), ['b', 'c', 'a']);
});

test('by process, tenant, text and days', () => {
  assert.deepEqual(ids(applyFilter(tasks, { process: 'application' })), ['c', 'a']);
  assert.deepEqual(ids(applyFilter(tasks, { tenant: 't2', sort: 'oldest' })), ['c', 'b']);
  assert.deepEqual(ids(applyFilter(tasks, { text: 'app-2' })), ['c']);
  assert.deepEqual(ids(applyFilter(tasks, { text: 'approve' })), ['c', 'a']);
  assert.deepEqual(ids(applyFilter(tasks, { from: '2026-03-03', to: '2026-03-03' })), ['c']);
});

test('by due time, tasks without one last', () => {
  assert.deepEqual(ids(applyFilter(tasks, { sort: 'due' })), ['c', 'a', 'b']);
});

test('choices are the distinct values present', () => {
  assert.deepEqual(choices(tasks, 'process_key'), ['application', 'voucher']);
});

test('saved filters are per user and survive a broken store', () => {
  const data = new Map();
  const storage = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v) };
  const mine = new SavedFilters('alice', storage);
  mine.save('urgent apps', { process: 'application', sort: 'due' });
  assert.deepEqual(Object.keys(mine.all()), ['urgent apps']);
  assert.equal(mine.all()['urgent apps'].sort, 'due');
  assert.deepEqual(new SavedFilters('bob', storage).all(), {});
  mine.remove('urgent apps');
  assert.deepEqual(mine.all(), {});
  data.set('aicmp.filters.alice', '{broken');
  assert.deepEqual(mine.all(), {});
});
