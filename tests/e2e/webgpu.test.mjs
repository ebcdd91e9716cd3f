// tests/e2e/webgpu.test.mjs — the WebGPU backend in the page (headless Chromium with WebGPU
// through SwiftShader, a CPU emulation): the page measures both backends and picks the faster
// CPU path by itself, saying why; backend=gpu trains on WebGPU with the loss falling; without
// WebGPU the page says so and trains on the CPU; switching backend mid-run keeps the trained
// weights; a lost device is reported and training continues.

import assert from 'node:assert/strict';
import { appTest, waitForState, readSteps, readNumber, poll } from './harness.mjs';

/** The step of the read-back behind the shown losses. */
async function readoutStep(page) {
  return Number(await page.getAttribute('#train-loss', 'data-step'));
}

/** Waits for a read-back made after step `after` (i.e. after an action) and returns its loss. */
async function lossAfter(page, after, timeout = 120_000) {
  await poll(async () => (await readoutStep(page)) > after, { timeout, message: async () => `a read-back after step ${after} (last at ${await readoutStep(page)})` });
  return readNumber(page, '#train-loss');
}

const READY = 120_000;

async function firstLoss(page) {
  return poll(async () => {
    const v = await readNumber(page, '#train-loss');
    return Number.isFinite(v) ? v : null;
  }, { timeout: 60_000, message: () => '#train-loss to show a number' });
}

async function lossBelow(page, limit, timeout) {
  return poll(async () => {
    const v = await readNumber(page, '#train-loss');
    return Number.isFinite(v) && v < limit ? v : null;
  }, { timeout, interval: 500, message: async () => `#train-loss below ${limit} (shows ${await page.textContent('#train-loss')}, step ${await readSteps(page)})` });
}

appTest('on a software adapter (SwiftShader) the page picks the faster CPU path by itself and says why', { webgpu: true, timeout: 300_000 }, async ({ page }) => {
  await waitForState(page, 'ready', READY);
  assert.match(await page.textContent('#backend'), /CPU/);
  assert.equal(await page.inputValue('#backend-select'), 'cpu');
  const note = await page.textContent('#note');
  assert.match(note, /runs on the processor here \((SwiftShader|a CPU adapter|a fallback adapter)\); the WebAssembly path is [\d.]+× faster/, note);
  // WebGPU stays offered: the user can still pick it.
  assert.equal(await page.isDisabled('#backend-select option[value="gpu"]'), false);
});

appTest('backend=gpu trains on WebGPU even where it measures slower, and the loss falls', { webgpu: true, timeout: 300_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=gpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY);
  assert.match(await page.textContent('#backend'), /WebGPU/);
  assert.equal(await page.inputValue('#backend-select'), 'gpu');
  await page.click('#train');
  const first = await firstLoss(page);
  const later = await lossBelow(page, first * 0.9, 150_000);
  console.log(`WebGPU: train loss ${first} -> ${later}`);
});

appTest('without WebGPU the page says so and trains on the CPU', { timeout: 200_000 }, async ({ page }) => {
  await waitForState(page, 'ready', READY);
  assert.match(await page.textContent('#backend'), /CPU/);
  assert.match(await page.textContent('#note'), /WebGPU is not available/);
  assert.equal(await page.isDisabled('#backend-select option[value="gpu"]'), true);
  await page.click('#train');
  const first = await firstLoss(page);
  await lossBelow(page, first * 0.9, 90_000);
});

appTest('switching backend mid-run keeps the loss where it was', { webgpu: true, timeout: 400_000 }, async ({ page }) => {
  await waitForState(page, 'ready', READY);
  // Train on the CPU (fast here) until the model has clearly learnt something.
  await page.selectOption('#backend-select', 'cpu');
  await poll(async () => /CPU/.test(await page.textContent('#backend')), { message: () => 'the CPU backend' });
  await page.click('#train');
  const trained = await lossBelow(page, 150, 120_000);
  const stepsBefore = await readSteps(page);
  // Switch while training: the weights move to the GPU and training goes on from there.
  await page.selectOption('#backend-select', 'gpu');
  await poll(async () => /WebGPU/.test(await page.textContent('#backend')), { timeout: 30_000, message: () => 'the WebGPU backend' });
  // The loss of a read-back made on WebGPU (not the last one from the CPU).
  const switchedAt = await readSteps(page);
  const after = await lossAfter(page, switchedAt + 2);
  assert.ok(after < 200, `after switching to WebGPU the train loss is ${after}: the trained weights were lost (it was ${trained}; an untrained model is ~540)`);
  assert.ok((await readSteps(page)) >= stepsBefore, 'the step counter went back');
  // And back to the CPU.
  await page.selectOption('#backend-select', 'cpu');
  await poll(async () => /CPU/.test(await page.textContent('#backend')), { timeout: 60_000, message: () => 'back on the CPU' });
  const s = await readSteps(page);
  const back = await lossAfter(page, s + 5, 60_000);
  assert.ok(back < 200, `the weights were lost on the way back to the CPU (loss ${back})`);
});

appTest('a lost GPU device is reported and training continues from the last weights', { webgpu: true, timeout: 300_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=gpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY);
  await page.click('#train');
  const first = await firstLoss(page);
  // Well trained before the loss, so that a restart from scratch would show.
  await lossBelow(page, first * 0.6, 200_000);
  const trainedAt = await readoutStep(page);
  const before = await readSteps(page);
  await page.evaluate(() => window.__aeplayLoseDevice());
  await poll(async () => /lost/.test((await page.textContent('#note').catch(() => '')) || ''), {
    timeout: 60_000, message: async () => `#note to report the lost device (state ${await page.getAttribute('#app', 'data-state')})`,
  });
  const note = await page.textContent('#note');
  const m = /continues on .* from the weights of step (\d+)/.exec(note);
  assert.ok(m, `the note names the step training continues from: ${note}`);
  // From a snapshot at least as recent as the read-back that showed the trained loss, and
  // not from the future.
  const resumed = Number(m[1]);
  assert.ok(resumed >= trainedAt && resumed <= before + 64, `resumed from step ${resumed}; trained loss seen at ${trainedAt}, device lost at ${before}`);
  // The next read-backs continue from the trained weights (a restart from scratch would show
  // about the first loss again).
  const after = await lossAfter(page, resumed + 2);
  assert.ok(after < first * 0.8, `after the device loss the train loss is ${after}: back towards the untrained ${first}`);
  assert.equal(await page.getAttribute('#app', 'data-state'), 'training');
});
