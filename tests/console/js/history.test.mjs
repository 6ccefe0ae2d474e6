// An application's approval history for people (console/src/history.js), on the shape the API
// answers: people's steps with their actor, decisions recorded by service tasks and call activities.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionOf, peopleSteps } from '../../../console/src/history.js';

const history = [
  { task_spec: 'start', state: 'COMPLETED', actor: null, data: null },
  { task_spec: 'org_approve', state: 'COMPLETED', actor: 'alpha-approver', data: { decision: 'approve', comment: 'ok' } },
  { task_spec: 'record_org', state: 'COMPLETED', actor: null,
    data: { comment: null, last_decision: { approvals: 1, comment: 'ok', decision: 'approve', step: 'organization' } } },
  { task_spec: 'approval_deadline', state: 'CANCELLED', actor: null, data: null },
  { task_spec: 'call_approval', state: 'COMPLETED', actor: null,
    data: { decision: 'approve', comment: null, last_decision: { approvals: 2, comment: 'capacity reserved', decision: 'approve', step: 'platform' } } },
  { task_spec: 'mark_approved', state: 'COMPLETED', actor: null, data: { status_change: { status: 'approved' } } },
];

test("people's steps and each recorded decision once, nothing else", () => {
  assert.deepEqual(peopleSteps(history).map((s) => s.task_spec), ['org_approve', 'call_approval']);
});

test('a decision comes from the step itself or from what it recorded', () => {
  assert.deepEqual(decisionOf(history[1]), { decision: 'approve', comment: 'ok', stage: '' });
  assert.deepEqual(decisionOf(history[4]), { decision: 'approve', comment: 'capacity reserved', stage: 'platform' });
  assert.equal(decisionOf(history[5]), null);
  assert.equal(decisionOf({}), null);
});
