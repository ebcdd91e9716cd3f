// tests/e2e/files.test.mjs — files in and out of the page: "Save model" downloads a
// safetensors file that "Load model" continues exactly (same reconstructions, step, and the
// next step's loss); damaged or foreign files are refused with their own message in #error
// while the model stays usable; the last trained model is kept in the browser (IndexedDB) and
// resumed after a reload until "Start fresh"; every canvas has a PNG button; the losses come
// out as CSV.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appTest, waitForState, readSteps, poll, canvasStats, pseudoRandomBytes, reveal, clickIn,
} from './harness.mjs';

const READY_TIMEOUT = 120_000;

/** Clicks #step once and waits until the page shows the new step. */
async function stepOnce(page) {
  const s = await readSteps(page);
  await page.click('#step');
  await poll(async () => (await readSteps(page)) === s + 1, {
    timeout: 20_000,
    message: async () => `#step-count to reach ${s + 1} (at ${await readSteps(page)})`,
  });
}

/** Clicks `selector` and saves the download it starts into `dir`; returns { path, name }. */
async function download(page, selector, dir) {
  await reveal(page, selector);
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20_000 }), page.click(selector)]);
  const name = dl.suggestedFilename();
  const path = join(dir, name);
  await dl.saveAs(path);
  return { path, name };
}

async function reconHash(page) {
  return (await canvasStats(page, '#recon')).hash;
}

/** Waits until the recon canvas shows `hash` (a refresh is asynchronous). */
async function waitRecon(page, hash, what) {
  await poll(async () => (await reconHash(page)) === hash, {
    timeout: 20_000,
    message: async () => `#recon to ${what} (hash ${await reconHash(page)}, wanted ${hash})`,
  });
}

function tempDir() {
  return mkdtempSync(join(tmpdir(), 'aeplay-files-'));
}

/**
 * Trains `preset` 3 steps, saves, takes one more step, then `away` (Reset, or another preset)
 * and loads the file: the page must show the saved model and continue it exactly.
 */
async function saveAwayLoad(page, preset, away) {
  const dir = tempDir();
  try {
    await waitForState(page, 'ready', READY_TIMEOUT);
    if (preset !== 'dae_vincent') {
      await page.selectOption('#preset-select', preset);
      await poll(async () => (await page.locator('#preset-select').inputValue()) === preset, { message: () => `preset ${preset}` });
    }
    for (let i = 0; i < 3; i++) await stepOnce(page);
    const saved = await download(page, '#save-model', dir);
    assert.equal(saved.name, `${preset}-step3.safetensors`);
    const bytes = readFileSync(saved.path);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
    assert.equal(header.__metadata__.format, 'aeplay-model');
    assert.equal(header.__metadata__.step, '3');
    assert.equal(header.__metadata__.optim_t, '3', 'the file holds the optimizer state');
    assert.equal(JSON.parse(header.__metadata__.config).name, preset);
    if (preset === 'stacked_elu') assert.ok(header['optim.exp_avg_sq.layers.0.weight'], 'the file holds Adam\'s moments');
    const hash3 = await reconHash(page);

    // One more step in the original run: its loss and pictures are what a resumed run must give.
    await stepOnce(page);
    await poll(async () => (await page.locator('#train-loss').textContent()).trim() !== '–', { message: () => 'a train loss' });
    const loss4 = (await page.locator('#train-loss').textContent()).trim();
    const hash4 = await reconHash(page);
    assert.notEqual(hash4, hash3, 'a step should change the reconstructions');

    if (away === 'reset') {
      await page.click('#reset');
    } else {
      await page.selectOption('#preset-select', away);
    }
    await poll(async () => (await readSteps(page)) === 0, { message: () => `${away} to give step 0` });
    await poll(async () => ![hash3, hash4].includes(await reconHash(page)), { message: () => 'Reset to change #recon' });

    await page.setInputFiles('#load-model', saved.path);
    await poll(async () => (await readSteps(page)) === 3, {
      timeout: 20_000,
      message: async () => `#step-count to show the file's step 3 (at ${await readSteps(page)})`,
    });
    await waitRecon(page, hash3, 'show the saved model\'s reconstructions');
    assert.equal(await page.locator('#error').count(), 0, 'a good file gives no error');
    assert.match(await page.locator('#note').textContent(), new RegExp(`Loaded ${preset}-step3\\.safetensors`));
    assert.equal(await page.locator('#preset-select').inputValue(), preset, 'the file\'s preset is selected');

    await stepOnce(page);
    await poll(async () => (await page.locator('#train-loss').textContent()).trim() !== '–', { message: () => 'a train loss' });
    assert.equal((await page.locator('#train-loss').textContent()).trim(), loss4, 'the resumed step\'s loss differs from the original run\'s');
    await waitRecon(page, hash4, 'match the original run after one more step');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

appTest('Save model, Reset, Load model: same reconstructions, step and next loss', { timeout: 240_000 }, async ({ page }) => {
  await saveAwayLoad(page, 'dae_vincent', 'reset');
});

appTest('a saved Adam model loads over another preset and continues exactly', { timeout: 240_000 }, async ({ page }) => {
  await saveAwayLoad(page, 'stacked_elu', 'dae_vincent');
});

/** Variants of a good file, each broken in its own way, with the message each must give. */
function badFiles(good) {
  const n = Number(good.readBigUInt64LE(0));
  const header = good.subarray(8, 8 + n).toString('utf8');
  const withHeader = (h) => {
    assert.equal(Buffer.byteLength(h), n, 'edits keep the header length');
    return Buffer.concat([good.subarray(0, 8), Buffer.from(h, 'utf8'), good.subarray(8 + n)]);
  };
  const brokenJson = Buffer.from(good);
  brokenJson[8 + header.lastIndexOf('}')] = 0x20;
  const shape = /"layers\.0\.weight":\{"dtype":"F32","shape":\[(\d+),(\d+)\]/;
  const m = header.match(shape);
  assert.ok(m, `layers.0.weight not found in the header: ${header.slice(0, 300)}`);
  return [
    ['random.safetensors', pseudoRandomBytes(4096), 'not a safetensors file'],
    ['truncated.safetensors', good.subarray(0, Math.floor(good.length / 2)), 'truncated'],
    ['broken-json.safetensors', brokenJson, 'header is malformed'],
    ['misshaped.safetensors', withHeader(header.replace(shape, (s) => s.replace(`[${m[1]},${m[2]}]`, `[${m[2]},${m[1]}]`))),
      `has shape [${m[2]}, ${m[1]}]`],
    ['foreign.safetensors', withHeader(header.replace('"aeplay-model"', '"pytorch-xyz1"')), 'not a model saved by aeplay'],
  ];
}

appTest('bad weights files: each gives its message in #error and training stays usable', { timeout: 240_000 }, async ({ page, logs }) => {
  const dir = tempDir();
  try {
    await waitForState(page, 'ready', READY_TIMEOUT);
    await stepOnce(page);
    const good = readFileSync((await download(page, '#save-model', dir)).path);
    const hash = await reconHash(page);
    const seen = new Set();
    for (const [name, bytes, message] of badFiles(good)) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      await page.setInputFiles('#load-model', path);
      const text = await poll(async () => {
        const el = page.locator('#error');
        if (!(await el.count())) return null;
        const t = (await el.textContent()).trim();
        return t.includes(name) ? t : null;
      }, { timeout: 10_000, message: async () => `#error to name ${name}` });
      assert.ok(text.includes(message), `${name}: #error should say "${message}": ${JSON.stringify(text)}`);
      assert.doesNotMatch(text, /\[object |undefined|RuntimeError|unreachable/);
      seen.add(message);
      assert.equal(await readSteps(page), 1, `${name}: the model's step changed`);
      assert.equal(await reconHash(page), hash, `${name}: the reconstructions changed`);
    }
    assert.equal(seen.size, 5);
    assert.deepEqual(logs.pageErrors, [], 'uncaught page errors');
    // Training still works.
    await page.click('#train');
    await waitForState(page, 'training', 10_000);
    await poll(async () => (await readSteps(page)) > 5, { timeout: 30_000, message: () => 'training to go on after the bad files' });
    await page.click('#pause');
    await waitForState(page, 'paused', 10_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// #note may also hold other news (no WebGPU in headless Chromium).
const noteText = async (page) => ((await page.locator('#note').count()) ? page.locator('#note').textContent() : '');
const storedStep = (page) => page.evaluate(() => window.__aeplayStored);

appTest('reload resumes the model kept in the browser; Start fresh forgets it', { timeout: 300_000 }, async ({ page }) => {
  await waitForState(page, 'ready', READY_TIMEOUT);
  assert.equal(await storedStep(page), 0, 'a fresh browser has no stored model');
  assert.doesNotMatch(await noteText(page), /Resumed|discarded/, 'a fresh browser shows no resume note');
  for (let i = 0; i < 3; i++) await stepOnce(page);
  await poll(async () => (await storedStep(page)) === 3, {
    timeout: 15_000,
    message: async () => `the model of step 3 to be stored (stored: ${await storedStep(page)})`,
  });
  const hash = await reconHash(page);

  await page.reload();
  await waitForState(page, ['ready', 'paused'], READY_TIMEOUT);
  await poll(async () => (await readSteps(page)) === 3, { message: async () => `the resumed step 3 (at ${await readSteps(page)})` });
  assert.match(await page.locator('#note').textContent(), /Resumed Denoising autoencoder at step 3 from this browser's storage/);
  await waitRecon(page, hash, 'show the stored model');
  // The loss history came back with the model: the chart and the CSV go on from it.
  const dir = tempDir();
  try {
    const csv = readFileSync((await download(page, '#save-csv', dir)).path, 'utf8');
    const steps = csv.trim().split('\n').slice(1).map((l) => Number(l.split(',')[0]));
    for (const s of [1, 2, 3]) assert.ok(steps.includes(s), `the resumed history lacks step ${s}: ${csv}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  await clickIn(page, '#forget-model');
  await poll(async () => (await storedStep(page)) === 0 && (await readSteps(page)) === 0, {
    message: async () => `Start fresh to clear the store and the model (stored ${await storedStep(page)}, step ${await readSteps(page)})`,
  });
  await page.click('#reset');
  await poll(async () => (await readSteps(page)) === 0, { message: () => 'Reset to give step 0' });
  await page.waitForTimeout(2500); // the keeper looks every second: nothing new to keep
  assert.equal(await storedStep(page), 0);

  await page.reload();
  await waitForState(page, 'ready', READY_TIMEOUT);
  await page.waitForTimeout(1000);
  assert.equal(await readSteps(page), 0, 'after Start fresh a reload starts fresh');
  assert.doesNotMatch(await noteText(page), /Resumed|discarded/, 'no resume note after Start fresh');
});

appTest('a stored model that cannot be read is discarded with a note', { timeout: 240_000 }, async ({ page }) => {
  await waitForState(page, 'ready', READY_TIMEOUT);
  await page.evaluate(() => new Promise((ok, fail) => {
    const r = indexedDB.open('aeplay', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('models');
    r.onerror = () => fail(r.error);
    r.onsuccess = () => {
      const tx = r.result.transaction('models', 'readwrite');
      tx.objectStore('models').put(new Uint8Array([1, 2, 3, 4, 5]), 'last');
      tx.oncomplete = () => { r.result.close(); ok(); };
      tx.onerror = () => fail(tx.error);
    };
  }));
  await page.reload();
  await waitForState(page, 'ready', READY_TIMEOUT);
  const note = await poll(async () => {
    const t = await noteText(page);
    return /discarded/.test(t) ? t : null;
  }, { timeout: 10_000, message: () => 'a note about the discarded model' });
  assert.match(note, /could not be read .*discarded/);
  assert.equal(await readSteps(page), 0);
  await page.reload();
  await waitForState(page, 'ready', READY_TIMEOUT);
  await page.waitForTimeout(1000);
  assert.doesNotMatch(await noteText(page), /Resumed|discarded/, 'the discarded model is gone');
});

appTest('PNG buttons save every canvas; the losses come out as CSV', { timeout: 240_000 }, async ({ page }) => {
  const dir = tempDir();
  try {
    await waitForState(page, 'ready', READY_TIMEOUT);
    for (let i = 0; i < 3; i++) await stepOnce(page);
    // One PNG button per panel (DOM contract: it was one per canvas); the reconstructions'
    // picture is its grid (10 digits × 3 rows of 28 pixels) with nothing else while PCA is off.
    const panels = await page.evaluate(() => [...document.querySelectorAll('button.save-png')].map((b) => b.dataset.panel).sort());
    for (const p of ['loss', 'reconstructions', 'pad', 'pictures']) {
      assert.ok(panels.includes(p), `no PNG button for the ${p} panel (${panels})`);
    }
    const png = await download(page, '.save-png[data-panel="reconstructions"]', dir);
    assert.match(png.name, /reconstructions\.png$/);
    const bytes = readFileSync(png.path);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'not a PNG');
    // 280 × 84 pixels (IHDR width and height).
    assert.equal(bytes.readUInt32BE(16), 280);
    assert.equal(bytes.readUInt32BE(20), 84);
    // The pictures panel: its canvases stacked, so taller than any one of them.
    const pics = readFileSync((await download(page, '.save-png[data-panel="pictures"]', dir)).path);
    assert.ok(pics.readUInt32BE(20) > 320, `the pictures panel's PNG holds several pictures (height ${pics.readUInt32BE(20)})`);

    const csv = readFileSync((await download(page, '#save-csv', dir)).path, 'utf8');
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'step,train_loss,test_loss');
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.ok(rows.every((r) => r.length === 3), csv);
    const steps = rows.map((r) => Number(r[0]));
    for (const s of [1, 2, 3]) assert.ok(steps.includes(s), `no row for step ${s}: ${csv}`);
    const row3 = rows.find((r) => r[0] === '3');
    assert.ok(Number.isFinite(Number(row3[1])) && row3[1] !== '', `step 3 has no train loss: ${csv}`);
    assert.ok(Number(row3[1]).toFixed(3) === (await page.locator('#train-loss').textContent()).trim(),
      'the CSV\'s last train loss is the one shown');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
