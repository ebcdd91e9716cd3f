// tests/e2e/lecture.test.mjs — issue #6 in the page: the set-up in the URL (read on load,
// kept in the address bar, "Copy link" reproduces the same first losses), bad link values
// as notes, lecture mode (hidden controls, keyboard shortcuts, help overlay) and the presets
// gallery.

import assert from 'node:assert/strict';
import {
  clickIn, appTest, waitForState, poll, readSteps, canvasStats, drawStroke } from './harness.mjs';

const READY_TIMEOUT = 120_000;

/** Presses Step `n` times and returns the train loss shown once the n-th step is read out. */
async function stepAndLoss(page, n) {
  for (let i = 1; i <= n; i++) {
    await page.click('#step');
    await poll(async () => (await readSteps(page)) >= i, { timeout: 30_000, message: () => `step ${i}` });
  }
  let last = null;
  return poll(async () => {
    const t = (await page.textContent('#train-loss')).trim();
    const stable = t === last && /\d/.test(t);
    last = t;
    return stable ? t : null;
  }, { timeout: 30_000, interval: 400, message: () => `a train loss after ${n} steps (${last})` });
}

const visible = (page, sel) => page.locator(sel).isVisible();

appTest('the URL holds the set-up: Copy link reproduces the same first losses', { timeout: 300_000 }, async ({ page, server, context, logs }) => {
  await page.goto(`${server.url}?preset=linear_50&lr=0.02&seed=7&backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY_TIMEOUT);
  assert.equal(await page.$eval('#preset-select', (s) => s.value), 'linear_50');
  assert.equal(await page.$eval('#backend-select', (s) => s.value), 'cpu');
  const loss = await stepAndLoss(page, 3);

  // The address bar follows the page.
  await poll(async () => /seed=7/.test(page.url()) && /lr=0\.02/.test(page.url()) && /dims=/.test(page.url()), {
    timeout: 10_000, message: () => `the address bar to hold the whole set-up (${page.url()})`,
  });

  await clickIn(page, '#copy-link');
  const link = await poll(async () => {
    const v = await page.$eval('#link-text', (i) => i.value).catch(() => '');
    return v.startsWith('http') ? v : null;
  }, { timeout: 10_000, message: () => '#link-text to show the link' });
  for (const kv of ['preset=linear_50', 'lr=0.02', 'seed=7', 'backend=cpu']) {
    assert.ok(link.includes(kv), `the link ${link} lacks ${kv}`);
  }

  const again = await context.newPage();
  await again.goto(link, { waitUntil: 'load' });
  await waitForState(again, 'ready', READY_TIMEOUT);
  assert.equal(await again.$eval('#preset-select', (s) => s.value), 'linear_50');
  assert.equal(await stepAndLoss(again, 3), loss, 'the link reproduces the same train loss after 3 steps');

  // Another seed gives other losses (so the comparison above means something).
  const other = await context.newPage();
  await other.goto(link.replace('seed=7', 'seed=8'), { waitUntil: 'load' });
  await waitForState(other, 'ready', READY_TIMEOUT);
  assert.notEqual(await stepAndLoss(other, 3), loss, 'seed=8 should give another loss than seed=7');

  // The noise control rewrites the address bar.
  await page.selectOption('#noise-kind', 'gaussian');
  await poll(async () => /noise=gaussian/.test(page.url()), { timeout: 10_000, message: () => `noise=gaussian in ${page.url()}` });
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('bad values in the link give notes, and the page still trains', { timeout: 180_000 }, async ({ page, server, logs }) => {
  await page.goto(`${server.url}?lr=abc&batch=-3&foo=1&hide=bogus`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY_TIMEOUT);
  const note = await page.textContent('#note');
  for (const bit of [/lr='?abc/, /batch='?-3/, /foo/, /bogus/]) assert.match(note, bit);
  assert.equal(await page.$eval('#preset-select', (s) => s.value), 'dae_vincent');
  await page.click('#train');
  await poll(async () => (await readSteps(page)) >= 3, { timeout: 60_000, message: () => 'training steps' });
  await page.click('#pause');
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('lecture mode: hidden controls, keyboard shortcuts, help overlay', { timeout: 240_000 }, async ({ page, server, logs }) => {
  await page.goto(`${server.url}?backend=cpu&lecture=1&hide=noise,backend&panels=chart,pad,recon,gallery`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY_TIMEOUT);
  assert.ok(await page.$eval('#app', (a) => a.classList.contains('lecture')), '#app has the lecture class');
  assert.equal(await visible(page, '#noise-kind'), false, '#noise-kind hidden');
  assert.equal(await visible(page, '#backend-select'), false, '#backend-select hidden');
  assert.equal(await visible(page, '#preset-select'), true, '#preset-select still shown');
  assert.equal(await visible(page, '#features'), false, 'the pictures panel is not in panels=');
  assert.equal(await visible(page, '#pad'), true, 'the pad panel is in panels=');
  const padWidth = (await page.locator('#pad').boundingBox()).width;
  assert.ok(padWidth > 300, `the pad is enlarged in lecture mode (${padWidth} px)`);

  await page.keyboard.press('s');
  await poll(async () => (await readSteps(page)) >= 1, { timeout: 30_000, message: () => "'s' to take a step" });
  await page.keyboard.press(' ');
  await waitForState(page, 'training', 10_000);
  await poll(async () => (await readSteps(page)) >= 3, { timeout: 60_000, message: () => 'training after space' });
  await page.keyboard.press(' ');
  await waitForState(page, 'paused', 10_000);

  await page.keyboard.press('?');
  await page.locator('#help').waitFor({ state: 'visible', timeout: 5_000 });
  assert.equal(await page.getAttribute('#help', 'role'), 'dialog');
  assert.match(await page.textContent('#help'), /space/);
  await page.keyboard.press('Escape');
  await page.locator('#help').waitFor({ state: 'hidden', timeout: 5_000 });

  await drawStroke(page, '#pad', [[0.3, 0.2], [0.7, 0.2], [0.45, 0.85]]);
  await poll(async () => (await canvasStats(page, '#pad')).dominant < 0.99, { timeout: 10_000, message: () => 'ink on the pad' });
  await page.keyboard.press('c');
  await poll(async () => (await canvasStats(page, '#pad')).dominant === 1, { timeout: 10_000, message: () => "'c' to clear the pad" });

  // Not while typing: 'r' in the link field does not reset.
  const steps = await readSteps(page);
  await clickIn(page, '#copy-link');
  await page.locator('#link-text').waitFor({ state: 'visible' });
  await page.focus('#link-text');
  await page.keyboard.press('r');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await readSteps(page), steps, "'r' typed in a text field must not reset");
  await page.click('#app h1'); // focus back on the page
  await page.keyboard.press('r');
  await poll(async () => (await readSteps(page)) === 0, { timeout: 10_000, message: () => "'r' to reset" });

  // The toggle leaves lecture mode; hide= holds in every mode (so a slim link stays slim),
  // so the hidden controls stay hidden (DOM contract: they used to come back).
  await clickIn(page, '#lecture-toggle');
  await poll(async () => !(await page.$eval('#app', (a) => a.classList.contains('lecture'))), {
    timeout: 5_000, message: () => 'leaving lecture mode',
  });
  assert.equal(await visible(page, '#noise-kind'), false, 'hide=noise holds outside lecture mode too');
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('the presets gallery starts a preset in one click', { timeout: 180_000 }, async ({ page, server, logs }) => {
  await page.goto(`${server.url}?backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', READY_TIMEOUT);
  const cards = await page.$$eval('#gallery .start-preset', (bs) => bs.map((b) => b.dataset.preset));
  const options = await page.$$eval('#preset-select option', (os) => os.map((o) => o.value));
  assert.deepEqual(cards, options, 'one card per preset');
  assert.match(await page.textContent('#gallery'), /sparse/i);
  await page.click('.start-preset[data-preset=sparse_kl]');
  await waitForState(page, 'training', 10_000);
  assert.equal(await page.$eval('#preset-select', (s) => s.value), 'sparse_kl');
  await poll(async () => (await readSteps(page)) >= 3, { timeout: 60_000, message: () => 'sparse_kl training' });
  await page.click('#pause');
  assert.ok(page.url().includes('preset=sparse_kl'), `the address bar follows the preset (${page.url()})`);
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});
