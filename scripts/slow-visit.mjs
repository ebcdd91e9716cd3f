#!/usr/bin/env node
// scripts/slow-visit.mjs — a first visit over a slow link, timed: dist/ served by
// scripts/serve.mjs as one link of --rate bytes/s in all with --latency ms before each answer
// (default 2 Mbit/s and 150 ms: a lecture hall's shared Wi-Fi), gzip'd as static hosts serve
// it and, with --plain too, from a server that does not compress. A fresh browser profile
// each time (a first visit: nothing cached); Train pressed as soon as it is enabled. Prints
// one JSON line per visit, times in seconds after opening the link:
//
//   {server, controls_s, first_step_s, data_complete_s, training_images_at_first_step}
//
//   node scripts/slow-visit.mjs [--rate 250000] [--latency 150] [--plain] [--runs 1]
//
// Needs dist/ (make build) and node_modules (make deps-test).

import { openApp, waitForState, readSteps, poll, pageSnapshot } from '../tests/e2e/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const RATE = Number(opt('rate', '250000'));
const LATENCY = Number(opt('latency', '150'));
const RUNS = Number(opt('runs', '1'));
const servers = args.includes('--plain') ? [true, false] : [true];

for (let run = 0; run < RUNS; run++) {
  for (const gzip of servers) {
    const app = await openApp({ serverOptions: { gzip, throttle: { rate: RATE, latency: LATENCY } } });
    try {
      const { page } = app;
      await waitForState(page, 'ready', 300_000, { partial: true });
      await page.click('#train');
      await poll(async () => (await readSteps(page)) >= 1, { timeout: 120_000, message: () => 'a first step' });
      const inAtFirst = (await page.textContent('#data-in')).match(/in: ([\d,]+) of/)?.[1] ?? 'all';
      await page.waitForSelector('#app[data-data="complete"]', { timeout: 600_000 });
      const rec = (await pageSnapshot(page)).recorded;
      const s = (ms) => (ms === null ? null : Number((ms / 1000).toFixed(1)));
      console.log(JSON.stringify({
        server: gzip ? 'gzip' : 'plain', rate_bytes_per_s: RATE, latency_ms: LATENCY,
        controls_s: s(rec.readyMs), first_step_s: s(rec.firstStepMs), data_complete_s: s(rec.completeMs),
        training_images_at_first_step: inAtFirst,
      }));
    } finally {
      await app.close();
    }
  }
}
