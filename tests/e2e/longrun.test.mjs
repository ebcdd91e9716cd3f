// tests/e2e/longrun.test.mjs — a tab left training stays flat: thousands of read-backs (the
// worker told to send a frame every few milliseconds) on the CPU path and on WebGPu
// (SwiftShader), and the worker's WebAssembly memory, the backend's buffers, the loss history
// and the model kept in the browser stay bounded, as does the page's own memory.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll } from './harness.mjs';

/** Asks the worker what it holds and waits for the answer. */
async function probe(page) {
  const before = await page.evaluate(() => window.__aeplayProbed?.at ?? 0);
  await page.evaluate(() => window.__aeplayProbe());
  return poll(async () => {
    const p = await page.evaluate(() => window.__aeplayProbed);
    return p && p.at > before ? p : null;
  }, { timeout: 30_000, message: () => 'a probe answer' });
}

const frames = (page) => page.evaluate(() => window.__aeplayFrames ?? 0);

// SwiftShader emulates the GPU on the processor, where each read-back costs a lot: the GPU run
// trains a narrower model (784→32→784) to make its thousand read-backs in a test's time.
for (const { backend, webgpu, target, timeout, query } of [
  { backend: 'cpu', webgpu: false, target: 3000, timeout: 420_000, query: 'preset=dae_vincent' },
  { backend: 'gpu', webgpu: true, target: 1000, timeout: 600_000, query: 'preset=dae_vincent&dims=784,32,784' },
]) {
  appTest(`a long run stays bounded on ${backend}: ${target} read-backs`, { webgpu, timeout }, async ({ page, server }) => {
    await page.goto(`${server.url}?backend=${backend}&${query}`, { waitUntil: 'load' });
    await waitForState(page, 'ready', 120_000);
    assert.match(await page.textContent('#backend'), backend === 'gpu' ? /WebGPU/ : /CPU/);
    await page.evaluate(() => window.__aeplayFastFrames(5));
    await page.click('#train');
    // A baseline once training and the first pictures have run.
    const f0 = await poll(async () => ((await frames(page)) > 100 ? frames(page) : null), { timeout: 120_000, message: () => '100 frames' });
    const base = await probe(page);
    await poll(async () => (await frames(page)) >= f0 + target, {
      timeout: timeout - 100_000, interval: 1000, message: async () => `${target} more frames (at ${(await frames(page)) - f0})`,
    });
    const end = await probe(page);
    console.log(`${backend}: ${(await frames(page)) - f0} frames; worker wasm ${base.wasm_bytes} -> ${end.wasm_bytes}, page wasm ${base.page_wasm_bytes} -> ${end.page_wasm_bytes}, buffers ${base.allocated_bytes} -> ${end.allocated_bytes}, history ${base.history_points} -> ${end.history_points}, stored ${base.stored_bytes} -> ${end.stored_bytes}`);
    // The loss history holds at most 2 × 2,000 points (train and test), whatever the length.
    assert.ok(end.history_points <= 4000, `the history holds ${end.history_points} points`);
    assert.ok(end.history_points >= 1000, `the history kept the curve (${end.history_points} points)`);
    // The backend's buffers are those of the model and the data: no growth.
    assert.equal(end.allocated_bytes, base.allocated_bytes, 'the backend allocated more while training');
    // WebAssembly memory never shrinks; it may grow once to a working size, not with time.
    assert.ok(end.wasm_bytes - base.wasm_bytes <= 32 * 2 ** 20, `the worker's memory grew by ${end.wasm_bytes - base.wasm_bytes} bytes`);
    assert.ok(end.page_wasm_bytes - base.page_wasm_bytes <= 16 * 2 ** 20, `the page's memory grew by ${end.page_wasm_bytes - base.page_wasm_bytes} bytes`);
    // The run trains for minutes, so the model is kept in the browser (every 30 s while
    // training): the model plus a bounded history (at most dae_vincent's 0.8 M parameters).
    assert.ok(end.stored_bytes > 0, 'no model was kept in the browser during the run');
    assert.ok(end.stored_bytes < 8 * 2 ** 20, `the kept model is ${end.stored_bytes} bytes`);
  });
}
