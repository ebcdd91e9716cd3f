// scripts/sw-build.mjs STAGING_DIR — writes the build into the service worker (www/sw.js,
// copied by Trunk; run by scripts/trunk-variants.sh after the loader is rewritten): its
// version, a hash of every built file (data included) but sw.js, so that a new build is a new
// worker with a new cache; the app shell it copies for offline use; and the modules the page
// can pick from (read from boot.js: the worker copies the one the page names). Idempotent.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const dir = process.argv[2];
const sw = join(dir || '.', 'sw.js');
if (!dir || !existsSync(sw)) {
  console.error(`usage: sw-build.mjs STAGING_DIR (with sw.js in it; got ${dir})`);
  process.exit(1);
}
const files = [];
const walk = (d) => {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else files.push(relative(dir, p).split(sep).join('/'));
  }
};
walk(dir);
const hash = createHash('sha256');
for (const f of files.filter((f) => f !== 'sw.js')) {
  hash.update(`${f}\0`);
  hash.update(readFileSync(join(dir, f)));
}
const version = hash.digest('hex').slice(0, 16);
const boot = readFileSync(join(dir, 'boot.js'), 'utf8');
const modules = [...boot.matchAll(/\{ js: '(\/[^']+)', wasm: '(\/[^']+)', variant: '([^']+)' \}/g)]
  .map(([, js, wasm, variant]) => ({ js, wasm, variant }))
  .filter((m) => existsSync(join(dir, m.js)) && existsSync(join(dir, m.wasm)));
if (!modules.length) {
  console.error(`${dir}/boot.js: no module found; the service worker would have nothing to copy`);
  process.exit(1);
}
// The shell: the page, its loader, the training worker, the styles, and wasm-bindgen's
// snippets (the thread pool's worker script, fetched by the threaded builds).
const shell = ['index.html', 'boot.js', 'worker.js', ...files.filter((f) => (!f.includes('/') && f.endsWith('.css')) || (f.startsWith('snippets/') && f.endsWith('.js')))];
const build = JSON.stringify({ version, shell, modules });
const src = readFileSync(sw, 'utf8');
const line = /^const BUILD = .*; \/\/ AEPLAY_BUILD$/m;
if (!line.test(src)) {
  console.error(`${sw}: the line "const BUILD = …; // AEPLAY_BUILD" is missing`);
  process.exit(1);
}
writeFileSync(sw, src.replace(line, `const BUILD = ${build}; // AEPLAY_BUILD`));
console.log(`${sw}: build ${version}, ${shell.length} shell files, modules ${modules.map((m) => m.variant).join(', ')}`);
