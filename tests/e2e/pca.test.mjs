// tests/e2e/pca.test.mjs — PCA beside the linear autoencoder: with linear_50 the page fits
// PCA (50 components) on the CPU while the page stays usable, then shows PCA's
// reconstructions under the model's and its test loss beside the model's, and the loss chart
// gets PCA's reference line; a non-linear preset hides it.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, canvasStats, readSteps } from './harness.mjs';

appTest('linear_50 shows PCA with 50 components beside the model (CPU)', { timeout: 300_000 }, async ({ page, server }) => {
  page.on('console', (m) => { if (m.text().includes('PCA-')) console.log(m.text()); });
  await page.goto(`${server.url}?preset=linear_50&backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  const t0 = Date.now();
  // While PCA is being fitted the page trains.
  await page.click('#train');
  const status = await poll(async () => {
    const t = await page.textContent('#pca-status');
    return /PCA with 50 components \(fitted on 60,000 training digits/.test(t) ? t : null;
  }, { timeout: 240_000, interval: 500, message: async () => `PCA to be fitted (status: ${await page.textContent('#pca-status')})` });
  console.log(`PCA fitted in ${((Date.now() - t0) / 1000).toFixed(1)} s of wall time: ${status}`);
  assert.ok((await readSteps(page)) > 0, 'training went on while PCA was fitted');
  const loss = Number(/test loss ([0-9.]+)/.exec(status)[1]);
  // The CLI's PCA-50 loss over all 10,000 test digits is 4.502; the first 1,000 are close.
  assert.ok(loss > 3.5 && loss < 5.5, `PCA-50 test loss ${loss} is not near 4.5`);
  const recon = await canvasStats(page, '#pca-recon');
  assert.ok(recon.colors > 20, `PCA reconstructions drawn (${JSON.stringify(recon)})`);
  await page.click('#pause');
  await page.selectOption('#preset-select', 'dae_vincent');
  await poll(async () => !(await page.isVisible('#pca-compare')), { timeout: 30_000, message: () => 'PCA panel hidden for a non-linear model' });
});
