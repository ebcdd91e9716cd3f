#!/usr/bin/env node
// scripts/bench-web.mjs — browser benchmark (`make bench-web`): trains dae_vincent in headless
// Chromium with our wasm CPU backend (the page's ?bench=train mode), then, in the same page
// and the same browser run, our WebGPU path (on SwiftShader here), then the same workload written with TensorFlow.js 4.22 (npm) on its
// wasm, cpu and webgpu (SwiftShader) backends, from the same initial weights. Prints one JSON
// line per (preset, backend, batch) with samples_per_s and final_loss, then one line per
// ratio (ours / TensorFlow.js). Needs dist/ (trunk build) and node_modules (npm ci).
//
//   node scripts/bench-web.mjs [--batch 16,64,256] [--steps 40] [--seconds 6]
//        [--ours cpu,gpu] [--tfjs wasm,cpu,webgpu] [--threads 1,all] [--out FILE.jsonl]
//        [--no-isolate]
//
// The pages are served cross-origin isolated (COOP/COEP), so that our threaded build and
// TensorFlow.js's threaded wasm backend can run; --threads runs the whole comparison once per
// setting, in one browser: `1` is our build without threads (threads=1) against TensorFlow.js's
// wasm on one thread (setThreadsCount(1)), `all` our pool of one thread per core against
// TensorFlow.js's wasm on as many (its other backends, and our GPU path, run in the `all` pass
// only); every line says its `threads`. --no-isolate serves them as an ordinary web server
// would (no threads on either side; --threads is then 1 only).

import { createServer } from 'node:http';
import { existsSync, statSync, createReadStream, writeFileSync } from 'node:fs';
import { join, resolve, extname, sep } from 'node:path';
import { cpus } from 'node:os';
import { ROOT, DIST, ensureDist, launchBrowser } from '../tests/e2e/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const BATCHES = opt('batch', '16,64,256').split(',').map(Number);
const STEPS = Number(opt('steps', '40'));
const SECONDS = Number(opt('seconds', '6'));
const TFJS = opt('tfjs', 'wasm,cpu,webgpu').split(',').filter(Boolean);
const OURS = opt('ours', 'cpu,gpu');
const OUT = opt('out', null);
const ISOLATE = !args.includes('--no-isolate');
const THREADS = ISOLATE ? opt('threads', '1,all').split(',').filter(Boolean) : ['1'];

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8', '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8', '.gz': 'application/gzip', '.css': 'text/css; charset=utf-8',
};

// dist/ at /, www/bench/ at /bench/, node_modules/@tensorflow/<pkg>/ at /tfjs/<pkg>/.
const MOUNTS = [
  ['/tfjs/', join(ROOT, 'node_modules/@tensorflow')],
  ['/bench/', join(ROOT, 'www/bench')],
  ['/', DIST],
];

function serve() {
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.endsWith('/')) path += 'index.html';
    const [prefix, dir] = MOUNTS.find(([p]) => path.startsWith(p));
    const base = resolve(dir);
    const file = resolve(base, '.' + path.slice(prefix.length - 1));
    if (!(file.startsWith(base + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const headers = {
      'Content-Type': TYPES[extname(file)] || 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'Cache-Control': 'no-cache',
    };
    if (ISOLATE) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

const lines = [];
function emit(obj) {
  const line = JSON.stringify(obj);
  lines.push(line);
  console.log(line);
}

ensureDist();
for (const pkg of ['tfjs', 'tfjs-backend-wasm', 'tfjs-backend-webgpu']) {
  if (!existsSync(join(ROOT, 'node_modules/@tensorflow', pkg, 'package.json'))) {
    console.error(`node_modules/@tensorflow/${pkg} is missing: run 'npm ci' (or 'make deps-test')`);
    process.exit(1);
  }
}

const server = await serve();
const url = `http://127.0.0.1:${server.address().port}/`;
// TensorFlow.js compiles kernels with `new Function`, which the app's Content-Security-Policy
// refuses (no eval): the benchmark's browser ignores the policy, as a page of its own would
// not have one.
const context = await launchBrowser({ webgpu: true, contextOptions: { bypassCSP: true } });
let failed = false;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.error(`[page error] ${e}`));
  const browserVersion = context.browser()?.version() ?? 'chromium';
  emit({
    event: 'machine', cpus: cpus().length, cpu_model: cpus()[0]?.model, browser: browserVersion,
    node: process.version, cross_origin_isolated: ISOLATE,
  });

  for (const threads of THREADS) {
    const all = threads === 'all';
    // 1. Ours: the page's benchmark mode (also publishes the initial weights and the pixels).
    const backends = all ? OURS : OURS.split(',').filter((b) => b === 'cpu').join(',');
    if (!backends) continue;
    const q = `?bench=train&export=1&preset=dae_vincent&backend=${backends}&batch=${BATCHES.join(',')}&steps=${STEPS}&seconds=${SECONDS}&warmup=5${all ? '' : '&threads=1'}`;
    await page.goto(url + q, { waitUntil: 'load', timeout: 120_000 });
    await page.waitForFunction(() => window.__aeplayBench?.done, null, { timeout: 600_000, polling: 500 });
    const mine = await page.evaluate(() => window.__aeplayBench);
    if (mine.error) throw new Error(`our benchmark failed: ${mine.error}`);
    const variant = await page.evaluate(() => window.__aeplayWasmVariant);
    for (const r of mine.results) emit({ ...r, threads: r.threads ?? (r.backend === 'ours-cpu' ? 1 : undefined), variant });

    // 2. TensorFlow.js in the same page, its wasm backend on as many threads.
    // tf.min.js: core, gradients, the cpu (and webgl) backends; then the wasm and webgpu ones.
    for (const s of ['tfjs/dist/tf.min.js', 'tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
      'tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js']) {
      await page.addScriptTag({ url: `/tfjs/${s}` });
    }
    await page.addScriptTag({ url: '/bench/tfjs-bench.js' });
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const theirs = [];
    for (const backend of TFJS.filter((b) => all || b === 'wasm')) {
      for (const batch of BATCHES) {
        try {
          const r = await page.evaluate((o) => window.tfjsBench(o), { backend, batch, steps: STEPS, seconds: SECONDS, warmup: 3, threads: all ? cores : 1 });
          theirs.push(r);
          emit(r);
        } catch (e) {
          emit({ preset: 'dae_vincent', backend: `tfjs-${backend}`, batch, error: String(e.message || e).split('\n')[0] });
        }
      }
    }

    // 3. Ratios: ours / theirs, same batch, same threads.
    for (const o of mine.results.filter((r) => !r.error)) {
      for (const t of theirs.filter((r) => !r.error)) {
        if (t.batch !== o.batch) continue;
        // Our CPU path against their CPU paths; a GPU path of ours against their webgpu.
        const oursGpu = o.backend.includes('gpu');
        if (oursGpu !== (t.backend === 'tfjs-webgpu')) continue;
        emit({ ratio: `${o.backend} / ${t.backend}`, threads, batch: o.batch, value: o.samples_per_s / t.samples_per_s });
      }
    }
  }
} catch (e) {
  failed = true;
  console.error(`bench-web: ${e.message || e}`);
} finally {
  await context.close().catch(() => {});
  server.close();
}
if (OUT) writeFileSync(OUT, lines.join('\n') + '\n');
process.exit(failed ? 1 : 0);
