// Two versions' XML compared line by line (console/src/diff.js); deploy findings placed on the
// diagram (console/src/findings.js); a task in a called process (console/src/diagram.js helpers).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { changesOnly, diffLines } from '../../../console/src/diff.js';
import { placeFindings } from '../../../console/src/findings.js';

test('an inserted step shows as added lines, the rest unchanged', () => {
  const a = ['<a>', '<task id="x"/>', '</a>'].join('\n');
  const b = ['<a>', '<task id="x"/>', '<task id="y"/>', '</a>'].join('\n');
  const d = diffLines(a, b);
  assert.deepEqual(d.filter((x) => x.op !== ' '), [{ op: '+', line: '<task id="y"/>' }]);
  assert.equal(d.length, 4);
});

test('a changed line is one removal and one addition; equal texts have no changes', () => {
  const d = diffLines('a\nb\nc', 'a\nB\nc');
  assert.deepEqual(d.filter((x) => x.op !== ' ').map((x) => x.op + x.line), ['-b', '+B']);
  assert.deepEqual(changesOnly(diffLines('same\ntext', 'same\ntext')), []);
});

test('changesOnly keeps context around changes and marks the gaps', () => {
  const a = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
  const b = a.replace('line 3\n', 'line three\n').replace('line 25\n', 'line twenty-five\n');
  const out = changesOnly(diffLines(a, b), 1);
  assert.deepEqual(out.map((x) => x.op), [' ', '-', '+', ' ', '…', ' ', '-', '+', ' ']);
});

test('the real approval model against itself with a step added', () => {
  const xml = readFileSync(new URL('../../../bpmn/approval.bpmn', import.meta.url), 'utf8');
  const changed = xml.replace('<bpmn:userTask id="org_approve"', '<bpmn:task id="review" />\n    <bpmn:userTask id="org_approve"');
  const d = diffLines(xml, changed);
  assert.deepEqual(d.filter((x) => x.op !== ' '), [{ op: '+', line: '    <bpmn:task id="review" />' }]);
});

test('findings with an element on this file go on the element; others are listed with their line', () => {
  const known = new Set(['org_approve']);
  const { byElement, unplaced } = placeFindings([
    { file: 'approval.bpmn', line: 75, element_id: 'org_approve', message: 'form missing' },
    { file: 'approval.bpmn', line: 9, element_id: 'gone', message: 'no such element' },
    { file: 'other.bpmn', line: 3, element_id: 'org_approve', message: 'elsewhere' },
    { field: 'files', message: 'at least one file is required' },
  ], 'approval.bpmn', (id) => known.has(id));
  assert.deepEqual(byElement, { org_approve: ['75: form missing'] });
  assert.deepEqual(unplaced, ['approval.bpmn:9 [gone] no such element', 'other.bpmn:3 [org_approve] elsewhere',
    'at least one file is required']);
});
