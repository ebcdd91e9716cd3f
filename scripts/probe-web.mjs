#!/usr/bin/env node
// scripts/probe-web.mjs — measures the page itself while it trains (`make probe-web`): for each
// batch size, the page's own benchmark mode first (?bench=train: training alone, in the worker),
// then the ordinary page training the same preset with its pictures refreshing, probed from
// inside: a PerformanceObserver for main-thread long tasks (over 50 ms) and a 50 ms interval
// timer whose lateness is the event loop's lag. Prints one JSON line per (backend, batch):
//
//   {backend, batch, bench_samples_per_s, page_samples_per_s, ratio, long_tasks,
//    longest_task_ms, lag_p99_ms, lag_max_ms, main_thread_busy, main_thread_script, seconds}
//
// main_thread_busy / _script: the share of the time the page's main thread ran tasks / script
// (Chromium's TaskDuration and ScriptDuration metrics, through CDP).
//
//   node scripts/probe-web.mjs [--backend cpu|gpu] [--batch 16,64,256] [--seconds 20]
//        [--preset dae_vincent] [--threads 1,all] [--out FILE.jsonl] [--query 'hide=features']
//        [--no-isolate] [--runs 1,2]
//
// --runs measures the page with that many runs compared (issue 22: copies of the preset with
// the same seed, `compare=` in the link); page_samples_per_s is then all runs' samples
// together, counted from the runs table's steps.
//
// The page is served cross-origin isolated (COOP/COEP, as `make run` does), so the CPU path
// runs its threaded build; --threads measures each setting in turn (`1`: threads=1, the build
// without threads; `all`: one thread per core), each line says which (`threads`, and the
// backend's words). --no-isolate serves it as a host without headers (one thread).
//
// gpu uses WebGPU through SwiftShader (a CPU emulation: right for the ratios, not for speed).
// Needs dist/ (make build) and node_modules (make deps-test).

import { writeFileSync } from 'node:fs';
import { ensureDist, startServer, launchBrowser, waitForState, readSteps, ISOLATING } from '../tests/e2e/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const BACKEND = opt('backend', 'cpu');
const BATCHES = opt('batch', '16,64,256').split(',').map(Number);
const SECONDS = Number(opt('seconds', '20'));
const PRESET = opt('preset', 'dae_vincent');
const OUT = opt('out', null);
// More of the link for the page mode (e.g. `hide=recon,features` to see what the pictures cost).
const EXTRA = opt('query', '');
const ISOLATE = !args.includes('--no-isolate');
const THREADS = ISOLATE && BACKEND === 'cpu' ? opt('threads', '1,all').split(',').filter(Boolean) : ['all'];
const threadsQuery = (t) => (t === '1' ? '&threads=1' : '');
const webgpu = BACKEND === 'gpu';
const RUNS = opt('runs', '1').split(',').map(Number);
// N runs compared: N − 1 copies of the preset (empty items of `compare=`).
const runsQuery = (n) => (n > 1 ? `&compare=${encodeURIComponent(Array(n - 1).fill('').join('|'))}` : '');

/** Steps of all runs: the runs table's where runs are compared, else the page's. */
async function allSteps(page, runs) {
  if (runs <= 1) return readSteps(page);
  const steps = await page.$$eval('#runs-table .run-step', (cells) => cells.map((c) => Number(c.textContent.replace(/,/g, '')) || 0));
  if (steps.length !== runs) throw new Error(`${steps.length} runs in the table, want ${runs}`);
  return steps.reduce((a, b) => a + b, 0);
}

// Installed before the page's scripts: long tasks and the lateness of a 50 ms timer.
function probe() {
  const p = { long: [], lags: [], recording: false };
  window.__probe = p;
  new PerformanceObserver((list) => {
    if (!p.recording) return;
    for (const e of list.getEntries()) p.long.push(e.duration);
  }).observe({ type: 'longtask', buffered: false });
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (p.recording) p.lags.push(Math.max(0, now - last - 50));
    last = now;
  }, 50);
}

async function benchMode(server, batch, threads) {
  const context = await launchBrowser({ webgpu });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const q = `?bench=train&preset=${PRESET}&backend=${BACKEND}&batch=${batch}&steps=1000000&warmup=10&seconds=${Math.min(10, SECONDS / 2)}${threadsQuery(threads)}`;
    await page.goto(server.url + q, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__aeplayBench?.done, null, { timeout: 300_000, polling: 250 });
    const r = await page.evaluate(() => window.__aeplayBench);
    if (r.error || !r.results[0] || r.results[0].error) throw new Error(`bench mode: ${JSON.stringify(r)}`);
    return { samples: r.results[0].samples_per_s, threads: r.results[0].threads ?? 1 };
  } finally {
    await context.close();
  }
}

async function pageMode(server, batch, threads, runs) {
  const context = await launchBrowser({ webgpu });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.addInitScript(probe);
    await page.goto(`${server.url}?preset=${PRESET}&backend=${BACKEND}&batch=${batch}${threadsQuery(threads)}${runsQuery(runs)}${EXTRA ? `&${EXTRA}` : ''}`, { waitUntil: 'load' });
    await waitForState(page, 'ready', 180_000);
    const label = await page.textContent('#backend');
    await page.click('#train');
    // Warm up, then measure over SECONDS.
    await page.waitForTimeout(3000);
    const s0 = await allSteps(page, runs);
    const t0 = Date.now();
    // The main thread's busy time (Chromium's own task accounting, through CDP).
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const busy = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
      return { task: m.TaskDuration, script: m.ScriptDuration, layout: m.LayoutDuration + m.RecalcStyleDuration };
    };
    const b0 = await busy();
    await page.evaluate(() => { window.__probe.recording = true; });
    await page.waitForTimeout(SECONDS * 1000);
    await page.evaluate(() => { window.__probe.recording = false; });
    const b1 = await busy();
    const s1 = await allSteps(page, runs);
    const t1 = Date.now();
    const { long, lags } = await page.evaluate(() => window.__probe);
    const sorted = [...lags].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] ?? 0;
    return {
      label,
      samples: ((s1 - s0) * batch * 1000) / (t1 - t0),
      long_tasks: long.length,
      longest_task_ms: long.length ? Math.max(...long) : 0,
      lag_p99_ms: p99,
      lag_max_ms: sorted.length ? sorted[sorted.length - 1] : 0,
      main_busy: (b1.task - b0.task) / ((t1 - t0) / 1000),
      main_script: (b1.script - b0.script) / ((t1 - t0) / 1000),
    };
  } finally {
    await context.close();
  }
}

ensureDist();
const server = await startServer(undefined, { headers: ISOLATE ? ISOLATING : {} });
const lines = [];
try {
  for (const batch of BATCHES) for (const threads of THREADS) for (const runs of RUNS) {
    const bench = await benchMode(server, batch, threads);
    const p = await pageMode(server, batch, threads, runs);
    const line = {
      backend: BACKEND, backend_detail: p.label, preset: PRESET, batch, threads: bench.threads, runs,
      bench_samples_per_s: Math.round(bench.samples), page_samples_per_s: Math.round(p.samples),
      ratio: Number((p.samples / bench.samples).toFixed(3)),
      long_tasks: p.long_tasks, longest_task_ms: Math.round(p.longest_task_ms),
      lag_p99_ms: Number(p.lag_p99_ms.toFixed(1)), lag_max_ms: Number(p.lag_max_ms.toFixed(1)),
      main_thread_busy: Number(p.main_busy.toFixed(3)), main_thread_script: Number(p.main_script.toFixed(3)), seconds: SECONDS,
    };
    console.log(JSON.stringify(line));
    lines.push(JSON.stringify(line));
  }
} finally {
  await server.close();
}
if (OUT) writeFileSync(OUT, lines.join('\n') + '\n');
