// tests/e2e/a11y.test.mjs — an accessibility audit: axe-core (npm, pinned in package.json)
// injected into the page runs the WCAG 2.0/2.1 A and AA rules and finds no violation at any of
// the four layouts (1440×900, 390×844, lecture mode at 1920×1080 and 1280×720), while a model
// trains and with a recipe. The page's Content-Security-Policy refuses injected scripts, so
// this test's browser context bypasses CSP (as scripts/bench-web.mjs does); the other tests
// keep the policy.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { appTest, waitForState, poll, readSteps } from './harness.mjs';
import { LAYOUTS, applyLayout } from './layouts.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** Runs axe on the page; returns its violations, one line each (rule, impact, elements). */
async function audit(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`) }));
  }, TAGS);
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`);
}

async function auditEveryLayout(page, what) {
  for (const L of LAYOUTS) {
    await applyLayout(page, L);
    const v = await audit(page);
    assert.deepEqual(v, [], `${what} at ${L.name}: axe finds WCAG 2.1 A/AA violations:\n${v.join('\n')}`);
  }
}

appTest('accessibility: no WCAG 2.1 A/AA violation at any layout while training', { timeout: 150_000, contextOptions: { bypassCSP: true, viewport: { width: 1440, height: 900 } } }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.click('#train');
  await poll(async () => (await readSteps(page)) > 100, { timeout: 60_000, message: () => 'some training' });
  await page.waitForTimeout(1500); // the pictures' first refresh
  await auditEveryLayout(page, 'training');
  assert.equal(await page.getAttribute('#app', 'data-state'), 'training', 'it trained all along');
});

appTest('accessibility: no WCAG 2.1 A/AA violation at any layout with a recipe', { timeout: 150_000, contextOptions: { bypassCSP: true, viewport: { width: 1440, height: 900 } } }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=cpu&preset=sda&cap=20`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.click('#train');
  await poll(async () => Number(await page.getAttribute('#recipe', 'data-phase')) >= 1, { timeout: 60_000, message: async () => `the recipe's second phase (${await page.textContent('#recipe-progress').catch(() => '')})` });
  await page.waitForTimeout(1000);
  await auditEveryLayout(page, 'a recipe');
});

appTest('accessibility: no WCAG 2.1 A/AA violation at any layout with runs compared and a step in slow motion', { timeout: 150_000, contextOptions: { bypassCSP: true, viewport: { width: 1440, height: 900 } } }, async ({ page, server }) => {
  await page.goto(`${server.url}?backend=cpu&preset=vae_20&compare=noise%3Dmasking:0.7&slow=1`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  await page.click('#inside-step');
  await poll(async () => Number(await page.getAttribute('#inside-digits', 'data-step')) === 1, { timeout: 60_000, message: () => 'a step in slow motion' });
  await poll(async () => (await page.$$('#runs-table tbody tr')).length === 2, { message: () => 'two runs' });
  await auditEveryLayout(page, 'runs compared, a step in slow motion');
});
