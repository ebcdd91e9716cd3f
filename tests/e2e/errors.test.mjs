// tests/e2e/errors.test.mjs — data failures are shown, not swallowed: a missing or corrupt data
// file puts the page in data-state "error" with a readable #error message naming the file, and
// the rest of the page stays visible.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import {
  appTest, waitForState, pageSnapshot, pseudoRandomBytes, DIST,
} from './harness.mjs';

const ERROR_TIMEOUT = 120_000;

async function checkError(page, logs, fileStem) {
  await waitForState(page, 'error', ERROR_TIMEOUT);
  const err = page.locator('#error');
  await err.waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await err.getAttribute('role'), 'alert', '#error should have role="alert"');
  const text = (await err.textContent()).trim();
  assert.ok(text.includes(fileStem), `#error should name ${fileStem}: ${JSON.stringify(text)}`);
  assert.ok(text.length >= fileStem.length + 10, `#error should say what is wrong: ${JSON.stringify(text)}`);
  assert.doesNotMatch(text, /\[object |undefined|RuntimeError|unreachable/, `#error is not readable: ${JSON.stringify(text)}`);
  // The page is not blank: the app is laid out and shows more than the error.
  const layout = await page.evaluate(() => {
    const app = document.getElementById('app');
    const r = app?.getBoundingClientRect();
    return { w: r?.width ?? 0, h: r?.height ?? 0, text: document.body.innerText.trim() };
  });
  assert.ok(layout.w > 100 && layout.h > 100, `#app is not laid out (${layout.w}×${layout.h})`);
  assert.ok(layout.text.length > text.length + 20, `the page shows nothing but the error: ${JSON.stringify(layout.text)}`);
  const snap = await pageSnapshot(page);
  assert.equal(snap.state, 'error');
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors (the failure should be handled)');
  return text;
}

const manifest = () => JSON.parse(readFileSync(join(DIST, 'data', 'manifest.json'), 'utf8'));

function manifestBytes(file) {
  try {
    return manifest().files[file].bytes;
  } catch {
    return 4542;
  }
}

appTest('missing data file (404): #error names train-images-idx3-ubyte', {
  route: (page) => page.route('**/data/train-images-idx3-ubyte.gz.part01', (route) =>
    route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' })),
}, async ({ page, logs }) => {
  const text = await checkError(page, logs, 'train-images-idx3-ubyte');
  console.log(`#error (404): ${text}`);
});

appTest('corrupt data file (not gzip): #error names t10k-labels-idx1-ubyte', {
  route: (page) => page.route('**/data/t10k-labels-idx1-ubyte.gz', (route) =>
    route.fulfill({
      status: 200,
      contentType: 'application/gzip',
      body: pseudoRandomBytes(manifestBytes('t10k-labels-idx1-ubyte.gz')),
    })),
}, async ({ page, logs }) => {
  const text = await checkError(page, logs, 't10k-labels-idx1-ubyte');
  // Caught by the manifest's checksum before it is parsed or kept in the browser's cache.
  assert.match(text, /SHA-256 is [0-9a-f]{64}, not the manifest's [0-9a-f]{64}/);
  console.log(`#error (random bytes): ${text}`);
});

// A bad file whose manifest agrees with it (a server whose data step went wrong): the IDX
// reader names what is wrong with it.
const badLabels = (() => {
  // Labels header claiming 10,000 items with a wrong magic, then only 100 labels.
  const idx = Buffer.alloc(8 + 100);
  idx.writeUInt32BE(0x0801_0000, 0);
  idx.writeUInt32BE(10_000, 4);
  return gzipSync(idx);
})();

appTest('corrupt data file (valid gzip, bad IDX content, manifest agreeing): #error names t10k-labels-idx1-ubyte', {
  route: (page) => Promise.all([
    page.route('**/data/t10k-labels-idx1-ubyte.gz', (route) =>
      route.fulfill({ status: 200, contentType: 'application/gzip', body: badLabels })),
    page.route('**/data/manifest.json', (route) => {
      const m = manifest();
      m.files['t10k-labels-idx1-ubyte.gz'] = { bytes: badLabels.length, sha256_gz: createHash('sha256').update(badLabels).digest('hex') };
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(m) });
    }),
  ]),
}, async ({ page, logs }) => {
  const text = await checkError(page, logs, 't10k-labels-idx1-ubyte');
  assert.match(text, /magic|truncated|labels/i);
  console.log(`#error (bad IDX): ${text}`);
});
