// tests/e2e/stall.test.mjs — a download that stalls (src/worker/loader.rs): the server sends
// half of a part of train-images-idx3-ubyte.gz and then nothing, the connection left open.
// Within 30 s the page has tried again (resuming with a range request) and names the stalled
// file with a Retry button; served whole again, Retry resumes where the download stopped.
// The first part stalling holds the page in loading (nothing to train on yet); a later part
// stalling leaves it training on the images in, and Retry brings the rest.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appTest, DIST, waitForState, poll, readSteps } from './harness.mjs';

// Answers the data file `name` itself: ranges honoured (206 with Content-Range); while
// `state.stall`, no byte past the half is sent and the connection stays open.
function staller(name) {
  const file = () => readFileSync(join(DIST, 'data', name));
  const state = { stall: true, ranges: [], open: [], file, name };
  state.handle = (req, res, path) => {
    if (path !== `/data/${name}`) return false;
    const body = file();
    const half = Math.floor(body.length / 2);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range || '');
    const from = m ? Number(m[1]) : 0;
    if (req.headers.range) state.ranges.push({ range: req.headers.range, stall: state.stall });
    const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length - from, 'Cache-Control': 'no-cache', 'Accept-Ranges': 'bytes' };
    if (m) headers['Content-Range'] = `bytes ${from}-${body.length - 1}/${body.length}`;
    res.writeHead(m ? 206 : 200, headers);
    if (!state.stall) return res.end(body.subarray(from)), true;
    if (from < half) res.write(body.subarray(from, half));
    state.open.push(res); // nothing more, never ended
    return true;
  };
  return state;
}

/** Waits for the Retry button naming the file, within 30 s, after a resumed try. */
async function stalled(page, s) {
  const t0 = Date.now();
  const retry = page.getByRole('button', { name: `Retry the download of ${s.name}` });
  await retry.waitFor({ state: 'visible', timeout: 30_000 });
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds <= 30, `the Retry button came after ${seconds} s`);
  const text = await page.textContent('#stalled');
  assert.match(text, new RegExp(`${s.name.replace(/[.]/g, '\\.')} stalled`), `#stalled names the file: ${text}`);
  const half = Math.floor(s.file().length / 2);
  const resumed = s.ranges.filter((r) => r.stall && r.range === `bytes=${half}-`);
  assert.ok(resumed.length >= 2, `the page tried again from the half it had (ranges asked: ${JSON.stringify(s.ranges)})`);
  return { retry, half };
}

/** The server recovers; Retry resumes from the half kept. */
async function recover(s, retry, half) {
  s.stall = false;
  for (const res of s.open.splice(0)) res.destroy();
  const before = s.ranges.length;
  await retry.click();
  return () => assert.ok(s.ranges.slice(before).some((r) => !r.stall && r.range === `bytes=${half}-`), `Retry resumed with a range request (${JSON.stringify(s.ranges)})`);
}

const first = staller('train-images-idx3-ubyte.gz.part01');
appTest('a download that stalls is retried, named with a Retry button, and Retry trains', {
  timeout: 240_000, serverOptions: { handle: first.handle },
}, async ({ page }) => {
  const { retry, half } = await stalled(page, first);
  assert.equal(await page.getAttribute('#app', 'data-state'), 'loading', 'still loading, not failed');
  const resumed = await recover(first, retry, half);
  await waitForState(page, 'ready', 60_000);
  resumed();
  assert.equal(await page.locator('#stalled').count(), 0, 'the stall message is gone');
  assert.match(await page.textContent('#data-status'), /Data loaded/);
  await page.click('#train');
  await poll(async () => (await readSteps(page)) >= 50, { timeout: 60_000, message: () => '50 steps after Retry' });
});

const later = staller('train-images-idx3-ubyte.gz.part03');
appTest('a later part that stalls leaves the page training on the images in, and Retry brings the rest', {
  timeout: 240_000, serverOptions: { handle: later.handle },
}, async ({ page }) => {
  await waitForState(page, 'ready', 60_000, { partial: true });
  await page.click('#train');
  const { retry, half } = await stalled(page, later);
  assert.equal(await page.getAttribute('#app', 'data-data'), 'partial');
  assert.match(await page.textContent('#data-in'), /training images in: [\d,]+ of 60,000/);
  const at = await readSteps(page);
  await poll(async () => (await readSteps(page)) >= at + 50, { timeout: 60_000, message: () => 'training goes on during the stall' });
  const resumed = await recover(later, retry, half);
  await page.waitForSelector('#app[data-data="complete"]', { timeout: 60_000 });
  resumed();
  assert.equal(await page.locator('#stalled').count(), 0, 'the stall message is gone');
  assert.equal((await page.textContent('#data-in')).trim(), '', 'nothing more to say once all are in');
  assert.equal(await page.getAttribute('#app', 'data-state'), 'training', 'it trained on throughout');
});
