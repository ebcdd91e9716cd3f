// scripts/trunk-relaxed-simd-html.mjs FILE [--relaxed] — rewrites Trunk's loader in index.html:
// - it records the module it loaded in `window.__aeplayModule = {js, wasm, variant}`, so the
//   page can start its training worker (src/worker/, www/worker.js) on the same build;
// - with --relaxed (release builds, see scripts/trunk-relaxed-simd.sh), it picks the
//   relaxed-simd build where the browser validates relaxed-simd, the simd128 build elsewhere;
// - it moves the loader out of the page into boot.js and adds the page's
//   Content-Security-Policy: scripts, workers, data and connections from the page's own
//   origin only, WebAssembly compilation ('wasm-unsafe-eval'), no inline script, no eval.
// Idempotent.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const file = process.argv[2];
const relaxed = process.argv.includes('--relaxed');
let html = readFileSync(file, 'utf8');
if (html.includes('/boot.js')) process.exit(0);
const load = /import init, \* as bindings from '(\/[^']+\.js)';\s*const wasm = await init\(\{ module_or_path: '(\/[^']+_bg\.wasm)' \}\);/;
const m = html.match(load);
if (!m) {
  console.error(`${file}: Trunk's loader script not found; cannot record the module for the worker`);
  process.exit(1);
}
const [, js, bg] = m;
const choose = relaxed
  ? `// relaxed-simd where the browser has it (i8x16.relaxed_swizzle validates), else simd128.
const relaxed = WebAssembly.validate(new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,123,3,2,1,0,10,15,1,13,0,65,1,253,15,65,2,253,15,253,128,2,11]));`
  : 'const relaxed = false;';
html = html.replace(load, `${choose}
const module = relaxed
  ? { js: '/web-relaxed.js', wasm: '/web-relaxed_bg.wasm', variant: 'relaxed-simd' }
  : { js: '${js}', wasm: '${bg}', variant: 'simd128' };
window.__aeplayModule = module;
window.__aeplayWasmVariant = module.variant;
const bindings = await import(module.js);
const wasm = await bindings.default({ module_or_path: module.wasm });`);
// Only one of the two modules is fetched: drop the preloads of the simd128 one (its wasm and
// its JS glue), which a browser running the relaxed build would fetch for nothing (and which
// the service worker's offline copy, holding only the module in use, does not have).
if (relaxed) {
  for (const [rel, file] of [['preload', bg], ['modulepreload', js]]) {
    html = html.replace(new RegExp(`<link rel="${rel}" href="${file.replace(/[.]/g, '\\.')}"[^>]*>`), '');
  }
}
// The loader goes to boot.js, so the policy needs no inline script.
const inline = /<script type="module">([\s\S]*?)<\/script>/;
const loader = html.match(inline);
if (!loader) {
  console.error(`${file}: the loader script is gone; cannot move it to boot.js`);
  process.exit(1);
}
writeFileSync(join(dirname(file), 'boot.js'), `// The app's loader (written by scripts/trunk-relaxed-simd-html.mjs from Trunk's).\n${loader[1].trim()}\n`);
html = html.replace(inline, '<script type="module" src="/boot.js"></script>');
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html)) {
  console.error(`${file}: an inline script is left; the Content-Security-Policy would block it`);
  process.exit(1);
}
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'none'",
].join('; ');
html = html.replace('<meta charset="utf-8" />', `<meta charset="utf-8" />\n    <meta http-equiv="Content-Security-Policy" content="${CSP}" />`);
writeFileSync(file, html);
console.log(`${file}: the page loads ${relaxed ? `/web-relaxed.js or ${js}` : js} and records it for the worker`);
