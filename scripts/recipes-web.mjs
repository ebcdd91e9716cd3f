// Times the page's shortened recipes to "done" in headless Chromium (the dist/ build) and
// screenshots the recipe panel and the pictures: node scripts/recipes-web.mjs NAMES [cpu|gpu]
// (NAMES comma-separated; screenshots go to $OUT, default /tmp). One JSON line per recipe.
import { openApp, waitForState, poll } from '../tests/e2e/harness.mjs';
const OUT = process.env.OUT || '/tmp';
const which = process.argv[2].split(',');
const backend = process.argv[3] || 'cpu';
const app = await openApp({ webgpu: backend === 'gpu' });
const { page, server } = app;
try {
  for (const name of which) {
    await page.goto(`${server.url}?backend=${backend}&preset=${name}`, { waitUntil: 'load' });
    await waitForState(page, 'ready', 120000);
    await poll(async () => !!(await page.$('#recipe')), {});
    const t0 = Date.now();
    await page.click('#train');
    await poll(async () => (await page.$eval('#recipe', (e) => e.dataset.status)) === 'done', { timeout: 900000, interval: 500, message: async () => `${name} done: ${await page.textContent('#recipe-progress')}` });
    const secs = (Date.now() - t0) / 1000;
    console.log(JSON.stringify({ name, backend: await page.textContent('#backend'), secs, steps: await page.textContent('#step-count'), summary: await page.textContent('#recipe-summary') }));
    await page.locator('#recipe').screenshot({ path: `${OUT}/${name}-${backend}.png` });
    await page.locator('.pictures-panel').screenshot({ path: `${OUT}/${name}-${backend}-pictures.png` });
  }
} finally { await app.close(); }
