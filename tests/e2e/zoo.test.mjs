// tests/e2e/zoo.test.mjs — the model zoo in the page: every preset can be picked in
// #preset-select, builds, takes a training step, and draws its pictures (features, latent
// space, interpolation; generated digits for the VAE; the sparsity histogram for sparse_kl),
// on the CPU path and, for the VAE, on WebGPU.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, canvasStats, readSteps } from './harness.mjs';

const READY_TIMEOUT = 120_000;

// The MNIST models (other entries of the picker, such as the 3-D cloud, have their own tests).
async function presetNames(page) {
  return page.$$eval('#preset-select option[data-kind=model]', (os) => os.map((o) => o.value)); // the 3-D cloud: cloud.test.mjs; recipes: recipes.test.mjs
}

async function drawn(page, sel, minColors, what) {
  return poll(async () => {
    const s = await canvasStats(page, sel);
    return s.colors >= minColors ? s : null;
  }, { timeout: 60_000, message: async () => `${sel} to show ${what} (${JSON.stringify(await canvasStats(page, sel))})` });
}

async function pickAndStep(page, name) {
  await page.selectOption('#preset-select', name);
  await poll(async () => (await page.$eval('#preset-select', (s) => s.value)) === name && (await readSteps(page)) === 0, {
    timeout: 30_000, message: () => `preset ${name} to be built`,
  });
  await waitForState(page, 'ready', 30_000);
  await page.click('#step');
  await poll(async () => (await readSteps(page)) >= 1, { timeout: 60_000, message: () => `a step of ${name}` });
}

appTest('every preset builds, steps and draws its pictures (CPU)', { timeout: 600_000 }, async ({ page, logs }) => {
  await waitForState(page, 'ready', READY_TIMEOUT);
  const names = await presetNames(page);
  for (const must of ['dae_vincent', 'tied_ae', 'linear_50', 'stacked_elu', 'relu_ae_adam',
    'dae_gaussian', 'dae_salt_pepper', 'dae_dropout', 'sparse_kl', 'vae_20']) {
    assert.ok(names.includes(must), `#preset-select lacks ${must} (has ${names})`);
  }
  let lastFeatures = null;
  for (const name of names) {
    await pickAndStep(page, name);
    const about = await page.textContent('#preset-about');
    assert.ok(about.length > 20, `${name}: no description (${about})`);
    const f = await drawn(page, '#features', 8, `${name}'s first-layer features`);
    assert.notEqual(f.hash, lastFeatures, `${name}: the features did not change with the preset`);
    lastFeatures = f.hash;
    await drawn(page, '#latent', 4, `${name}'s latent space (points in several colours)`);
    await drawn(page, '#interp', 2, `${name}'s interpolation`);
    // (Every picture's canvas is in the page; those a model does not draw are hidden.)
    assert.equal(await page.isVisible('#generated'), name === 'vae_20', `${name}: #generated shown only for models that generate`);
    assert.equal(await page.isVisible('#sparsity'), name === 'sparse_kl', `${name}: #sparsity shown only with a sparsity target`);
    if (name === 'vae_20') {
      const g = await drawn(page, '#generated', 3, 'digits decoded from random codes');
      await page.click('#new-samples');
      await poll(async () => (await canvasStats(page, '#generated')).hash !== g.hash, {
        timeout: 30_000, message: () => '#new-samples to draw other digits',
      });
    }
    if (name === 'sparse_kl') await drawn(page, '#sparsity', 3, 'the sparsity histogram');
    const noise = await page.$eval('#noise-kind', (s) => s.value);
    const want = { dae_gaussian: 'gaussian', dae_salt_pepper: 'salt_pepper', dae_dropout: 'dropout', dae_vincent: 'masking' }[name] ?? 'none';
    assert.equal(noise, want, `${name}: the noise control shows the preset's noise`);
  }
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('?preset=vae_20&backend=gpu starts the VAE on WebGPU; it trains and generates digits', { webgpu: true, timeout: 300_000 }, async ({ page, server, logs }) => {
  await page.goto(`${server.url}?preset=vae_20&backend=gpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY_TIMEOUT);
  assert.equal(await page.$eval('#preset-select', (s) => s.value), 'vae_20');
  assert.equal(await page.$eval('#backend-select', (s) => s.value), 'gpu', 'the VAE should start on WebGPU');
  await page.click('#train');
  await poll(async () => (await readSteps(page)) >= 5, { timeout: 120_000, message: () => 'five VAE steps on WebGPU' });
  await page.click('#pause');
  await drawn(page, '#generated', 3, 'digits decoded from random codes on WebGPU');
  await drawn(page, '#latent', 4, 'the VAE latent space on WebGPU');
  const loss = await page.textContent('#train-loss');
  assert.ok(Number.isFinite(parseFloat(loss)), `train loss ${loss}`);
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('an unknown ?preset= gives a note and the default preset', {}, async ({ page, server }) => {
  await page.goto(`${server.url}?preset=nonsense`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY_TIMEOUT);
  assert.equal(await page.$eval('#preset-select', (s) => s.value), 'dae_vincent');
  const note = await page.textContent('#note');
  assert.match(note, /Unknown preset 'nonsense'/);
});
