// A line diff of two texts (two versions' XML): the common prefix and suffix are cut first, the
// middle is compared by longest common subsequence. Answers [{op: ' '|'+'|'-', line}].

export function diffLines(a, b, { maxCells = 4_000_000 } = {}) {
  const x = a.split('\n');
  const y = b.split('\n');
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start += 1;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) { endX -= 1; endY -= 1; }
  const out = x.slice(0, start).map((line) => ({ op: ' ', line }));
  const midX = x.slice(start, endX);
  const midY = y.slice(start, endY);
  if (midX.length * midY.length > maxCells) {
    out.push(...midX.map((line) => ({ op: '-', line })), ...midY.map((line) => ({ op: '+', line })));
  } else {
    out.push(...lcsDiff(midX, midY));
  }
  out.push(...x.slice(endX).map((line) => ({ op: ' ', line })));
  return out;
}

function lcsDiff(x, y) {
  const n = x.length;
  const m = y.length;
  const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      table[i][j] = x[i] === y[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: ' ', line: x[i] }); i += 1; j += 1; } else if (table[i + 1][j] >= table[i][j + 1]) { out.push({ op: '-', line: x[i] }); i += 1; } else { out.push({ op: '+', line: y[j] }); j += 1; }
  }
  while (i < n) { out.push({ op: '-', line: x[i] }); i += 1; }
  while (j < m) { out.push({ op: '+', line: y[j] }); j += 1; }
  return out;
}

/** Only the changed lines with `context` unchanged lines around each change ('…' between). */
export function changesOnly(diff, context = 3) {
  const keep = new Set();
  diff.forEach((d, i) => {
    if (d.op !== ' ') for (let k = i - context; k <= i + context; k += 1) keep.add(k);
  });
  const out = [];
  let last = -2;
  diff.forEach((d, i) => {
    if (!keep.has(i)) return;
    if (i !== last + 1 && out.length) out.push({ op: '…', line: '' });
    out.push(d);
    last = i;
  });
  return out;
}
