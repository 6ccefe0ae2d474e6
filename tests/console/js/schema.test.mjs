// The JSON Schema + UI schema form model (console/src/form/schema.js), on the shipped approval form.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { coerce, fieldsOf, initialData, missingRequired, orderOf, typeOf, widgetOf } from '../../../console/src/form/schema.js';

const forms = new URL('../../../forms/', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('application-approval-schema.json', forms)));
const ui = JSON.parse(readFileSync(new URL('application-approval-uischema.json', forms)));

test('the approval form: a required radio decision with its labels, then an optional nullable textarea', () => {
  const [decision, comment] = fieldsOf(schema, ui);
  assert.equal(decision.name, 'decision');
  assert.equal(decision.widget, 'radio');
  assert.equal(decision.required, true);
  assert.deepEqual(decision.options, [{ value: 'approve', label: 'Approve' }, { value: 'reject', label: 'Reject' }]);
  assert.equal(comment.widget, 'textarea');
  assert.equal(comment.nullable, true);
  assert.equal(comment.required, false);
  assert.equal(comment.rows, 4);
});

test('ui:order orders the fields, "*" standing for the ones it does not list', () => {
  const s = { properties: { a: {}, b: {}, c: {}, d: {} } };
  assert.deepEqual(orderOf(s, { 'ui:order': ['c', 'a'] }), ['c', 'a', 'b', 'd']);
  assert.deepEqual(orderOf(s, { 'ui:order': ['d', '*', 'a'] }), ['d', 'b', 'c', 'a']);
  assert.deepEqual(orderOf(s, {}), ['a', 'b', 'c', 'd']);
});

test('widgets follow type, enum, format and ui:widget', () => {
  assert.equal(widgetOf({ type: 'string', enum: ['x'] }), 'select');
  assert.equal(widgetOf({ type: 'boolean' }), 'checkbox');
  assert.equal(widgetOf({ type: 'integer' }), 'number');
  assert.equal(widgetOf({ type: 'string', format: 'date' }), 'date');
  assert.equal(widgetOf({ type: 'array' }), 'json');
  assert.equal(widgetOf({ type: 'string' }, { 'ui:widget': 'textarea' }), 'textarea');
  assert.deepEqual(typeOf({ type: ['null', 'integer'] }), { type: 'integer', nullable: true });
});

test('typed values: numbers parse, bad numbers stay text for the server to name, empty optional text is null or absent', () => {
  const [gpus] = fieldsOf({ properties: { gpus: { type: 'integer' } } });
  assert.equal(coerce(gpus, '8'), 8);
  assert.equal(coerce(gpus, '8.5'), '8.5');
  assert.equal(coerce(gpus, ''), undefined);
  const [comment] = fieldsOf(schema, ui).slice(1);
  assert.equal(coerce(comment, ''), null);
  const [decision] = fieldsOf(schema, ui);
  assert.equal(coerce(decision, 'reject'), 'reject');
  const [flag] = fieldsOf({ properties: { f: { type: 'boolean' } } });
  assert.equal(coerce(flag, false), false);
});

test('the only check before sending: required fields filled', () => {
  const fields = fieldsOf(schema, ui);
  assert.deepEqual(missingRequired(fields, {}), ['decision']);
  assert.deepEqual(missingRequired(fields, { decision: 'approve' }), []);
  const nested = fieldsOf({ properties: { a: { type: 'object', required: ['b'], properties: { b: { type: 'string' } } } } });
  assert.deepEqual(missingRequired(nested, { a: {} }), ['a.b']);
});

test('a form opens with the task data over the defaults', () => {
  assert.deepEqual(initialData(schema, {}), { decision: 'approve' });
  assert.deepEqual(initialData(schema, { decision: 'reject', comment: 'no' }), { decision: 'reject', comment: 'no' });
});
