// tests/e2e/serve.test.mjs — a smoke test of the README's first command: `make run` (the
// script it calls, scripts/setup.sh run) started in the background on a free port, the page
// opened in Chromium, 200 steps trained, the page and its modules served gzip'd, the page's report of the build checked (the release
// build with the relaxed-SIMD CPU kernels, threaded: one thread per core), the headers of cross-origin isolation (COOP/COEP,
// from Trunk.toml's [serve.headers]) on the page and its modules with the page's
// Content-Security-Policy kept, and the server stopped by its process id.
//
// The server builds into a temporary directory (DIST=...), so dist/ is left to the other tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, launchBrowser, collectLogs, assertNoUnexpectedErrors, formatLogs, waitForState, readSteps, poll } from './harness.mjs';

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function responds(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

test('make run serves the release build: the page trains 200 steps on the threaded relaxed-SIMD CPU path', { timeout: 900_000 }, async () => {
  const port = await freePort();
  const dist = mkdtempSync(join(tmpdir(), 'aeplay-serve-'));
  const url = `http://127.0.0.1:${port}/`;
  let output = '';
  // Its own process group, so that trunk and everything it started stop with it.
  const server = spawn('bash', ['scripts/setup.sh', 'run'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), DIST: dist },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => { output += d; });
  server.stderr.on('data', (d) => { output += d; });
  let exited = null;
  server.on('exit', (code, signal) => { exited = { code, signal }; });
  let context;
  let logs;
  try {
    // The URL is printed first; it answers once trunk has built and started serving.
    await poll(async () => exited === null && /==> Autoencoder Playground: http:\/\/127\.0\.0\.1:\d+/.test(output), {
      timeout: 600_000, interval: 500, message: () => `the URL to be printed (exited: ${JSON.stringify(exited)})\n${output.slice(-3000)}`,
    });
    await poll(async () => {
      if (exited !== null) throw new Error(`make run exited (${JSON.stringify(exited)}):\n${output.slice(-3000)}`);
      return responds(url);
    }, { timeout: 600_000, interval: 1000, message: () => `${url} to answer\n${output.slice(-3000)}` });
    assert.match(output, /trunk build --release/, 'make run serves the release build');
    // Compressed on the way, as static hosts serve it (the page, its script, its module).
    const html = await (await fetch(url)).text();
    const module = /["'](\/?[^"']*_bg\.wasm)["']/.exec(html)?.[1] ?? /["'](\/?[^"']+\.wasm)["']/.exec(html)?.[1];
    for (const path of ['', 'worker.js', ...(module ? [module.replace(/^\//, '')] : [])]) {
      const r = await fetch(url + path, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(r.headers.get('content-encoding'), 'gzip', `/${path} served gzip'd`);
    }

    // Cross-origin isolation from the server itself, on the page and what it loads.
    for (const path of ['', 'worker.js', 'sw.js', 'data/manifest.json']) {
      const r = await fetch(url + path);
      assert.equal(r.status, 200, `${path || '/'}: HTTP ${r.status}`);
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin', `COOP on /${path}`);
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp', `COEP on /${path}`);
      if (path === '') assert.match(await r.text(), /http-equiv="Content-Security-Policy" content="default-src 'self'/, 'the page keeps its CSP');
    }

    context = await launchBrowser();
    const page = context.pages()[0] ?? (await context.newPage());
    logs = collectLogs(page);
    await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    await waitForState(page, 'ready', 180_000);
    await page.click('#train');
    await poll(async () => (await readSteps(page)) >= 200, { timeout: 120_000, interval: 250, message: () => '200 steps' });
    const backend = await page.textContent('#backend');
    // This browser has no WebGPU (no SwiftShader flags): the CPU path, in its relaxed-SIMD
    // build (a debug or plain-simd128 build would say otherwise).
    assert.match(backend, /relaxed/, `the page reports the relaxed-SIMD build (it says ${JSON.stringify(backend)})`);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'make run serves a cross-origin isolated page');
    assert.match(await page.textContent('#isolation'), /· cross-origin isolated/);
    // Isolated, it runs the threaded build, one thread per core.
    assert.equal(await page.evaluate(() => window.__aeplayWasmVariant), 'threads+relaxed-simd');
    const cores = Math.min(16, await page.evaluate(() => navigator.hardwareConcurrency));
    if (cores > 1) assert.match(backend, new RegExp(`${cores} threads`), `the backend names the threads (${JSON.stringify(backend)})`);
    assertNoUnexpectedErrors(logs);
  } catch (e) {
    if (e instanceof Error && logs) e.message += `\n${formatLogs(logs)}`;
    throw e;
  } finally {
    await context?.close().catch(() => {});
    if (exited === null) {
      try { process.kill(-server.pid, 'SIGTERM'); } catch {}
      await poll(async () => exited !== null, { timeout: 20_000, message: () => 'make run to stop' }).catch(() => {
        try { process.kill(-server.pid, 'SIGKILL'); } catch {}
      });
    }
    rmSync(dist, { recursive: true, force: true });
  }
  // Stopped: the port no longer answers.
  assert.equal(await responds(url), false, 'the server still answers after it was stopped');
});
