#!/usr/bin/env node
// scripts/screenshots.mjs — `make screenshots`: a PNG of every preset in every layout, for
// people to look at: screenshots/<layout>/<preset>.png after the preset has trained for a few
// seconds (on the CPU path), the first screen only (what a user sees without scrolling).
//
//   node scripts/screenshots.mjs [--seconds 8] [--presets dae_vincent,vae_20] [--layouts desktop,phone]
//        [--out screenshots] [--views first,compare,slow]
//
// Views: `first` the first screen; `compare` two runs compared (the preset against itself without
// noise, `compare=noise%3Dnone`), the screen scrolled to the runs; `slow` a step in slow motion
// (`slow=1`: trained, paused, one Step inside), the screen scrolled to it; `compare-first` the
// first screen with two runs compared (the loss chart overlays them). Files:
// <layout>/<preset>.png, <layout>/<preset>-compare.png, <layout>/<preset>-slow.png, <layout>/<preset>-compare-first.png.
//
// Layouts: desktop 1440×900, lecture1080 (1920×1080, lecture=1), lecture720 (1280×720,
// lecture=1), phone 390×844. Needs dist/ (make build) and node_modules (make deps-test).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, ensureDist, startServer, launchBrowser, waitForState } from '../tests/e2e/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const LAYOUTS = {
  desktop: { width: 1440, height: 900, query: '' },
  lecture1080: { width: 1920, height: 1080, query: '&lecture=1' },
  lecture720: { width: 1280, height: 720, query: '&lecture=1' },
  phone: { width: 390, height: 844, query: '' },
};
const SECONDS = Number(opt('seconds', '8'));
const OUT = opt('out', join(ROOT, 'screenshots'));
const layouts = opt('layouts', Object.keys(LAYOUTS).join(',')).split(',');
const VIEWS = {
  first: { query: '', file: '' },
  compare: { query: '&compare=noise%3Dnone', file: '-compare', scroll: '#runs' },
  'compare-first': { query: '&compare=noise%3Dnone', file: '-compare-first' },
  slow: { query: '&slow=1', file: '-slow', scroll: '#inside', inside: true },
};
const views = opt('views', 'first').split(',');

ensureDist();
const server = await startServer();
try {
  // The catalogue as the page lists it (the preset picker's options).
  let presets = opt('presets', null)?.split(',');
  if (!presets) {
    const ctx = await launchBrowser();
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(server.url + '?backend=cpu', { waitUntil: 'load' });
    await waitForState(page, 'ready', 180_000);
    presets = await page.$$eval('#preset-select option', (os) => os.map((o) => o.value).filter((v) => v !== 'custom'));
    await ctx.close();
  }
  for (const name of layouts) {
    const L = LAYOUTS[name];
    if (!L) throw new Error(`no layout ${name} (${Object.keys(LAYOUTS).join(', ')})`);
    mkdirSync(join(OUT, name), { recursive: true });
    for (const preset of presets) for (const v of views) {
      const V = VIEWS[v];
      if (!V) throw new Error(`no view ${v} (${Object.keys(VIEWS).join(', ')})`);
      const ctx = await launchBrowser({ contextOptions: { viewport: { width: L.width, height: L.height } } });
      try {
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        await page.goto(`${server.url}?backend=cpu&preset=${preset}${L.query}${V.query}`, { waitUntil: 'load' });
        await waitForState(page, 'ready', 180_000);
        await page.click('#train');
        await page.waitForTimeout(SECONDS * 1000);
        if (V.inside) {
          await page.click('#pause');
          await waitForState(page, 'paused', 60_000);
          const at = Number(await page.getAttribute('#inside-digits', 'data-step'));
          await page.click('#inside-step');
          await page.waitForFunction((n) => Number(document.getElementById('inside-digits').dataset.step) > n, at, { timeout: 60_000 });
        }
        if (V.scroll) {
          await page.evaluate((sel) => document.querySelector(sel).scrollIntoView({ block: 'start' }), V.scroll);
          await page.waitForTimeout(300);
        }
        const file = join(OUT, name, `${preset}${V.file}.png`);
        await page.screenshot({ path: file });
        console.log(file);
      } finally {
        await ctx.close();
      }
    }
  }
} finally {
  await server.close();
}
