// tests/e2e/stall.test.mjs — a download that stalls (src/worker/loader.rs): the server sends
// half of train-images-idx3-ubyte.gz and then nothing, the connection left open. Within 30 s
// the page has tried again (resuming with a range request) and names the stalled file with a
// Retry button; served whole again, Retry resumes where the download stopped and the page trains.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appTest, DIST, waitForState, poll, readSteps } from './harness.mjs';

const NAME = 'train-images-idx3-ubyte.gz';
const file = () => readFileSync(join(DIST, 'data', NAME));
const state = { stall: true, ranges: [], open: [] };

// Answers the data file itself: ranges honoured (206 with Content-Range); while `stall`, no
// byte past the half is sent and the connection stays open.
function handle(req, res, path) {
  if (path !== `/data/${NAME}`) return false;
  const body = file();
  const half = Math.floor(body.length / 2);
  const m = /^bytes=(\d+)-$/.exec(req.headers.range || '');
  const from = m ? Number(m[1]) : 0;
  if (req.headers.range) state.ranges.push({ range: req.headers.range, stall: state.stall });
  const headers = { 'Content-Type': 'application/gzip', 'Content-Length': body.length - from, 'Cache-Control': 'no-cache', 'Accept-Ranges': 'bytes' };
  if (m) headers['Content-Range'] = `bytes ${from}-${body.length - 1}/${body.length}`;
  res.writeHead(m ? 206 : 200, headers);
  if (!state.stall) return res.end(body.subarray(from)), true;
  if (from < half) res.write(body.subarray(from, half));
  state.open.push(res); // nothing more, never ended
  return true;
}

appTest('a download that stalls is retried, named with a Retry button, and Retry trains', {
  timeout: 240_000, serverOptions: { handle },
}, async ({ page }) => {
  const t0 = Date.now();
  const retry = page.getByRole('button', { name: `Retry the download of ${NAME}` });
  await retry.waitFor({ state: 'visible', timeout: 30_000 });
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds <= 30, `the Retry button came after ${seconds} s`);
  const text = await page.textContent('#stalled');
  assert.match(text, new RegExp(`${NAME.replace(/[.]/g, '\\.')} stalled`), `#stalled names the file: ${text}`);
  const half = Math.floor(file().length / 2);
  const resumed = state.ranges.filter((r) => r.stall && r.range === `bytes=${half}-`);
  assert.ok(resumed.length >= 2, `the page tried again from the half it had (ranges asked: ${JSON.stringify(state.ranges)})`);
  assert.equal(await page.getAttribute('#app', 'data-state'), 'loading', 'still loading, not failed');
  // The server recovers; Retry resumes from the half kept and the page trains.
  state.stall = false;
  for (const res of state.open.splice(0)) res.destroy();
  const before = state.ranges.length;
  await retry.click();
  await waitForState(page, 'ready', 60_000);
  assert.ok(state.ranges.slice(before).some((r) => !r.stall && r.range === `bytes=${half}-`), `Retry resumed with a range request (${JSON.stringify(state.ranges)})`);
  assert.equal(await page.locator('#stalled').count(), 0, 'the stall message is gone');
  assert.match(await page.textContent('#data-status'), /Data loaded/);
  await page.click('#train');
  await poll(async () => (await readSteps(page)) >= 50, { timeout: 60_000, message: () => '50 steps after Retry' });
});
