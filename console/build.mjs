// Builds the console into dist/: esbuild bundles src/main.js (code-split: bpmn-js loads only on
// the designer and monitor pages), then index.html names the files with the build's hash.
// Prints and writes dist/sizes.json: each file's raw and gzipped bytes.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const here = new URL('.', import.meta.url).pathname;
const dist = join(here, 'dist');
const staging = join(here, 'dist.tmp');
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });

const t0 = Date.now();
const result = await build({
  metafile: true,
  entryPoints: { app: join(here, 'src/main.js') },
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  outdir: join(staging, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  legalComments: 'linked',
  logLevel: 'warning',
});

const assets = readdirSync(join(staging, 'assets'));
const js = assets.find((f) => /^app-.*\.js$/.test(f));
const css = assets.find((f) => /^app-.*\.css$/.test(f));
const html = readFileSync(join(here, 'src/index.html'), 'utf8')
  .replace('%APP_JS%', `assets/${js}`)
  .replace('%APP_CSS%', css ? `<link rel="stylesheet" href="assets/${css}">` : '');
writeFileSync(join(staging, 'index.html'), html);

// what the first page loads: the entry, the chunks it imports statically (not the lazy ones), its CSS
const outputs = result.metafile.outputs;
const firstLoad = new Set(['index.html']);
const visit = (out) => {
  if (firstLoad.has(out)) return;
  firstLoad.add(out);
  for (const imp of outputs[out]?.imports || []) if (imp.kind === 'import-statement') visit(imp.path);
};
const rel = (out) => out.slice(out.indexOf('assets/'));
const entryOut = Object.keys(outputs).find((o) => rel(o) === `assets/${js}`);
visit(entryOut);
const firstFiles = new Set([...firstLoad].map((o) => (o === 'index.html' ? o : rel(o))));
if (css) firstFiles.add(`assets/${css}`);
const sizes = {};
for (const file of ['index.html', ...assets.map((a) => `assets/${a}`)]) {
  const data = readFileSync(join(staging, file));
  sizes[file] = { raw: data.length, gzip: gzipSync(data, { level: 9 }).length };
}
const sum = (pred) => Object.entries(sizes).filter(([f]) => pred(f))
  .reduce((acc, [, s]) => ({ raw: acc.raw + s.raw, gzip: acc.gzip + s.gzip }), { raw: 0, gzip: 0 });
const report = {
  built_at: new Date().toISOString(),
  source_hash: createHash('sha256').update(html).digest('hex').slice(0, 16),
  entry: { js: `assets/${js}`, css: css ? `assets/${css}` : null },
  first_load: sum((f) => firstFiles.has(f)),
  first_load_files: [...firstFiles].sort(),
  total_js: sum((f) => f.endsWith('.js')),
  total: sum(() => true),
  files: sizes,
};
writeFileSync(join(staging, 'sizes.json'), JSON.stringify(report, null, 2));
rmSync(dist, { recursive: true, force: true });
// rename, so a server never sees a half-written dist
renameSync(staging, dist);
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`console built in ${Date.now() - t0} ms: first load ${kb(report.first_load.raw)} ` +
  `(${kb(report.first_load.gzip)} gzipped), all JS ${kb(report.total_js.raw)} (${kb(report.total_js.gzip)} gzipped)`);
