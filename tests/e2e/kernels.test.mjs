// tests/e2e/kernels.test.mjs — the wasm builds' SIMD kernels against the scalar reference,
// inside the browser, for both builds the page can load (relaxed-simd where the browser
// validates it, as Chromium does; plain simd128 elsewhere, forced here by making the page's
// feature test fail): the page's ?selftest=kernels mode runs backend::cpu::check (the same
// sweep as tests/cpu_kernels.rs natively: every m, n up to `max`, all transpose forms, NaN-
// poisoned guarded outputs; the fused element-wise passes; exp accuracy) in the wasm module
// and publishes the outcome on window.__aeplayBench. Also checks the ?bench=train mode's
// output format (used by `make bench-web`) on a tiny run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDist, startServer, launchBrowser, collectLogs, formatLogs } from './harness.mjs';

async function runMode(query, { timeout = 240_000, init } = {}) {
  ensureDist();
  const server = await startServer();
  const context = await launchBrowser();
  const page = context.pages()[0] ?? (await context.newPage());
  const logs = collectLogs(page);
  try {
    if (init) await page.addInitScript(init);
    await page.goto(server.url + query, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => window.__aeplayBench?.done, null, { timeout, polling: 250 });
    const out = await page.evaluate(() => window.__aeplayBench);
    const pre = await page.locator('#bench-result').textContent();
    const variant = await page.evaluate(() => window.__aeplayWasmVariant ?? null);
    return { out, pre, logs, variant };
  } catch (e) {
    e.message += `\n${formatLogs(logs)}`;
    throw e;
  } finally {
    await context.close().catch(() => {});
    await server.close();
  }
}

for (const [name, init, variant, isa] of [
  ['relaxed-simd build (picked in Chromium)', undefined, 'relaxed-simd', /^simd128\+relaxed$/],
  ['simd128 build (picked where relaxed-simd is missing)', () => { WebAssembly.validate = () => false; }, 'simd128', /^simd128$/],
]) {
  test(`wasm kernels match the scalar reference in the browser: ${name}`, { timeout: 300_000 }, async () => {
    const { out, pre, variant: loaded } = await runMode('?selftest=kernels&max=33', { init });
    assert.equal(loaded, variant, 'the page loaded the wrong wasm build');
    assert.equal(out.error, null, `self-check failed in wasm: ${out.error}`);
    const [r] = out.results;
    assert.equal(r.ok, true);
    assert.match(r.isa, isa, `the ${variant} build should run its own kernels, ran ${r.isa}`);
    assert.match(r.summary, /simd128[^:]*: \d+ products/);
    assert.match(pre, /"selftest":"kernels"/);
    console.log(`wasm self-check, ${variant} (${Math.round(r.ms)} ms): ${r.summary}`);
  });
}

test('?bench=train reports samples/s and the final loss per batch', { timeout: 300_000 }, async () => {
  const { out, pre } = await runMode('?bench=train&batch=16,32&steps=3&warmup=1&seconds=1');
  assert.equal(out.error, null);
  assert.deepEqual(out.results.map((r) => r.batch), [16, 32]);
  for (const r of out.results) {
    assert.equal(r.preset, 'dae_vincent');
    assert.equal(r.backend, 'ours-cpu');
    assert.ok(r.samples_per_s > 0 && Number.isFinite(r.final_loss), JSON.stringify(r));
  }
  assert.equal(pre.trim().split('\n').length, 2);
});
