// tests/e2e/layouts.mjs — the four layouts the charts and accessibility tests visit (a laptop,
// a phone, lecture mode on a 1080p and a 720p projector) and how a test switches a page with a
// training run in it between them without reloading.

import { poll } from './harness.mjs';

export const LAYOUTS = [
  { name: 'desktop 1440×900', width: 1440, height: 900, lecture: false },
  { name: 'phone 390×844', width: 390, height: 844, lecture: false },
  { name: 'lecture 1920×1080', width: 1920, height: 1080, lecture: true },
  { name: 'lecture 1280×720', width: 1280, height: 720, lecture: true },
];

/** Switches to layout L: the viewport size and lecture mode (through the page's own toggle). */
export async function applyLayout(page, L) {
  await page.setViewportSize({ width: L.width, height: L.height });
  const on = await page.evaluate(() => document.getElementById('app').classList.contains('lecture'));
  if (on !== L.lecture) {
    await page.evaluate(() => document.getElementById('lecture-toggle').click());
    await poll(async () => (await page.evaluate(() => document.getElementById('app').classList.contains('lecture'))) === L.lecture, { timeout: 5_000, message: () => `lecture mode ${L.lecture ? 'on' : 'off'}` });
  }
  await page.waitForTimeout(400); // the resize observer redraws the charts
}

