#!/usr/bin/env node
// scripts/serve.mjs — serves a build (dist/) as a static host does: gzip on the way for text
// and WebAssembly (the data is gzip already), the headers of cross-origin isolation, no-cache.
// `make run` serves with it (scripts/setup.sh run); the browser tests start it on a free port
// (tests/e2e/harness.mjs), where it can also act as a slow link.
//
// Usage: node scripts/serve.mjs [--dist DIR] [--address A] [--port N] [--no-gzip]

import { createServer } from 'node:http';
import { existsSync, statSync, createReadStream, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { resolve, extname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.gz': 'application/gzip',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * A connection shared by all the responses of a server, as a slow network is: `rate` bytes
 * a second in all, `latency` ms before each response starts. send(res, body) paces a body.
 */
function slowLink({ rate, latency = 0 }) {
  let free = 0; // when the link is next free (ms, performance.now())
  const CHUNK = 16 * 1024;
  const wait = (ms) => new Promise((ok) => setTimeout(ok, Math.max(0, ms)));
  return {
    latency: () => wait(latency),
    async send(res, body) {
      for (let at = 0; at < body.length && !res.destroyed; at += CHUNK) {
        const piece = body.subarray(at, at + CHUNK);
        const now = performance.now();
        free = Math.max(free, now) + (piece.length * 1000) / rate;
        await wait(free - now);
        if (!res.write(piece)) await new Promise((ok) => res.once('drain', ok));
      }
      res.end();
    },
  };
}

/** Types a static host compresses on the way (not the data, which is gzip already). */
const COMPRESSED_TYPES = new Set(['.html', '.js', '.mjs', '.wasm', '.json', '.css', '.svg', '.txt', '.webmanifest']);

/**
 * Serves `root` as a static host does, on `address`:`port` (0: a free one). Returns { url,
 * port, requests, close() }; `requests` lists "METHOD path status". Options: handle(req,
 * res, path) (answers a request itself: true), headers (added to every file served, e.g.
 * COOP/COEP: a host that isolates the page), gzip (compress text and WebAssembly where the
 * browser accepts it, as static hosts do), throttle { rate: bytes/s, latency: ms } (one slow
 * link for all the answers, as a lecture hall's Wi-Fi).
 */
export async function startServer(root, { port = 0, address = '127.0.0.1', handle, headers = {}, gzip = false, throttle } = {}) {
  const base = resolve(root);
  const requests = [];
  const link = throttle ? slowLink(throttle) : null;
  const gzipped = new Map();
  const server = createServer(async (req, res) => {
    if (link) await link.latency();
    const done = (status) => requests.push(`${req.method} ${req.url} ${status}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return done(405);
    }
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return done(400);
    }
    if (handle && handle(req, res, path)) return done('handled');
    if (path.endsWith('/')) path += 'index.html';
    const file = resolve(base, '.' + path);
    let st;
    if ((file === base || file.startsWith(base + sep)) && existsSync(file)) st = statSync(file);
    if (!st || !st.isFile()) {
      const body = `404 not found: ${path}\n`;
      res.writeHead(404, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return done(404);
    }
    const ext = extname(file).toLowerCase();
    const zip = gzip && COMPRESSED_TYPES.has(ext) && /\bgzip\b/.test(req.headers['accept-encoding'] || '');
    // A validator, as static hosts send: a copy the browser holds is confirmed with a 304
    // (the worker loads the module the page loaded; no-cache makes it ask).
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}${zip ? '-gz' : ''}"`;
    const validators = { ETag: etag, 'Last-Modified': new Date(st.mtimeMs).toUTCString() };
    if ((req.headers['if-none-match'] || '').split(/\s*,\s*/).includes(etag)) {
      res.writeHead(304, { ...validators, 'Cache-Control': 'no-cache', ...(zip ? { Vary: 'Accept-Encoding' } : {}), ...headers });
      res.end();
      return done(304);
    }
    let body = null;
    if (zip || link) {
      body = readFileSync(file);
      if (zip) {
        const key = `${file}:${st.mtimeMs}`;
        if (!gzipped.has(key)) gzipped.set(key, gzipSync(body, { level: 6 }));
        body = gzipped.get(key);
      }
    }
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[ext] || 'application/octet-stream',
      'Content-Length': body ? body.length : st.size,
      // Not no-store: with no-store Chromium reports fully read, slowly consumed streamed
      // bodies as failed (net::ERR_ABORTED), which muddles the failed-request log.
      'Cache-Control': 'no-cache',
      ...validators,
      ...(zip ? { 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' } : {}),
      ...headers,
    });
    done(200);
    if (req.method === 'HEAD') return res.end();
    if (link) return link.send(res, body);
    if (body) return res.end(body);
    createReadStream(file).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, address, ok);
  });
  const bound = server.address().port;
  return {
    url: `http://${address}:${bound}/`,
    port: bound,
    requests,
    close: () => new Promise((ok) => {
      server.closeAllConnections?.();
      server.close(() => ok());
    }),
  };
}

/** The headers of cross-origin isolation (Trunk.toml's [serve.headers], dist/_headers). */
export const ISOLATING = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const dist = opt('--dist', 'dist');
  if (!existsSync(resolve(dist, 'index.html'))) {
    console.error(`serve: ${dist}/index.html not found: build first (make build)`);
    process.exit(1);
  }
  const s = await startServer(dist, {
    port: Number(opt('--port', 8080)),
    address: opt('--address', '127.0.0.1'),
    gzip: !args.includes('--no-gzip'),
    headers: ISOLATING,
  });
  console.log(`serve: ${dist} at ${s.url} (gzip, cross-origin isolated)`);
}
