// tests/e2e/offline.test.mjs — the service worker (www/sw.js) on a plain static host (the
// harness's server: no COOP/COEP, no special header):
// - offline: after one visit ("works offline" once its copy is complete; each data file
//   downloaded once: the worker copies them from the loader's cache), the page opens with
//   the network off and the server gone, loads the data (checked against the manifest's
//   SHA-256 as on every path) and trains 200 steps;
// - isolation: the first visit is not cross-origin isolated (the host sends no header); from
//   the reload on the worker serves the page with COOP/COEP and it is, and trains, on its
//   threaded build (one thread per core);
// - with service workers blocked the page trains as before, not isolated, on one thread, and
//   says so.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, readSteps, dataPieces } from './harness.mjs';

const isolated = (page) => page.evaluate(() => self.crossOriginIsolated);

async function waitForOfflineCopy(page) {
  await poll(async () => /works offline/.test(await page.textContent('#offline')), {
    timeout: 120_000, interval: 250, message: async () => `"works offline" (#offline: ${JSON.stringify(await page.textContent('#offline'))})`,
  });
}

async function trainSteps(page, n) {
  await page.click('#train');
  await poll(async () => (await readSteps(page)) >= n, { timeout: 120_000, interval: 250, message: () => `${n} steps` });
}

appTest('after one visit the page opens and trains with the network off (data checked)', { timeout: 300_000 }, async ({ page, server, context }) => {
  await waitForState(page, 'ready', 120_000);
  await waitForOfflineCopy(page);
  // The worker's copy comes from the loader's cache: a first visit downloads each file once.
  for (const f of dataPieces()) {
    const got = server.requests.filter((r) => r.startsWith(`GET /data/${f} `));
    assert.equal(got.length, 1, `data/${f} downloaded once on the first visit: ${JSON.stringify(got)}`);
  }
  await context.setOffline(true);
  await server.close(); // no server either: only the browser's copy is left
  await page.reload({ waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  const status = await page.textContent('#data-status');
  // The data comes through the checks: the loader names the data set once it is loaded.
  assert.match(status, /Data loaded/, `#data-status: ${status}`);
  assert.match(await page.textContent('#data-source'), /MNIST/);
  // Said once all the data is in and the copy has been looked at (a moment after).
  await poll(async () => /works offline/.test(await page.textContent('#offline')), {
    timeout: 15_000, message: () => 'the reloaded page to know its copy is complete',
  });
  // Under the service worker the page is isolated and runs the threaded build, which the first
  // visit (not isolated, on the build without threads) had the worker copy too.
  assert.match(await page.evaluate(() => window.__aeplayWasmVariant), /^threads/, 'the threaded build, from the offline copy');
  await trainSteps(page, 200);
  assert.ok(Number.isFinite(Number(await page.textContent('#train-loss'))), 'a training loss is shown');
});

appTest('on a host with no headers the service worker makes the page cross-origin isolated', { timeout: 300_000 }, async ({ page }) => {
  await waitForState(page, 'ready', 120_000);
  assert.equal(await isolated(page), false, 'the first visit cannot be isolated: the host sends no COOP/COEP');
  assert.match(await page.textContent('#isolation'), /not cross-origin isolated/);
  await waitForOfflineCopy(page);
  await page.reload({ waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  assert.equal(await page.evaluate(() => !!navigator.serviceWorker.controller), true, 'the service worker controls the page');
  assert.equal(await isolated(page), true, 'crossOriginIsolated under the service worker');
  assert.match(await page.textContent('#isolation'), /· cross-origin isolated/);
  // Isolated, the page runs its threaded build: more than one thread where there are cores.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.ok(cores >= 2, `this test needs 2 cores or more (the browser reports ${cores})`);
  assert.match(await page.evaluate(() => window.__aeplayWasmVariant), /^threads/);
  await poll(async () => new RegExp(`· ${Math.min(cores, 16)} threads`).test(await page.textContent('#threads')), {
    timeout: 60_000, message: async () => `#threads: ${JSON.stringify(await page.textContent('#threads'))}`,
  });
  await trainSteps(page, 100);
});

appTest('with service workers blocked the page trains as before, not isolated', {
  timeout: 300_000, contextOptions: { serviceWorkers: 'block' },
}, async ({ page }) => {
  await waitForState(page, 'ready', 120_000);
  await page.reload({ waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  assert.equal(await isolated(page), false);
  assert.match(await page.textContent('#isolation'), /not cross-origin isolated/);
  // One thread, and the page says why.
  await poll(async () => /· 1 thread: the page is not cross-origin isolated/.test(await page.textContent('#threads')), {
    timeout: 60_000, message: async () => `#threads: ${JSON.stringify(await page.textContent('#threads'))}`,
  });
  assert.doesNotMatch(await page.textContent('#offline'), /works offline/, 'no offline copy without a service worker');
  await trainSteps(page, 100);
});
