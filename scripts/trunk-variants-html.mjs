// scripts/trunk-variants-html.mjs FILE [--relaxed] [--threads] — rewrites Trunk's loader in
// index.html (run by scripts/trunk-variants.sh):
// - it picks the build this browser runs among those built: the threaded ones (--threads)
//   where the page is cross-origin isolated and its WebAssembly has shared memory, unless the
//   link asks for one thread (threads=1); the relaxed-simd ones (--relaxed) where the browser
//   validates a relaxed-simd instruction; Trunk's simd128 build otherwise (`build=VARIANT` in
//   the link asks for one build, where the browser can run it). A threaded module
//   that cannot be instantiated (no room for its shared memory) gives way to the one-thread
//   build of the same kind;
// - it records the module it loaded in `window.__aeplayModule = {js, wasm, variant}`, so the
//   page can start its training worker (src/worker/, www/worker.js) on the same build, and
//   the one a cross-origin isolated load will run in `window.__aeplayIsolatedModule` (the
//   service worker keeps both for offline use: from the second visit on, it isolates the page);
// - it moves the loader out of the page into boot.js and adds the page's
//   Content-Security-Policy: scripts, workers, data and connections from the page's own
//   origin only, WebAssembly compilation ('wasm-unsafe-eval'), no inline script, no eval (the
//   thread pool's workers are started by the training worker, not by the page).
// Idempotent.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const file = process.argv[2];
const relaxed = process.argv.includes('--relaxed');
const threads = process.argv.includes('--threads');
let html = readFileSync(file, 'utf8');
if (html.includes('/boot.js')) process.exit(0);
const load = /import init, \* as bindings from '(\/[^']+\.js)';\s*const wasm = await init\(\{ module_or_path: '(\/[^']+_bg\.wasm)' \}\);/;
const m = html.match(load);
if (!m) {
  console.error(`${file}: Trunk's loader script not found; cannot record the module for the worker`);
  process.exit(1);
}
const [, js, bg] = m;
const modules = [
  ['simd128', js, bg],
  ...(relaxed ? [['relaxed-simd', '/web-relaxed.js', '/web-relaxed_bg.wasm']] : []),
  ...(threads ? [['threads', '/web-threads.js', '/web-threads_bg.wasm']] : []),
  ...(threads && relaxed ? [['threads+relaxed-simd', '/web-threads-relaxed.js', '/web-threads-relaxed_bg.wasm']] : []),
].map(([variant, js, wasm]) => `  '${variant}': { js: '${js}', wasm: '${wasm}', variant: '${variant}' },`).join('\n');
html = html.replace(load, `// The builds of this app (scripts/trunk-variants.sh).
const MODULES = {
${modules}
};
// relaxed-simd where the browser has it (i8x16.relaxed_swizzle validates).
const relaxed = ${relaxed} && WebAssembly.validate(new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,123,3,2,1,0,10,15,1,13,0,65,1,253,15,65,2,253,15,253,128,2,11]));
// Threads where the page is cross-origin isolated and its WebAssembly shares memory, unless
// the link asks for one thread.
const oneThread = new URLSearchParams(location.search).get('threads') === '1';
const sharedMemory = () => {
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
};
const canThreads = self.crossOriginIsolated === true && sharedMemory();
// build=VARIANT in the link runs that build where this browser can (to compare the builds;
// the tests run each one): a threaded one needs isolation, a relaxed one relaxed-simd.
const asked = MODULES[(new URLSearchParams(location.search).get('build') || '').replace(/ /g, '+')];
const usable = (m) => m && (!m.variant.startsWith('threads') || canThreads) && (!m.variant.includes('relaxed') || relaxed);
const pick = (threads) => (usable(asked) ? asked : null)
  || MODULES[(threads ? 'threads+' : '') + (relaxed ? 'relaxed-simd' : 'simd128')]
  || MODULES[threads ? 'threads' : 'simd128'] || MODULES.simd128;
const threads = ${threads} && !oneThread && canThreads;
let module = pick(threads);
window.__aeplayModule = module;
window.__aeplayIsolatedModule = pick(${threads} && !oneThread);
window.__aeplayWasmVariant = module.variant;
let bindings, wasm;
try {
  bindings = await import(module.js);
  wasm = await bindings.default({ module_or_path: module.wasm });
} catch (e) {
  if (!threads) throw e;
  // No room for the threaded build's shared memory (a 32-bit browser): one thread.
  console.info('aeplay: the threaded build could not start, so the page runs on one thread:', e);
  module = MODULES[relaxed ? 'relaxed-simd' : 'simd128'] || MODULES.simd128;
  window.__aeplayModule = module;
  window.__aeplayIsolatedModule = module;
  window.__aeplayWasmVariant = module.variant;
  bindings = await import(module.js);
  wasm = await bindings.default({ module_or_path: module.wasm });
}`);
// Only one of the modules is fetched: drop the preloads of the simd128 one (its wasm and its
// JS glue), which a browser running another build would fetch for nothing (and which the
// service worker's offline copy, holding only the modules in use, does not have).
if (relaxed || threads) {
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
writeFileSync(join(dirname(file), 'boot.js'), `// The app's loader (written by scripts/trunk-variants-html.mjs from Trunk's).\n${loader[1].trim()}\n`);
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
console.log(`${file}: the page picks among ${[...modules.matchAll(/variant: '([^']+)'/g)].map((m) => m[1]).join(', ')} and records its pick for the worker`);
