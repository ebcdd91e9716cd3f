// tests/e2e/security.test.mjs — the page's Content-Security-Policy: scripts, workers, data
// and connections from its own origin only, WebAssembly compilation allowed, no inline
// script and no eval; the page (worker included) loads, trains and draws without breaking
// it, and asks nothing of any other origin.

import assert from 'node:assert/strict';
import { appTest, waitForState, poll, readSteps } from './harness.mjs';

function collectViolations() {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
  });
}

appTest('a strict Content-Security-Policy, no violation, no request to another origin', { timeout: 240_000 }, async ({ page, server }) => {
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  page.context().on('request', (r) => requests.push(r.url()));
  await page.addInitScript(collectViolations);
  await page.goto(`${server.url}?backend=cpu`, { waitUntil: 'load' });
  await waitForState(page, 'ready', 120_000);
  const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
  assert.ok(csp, 'the page has a Content-Security-Policy');
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(directives['script-src'], ["'self'", "'wasm-unsafe-eval'"], `script-src: ${csp}`);
  assert.deepEqual(directives['worker-src'], ["'self'"], `worker-src: ${csp}`);
  assert.deepEqual(directives['connect-src'], ["'self'"], `connect-src: ${csp}`);
  assert.deepEqual(directives['default-src'], ["'self'"], `default-src: ${csp}`);
  assert.ok(!/unsafe-eval'/.test(csp.replace("'wasm-unsafe-eval'", '')), `no 'unsafe-eval': ${csp}`);
  assert.equal(await page.$$eval('script:not([src])', (s) => s.length), 0, 'no inline script in the page');
  // Train, draw, and open the menu: everything works under the policy.
  await page.click('#train');
  await poll(async () => (await readSteps(page)) > 100, { timeout: 60_000, message: () => 'training under the policy' });
  await page.click('#pause');
  await waitForState(page, 'paused', 10_000);
  await page.click('#menu summary');
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], 'Content-Security-Policy violations');
  const origin = new URL(server.url).origin;
  const outside = requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin);
  assert.deepEqual(outside, [], 'requests to another origin');
  assert.ok(requests.some((u) => u.includes('/worker.js')), 'the worker was loaded from the page\'s origin');
});
