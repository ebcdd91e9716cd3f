// tests/e2e/compare.test.mjs — runs compared (issue 22), on each backend: dae_vincent with no
// noise against masking noise 0.3, 300 steps each in one page. The second run is made as a
// user makes it (More → Compare, then the noise control); each run's loss at step 300 (the
// last step's minibatch loss, as the backend computed it) equals that of the same set-up
// trained alone with the same seed; the chart has a series per run and the table a row per
// run; the address keeps the comparison and reopening it gives the same two runs.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, readSteps, reveal } from './harness.mjs';

const STEPS = 300;

/** Trains from step 0 to exactly `steps` (the worker's test stop) and waits for the pause. */
async function trainTo(page, steps, done) {
  await page.evaluate((n) => window.__aeplayPauseAt(n), steps);
  await page.click('#train');
  await poll(async () => (await done()) && (await page.getAttribute('#app', 'data-state')) === 'paused', {
    timeout: 300_000, interval: 250, message: async () => `a pause at step ${steps} (main run at ${await readSteps(page)})`,
  });
}

/** The loss of step `steps` of the set-up `link` trained alone. */
async function alone(page, link, steps) {
  await page.goto(link, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  const at = async () => (await page.getAttribute('#train-loss', 'data-step-loss')) ?? '';
  await trainTo(page, steps, async () => (await at()).startsWith(`${steps}:`));
  return Number((await at()).split(':')[1]);
}

/** The runs table: label, what differs, the step of the last step loss and that loss. */
function rows(page) {
  return page.$$eval('#runs-table tbody tr', (trs) => trs.map((tr) => ({
    label: tr.dataset.run,
    differs: tr.querySelector('.differs').textContent,
    step: Number(tr.querySelector('.run-step-loss').dataset.step),
    loss: Number(tr.querySelector('.run-step-loss').dataset.value),
    main: tr.classList.contains('main'),
  })));
}

for (const [backend, webgpu] of [['cpu', false], ['gpu', true]]) {
  appTest(`runs compared on the ${backend} path: each run as it trains alone, one chart, one table, the link`, { webgpu, timeout: 900_000 }, async ({ page, server, context }) => {
    const link = (noise) => `${server.url}?preset=dae_vincent&backend=${backend}&seed=4&noise=${noise}`;
    const lossA = await alone(page, link('none'), STEPS);
    const lossB = await alone(page, link('masking:0.7'), STEPS);
    assert.ok(Number.isFinite(lossA) && Number.isFinite(lossB) && lossA !== lossB, `two different runs (${lossA}, ${lossB})`);

    // One page: A with no noise; Compare adds B (a copy, the main run now); B gets noise 0.3.
    await page.goto(link('none'), { waitUntil: 'load' });
    await waitForState(page, 'ready', 120_000);
    assert.equal(await page.isVisible('#runs'), false, 'no runs table while one run trains alone');
    await reveal(page, '#compare');
    await page.click('#compare');
    await poll(async () => (await rows(page)).length === 2, { message: () => 'two rows in the runs table' });
    await page.keyboard.press('Escape');
    assert.equal(await page.isVisible('#runs'), true);
    await page.selectOption('#noise-kind', 'masking');
    await page.fill('#noise-level', '0.3');
    await poll(async () => /masking:0\.7 \(A: none\)/.test((await rows(page))[1]?.differs ?? ''), {
      message: async () => `B differs in its noise (${JSON.stringify(await rows(page))})`,
    });
    const table = await rows(page);
    assert.deepEqual(table.map((r) => [r.label, r.main]), [['A', false], ['B', true]], 'B is the main run');

    await trainTo(page, STEPS, async () => (await rows(page)).every((r) => r.step === STEPS));
    const [a, b] = await rows(page);
    const close = (x, y) => Math.abs(x - y) <= 1e-5 * Math.max(1, Math.abs(y));
    assert.ok(close(a.loss, lossA), `run A at step ${STEPS}: ${a.loss}, alone ${lossA}`);
    assert.ok(close(b.loss, lossB), `run B at step ${STEPS}: ${b.loss}, alone ${lossB}`);
    // The chart overlays both runs: a training-loss series each, in the legend.
    const labels = ((await page.getAttribute("#loss-chart", "data-labels")) ?? "").split("|");
    assert.ok(labels.some((l) => /A train/.test(l)) && labels.some((l) => /B train/.test(l)), `both runs in the legend: ${JSON.stringify(labels)}`);
    assert.ok(Number(await page.getAttribute('#loss-chart', 'data-series')) >= 2, 'a series per run');
    // Each run draws its own pictures side by side.
    for (const l of ['A', 'B']) {
      const lit = await page.$eval(`#run-${l}-recon`, (c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) n += d[i] > 0 ? 1 : 0;
        return n;
      });
      assert.ok(lit > 100, `run ${l}'s reconstructions are drawn (${lit} lit pixels)`);
    }

    // The address keeps the comparison; opened again, the same two runs.
    await poll(async () => /compare=/.test(page.url()), { timeout: 30_000, message: () => `compare= in the address (${page.url()})` });
    const again = await context.newPage();
    await again.goto(page.url(), { waitUntil: 'load' });
    await waitForState(again, 'ready', 120_000);
    await poll(async () => (await rows(again)).length === 2, { message: () => 'the link reopens two runs' });
    assert.deepEqual((await rows(again)).map((r) => [r.label, r.differs, r.main]), table.map((r) => [r.label, r.differs, r.main]));
    await again.close();
  });
}

appTest('a run compared in its shape: tied weights and a narrower code from the model panel, in the table and the link', { timeout: 200_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?preset=dae_vincent&backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.keyboard.press('a'); // the shortcut adds a run
  await poll(async () => (await rows(page)).length === 2, { message: () => 'two runs' });
  await page.click('#model-shape summary');
  await page.check('#tied');
  await poll(async () => /tied 1 \(A: 0\)/.test((await rows(page))[1].differs), { message: async () => `B has tied weights (${JSON.stringify(await rows(page))})` });
  await page.fill('#code-size', '64');
  await page.press('#code-size', 'Enter');
  await poll(async () => /dims 784,64,784/.test((await rows(page))[1].differs), { message: async () => `B's code is 64 wide (${JSON.stringify(await rows(page))})` });
  // The link's own model is the main run's (B); A is written as what differs from it.
  await poll(async () => /dims=784,64,784/.test(page.url()) && /compare=[^&]*tied%3D0[^&]*%7C%2A/.test(page.url()), { timeout: 30_000, message: () => `the link has both shapes (${page.url()})` });
  await page.click('#train');
  await poll(async () => (await rows(page)).every((r) => r.step >= 50), { timeout: 60_000, message: async () => `both runs train (${JSON.stringify(await rows(page))})` });
});
