// tests/e2e/controls.test.mjs — the learning rate and batch size controls: a link sets them,
// changing the batch size mid-run keeps the trained model and its place in the epoch, a bad
// value is refused with a message and the old value stays, the address bar follows, and
// `hide=lr,batch` (the lecture-mode example) names real controls.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, readSteps, readNumber } from './harness.mjs';

async function trainLoss(page) {
  return poll(async () => {
    const v = await readNumber(page, '#train-loss');
    return Number.isFinite(v) ? v : null;
  }, { timeout: 60_000, message: () => 'a train loss' });
}

appTest('learning rate and batch size: from the link, changed mid-run, bad values refused', { timeout: 300_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?preset=dae_vincent&lr=0.02&batch=32&backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  assert.equal(Number(await page.inputValue('#lr')), 0.02);
  assert.equal(Number(await page.inputValue('#batch')), 32);
  await page.click('#train');
  await poll(async () => (await readSteps(page)) >= 300, { timeout: 120_000, message: () => '300 steps at batch 32' });
  const before = await trainLoss(page);
  const epochBefore = await readNumber(page, '#epoch');
  // A bigger batch while training: the model and the epoch go on.
  await page.fill('#batch', '128');
  await page.press('#batch', 'Enter');
  await poll(async () => /batch=128/.test(page.url()), { timeout: 30_000, message: () => `batch=128 in the address (${page.url()})` });
  const steps = await readSteps(page);
  await poll(async () => (await readSteps(page)) >= steps + 20, { timeout: 120_000, message: () => 'steps at batch 128' });
  assert.equal(await page.getAttribute('#app', 'data-state'), 'training', 'training resumed after the change');
  const after = await trainLoss(page);
  assert.ok(after < before * 1.2 && after < 300, `the trained model was kept: loss ${before} before, ${after} after (an untrained one is ~540)`);
  assert.ok((await readNumber(page, '#epoch')) >= epochBefore, 'the epoch went back');
  // Bad values are refused with a message; the fields show the values in use.
  await page.fill('#lr', '-1');
  await page.press('#lr', 'Enter');
  await poll(async () => /learning rate must be a number above 0/.test((await page.textContent('#error')) ?? ''), { message: () => 'the learning-rate message' });
  await poll(async () => Number(await page.inputValue('#lr')) === 0.02, { message: () => 'the learning rate field back at 0.02' });
  await page.fill('#batch', '0');
  await page.press('#batch', 'Enter');
  await poll(async () => /batch size must be a whole number from 1/.test((await page.textContent('#error')) ?? ''), { message: () => 'the batch message' });
  await poll(async () => Number(await page.inputValue('#batch')) === 128, { message: () => 'the batch field back at 128' });
  // A good learning rate applies and shows in the address.
  await page.fill('#lr', '0.05');
  await page.press('#lr', 'Enter');
  await poll(async () => /lr=0\.05/.test(page.url()), { timeout: 30_000, message: () => `lr=0.05 in the address (${page.url()})` });
  assert.equal(await page.isVisible('#error'), false, 'the error went away with a good value');
  const s = await readSteps(page);
  await poll(async () => (await readSteps(page)) > s + 5, { timeout: 60_000, message: () => 'training goes on' });
});

appTest('the lecture-mode example link hides the learning rate and batch controls', { timeout: 200_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?preset=dae_vincent&lr=0.02&batch=32&noise=masking:0.8&seed=7&backend=cpu&panels=recon,features&lecture=1&hide=lr,batch`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  const note = (await page.$('#note')) ? await page.textContent('#note') : '';
  assert.ok(!/no control called/.test(note), `hide=lr,batch names real controls (note: ${note})`);
  assert.equal(await page.isVisible('#lr'), false, 'the learning rate control is hidden');
  assert.equal(await page.isVisible('#batch'), false, 'the batch control is hidden');
  assert.equal(await page.isVisible('#train'), true);
});

appTest('a diverging run stops with the step and the learning rate named; Reset restores the preset\'s rate', { timeout: 200_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=cpu&preset=dae_vincent`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.fill('#lr', '10');
  await page.press('#lr', 'Enter');
  await poll(async () => /lr=10/.test(page.url()), { timeout: 30_000, message: () => `lr=10 in the address (${page.url()})` });
  await page.click('#train');
  const error = await poll(async () => {
    const t = (await page.textContent('#error').catch(() => '')) ?? '';
    return /diverged/.test(t) ? t : null;
  }, { timeout: 60_000, message: async () => `a divergence message (state ${await page.getAttribute('#app', 'data-state')}, loss ${await page.textContent('#train-loss')})` });
  assert.match(error, /at step \d+/, error);
  assert.match(error, /learning rate 10\b/, error);
  await waitForState(page, 'paused', 10_000);
  const stopped = await readSteps(page);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await readSteps(page), stopped, 'training stopped');
  // Reset goes back to the preset's learning rate.
  await page.click('#reset');
  await poll(async () => (await page.inputValue('#lr')) === '0.01', { timeout: 10_000, message: async () => `the learning rate back to 0.01 (shows ${await page.inputValue('#lr')})` });
  await page.click('#train');
  await poll(async () => (await readSteps(page)) > 200, { timeout: 60_000, message: () => 'training again' });
  const loss = await readNumber(page, '#train-loss');
  assert.ok(loss < 300, `the reset model learns (loss ${loss})`);
});
