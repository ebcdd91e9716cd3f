// tests/e2e/load.test.mjs — the page loads the MNIST data: progress/status shown while loading,
// controls disabled until the data is in, then data-state "ready" and #data-source names MNIST.

import assert from 'node:assert/strict';
import {
  appTest, waitForState, readSteps, pageSnapshot, withTimeout,
} from './harness.mjs';

const READY_TIMEOUT = 120_000;
const BUTTONS = ['#train', '#pause', '#step', '#reset', '#pad-clear'];

appTest('loads the data: progress and status shown, then ready with an MNIST source', {}, async ({ page, logs }) => {
  await waitForState(page, 'ready', READY_TIMEOUT);
  const snap = await pageSnapshot(page);
  const rec = snap.recorded;
  assert.ok(rec.progressSeen, `#data-progress was not shown while loading (${JSON.stringify(rec)})`);
  assert.ok(rec.progressMax > 1000, `#data-progress max should be a byte count, saw max ${rec.progressMax}`);
  assert.ok(rec.statusTexts.some((t) => /Downloading .*\.gz|from the browser cache/.test(t)),
    `#data-status never named a data file while loading (${JSON.stringify(rec.statusTexts)})`);
  assert.match(snap.dataSource ?? '', /MNIST/, '#data-source should name the MNIST set loaded');
  assert.equal(await readSteps(page), 0, '#step-count should start at 0');
  assert.ok((snap.backend ?? '').length > 0, '#backend should say which backend trains');
  for (const b of ['#train', '#step', '#reset', '#pad-clear']) {
    assert.ok(await page.locator(b).isEnabled(), `${b} should be enabled once the data is loaded`);
  }
  for (const c of ['#recon', '#loss-chart', '#pad', '#pad-noisy', '#pad-out']) {
    assert.equal(await page.locator(c).count(), 1, `${c} canvas missing`);
  }
  assert.equal(await page.locator('#noise-kind').evaluate((e) => e.tagName), 'SELECT');
  assert.equal(await page.locator('#noise-level').getAttribute('type'), 'range');
  // The pad is square and large enough to draw on (its size follows the layout).
  const pad = await page.locator('#pad').evaluate((e) => [e.clientWidth, e.clientHeight]);
  assert.equal(pad[0], pad[1], `#pad should be square (${pad})`);
  assert.ok(pad[0] >= 180, `#pad should be at least 180 CSS px wide (${pad})`);
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

// Holds back one data file so the loading state can be looked at without racing it.
function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}
const held = deferred(); // resolved when the app's request for the file arrives
const release = deferred(); // resolved by the test to let the response through

appTest('while the data downloads: state loading, progress shown, buttons disabled', {
  route: (page) => page.route('**/data/train-images-idx3-ubyte.gz.part01', async (route) => {
    held.resolve();
    await release.promise;
    await route.continue();
  }),
}, async ({ page, logs }) => {
  await withTimeout(held.promise, 60_000, 'the app never requested data/train-images-idx3-ubyte.gz.part01');
  await page.waitForTimeout(500);
  const snap = await pageSnapshot(page);
  assert.equal(snap.state, 'loading', 'data-state while a data file is still downloading');
  assert.equal(await page.locator('#data-progress').count(), 1, '#data-progress not shown while downloading');
  assert.match(snap.dataStatus ?? '', /Reading data\/manifest\.json|Downloading/,
    '#data-status should say what is being downloaded');
  for (const b of BUTTONS) {
    const el = page.locator(b);
    assert.equal(await el.count(), 1, `${b} missing`);
    assert.ok(await el.isDisabled(), `${b} should be disabled while the data loads`);
  }
  release.resolve();
  await waitForState(page, 'ready', READY_TIMEOUT);
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('a reload takes the data from the browser cache instead of downloading it again', {}, async ({ page }) => {
  await waitForState(page, 'ready', READY_TIMEOUT);
  const fetched = [];
  page.on('request', (r) => {
    if (/\/data\/[^/]+\.gz/.test(r.url())) fetched.push(r.url());
  });
  await page.reload({ waitUntil: 'load' });
  await waitForState(page, 'ready', READY_TIMEOUT);
  assert.deepEqual(fetched, [], `the reload downloaded the data files again: ${fetched.join(', ')}`);
  assert.match(await page.textContent('#data-status'), /from the browser cache/);
  assert.match(await page.textContent('#data-source'), /MNIST/);
});
