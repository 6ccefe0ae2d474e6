// The shell's logic: what the menu shows by permission, where a user lands, hash routes, query
// strings, and which version a call activity bound to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { query } from '../../../console/src/api.js';
import { boundVersion, calledKeys } from '../../../console/src/diagram.js';
import { can, homeFor, menuFor } from '../../../console/src/perms.js';
import { href, parseHash } from '../../../console/src/router.js';

const tenantUser = { roles: ['tenant_user'], permissions: ['catalog:read', 'application:create', 'application:read', 'task:read', 'site-message:read', 'process-instance:read'] };
const designer = { roles: ['process_designer'], permissions: ['process-definition:deploy', 'process-definition:read', 'process-instance:read', 'site-message:read'] };
const admin = { roles: ['platform_admin'], permissions: ['*'] };

test('permissions, wildcards included', () => {
  assert.ok(can(admin, 'anything:at-all'));
  assert.ok(can({ permissions: ['organization:*'] }, 'organization:update'));
  assert.ok(!can({ permissions: ['organization:*'] }, 'user:update'));
  assert.ok(!can(null, 'task:read'));
});

test('each user sees the pages of their work and lands on the first', () => {
  assert.deepEqual(menuFor(tenantUser).map(([r]) => r), ['/catalog', '/cart', '/applications', '/inbox', '/monitor', '/messages']);
  assert.deepEqual(menuFor(designer).map(([r]) => r), ['/monitor', '/designer', '/forms', '/messages']);
  assert.equal(homeFor(tenantUser), '/catalog');
  assert.equal(homeFor(designer), '/designer');
  assert.equal(homeFor({ roles: ['approver'], permissions: ['task:read'] }), '/inbox');
});

test('hash routes and query strings', () => {
  assert.deepEqual(parseHash('#/inbox/abc%20d?tab=done'), { path: '/inbox/abc%20d', parts: ['inbox', 'abc d'], query: { tab: 'done' } });
  assert.deepEqual(parseHash(''), { path: '/', parts: [], query: {} });
  assert.equal(href('/applications', { status: 'pending', page: '' }), '#/applications?status=pending');
  assert.equal(query({ status: ['a', 'b'], q: '', n: 0 }), '?status=a&status=b&n=0');
  assert.equal(query({}), '');
});

test('a call activity binds to the newest version deployed when the instance started', () => {
  const versions = [
    { version: 1, created_at: '2026-03-01T00:00:00Z' },
    { version: 3, created_at: '2026-03-05T00:00:00Z' },
    { version: 2, created_at: '2026-03-02T00:00:00Z' },
  ];
  assert.equal(boundVersion(versions, '2026-03-03T00:00:00Z').version, 2);
  assert.equal(boundVersion(versions, null).version, 3);
  assert.equal(boundVersion(versions, '2020-01-01T00:00:00Z').version, 3);
  assert.deepEqual(calledKeys('<bpmn:callActivity id="approval_call" name="A" calledElement="approval">'),
    [{ id: 'approval_call', key: 'approval' }]);
});
