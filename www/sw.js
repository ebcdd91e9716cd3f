// www/sw.js — the app's service worker (registered by src/ui/offline.rs for the WebAssembly
// builds this browser runs: sw.js?v=VARIANT[&v=VARIANT], the one the page loaded and the one it
// loads once cross-origin isolated, which this worker makes it: the threaded build). It does
// two things:
// - offline: on install it copies the app shell, those modules (not every build the page can
//   pick from) and the MNIST files of data/manifest.json (from the loader's cache where they
//   are, each checked against the manifest's SHA-256) into one cache named after the build; later visits are served from that copy,
//   with the network off too. A new build is a new worker and a new cache, put in place whole
//   (the install fails and the old copy stays unless every file arrived); the old caches go.
// - cross-origin isolation: every response it serves carries COOP `same-origin` and COEP
//   `require-corp`, so that on a host that cannot send headers the page is crossOriginIsolated
//   from the load after the first one.
// BUILD is written at build time by scripts/sw-build.mjs (Trunk's post-build hook): the
// build's version (a hash of the built files) and its files.
const BUILD = { version: 'dev', shell: ['index.html'], modules: [] }; // AEPLAY_BUILD

const params = new URL(self.location.href).searchParams;
const wanted = [...new Set(params.getAll('v'))];
const modules = BUILD.modules.filter((m) => wanted.includes(m.variant));
const PREFIX = 'aeplay-offline-';
const CACHE = `${PREFIX}${BUILD.version}-${modules.map((m) => m.variant).join(',') || 'none'}`;
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
const scope = new URL(self.registration.scope);
const INDEX = new URL('./', scope).href;

async function sha256(buf) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function precache() {
  if (!modules.length || modules.length !== wanted.length) throw new Error(`sw.js: ${wanted.join(', ')}: not the modules of this build (${BUILD.modules.map((m) => m.variant).join(', ')})`);
  const cache = await caches.open(CACHE);
  const get = async (path) => {
    const r = await fetch(new URL(path, scope), { cache: 'no-cache' });
    if (!r.ok) throw new Error(`sw.js: ${path}: HTTP ${r.status}`);
    return r;
  };
  const shell = [...BUILD.shell, ...modules.flatMap((m) => [m.js, m.wasm].map((p) => p.replace(/^\//, '')))];
  const manifestResp = await get('data/manifest.json');
  const manifestText = await manifestResp.clone().text();
  const manifest = JSON.parse(manifestText);
  const entries = [];
  for (const path of shell) entries.push([new URL(path, scope).href, await get(path)]);
  entries.push([INDEX, (await get('index.html'))]);
  // The page registers this worker once its data has arrived (all of it), so the loader's
  // cache (src/worker/loader.rs: key data/<file>?v=<SHA-256>) normally holds the files already:
  // they are copied from there rather than downloaded again.
  const loaderCache = await caches.open('aeplay-mnist-v1');
  // What the app fetches: each file, or its parts where the manifest lists them.
  const pieces = Object.entries(manifest.files).flatMap(([name, info]) =>
    Array.isArray(info.parts) && info.parts.length
      ? info.parts.map((p) => [p.file, p.sha256])
      : [[name, info.sha256_gz]]);
  for (const [name, want] of pieces) {
    const kept = await loaderCache.match(new URL(`data/${name}?v=${want}`, scope).href);
    const r = kept || (await get(`data/${name}`));
    const buf = await r.arrayBuffer();
    const sum = await sha256(buf);
    if (sum !== String(want).toLowerCase()) throw new Error(`sw.js: data/${name}: SHA-256 ${sum}, not the manifest's ${want}`);
    entries.push([new URL(`data/${name}`, scope).href, new Response(buf, { headers: r.headers })]);
  }
  entries.push([new URL('data/manifest.json', scope).href, new Response(manifestText, { headers: manifestResp.headers })]);
  for (const [url, resp] of entries) await cache.put(url, resp);
  // Written last: a cache without it is incomplete (an install cut short).
  await cache.put(new URL('aeplay-offline-complete', scope).href, new Response(BUILD.version));
}

async function complete() {
  const cache = await caches.open(CACHE);
  return !!(await cache.match(new URL('aeplay-offline-complete', scope).href));
}

async function tell(client) {
  if (await complete()) client.postMessage({ aeplayOffline: true, version: BUILD.version, variants: modules.map((m) => m.variant) });
}

self.addEventListener('install', (e) => {
  e.waitUntil(precache().catch(async (err) => {
    await caches.delete(CACHE);
    throw err;
  }).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    for (const c of await self.clients.matchAll({ includeUncontrolled: true, type: 'window' })) await tell(c);
  })());
});

self.addEventListener('message', (e) => {
  if (e.data === 'aeplay-offline?' && e.source) e.waitUntil(tell(e.source));
});

function isolated(resp) {
  if (!resp || resp.status === 0 || resp.type === 'opaqueredirect') return resp;
  const headers = new Headers(resp.headers);
  for (const [k, v] of Object.entries(ISOLATION)) headers.set(k, v);
  return new Response(resp.body, { status: resp.status, statusText: resp.statusText, headers });
}

async function respond(req) {
  const cache = await caches.open(CACHE);
  const key = req.mode === 'navigate' ? INDEX : req;
  const hit = await cache.match(key, { ignoreSearch: true });
  // A range request for a file in the copy gets the whole file (the loader accepts a 200).
  return isolated(hit || (await fetch(req)));
}

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  e.respondWith(respond(req));
});
