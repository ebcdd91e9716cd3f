// tests/e2e/layout.test.mjs — the page's three layouts at real screen sizes, after a few
// seconds of training: on a laptop (1440×900) the controls, the loss, the reconstructions,
// the pad with its outputs and the model's pictures lie in the first screen; on a projector
// (lecture mode, 1920×1080 and 1280×720) the pad with its three outputs, the reconstruction
// grid and the loss chart do, with body text of at least 24 px and chart labels of at least
// 18 px at 1080p; on a phone (390×844) the pad, its outputs and Train do, the file actions sit
// in the menu. Nothing scrolls sideways anywhere. `hide=` works outside lecture mode too, and
// a choice in the preset list gives the focus back to the page (space trains).

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, readSteps } from './harness.mjs';

const LAYOUTS = [
  {
    name: 'desktop 1440×900', width: 1440, height: 900, query: '?backend=cpu',
    inView: ['#train', '#pause', '#step', '#reset', '#preset-select', '#backend-select', '#loss-chart', '#recon', '#pad', '#pad-input', '#pad-noisy', '#pad-out', '#features', '#latent', '#model-picture', '#step-count', '#train-loss'],
  },
  {
    name: 'lecture 1920×1080', width: 1920, height: 1080, query: '?backend=cpu&lecture=1',
    inView: ['#train', '#pause', '#step', '#reset', '#pad', '#pad-input', '#pad-noisy', '#pad-out', '#recon', '#loss-chart', '#train-loss'],
    bodyPx: 24, chartPx: 18,
  },
  {
    name: 'lecture 1280×720', width: 1280, height: 720, query: '?backend=cpu&lecture=1',
    inView: ['#train', '#pause', '#step', '#reset', '#pad', '#pad-input', '#pad-noisy', '#pad-out', '#recon', '#loss-chart'],
  },
  {
    name: 'phone 390×844', width: 390, height: 844, query: '?backend=cpu',
    inView: ['#train', '#pause', '#pad', '#pad-input', '#pad-noisy', '#pad-out', '#preset-select'],
    inMenu: ['#save-model', '#forget-model', '#save-csv', '#copy-link'],
  },
  {
    name: 'phone 390×844 in lecture mode', width: 390, height: 844, query: '?backend=cpu&lecture=1',
    inView: ['#train', '#pad', '#pad-out'],
  },
];

/** Boxes of the selectors and whether each lies wholly inside the viewport. */
function boxes(page, selectors) {
  return page.evaluate((sels) => sels.map((s) => {
    const el = document.querySelector(s);
    if (!el) return { s, missing: true };
    const r = el.getBoundingClientRect();
    const inside = r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5;
    return { s, inside, top: Math.round(r.top), bottom: Math.round(r.bottom), left: Math.round(r.left), right: Math.round(r.right) };
  }), selectors);
}

for (const L of LAYOUTS) {
  appTest(`layout: ${L.name}`, { timeout: 200_000, contextOptions: { viewport: { width: L.width, height: L.height } } }, async ({ page, server }) => {
    await page.goto(server.url + L.query, { waitUntil: 'load' });
    await waitForState(page, 'ready', 120_000);
    await page.click('#train');
    await poll(async () => (await readSteps(page)) > 200, { timeout: 60_000, message: () => 'some training' });
    await page.waitForTimeout(2500); // the pictures' first refresh while training
    await page.evaluate(() => window.scrollTo(0, 0));
    for (const b of await boxes(page, L.inView)) {
      assert.ok(!b.missing, `${L.name}: ${b.s} is missing`);
      assert.ok(b.inside, `${L.name}: ${b.s} is not in the first screen (${JSON.stringify(b)})`);
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    assert.ok(overflow <= 0, `${L.name}: the page scrolls sideways by ${overflow} px`);
    if (L.bodyPx) {
      const px = await page.evaluate(() => {
        const size = (sel) => parseFloat(getComputedStyle(document.querySelector(sel)).fontSize);
        return { app: size('#app'), stat: size('#train-loss'), button: size('#train'), about: size('#preset-about'), h2: size('.pad-panel h2') };
      });
      for (const [k, v] of Object.entries(px)) {
        assert.ok(v >= L.bodyPx, `${L.name}: ${k} text is ${v} px (at least ${L.bodyPx})`);
      }
    }
    if (L.chartPx) {
      const font = Number(await page.getAttribute('#loss-chart', 'data-font-px'));
      assert.ok(font >= L.chartPx, `${L.name}: the loss chart's labels are ${font} px (at least ${L.chartPx})`);
      // Drawn for its displayed size (× devicePixelRatio).
      const size = await page.$eval('#loss-chart', (c) => ({ w: c.width, cw: c.clientWidth, dpr: devicePixelRatio }));
      assert.ok(Math.abs(size.w - size.cw * size.dpr) <= 1, `the chart's canvas matches its box: ${JSON.stringify(size)}`);
    }
    for (const s of L.inMenu ?? []) {
      assert.equal(await page.isVisible(s), false, `${L.name}: ${s} sits in the closed menu`);
    }
    if (L.inMenu) {
      await page.click('#menu summary');
      for (const s of L.inMenu) assert.equal(await page.isVisible(s), true, `${L.name}: ${s} in the open menu`);
      const overflowOpen = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      assert.ok(overflowOpen <= 0, `${L.name}: the open menu makes the page scroll sideways by ${overflowOpen} px`);
    }
  });
}

appTest('hide= works outside lecture mode; a preset choice gives the focus back to the page', { timeout: 200_000 }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=cpu&hide=noise,batch`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  assert.equal(await page.isVisible('#noise-kind'), false, 'hide=noise hides the noise control without lecture=1');
  assert.equal(await page.isVisible('#batch'), false, 'hide=batch hides the batch size');
  assert.equal(await page.isVisible('#lr'), true);
  await page.selectOption('#preset-select', 'tied_ae');
  await poll(async () => (await page.$eval('#preset-select', (s) => s.value)) === 'tied_ae' && (await page.getAttribute('#app', 'data-state')) === 'ready', { message: () => 'tied_ae' });
  assert.notEqual(await page.evaluate(() => document.activeElement?.id), 'preset-select', 'the list keeps no focus');
  await page.keyboard.press(' ');
  await waitForState(page, 'training', 10_000);
});

/** Boxes that stick out of the page or of their panel sideways, and cut-off table text. */
function cutOff(page, selectors) {
  return page.evaluate((sels) => {
    const bad = [];
    for (const s of sels) {
      for (const el of document.querySelectorAll(s)) {
        const r = el.getBoundingClientRect();
        const panel = el.closest('.panel')?.getBoundingClientRect();
        if (r.width <= 0 || r.height <= 0) bad.push(`${s}: not shown`);
        else if (r.left < -0.5 || r.right > innerWidth + 0.5) bad.push(`${s}: outside the page (${Math.round(r.left)}–${Math.round(r.right)})`);
        else if (panel && (r.left < panel.left - 0.5 || r.right > panel.right + 0.5)) bad.push(`${s}: outside its panel`);
      }
    }
    const wrap = document.querySelector('.runs-table-wrap');
    if (wrap && wrap.scrollWidth > wrap.clientWidth + 1) bad.push(`the runs table is wider than its panel (${wrap.scrollWidth} > ${wrap.clientWidth})`);
    return bad;
  }, selectors);
}

appTest('layout: two runs compared and a step in slow motion fit every layout, nothing cut off', { timeout: 300_000 }, async ({ page, server }) => {
  const { LAYOUTS: FOUR, applyLayout } = await import('./layouts.mjs');
  await page.goto(`${server.url}?preset=dae_vincent&backend=cpu&compare=noise%3Dnone&slow=1`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.click('#train');
  await poll(async () => (await readSteps(page)) > 100, { timeout: 60_000, message: () => 'some training' });
  await page.click('#pause');
  await waitForState(page, 'paused', 30_000);
  await page.click('#inside-step');
  await poll(async () => Number(await page.getAttribute('#inside-digits', 'data-step')) > 100, { timeout: 60_000, message: () => 'a step in slow motion' });
  for (const L of FOUR) {
    await applyLayout(page, L);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    assert.ok(overflow <= 0, `${L.name}: the page scrolls sideways by ${overflow} px`);
    const bad = await cutOff(page, ['#runs-table tbody tr', '#run-A-recon', '#run-B-recon', '#run-A-features', '#run-B-features', '#inside-digits', '#inside-code', '#inside-error', '#inside-units', '#inside-step']);
    assert.deepEqual(bad, [], `${L.name}: ${bad.join('; ')}`);
    // The slow-motion view fits one screen: scrolled to it, its pictures are in view.
    await page.evaluate(() => document.getElementById('inside').scrollIntoView({ block: 'start' }));
    const view = await boxes(page, ['#inside-step', '#inside-digits', '#inside-error', '#inside-units']);
    for (const b of view) assert.ok(b.inside, `${L.name}: ${b.s} is not in view with the slow-motion panel (${JSON.stringify(b)})`);
    if (L.width >= 760) {
      // Two runs fit one screen: scrolled to the runs, both rows of pictures are in view.
      await page.evaluate(() => document.getElementById('runs').scrollIntoView({ block: 'start' }));
      const runs = await boxes(page, ['#runs-table', '#run-A-recon', '#run-B-recon', '#run-A-features', '#run-B-features']);
      for (const b of runs) assert.ok(b.inside, `${L.name}: ${b.s} is not in view with the runs (${JSON.stringify(b)})`);
    } else {
      // On a phone the runs sit under one another, each one's pictures within one screen.
      const tall = await page.$$eval('.run-pics', (fs) => fs.map((f) => f.getBoundingClientRect().height));
      assert.ok(tall.length === 2 && tall.every((h) => h > 0 && h <= L.height), `${L.name}: each run's pictures fit the screen (${tall})`);
    }
  }
});
