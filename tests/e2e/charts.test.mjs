// tests/e2e/charts.test.mjs — the charts stay readable at every layout (1440×900, 390×844, and
// lecture mode at 1920×1080 and 1280×720): no two texts of a chart overlap (legend, tick
// labels of both axes, axis titles, epoch marks, phase names; each chart canvas lists what
// it drew with its box in `data-texts`), every text lies inside its canvas, the epoch marks
// are thinned to what fits for a fast preset trained past ten epochs, and a recipe's loss
// charts show its phases as named bands. One training run per case, then the page is
// resized (and lecture mode switched on) for each layout.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, readSteps } from './harness.mjs';
import { LAYOUTS, applyLayout } from './layouts.mjs';

/** Every shown chart canvas: its id, size, and the texts it drew with their boxes. */
function chartTexts(page) {
  return page.evaluate(() => [...document.querySelectorAll('canvas.chart')]
    .filter((c) => c.clientWidth > 10 && c.clientHeight > 10 && c.getAttribute('data-texts'))
    .map((c) => ({ id: c.id, w: c.clientWidth, h: c.clientHeight, stride: c.getAttribute('data-epoch-stride'), texts: JSON.parse(c.getAttribute('data-texts')) })));
}

/** Pairs of texts whose boxes overlap (by more than half a pixel), and texts outside the canvas. */
function problems(chart) {
  const out = [];
  const t = chart.texts;
  for (let i = 0; i < t.length; i++) {
    const a = t[i];
    if (a.x < -0.5 || a.y < -0.5 || a.x + a.w > chart.w + 0.5 || a.y + a.h > chart.h + 0.5) out.push(`"${a.t}" leaves the ${chart.w}×${chart.h} canvas: ${JSON.stringify(a)}`);
    for (let j = i + 1; j < t.length; j++) {
      const b = t[j];
      const ox = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
      const oy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (ox > 0.5 && oy > 0.5) out.push(`"${a.t}" ${JSON.stringify(a)} overlaps "${b.t}" ${JSON.stringify(b)}`);
    }
  }
  return out;
}

/** Asserts the texts of every shown chart are apart at layout L; returns the charts. */
async function assertReadable(page, L, ids) {
  const charts = await chartTexts(page);
  for (const id of ids) assert.ok(charts.some((c) => c.id === id), `${L.name}: #${id} is shown and lists its texts (${charts.map((c) => c.id)})`);
  for (const c of charts) {
    const p = problems(c);
    assert.deepEqual(p, [], `${L.name}: #${c.id}'s texts overlap or leave it:\n${p.join('\n')}`);
    assert.ok(c.texts.length >= 4, `${L.name}: #${c.id} has its titles, ticks and legend (${JSON.stringify(c.texts)})`);
  }
  return charts;
}

appTest('charts: a fast preset past ten epochs stays readable at every layout', { timeout: 150_000, contextOptions: { viewport: { width: 1440, height: 900 } } }, async ({ page, server }) => {
  // A large batch makes linear_50's epochs short in wall time (an epoch is 60 steps).
  await page.goto(`${server.url}?backend=cpu&preset=linear_50&batch=1000`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  // Before training: the empty chart's sentence stays inside a phone's narrow chart.
  await applyLayout(page, LAYOUTS[1]);
  for (const c of await chartTexts(page)) assert.deepEqual(problems(c), [], `the empty #${c.id} at 390×844`);
  await applyLayout(page, LAYOUTS[0]);
  await page.click('#train');
  await poll(async () => (await readSteps(page)) > 12 * 60, { timeout: 90_000, interval: 500, message: async () => `twelve epochs (${await readSteps(page)} steps)` });
  await page.click('#pause');
  await waitForState(page, 'paused', 10_000);
  await page.waitForTimeout(500);
  for (const L of LAYOUTS) {
    await applyLayout(page, L);
    const charts = await assertReadable(page, L, ['loss-chart']);
    const loss = charts.find((c) => c.id === 'loss-chart');
    const epochs = loss.texts.filter((t) => /^epoch \d+$/.test(t.t)).map((t) => Number(t.t.slice(6)));
    assert.ok(epochs.length >= 1, `${L.name}: the loss chart marks epochs (${JSON.stringify(loss.texts.map((t) => t.t))})`);
    const stride = Number(loss.stride);
    assert.ok([1, 2, 5, 10, 20, 50].includes(stride), `${L.name}: the epoch stride is 1, 2, 5, 10… (${loss.stride})`);
    assert.ok(epochs.every((e) => e % stride === 0), `${L.name}: every ${stride}th epoch is marked (${epochs})`);
    if (L.width <= 390) assert.ok(stride >= 2, `${L.name}: twelve epochs do not all fit on a phone's chart, so they are thinned (stride ${stride})`);
    assert.ok(loss.texts.some((t) => /an epoch is 60 steps/.test(t.t)), `${L.name}: the x axis title says an epoch's length`);
  }
});

appTest('charts: a recipe shows its phases as named bands, readable at every layout', { timeout: 150_000, contextOptions: { viewport: { width: 1440, height: 900 } } }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=cpu&preset=stacked_greedy&cap=40`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.click('#train');
  await poll(async () => (await page.getAttribute('#recipe', 'data-status')) === 'done', { timeout: 90_000, interval: 250, message: async () => `the recipe to finish (${await page.textContent('#recipe-progress').catch(() => '')})` });
  await page.waitForTimeout(500);
  const phases = await page.$$eval('#recipe-phases li strong', (els) => els.map((e) => e.textContent.trim()));
  assert.ok(phases.length >= 2, `the recipe has phases (${phases})`);
  for (const L of LAYOUTS) {
    await applyLayout(page, L);
    const charts = await assertReadable(page, L, ['recipe-loss']);
    if (L.width >= 1280) {
      const names = charts.find((c) => c.id === 'recipe-loss').texts.map((t) => t.t);
      for (const p of phases) assert.ok(names.some((n) => n === p || (n.endsWith('…') && p.startsWith(n.slice(0, -1)))), `${L.name}: the recipe's loss chart names phase ${p} in its band (${JSON.stringify(names)})`);
    }
  }
});
