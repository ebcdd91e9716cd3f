// scripts/trunk-relaxed-simd-html.mjs FILE — rewrites Trunk's loader in index.html so it
// picks the relaxed-simd build where the browser validates relaxed-simd, the simd128 build
// elsewhere (see scripts/trunk-relaxed-simd.sh). Idempotent.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
let html = readFileSync(file, 'utf8');
if (html.includes('__aeplayWasmVariant')) process.exit(0);
const load = /import init, \* as bindings from '(\/[^']+\.js)';\s*const wasm = await init\(\{ module_or_path: '(\/[^']+_bg\.wasm)' \}\);/;
const m = html.match(load);
if (!m) {
  console.error(`${file}: Trunk's loader script not found; cannot add the relaxed-simd choice`);
  process.exit(1);
}
const [, js, bg] = m;
html = html.replace(load, `// relaxed-simd where the browser has it (i8x16.relaxed_swizzle validates), else simd128.
const relaxed = WebAssembly.validate(new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,123,3,2,1,0,10,15,1,13,0,65,1,253,15,65,2,253,15,253,128,2,11]));
window.__aeplayWasmVariant = relaxed ? 'relaxed-simd' : 'simd128';
const bindings = await import(relaxed ? '/web-relaxed.js' : '${js}');
const wasm = await bindings.default({ module_or_path: relaxed ? '/web-relaxed_bg.wasm' : '${bg}' });`);
// Only one of the two modules is fetched: drop the preload of the simd128 one.
html = html.replace(new RegExp(`<link rel="preload" href="${bg.replace(/[.]/g, '\\.')}"[^>]*>`), '');
writeFileSync(file, html);
console.log(`relaxed-simd: ${file} now picks /web-relaxed.js or ${js} at load time`);
