// tests/e2e/train.test.mjs — training in the page: Train makes the step counter run and the
// displayed train loss fall; the reconstruction and pad canvases get drawn; Pause stops the
// counter; Step does single steps while paused; Reset starts over.

import assert from 'node:assert/strict';
import {
  appTest, waitForState, readSteps, readNumber, poll, canvasStats, pageSnapshot, drawStroke,
  canvasPixels, crop, correlation,
} from './harness.mjs';

const READY_TIMEOUT = 120_000;
const LOSS_TIMEOUT = 90_000; // time allowed for the displayed train loss to fall
const LOSS_DROP = 0.9; // "fallen" = below 90 % of the first displayed value

async function startTraining(page) {
  await waitForState(page, 'ready', READY_TIMEOUT);
  const s0 = await readSteps(page);
  await page.click('#train');
  await waitForState(page, 'training', 10_000);
  await poll(async () => (await readSteps(page)) > s0, {
    timeout: 30_000,
    message: async () => `#step-count to rise above ${s0} after clicking #train (now ${JSON.stringify(await pageSnapshot(page))})`,
  });
}

async function trainUntilSteps(page, steps, timeout = 60_000) {
  await poll(async () => (await readSteps(page)) >= steps, {
    timeout,
    interval: 500,
    message: async () => `${steps} training steps (at ${await readSteps(page)})`,
  });
}

appTest('Train: step count rises, train loss is shown and falls', { timeout: 400_000 }, async ({ page, logs }) => {
  await startTraining(page);

  const first = await poll(async () => {
    const v = await readNumber(page, '#train-loss');
    return Number.isFinite(v) ? { v, steps: await readSteps(page) } : null;
  }, { timeout: 60_000, message: async () => `#train-loss to show a number (shows ${JSON.stringify(await page.locator('#train-loss').textContent())})` });
  assert.ok(first.v >= 0, `train loss should be non-negative, is ${first.v}`);

  const history = [[first.steps, first.v]];
  await poll(async () => {
    const v = await readNumber(page, '#train-loss');
    history.push([await readSteps(page), v]);
    return Number.isFinite(v) && v < first.v * LOSS_DROP;
  }, {
    timeout: LOSS_TIMEOUT,
    interval: 1000,
    message: () => `the train loss to fall below ${LOSS_DROP} × its first value ${first.v}; ` +
      `[steps, loss] seen: ${JSON.stringify(history.filter((_, i) => i % 5 === 0 || i === history.length - 1))}`,
  });
  const [steps, loss] = history[history.length - 1];
  console.log(`train loss ${first.v} at step ${first.steps} -> ${loss} at step ${steps}`);

  // The other readouts while training.
  await poll(async () => Number.isFinite(await readNumber(page, '#test-loss')), {
    timeout: 60_000,
    message: async () => `#test-loss to show a number (shows ${JSON.stringify(await page.locator('#test-loss').textContent())})`,
  });
  assert.match(await page.locator('#samples-per-s').textContent(), /\d/, '#samples-per-s should show a rate');
  assert.equal(await page.locator('#app').getAttribute('data-state'), 'training');
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('canvases #recon, #loss-chart and #pad-out are drawn after some training', { timeout: 240_000 }, async ({ page, logs }) => {
  await startTraining(page);
  await trainUntilSteps(page, 200);
  await poll(async () => Number.isFinite(await readNumber(page, '#train-loss')), { timeout: 30_000, message: () => 'a train loss' });
  // The pad's outputs show the drawn digit (an empty pad gives empty outputs): draw a "7"
  // while training runs.
  await drawStroke(page, '#pad', [[0.25, 0.22], [0.75, 0.22], [0.45, 0.82]]);
  // Each canvas shows what it says. #recon: ten clean test digits, the same corrupted, and the
  // model's reconstructions, which after 200 steps look like the clean digits.
  const recon = await poll(async () => {
    const img = await canvasPixels(page, '#recon');
    const row = (r) => crop(img, 0, r * 28, 280, 28);
    const [clean, noisy, out] = [row(0), row(1), row(2)];
    const c = { clean: correlation(clean, out), noisy: correlation(clean, noisy), inked: clean.filter((v) => v > 128).length };
    return c.clean > 0.6 ? c : null;
  }, { timeout: 20_000, message: async () => `#recon's reconstructions to resemble its clean digits` });
  assert.ok(recon.inked > 300, `#recon's first row holds digits (${recon.inked} inked pixels)`);
  assert.ok(recon.noisy < 0.999, `#recon's corrupted row differs from the clean one (correlation ${recon.noisy})`);
  // #loss-chart: a line in the train colour (src/ui/chart.rs TRAIN_COLOUR).
  const chart = await canvasPixels(page, '#loss-chart');
  assert.ok(chart.count('#2563eb') > 50, `#loss-chart has a train-loss line (${chart.count('#2563eb')} pixels of its colour)`);
  // #pad-out: the model's output for the drawn 7 resembles the model input it was given.
  const pad = await poll(async () => {
    const input = (await canvasPixels(page, '#pad-input')).gray;
    const out = (await canvasPixels(page, '#pad-out')).gray;
    const c = correlation(input, out);
    return input.some((v) => v > 128) && c > 0.4 ? c : null;
  }, { timeout: 20_000, message: () => '#pad-out to resemble #pad-input' });
  // The quality measures the captions show (app::quality): computed from the pictures drawn.
  const q = async (sel) => Number(await page.getAttribute(sel, 'data-quality'));
  await poll(async () => (await q('#recon')) > 0.6, { timeout: 20_000, message: async () => `#recon's match with the clean digits (${await q('#recon')})` });
  assert.match(await page.textContent('#recon-quality'), /Match with the clean digits 0\.\d\d/);
  await poll(async () => (await q('#features')) > 0.1, { timeout: 30_000, message: async () => `the features' stroke-likeness (${await q('#features')})` });
  assert.match(await page.textContent('#features-quality'), /Stroke-likeness 0\.\d\d/);
  console.log(`recon correlation ${recon.clean.toFixed(3)}, pad ${pad.toFixed(3)}, quality: recon ${(await q('#recon')).toFixed(3)}, features ${(await q('#features')).toFixed(3)}`);
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('Pause stops the step counter; Step does single steps while paused', { timeout: 240_000 }, async ({ page, logs }) => {
  await startTraining(page);
  await trainUntilSteps(page, 20);
  await page.click('#pause');
  await waitForState(page, 'paused', 10_000);
  const paused = await readSteps(page);
  await page.waitForTimeout(1500);
  assert.equal(await readSteps(page), paused, '#step-count changed while paused');
  assert.equal(await page.locator('#app').getAttribute('data-state'), 'paused');

  await page.click('#step');
  await poll(async () => (await readSteps(page)) > paused, {
    timeout: 10_000,
    message: async () => `#step to advance the step count from ${paused} (at ${await readSteps(page)})`,
  });
  const afterStep = await readSteps(page);
  await page.waitForTimeout(1000);
  assert.equal(await readSteps(page), afterStep, '#step should not resume training');
  assert.notEqual(await page.locator('#app').getAttribute('data-state'), 'training');
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('Reset starts over: step count 0, no train loss', { timeout: 240_000 }, async ({ page, logs }) => {
  await startTraining(page);
  await trainUntilSteps(page, 20);
  await page.click('#pause');
  await waitForState(page, 'paused', 10_000);
  await page.click('#reset');
  await poll(async () => (await readSteps(page)) === 0, {
    timeout: 10_000,
    message: async () => `#reset to set #step-count to 0 (at ${await readSteps(page)})`,
  });
  assert.ok(Number.isNaN(await readNumber(page, '#train-loss')),
    `#train-loss should show "–" after reset, shows ${JSON.stringify(await page.locator('#train-loss').textContent())}`);
  await waitForState(page, ['ready', 'paused'], 10_000);
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});
