// The API's error bodies -> messages beside fields (console/src/fielderrors.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupErrors, pathToField, shorten } from '../../../console/src/fielderrors.js';

test('a JSON path names the field it points at', () => {
  assert.equal(pathToField('$.comment'), 'comment');
  assert.equal(pathToField('$.receipts[0].date'), 'receipts.0.date');
  assert.equal(pathToField('$'), '');
  assert.equal(pathToField(undefined), '');
});

test('field and path errors land on their fields; the rest is general', () => {
  const { fields, general } = groupErrors([
    { field: 'purpose', message: 'Missing data for required field.' },
    { path: '$.comment', message: "'xx' is too long" },
    { message: 'quota short: gpus' },
    'not an object',
  ]);
  assert.deepEqual(fields, { purpose: ['Missing data for required field.'], comment: ["'xx' is too long"] });
  assert.deepEqual(general, ['quota short: gpus']);
});

test('a nested field falls back to the nearest field the form knows, else to the general list', () => {
  const { fields, general } = groupErrors([
    { field: 'items.0.quantity', message: 'too many' },
    { field: 'unknown_field', message: 'Unknown field.' },
  ], ['items', 'title']);
  assert.deepEqual(fields, { items: ['too many'] });
  assert.deepEqual(general, ['unknown_field: Unknown field.']);
});

test('no errors list at all is no error', () => {
  assert.deepEqual(groupErrors(null), { fields: {}, general: [] });
});

test("a message quoting a long value quotes only its start", () => {
  const long = `'${'x'.repeat(2001)}' is too long`;
  assert.equal(shorten(long), `'${'x'.repeat(40)}…' is too long`);
  assert.equal(shorten("'approve' is not one of ['approve', 'reject']"), "'approve' is not one of ['approve', 'reject']");
  assert.deepEqual(groupErrors([{ path: '$.comment', message: long }]).fields.comment, [shorten(long)]);
});
