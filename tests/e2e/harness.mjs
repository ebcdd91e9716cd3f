// tests/e2e/harness.mjs — shared helpers for the browser end-to-end tests (node --test tests/e2e/).
//
// - startServer(): scripts/serve.mjs's zero-dependency static file server over dist/ (trunk's
//   output, with dist/data/ holding the MNIST files) on a free port of 127.0.0.1: explicit
//   Content-Type and Content-Length, Cache-Control: no-cache, no Content-Encoding unless asked
//   (gzip: as static hosts compress), and no other header unless asked (by default no
//   COOP/COEP: a plain static host; ISOLATING: a host that sends them). A `handle(req, res,
//   path)` option answers some requests itself (returns true when it did), e.g. a download
//   that stalls; `throttle` makes it a slow link.
// - launchBrowser() / launchBrowserWebGPU(): headless Debian Chromium (/usr/bin/chromium) via
//   playwright-core, each with a fresh temporary user-data-dir; the WebGPU variant adds the
//   SwiftShader flags under which navigator.gpu.requestAdapter() returns a (CPU-emulated) adapter.
// - appTest(): node:test wrapper that opens the app in a new browser + page per test, collects
//   console errors, page errors and failed requests, and prints them when the test fails. A test
//   FAILS on any uncaught page error or console error unless it matches the test's explicit
//   `allowErrors` list (regular expressions for the errors a test provokes on purpose).
// - helpers for the page's DOM contract: data-state on #app, numbers in #step-count etc.,
//   canvas pixel statistics.

import { test } from 'node:test';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer as serve, ISOLATING } from '../../scripts/serve.mjs';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
// E2E_DIST points the tests at another build directory (default: dist/).
export const DIST = process.env.E2E_DIST ? resolve(process.env.E2E_DIST) : join(ROOT, 'dist');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const DATA_FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];

/**
 * The files the app fetches for its data, by the manifest in `dir`/data: each file, or its
 * parts where the manifest lists them (the training images).
 */
export function dataPieces(dir = DIST) {
  const manifest = JSON.parse(readFileSync(join(dir, 'data', 'manifest.json'), 'utf8'));
  return Object.entries(manifest.files).flatMap(([name, info]) =>
    Array.isArray(info.parts) && info.parts.length ? info.parts.map((p) => p.file) : [name]);
}


export const BASE_ARGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader',
];

// ---------------------------------------------------------------------------------------------
// dist/ check and static server

/** Throws a clear error unless dist/ holds a trunk build and the data files. */
export function ensureDist(dir = DIST) {
  let missing = ['index.html', 'data/manifest.json', ...DATA_FILES.map((f) => `data/${f}`)]
    .filter((f) => !existsSync(join(dir, f)));
  if (!missing.length) missing = dataPieces(dir).map((f) => `data/${f}`).filter((f) => !existsSync(join(dir, f)));
  if (missing.length) {
    throw new Error(
      `${dir} is not built or incomplete (missing: ${missing.join(', ')}).\n` +
      `Run 'make build' (trunk build --release --offline, data in www/data copied to dist/data) ` +
      `before the browser tests.`);
  }
}

export { ISOLATING };

/** scripts/serve.mjs's static server over dist/ (by default) on a free port. */
export function startServer(root = DIST, options = {}) {
  return serve(root, options);
}

// ---------------------------------------------------------------------------------------------
// browser

/**
 * Launches headless Chromium with a fresh temporary profile. Returns the persistent
 * BrowserContext; context.close() also removes the profile directory.
 * Options: { webgpu: boolean, args: string[] (extra flags), contextOptions (e.g. hasTouch) }.
 */
export async function launchBrowser({ webgpu = false, args = [], contextOptions = {} } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'aeplay-e2e-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...BASE_ARGS, ...(webgpu ? WEBGPU_ARGS : []), ...args],
      viewport: { width: 1280, height: 1000 },
      timeout: 60_000,
      ...contextOptions,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const close = context.close.bind(context);
  context.close = async (...a) => {
    try {
      await close(...a);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  };
  return context;
}

/** launchBrowser() with the SwiftShader WebGPU flags (navigator.gpu gets an adapter). */
export function launchBrowserWebGPU(opts = {}) {
  return launchBrowser({ ...opts, webgpu: true });
}

/** Records console errors, page errors and failed requests of a page. */
export function collectLogs(page) {
  const logs = { console: [], pageErrors: [], requests: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      logs.console.push(`[${msg.type()}] ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => logs.pageErrors.push(String(err?.stack || err)));
  page.on('requestfailed', (req) => logs.requests.push(`FAILED ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('response', (res) => {
    if (res.status() >= 400) logs.requests.push(`HTTP ${res.status()} ${res.url()}`);
  });
  return logs;
}

/**
 * Throws unless every uncaught page error and console error matches one of `allow` (regular
 * expressions). Warnings are not errors. A wasm panic is a page error (and a console error from
 * the panic hook), so it fails every test that does not expect it.
 */
export function assertNoUnexpectedErrors(logs, allow = []) {
  const unexpected = [
    ...logs.pageErrors.map((e) => `page error: ${e}`),
    ...logs.console.filter((m) => m.startsWith('[error]')).map((m) => `console: ${m}`),
  ].filter((m) => !allow.some((re) => re.test(m)));
  if (unexpected.length) {
    throw new Error(`unexpected errors in the page (${unexpected.length}):\n${unexpected.join('\n')}`);
  }
}

export function formatLogs(logs) {
  const part = (title, list) => `--- ${title} (${list.length}) ---\n${list.join('\n') || '(none)'}`;
  return [
    part('page errors', logs.pageErrors),
    part('console errors/warnings', logs.console),
    part('failed requests / HTTP errors', logs.requests),
  ].join('\n');
}

// Installed before the app's scripts run: remembers what the data-loading UI showed, since the
// progress bar can come and go faster than a poll from the test.
function recorderScript() {
  // Times are ms since the navigation started (performance.now()).
  const rec = { progressSeen: false, progressMax: 0, statusTexts: [], states: [], readyMs: null, firstStepMs: null, firstStepData: null, completeMs: null };
  window.__e2e = rec;
  const look = () => {
    const p = document.getElementById('data-progress');
    if (p) {
      rec.progressSeen = true;
      rec.progressMax = Math.max(rec.progressMax, Number(p.max) || 0);
    }
    const s = document.getElementById('data-status');
    const text = s && s.textContent.trim();
    if (text && rec.statusTexts[rec.statusTexts.length - 1] !== text) rec.statusTexts.push(text);
    const app = document.getElementById('app');
    const state = app && app.dataset.state;
    if (state && rec.states[rec.states.length - 1] !== state) rec.states.push(state);
    if (state === 'ready' && rec.readyMs === null) rec.readyMs = performance.now();
    const step = Number(document.getElementById('step-count')?.textContent.replace(/,/g, ''));
    if (step >= 1 && rec.firstStepMs === null) {
      rec.firstStepMs = performance.now();
      rec.firstStepData = app?.dataset.data ?? null;
    }
    if (app?.dataset.data === 'complete' && rec.completeMs === null) rec.completeMs = performance.now();
  };
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
}

/**
 * Opens the app in a fresh browser. Options: { webgpu, route: async (context) => {} (install
 * page.route handlers before navigation), args, contextOptions, serverOptions (startServer's)
 * }. Returns { context, page, server, logs, close }.
 */
export async function openApp({ webgpu = false, route, args, contextOptions, serverOptions } = {}) {
  ensureDist();
  const server = await startServer(DIST, serverOptions);
  let context;
  try {
    context = await launchBrowser({ webgpu, args, contextOptions });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    const logs = collectLogs(page);
    await page.addInitScript(recorderScript);
    if (route) await route(page);
    await page.goto(server.url, { waitUntil: 'load', timeout: 60_000 });
    return {
      context, page, server, logs,
      close: async () => {
        await context.close().catch(() => {});
        await server.close();
      },
    };
  } catch (e) {
    await context?.close().catch(() => {});
    await server.close();
    throw e;
  }
}

/**
 * node:test wrapper: a new browser + page per test. On failure the error message gets the
 * page's state, error text, console errors, page errors and failed requests appended.
 * fn receives { page, logs, server, context }. Options: { timeout, webgpu, route, args,
 * contextOptions, serverOptions }.
 */
export function appTest(name, opts, fn) {
  const { timeout = 180_000, allowErrors = [], ...appOpts } = opts;
  test(name, { timeout }, async () => {
    const app = await openApp(appOpts);
    try {
      await fn(app);
      assertNoUnexpectedErrors(app.logs, allowErrors);
    } catch (e) {
      let snapshot = '';
      try {
        snapshot = JSON.stringify(await pageSnapshot(app.page), null, 2);
      } catch (err) {
        snapshot = `(page snapshot failed: ${err.message})`;
      }
      const extra = `\n--- page snapshot ---\n${snapshot}\n${formatLogs(app.logs)}`;
      if (e instanceof Error) e.message += extra;
      else console.error(`[${name}] FAILED: ${e}${extra}`);
      throw e;
    } finally {
      await app.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// DOM contract helpers

/** State of the UI elements the tests look at (for failure messages and polling). */
export function pageSnapshot(page) {
  return page.evaluate(() => {
    const text = (id) => {
      const el = document.getElementById(id);
      return el ? el.textContent.trim() : null;
    };
    const err = document.getElementById('error');
    return {
      state: document.getElementById('app')?.dataset.state ?? null,
      stepCount: text('step-count'),
      trainLoss: text('train-loss'),
      testLoss: text('test-loss'),
      samplesPerS: text('samples-per-s'),
      backend: text('backend'),
      dataStatus: text('data-status'),
      dataSource: text('data-source'),
      dataIn: text('data-in'),
      data: document.getElementById('app')?.dataset.data ?? null,
      error: err ? err.textContent.trim() : null,
      errorVisible: !!(err && err.getClientRects().length && getComputedStyle(err).visibility !== 'hidden'),
      recorded: window.__e2e ?? null,
    };
  });
}

/**
 * Waits until #app's data-state is one of `states` (string or array) and, unless
 * `{ partial: true }`, all the data is in (#app's data-data: the training images arrive in
 * parts while the first trains, and a test that compares runs wants them all); returns the
 * state.
 */
export async function waitForState(page, states, timeout = 120_000, { partial = false } = {}) {
  const want = [].concat(states);
  try {
    const h = await page.waitForFunction(
      ([w, partial]) => {
        const app = document.getElementById('app');
        const s = app?.dataset.state;
        const whole = partial || s === 'loading' || s === 'error' || app?.dataset.data === 'complete';
        return w.includes(s) && whole ? s : false;
      },
      [want, partial],
      { timeout, polling: 100 },
    );
    return await h.jsonValue();
  } catch (e) {
    const snap = await pageSnapshot(page).catch(() => ({}));
    throw new Error(`#app data-state did not become ${want.join('|')}${partial ? '' : ' with all the data in'} within ${timeout / 1000} s ` +
      `(state: ${snap.state}, #error: ${JSON.stringify(snap.error)}, ` +
      `#data-status: ${JSON.stringify(snap.dataStatus)}, #data-in: ${JSON.stringify(snap.dataIn)})`);
  }
}

/** Parses a displayed number ("1,234", "0.0312", "3.1e-2"); NaN for "–" or empty. */
export function parseDisplayed(text) {
  if (text == null) return NaN;
  const t = String(text).trim().replace(/[,\u202f\u00a0_ ]/g, '');
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return NaN;
  return Number(t);
}

export async function readNumber(page, selector) {
  return parseDisplayed(await page.locator(selector).textContent());
}

/** Step count as an integer (throws if #step-count is not an integer). */
export async function readSteps(page) {
  const text = await page.locator('#step-count').textContent();
  const n = parseDisplayed(text);
  if (!Number.isInteger(n)) throw new Error(`#step-count is not an integer: ${JSON.stringify(text)}`);
  return n;
}

/** Polls `fn` (async, returns truthy when done) every `interval` ms; throws `message()` on timeout. */
export async function poll(fn, { timeout = 30_000, interval = 250, message = () => 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) {
      const m = await message();
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${m}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Pixel statistics of a canvas (copied through a 2D canvas, so it works whatever context the
 * app used): { width, height, colors (distinct RGBA values, capped at 1000), dominant (share of
 * the most common colour), hash (FNV-1a of the pixels) }. "Blank" = colors === 1.
 */
export function canvasStats(page, selector) {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    if (!c) throw new Error(`${sel} not found`);
    if (!(c instanceof HTMLCanvasElement)) throw new Error(`${sel} is not a <canvas>`);
    if (!c.width || !c.height) return { width: c.width, height: c.height, colors: 0, dominant: 1, hash: 0 };
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d');
    ctx.drawImage(c, 0, 0);
    const px = new Uint32Array(ctx.getImageData(0, 0, c.width, c.height).data.buffer);
    const counts = new Map();
    let hash = 0x811c9dc5;
    for (let i = 0; i < px.length; i++) {
      const v = px[i];
      if (counts.size < 1000 || counts.has(v)) counts.set(v, (counts.get(v) || 0) + 1);
      hash = Math.imul(hash ^ v, 16777619) >>> 0;
    }
    const dominant = Math.max(...counts.values()) / px.length;
    return { width: c.width, height: c.height, colors: counts.size, dominant, hash };
  }, selector);
}

/**
 * The pixels of a canvas as grey levels 0..255 ((r+g+b)/3), with a colour count: { width, height,
 * gray: number[], count(rgb: '#rrggbb') } where count gives how many pixels have that colour
 * (within ±24 per channel, for anti-aliasing). Copied through a 2D canvas like canvasStats.
 */
export async function canvasPixels(page, selector) {
  const { width, height, rgba } = await page.evaluate((sel) => {
    const c = document.querySelector(sel);
    if (!(c instanceof HTMLCanvasElement)) throw new Error(`${sel} is not a <canvas>`);
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d');
    ctx.drawImage(c, 0, 0);
    return { width: c.width, height: c.height, rgba: Array.from(ctx.getImageData(0, 0, c.width, c.height).data) };
  }, selector);
  const gray = [];
  for (let i = 0; i < rgba.length; i += 4) gray.push((rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3);
  const count = (hex) => {
    const want = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
    let n = 0;
    for (let i = 0; i < rgba.length; i += 4) {
      if (want.every((w, j) => Math.abs(rgba[i + j] - w) <= 24)) n++;
    }
    return n;
  };
  return { width, height, gray, count };
}

/** The grey levels of a rectangle of a canvasPixels() image, row by row. */
export function crop(img, x, y, w, h) {
  const out = [];
  for (let r = y; r < y + h; r++) for (let c = x; c < x + w; c++) out.push(img.gray[r * img.width + c]);
  return out;
}

/** Pearson correlation of two equally long arrays (0 when either is constant). */
export function correlation(a, b) {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/**
 * Makes `selector` reachable: opens the menu (a closed <details>) it sits in. The file actions,
 * Copy link, lecture mode and the shortcuts live in the page's "More" menu.
 */
export async function reveal(page, selector) {
  await page.evaluate((sel) => {
    const d = document.querySelector(sel)?.closest('details');
    if (d && !d.open) d.open = true;
  }, selector);
}

/** Clicks an element, opening the menu it sits in first. */
export async function clickIn(page, selector) {
  await reveal(page, selector);
  await page.click(selector);
}

/** Draws a polyline (points in 0..1 of the element's box) with the mouse: down, moves, up. */
export async function drawStroke(page, selector, points, stepsPerSegment = 8) {
  await page.locator(selector).scrollIntoViewIfNeeded();
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not visible`);
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: stepsPerSegment });
  await page.mouse.up();
}

/** Resolves like `promise`, or rejects with `message` after `ms` (the timer does not linger). */
export async function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (after ${ms / 1000} s)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Same as drawStroke, with touch events (through the DevTools protocol: one finger). */
export async function drawTouchStroke(page, selector, points, stepsPerSegment = 8) {
  await page.locator(selector).scrollIntoViewIfNeeded();
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not visible`);
  const at = ([x, y]) => ({ x: box.x + x * box.width, y: box.y + y * box.height, id: 1 });
  const cdp = await page.context().newCDPSession(page);
  try {
    const send = (type, touchPoints) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints });
    await send('touchStart', [at(points[0])]);
    for (let i = 1; i < points.length; i++) {
      const [x0, y0] = points[i - 1];
      const [x1, y1] = points[i];
      for (let k = 1; k <= stepsPerSegment; k++) {
        const f = k / stepsPerSegment;
        await send('touchMove', [at([x0 + (x1 - x0) * f, y0 + (y1 - y0) * f])]);
      }
    }
    await send('touchEnd', []);
  } finally {
    await cdp.detach();
  }
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandomBytes(n, seed = 12345) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
