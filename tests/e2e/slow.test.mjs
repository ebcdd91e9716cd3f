// tests/e2e/slow.test.mjs — a first visit over a slow link (a lecture hall's shared Wi-Fi:
// 2 Mbit/s in all, 150 ms before each answer; the app served gzip'd, as static hosts do):
// the page trains on the training images' first part while the rest arrives, then has them
// all, each part and the whole file checked against the manifest. The times it takes are
// printed (and measured in BENCHMARKS.md with scripts/slow-visit.mjs), not asserted.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, readSteps, pageSnapshot } from './harness.mjs';

const SLOW_LINK = { rate: 250_000, latency: 150 };

appTest('a first visit over a slow link trains on the first part of the data and takes in the rest', {
  timeout: 300_000, serverOptions: { gzip: true, throttle: SLOW_LINK },
}, async ({ page, server }) => {
  await waitForState(page, 'ready', 120_000, { partial: true });
  await page.click('#train');
  await poll(async () => (await readSteps(page)) >= 1, { timeout: 60_000, message: () => 'a first step' });
  const rec = (await pageSnapshot(page)).recorded;
  assert.equal(rec.firstStepData, 'partial', 'the first step came before all the training images were in');
  assert.match(await page.textContent('#data-in'), /training images in: [\d,]+ of 60,000 \(the rest arrives while it trains\)/);
  // The rest arrives, part by part, while it trains; then all of it is in and checked.
  await page.waitForSelector('#app[data-data="complete"]', { timeout: 180_000 });
  assert.equal((await page.textContent('#data-in')).trim(), '');
  assert.equal(await page.getAttribute('#app', 'data-state'), 'training', 'it trained on throughout');
  assert.equal(await page.locator('#error').count(), 0, 'no error');
  const parts = server.requests.filter((r) => /GET \/data\/train-images-idx3-ubyte\.gz\.part\d+ 200/.test(r));
  assert.ok(parts.length >= 2, `the training images came in parts: ${JSON.stringify(parts)}`);
  const done = (await pageSnapshot(page)).recorded;
  console.log(`slow link (2 Mbit/s, 150 ms, gzip): ready ${(done.readyMs / 1000).toFixed(1)} s, first step ${(done.firstStepMs / 1000).toFixed(1)} s, all data in ${(done.completeMs / 1000).toFixed(1)} s after opening the link`);
  const at = await readSteps(page);
  await poll(async () => (await readSteps(page)) > at, { timeout: 30_000, message: () => 'training goes on with all the data' });
});
