// tests/e2e/inside.test.mjs — one step in slow motion (issue 22), on each backend: `slow=1` opens
// "Inside a step"; Step inside takes the next training step with its buffers read back and
// draws them (digits, corruption, code, output error, the units it moved most); its loss
// before the step is the step's loss in the step log (two read-backs of one step agree);
// `s` steps inside while the view is open; Auto steps on its own at its pace and stops when
// switched off. The VAE shows μ, σ and z; the sparse model its mean activations against ρ.
// The numbers themselves are checked against the scalar reference natively
// (tests/backend_suite.rs, a_step_in_slow_motion_reads_back_the_references_numbers).

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, readSteps, canvasStats } from './harness.mjs';

/** Whether a canvas shows a picture (several colours, none covering nearly all of it). */
async function drawn(page, selector) {
  const s = await canvasStats(page, selector);
  return s.colors >= 3 && s.dominant < 0.98;
}

const insideStep = (page) => page.getAttribute('#inside-digits', 'data-step').then(Number);

async function stepInside(page, how) {
  const before = await insideStep(page);
  await how();
  await poll(async () => (await insideStep(page)) === before + 1 && (await page.getAttribute('#app', 'data-state')) === 'paused', {
    timeout: 120_000, message: async () => `a step in slow motion after step ${before} (at ${await insideStep(page)})`,
  });
}

for (const [backend, webgpu] of [['cpu', false], ['gpu', true]]) {
  appTest(`inside a step on the ${backend} path: the step's own numbers, drawn; s and Auto step`, { webgpu, timeout: 400_000 }, async ({ page, server }) => {
    await page.goto(`${server.url}?preset=dae_vincent&backend=${backend}&slow=1&seed=2`, { waitUntil: 'load' });
    await waitForState(page, 'ready', 120_000);
    assert.equal(await page.isVisible('#inside'), true, 'slow=1 opens the view');
    await page.click('#inside-step');
    await poll(async () => (await insideStep(page)) === 1, { timeout: 120_000, message: () => 'the first step in slow motion' });
    await poll(async () => (await readSteps(page)) === 1, { message: () => 'the page counts the step' });
    const text = await page.textContent('#inside-loss');
    assert.match(text, /loss per digit [\d.]+ before the step, [\d.]+ after it on the same 16 digits/, 'the loss before and after, in words');
    const [before, after] = [Number(await page.getAttribute('#inside-loss', 'data-before')), Number(await page.getAttribute('#inside-loss', 'data-after'))];
    assert.ok(after < before, `the step lowered its minibatch's loss (${before} → ${after})`);
    await poll(async () => /^1:/.test((await page.getAttribute('#train-loss', 'data-step-loss')) ?? ''), { message: () => 'the step log read back' });
    const logged = Number((await page.getAttribute('#train-loss', 'data-step-loss')).split(':')[1]);
    assert.ok(Math.abs(logged - before) <= 1e-5 * before, `the same step's loss, read twice: ${before} and ${logged}`);
    // The pictures are drawn: the digits (3 rows of 8: masking noise), the error, the units.
    assert.equal(await page.getAttribute('#inside-digits', 'data-rows'), 'clean,corrupted,reconstructed');
    for (const id of ['#inside-digits', '#inside-error', '#inside-code', '#inside-units']) {
      assert.ok(await drawn(page, id), `${id} shows something (${JSON.stringify(await canvasStats(page, id))})`);
    }
    assert.match(await page.textContent('.inside-panel'), /unit \d+, unit \d+, unit \d+, unit \d+/);
    // s steps inside while the view is open.
    await stepInside(page, () => page.keyboard.press('s'));
    assert.equal(await readSteps(page), 2);
    // Auto, one step a second, until switched off.
    await page.selectOption('#inside-pace', '1');
    await page.check('#inside-auto');
    await poll(async () => (await insideStep(page)) >= 4, { timeout: 60_000, message: async () => `Auto steps (at ${await insideStep(page)})` });
    await page.uncheck('#inside-auto');
    const stopped = await insideStep(page);
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok((await insideStep(page)) <= stopped + 1, 'Auto stops when switched off');
    // The VAE shows μ, σ and z.
    await page.selectOption('#preset-select', 'vae_20');
    await poll(async () => (await page.$eval('#preset-select', (s) => s.value)) === 'vae_20' && (await readSteps(page)) === 0, { message: () => 'the VAE' });
    await page.click('#inside-step');
    await poll(async () => (await insideStep(page)) === 1 && /σ/.test(await page.textContent('.inside-panel')), { timeout: 120_000, message: () => 'a VAE step in slow motion' });
    assert.equal(await page.isVisible('#inside-z'), true, 'the sampled code is shown');
    assert.ok(await drawn(page, '#inside-sigma'), 'σ is drawn');
  });
}

appTest('inside a step of the sparse autoencoder: each unit\'s mean activation against ρ', { timeout: 200_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?preset=sparse_kl&backend=cpu&slow=1&batch=100`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.click('#inside-step');
  await poll(async () => (await insideStep(page)) === 1, { timeout: 120_000, message: () => 'a sparse step in slow motion' });
  assert.equal(await page.isVisible('#inside-sparsity'), true);
  assert.ok(await drawn(page, '#inside-sparsity'), 'the mean activations are drawn');
});
