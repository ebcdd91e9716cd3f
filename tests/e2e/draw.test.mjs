// tests/e2e/draw.test.mjs — the draw pad: a stroke drawn with the mouse (or a finger) shows up on
// #pad and changes the corrupted (#pad-noisy) and denoised (#pad-out) views; #pad-clear clears it.

import assert from 'node:assert/strict';
import {
  appTest, waitForState, poll, canvasStats, drawStroke, drawTouchStroke,
} from './harness.mjs';

const READY_TIMEOUT = 120_000;
// A "7": top bar, then the diagonal down (coordinates in 0..1 of the pad).
const SEVEN = [[0.25, 0.22], [0.75, 0.22], [0.45, 0.82]];
// A "1": a vertical stroke.
const ONE = [[0.5, 0.18], [0.5, 0.84]];

async function checkStroke(page, draw) {
  await waitForState(page, 'ready', READY_TIMEOUT);
  const pad0 = await canvasStats(page, '#pad');
  assert.equal(pad0.colors, 1, `#pad should start empty (${JSON.stringify(pad0)})`);
  const out0 = await canvasStats(page, '#pad-out');

  await draw();

  const pad1 = await poll(async () => {
    const s = await canvasStats(page, '#pad');
    return s.colors > 1 ? s : null;
  }, { timeout: 5_000, message: async () => `the stroke to appear on #pad (${JSON.stringify(await canvasStats(page, '#pad'))})` });
  assert.ok(pad1.dominant < 0.99, `the stroke on #pad is tiny (${JSON.stringify(pad1)})`);

  for (const sel of ['#pad-noisy', '#pad-out']) {
    await poll(async () => {
      const s = await canvasStats(page, sel);
      return s.colors > 1 && (sel !== '#pad-out' || s.hash !== out0.hash);
    }, {
      timeout: 15_000,
      message: async () => `${sel} to show the drawn digit (before: ${JSON.stringify(out0)}, ` +
        `now: ${JSON.stringify(await canvasStats(page, sel))})`,
    });
  }

  await page.click('#pad-clear');
  await poll(async () => (await canvasStats(page, '#pad')).colors === 1, {
    timeout: 5_000,
    message: async () => `#pad-clear to clear #pad (${JSON.stringify(await canvasStats(page, '#pad'))})`,
  });
}

appTest('drawing a 7 with the mouse updates #pad-noisy and #pad-out; #pad-clear clears', {}, async ({ page, logs }) => {
  await checkStroke(page, () => drawStroke(page, '#pad', SEVEN));
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});

appTest('drawing a 1 by touch (pointer events) works too', {
  contextOptions: { hasTouch: true },
}, async ({ page, logs }) => {
  await checkStroke(page, () => drawTouchStroke(page, '#pad', ONE));
  assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
});
