// tests/e2e/cloud.test.mjs — linear_3d_pca in the page: the 3-D cloud and the model's 2-D codes
// are drawn, the linear 3→2→3 autoencoder reaches PCA's error and lands in PCA's plane, the
// page's controls act on it, the link names it, and other presets bring the MNIST panels back;
// on WebGPU too, with a backend switch that keeps the trained weights.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, canvasStats, readSteps, readNumber } from './harness.mjs';

/** The model's and PCA's MSE and the plane's angle, from the summary under the cloud. */
async function comparison(page) {
  const t = await page.textContent('#cloud-summary');
  const m = /the model ([0-9.]+), PCA with 2 components ([0-9.]+)\. The decoder's plane is ([0-9.]+)°/.exec(t);
  return m ? { model: Number(m[1]), pca: Number(m[2]), angle: Number(m[3]), text: t } : null;
}

async function converged(page, timeout) {
  return poll(async () => {
    const c = await comparison(page);
    return c && c.model <= c.pca * 1.01 && c.angle < 2 ? c : null;
  }, { timeout, interval: 500, message: async () => `the model to reach PCA (${await page.textContent('#cloud-summary')}, step ${await readSteps(page)})` });
}

appTest('linear_3d_pca: the cloud, its codes, and a linear autoencoder finding PCA\'s plane (CPU)', { timeout: 300_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.selectOption('#preset-select', 'linear_3d_pca');
  await poll(async () => page.isVisible('#cloud-panel'), { message: () => 'the cloud panel' });
  assert.equal(await page.isVisible('.recon-panel'), false, 'the MNIST reconstructions are hidden for the cloud');
  assert.equal(await page.isVisible('#pad'), false, 'the draw pad is hidden for the cloud');
  assert.match(await page.textContent('#preset-about'), /3-D cloud/);
  // The untrained model is drawn already, far from PCA.
  const before = await poll(() => comparison(page), { message: () => 'the first comparison' });
  assert.ok(before.model > before.pca * 1.05, `an untrained model should be worse than PCA: ${before.text}`);
  await page.click('#train');
  const after = await converged(page, 120_000);
  console.log(`cloud on the CPU: ${before.text} -> ${after.text} at step ${await readSteps(page)}`);
  await page.click('#pause');
  await waitForState(page, 'paused', 10_000);
  for (const id of ['#cloud3d', '#cloud-codes']) {
    const s = await canvasStats(page, id);
    assert.ok(s.colors >= 20, `${id} is drawn (${JSON.stringify(s)})`);
  }
  const steps = await readSteps(page);
  await page.click('#step');
  await poll(async () => (await readSteps(page)) === steps + 1, { message: () => 'one more step' });
  // Dragging turns the cloud (its picture changes), and the link names the cloud.
  const box = await page.locator('#cloud3d').boundingBox();
  const pic = await page.$eval('#cloud3d', (c) => c.toDataURL());
  await page.mouse.move(box.x + 100, box.y + 100);
  await page.mouse.down();
  await page.mouse.move(box.x + 200, box.y + 140, { steps: 5 });
  await page.mouse.up();
  assert.notEqual(await page.$eval('#cloud3d', (c) => c.toDataURL()), pic, 'dragging turned the cloud');
  await poll(async () => /preset=linear_3d_pca/.test(page.url()) && !/dims=/.test(page.url()), { message: () => `the address to name the cloud (${page.url()})` });
  // Reset starts over, from the same weights as before.
  await page.click('#reset');
  await poll(async () => (await readSteps(page)) === 0, { message: () => 'reset' });
  const again = await poll(() => comparison(page), { message: () => 'the comparison after reset' });
  assert.equal(again.model, before.model, 'the same seed gives the same start');
  // Another preset brings the MNIST panels back.
  await page.selectOption('#preset-select', 'dae_vincent');
  await poll(async () => (await page.isVisible('.recon-panel')) && !(await page.isVisible('#cloud-panel')), { message: () => 'the MNIST panels back' });
  await page.click('#step');
  await poll(async () => Number.isFinite(await readNumber(page, '#train-loss')) && (await readNumber(page, '#train-loss')) > 10, { message: () => 'an MNIST loss again' });
});

appTest('linear_3d_pca from a link, on WebGPU, and moved to the CPU mid-run', { webgpu: true, timeout: 400_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?preset=linear_3d_pca&backend=gpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await poll(async () => page.isVisible('#cloud-panel'), { message: () => 'the cloud panel from the link' });
  assert.match(await page.textContent('#backend'), /WebGPU/);
  await page.click('#train');
  await poll(async () => (await readSteps(page)) >= 200, { timeout: 120_000, message: () => 'steps on WebGPU' });
  const onGpu = await comparison(page);
  await page.selectOption('#backend-select', 'cpu');
  await poll(async () => /CPU/.test(await page.textContent('#backend')), { timeout: 30_000, message: () => 'the CPU backend' });
  const stepsAfter = await readSteps(page);
  assert.ok(stepsAfter >= 200, `the step count went on (${stepsAfter})`);
  // A comparison read back on the CPU, after the move (not the last one from WebGPU).
  await poll(async () => Number(await page.getAttribute('#cloud-summary', 'data-step')) > stepsAfter, { timeout: 60_000, message: () => 'a read-back on the CPU' });
  const moved = await poll(() => comparison(page), { message: () => 'a comparison on the CPU' });
  assert.ok(moved.model <= onGpu.model * 1.0001, `the weights moved with the model: ${onGpu.text} then ${moved.text}`);
  const done = await converged(page, 120_000);
  console.log(`cloud on WebGPU then the CPU: ${onGpu.text} -> ${done.text}`);
});
