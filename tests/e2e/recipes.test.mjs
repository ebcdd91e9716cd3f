// tests/e2e/recipes.test.mjs — the multi-phase recipes in the page (src/ui/recipe.rs):
// picked from the link (`preset=NAME&cap=N`), each recipe steps into its second phase, then
// trains through every phase to "done" on the CPU path with the phase display advancing;
// pretrain_classifier's accuracy chart has the two labelled series, sda's error chart has
// validation and test error, stacked_greedy's loss chart has the end-to-end test loss; the
// draw pad follows the current model; a recipe runs through a phase change on WebGPU, and a
// backend switch restarts it; the gallery starts a recipe in one click.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, canvasStats, drawStroke } from './harness.mjs';

const READY = 120_000;
const SEVEN = [[0.25, 0.2], [0.75, 0.2], [0.45, 0.85]];

const attr = (page, sel, name) => page.$eval(sel, (el, n) => el.getAttribute(n), name);
const phaseStates = (page) => page.$$eval('#recipe-phases li', (ls) => ls.map((l) => l.dataset.state));

/** Trains to "done", recording the phases the display showed; returns them in order. */
async function trainToDone(page, timeout) {
  await page.click('#train');
  const seen = [];
  await poll(async () => {
    const p = Number(await attr(page, '#recipe', 'data-phase'));
    if (seen[seen.length - 1] !== p) seen.push(p);
    return (await attr(page, '#recipe', 'data-status')) === 'done';
  }, { timeout, interval: 50, message: async () => `the recipe to finish (status ${await attr(page, '#recipe', 'data-status')}, ${await page.textContent('#recipe-progress')}, error ${await page.locator('#error').textContent().catch(() => 'none')})` });
  return seen;
}

for (const [name, phases] of [['pretrain_classifier', 2], ['stacked_greedy', 2], ['sda', 4]]) {
  appTest(`${name} runs through all its phases on the CPU`, { timeout: 400_000 }, async ({ page, server, logs }) => {
    await page.goto(`${server.url}?backend=cpu&preset=${name}&cap=3`, { waitUntil: 'load' });
    await waitForState(page, 'ready', READY);
    await poll(async () => (await page.$('#recipe')) && (await attr(page, '#recipe', 'data-recipe')) === name, { message: () => `the ${name} panel` });
    assert.equal(await page.$eval('#preset-select', (s) => s.value), name);
    assert.match(await page.textContent('#recipe-settings'), /Shortened for the page/);
    assert.equal(await page.inputValue('#recipe-cap'), '3');
    // The phase list arrives with the worker's first frame, which may follow the status.
    await poll(async () => (await phaseStates(page)).length === phases, { timeout: 30_000, message: async () => `the phase list (${await phaseStates(page)})` });
    assert.deepEqual(await phaseStates(page), ['current', ...Array(phases - 1).fill('next')]);
    assert.match(await page.textContent('#recipe-progress'), new RegExp(`Phase 1 of ${phases}`));

    // Three single steps end the first phase (capped at 3 steps): the display moves on.
    for (let i = 1; i <= 3; i++) {
      await page.click('#step');
      await poll(async () => Number(await page.textContent('#step-count')) === i, { message: () => `step ${i}` });
    }
    await poll(async () => (await attr(page, '#recipe', 'data-phase')) === '1', { timeout: 60_000, message: () => 'phase 2 after three steps' });
    assert.deepEqual((await phaseStates(page)).slice(0, 2), ['done', 'current']);
    assert.match(await page.textContent('#recipe-progress'), new RegExp(`Phase 2 of ${phases}`));
    assert.match(await page.textContent('#recipe-progress'), /capped at 3 steps per phase/);

    if (name === 'pretrain_classifier') {
      // The pad: in the classifier phase the page says what the classifier reads.
      await drawStroke(page, '#pad', SEVEN);
      await poll(async () => /reads your drawing as a \d/.test(await page.locator('#recipe-pad-note').textContent().catch(() => '')), {
        timeout: 20_000, message: () => 'the classifier to read the drawing',
      });
      // ... as ten probability bars, named for a screen reader, under "read as a D".
      await poll(async () => (await attr(page, '#pad-out', 'data-mode')) === 'bars', { timeout: 20_000, message: () => '#pad-out to show the bars' });
      const digit = await attr(page, '#pad-out', 'data-class');
      assert.match(await attr(page, '#pad-out', 'aria-label'), new RegExp(`reads a ${digit}\\. Probabilities: 0: \\d+ %`));
      assert.match(await page.textContent('.pad-outputs'), new RegExp(`read as a ${digit}`));
      // The reconstructions panel: the classifier's predictions and confusion matrix.
      await poll(async () => (await attr(page, '#recon', 'data-mode')) === 'predictions', { timeout: 30_000, message: () => '#recon to show predictions' });
      assert.equal(await page.textContent('.recon-panel h2'), 'Predictions');
      const rows = Number(await attr(page, '#recon', 'data-rows'));
      const mistakes = Number(await attr(page, '#recon', 'data-mistakes'));
      assert.equal(rows, 500, 'the confusion matrix counts 500 test digits');
      assert.ok(mistakes >= 0 && mistakes <= rows);
      assert.match(await page.textContent('#recon-caption'), new RegExp(`confusion matrix on 500 test digits .*: ${mistakes} mistakes`));
      const pic = await canvasStats(page, '#recon');
      assert.ok(pic.colors > 4, `#recon draws the predictions (${JSON.stringify(pic)})`);
    }

    const seen = await trainToDone(page, 300_000);
    assert.ok(seen.every((p, i) => i === 0 || p >= seen[i - 1]), `the phase went back: ${seen}`);
    assert.equal(seen[seen.length - 1], phases - 1, `the display ends at the last phase (${seen})`);
    assert.deepEqual(await phaseStates(page), Array(phases).fill('done'));
    assert.equal(await waitForState(page, ['paused'], 10_000), 'paused');
    assert.equal(Number(await page.textContent('#step-count')), 3 * phases, 'every phase took its 3 capped steps');
    const summary = await page.textContent('#recipe-summary');
    const loss = await canvasStats(page, '#recipe-loss');
    assert.ok(loss.colors > 4, `#recipe-loss is drawn (${JSON.stringify(loss)})`);
    if (name === 'pretrain_classifier') {
      assert.match(summary, /test accuracy [\d.]+ % with the pre-trained encoder, [\d.]+ % from random/);
      assert.equal(await attr(page, '#recipe-metric', 'data-series'), '2');
      assert.equal(await attr(page, '#recipe-metric', 'data-labels'), 'pre-trained encoder|random initialisation');
      const chart = await canvasStats(page, '#recipe-metric');
      assert.ok(chart.colors > 4, `the accuracy chart is drawn (${JSON.stringify(chart)})`);
    } else if (name === 'sda') {
      assert.match(summary, /final test error [\d.]+ %/);
      assert.equal(await attr(page, '#recipe-metric', 'data-labels'), 'validation error|test error');
    } else {
      assert.match(summary, /end-to-end test loss/);
      assert.match(await attr(page, '#recipe-loss', 'data-labels'), /pair1 train\|pair1 test\|pair2 train\|pair2 test\|stack, end to end \(test\)/);
      // The final model is the stack on pixels: the pad reconstructs the drawing.
      const before = await canvasStats(page, '#pad-out');
      await drawStroke(page, '#pad', SEVEN);
      await poll(async () => (await canvasStats(page, '#pad-out')).hash !== before.hash, { timeout: 20_000, message: () => '#pad-out to show the reconstruction' });
    }
    await poll(async () => page.url().includes(`preset=${name}`) && page.url().includes('cap=3'), { timeout: 5_000, message: () => `the address bar names the recipe (${page.url()})` });
    assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
  });
}

appTest('the gallery starts a recipe, and a preset leaves it', { timeout: 200_000 }, async ({ page, server, logs }) => {
  await page.goto(`${server.url}?backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY);
  await page.click('.start-preset[data-preset=stacked_greedy]');
  await waitForState(page, 'training', 10_000);
  await poll(async () => Number(await page.textContent('#step-count')) >= 3, { timeout: 60_000, message: () => 'stacked_greedy training' });
  await page.click('#pause');
  await waitForState(page, 'paused', 10_000);
  assert.equal(await attr(page, '#recipe', 'data-recipe'), 'stacked_greedy');
  await page.selectOption('#preset-select', 'tied_ae');
  await poll(async () => !(await page.$('#recipe')), { message: () => 'the recipe panel to go' });
  await page.click('#step');
  await poll(async () => Number(await page.textContent('#step-count')) === 1, { message: () => 'a step of tied_ae' });
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('pretrain_classifier runs through its phase change on WebGPU; a backend switch restarts it', { webgpu: true, timeout: 500_000 }, async ({ page, server, logs }) => {
  await page.goto(`${server.url}?backend=gpu&preset=pretrain_classifier&cap=3`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY);
  await poll(async () => /WebGPU/.test(await page.textContent('#backend')), { message: () => 'the WebGPU backend' });
  await poll(async () => (await page.$('#recipe')) && (await attr(page, '#recipe', 'data-recipe')) === 'pretrain_classifier', { message: () => 'the recipe panel' });
  // The pre-training phase reconstructs digits on the GPU.
  await poll(async () => (await canvasStats(page, '#recon')).colors > 8, { timeout: 60_000, message: () => '#recon drawn' });
  const seen = await trainToDone(page, 400_000);
  assert.equal(seen[seen.length - 1], 1, `ended in the classifier phase (${seen})`);
  assert.deepEqual(await phaseStates(page), ['done', 'done']);
  assert.equal(await attr(page, '#recipe-metric', 'data-series'), '2');
  assert.match(await page.textContent('#recipe-summary'), /pre-trained encoder/);
  // Switching to the CPU restarts the recipe there, and says so.
  await page.selectOption('#backend-select', 'cpu');
  await poll(async () => /CPU/.test(await page.textContent('#backend')), { timeout: 30_000, message: () => 'the CPU backend' });
  await poll(async () => /restarted pretrain_classifier/.test((await page.locator('#note').textContent().catch(() => '')) || ''), { message: () => 'the restart note' });
  assert.equal(await attr(page, '#recipe', 'data-phase'), '0');
  assert.equal(await attr(page, '#recipe', 'data-status'), 'paused');
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});
