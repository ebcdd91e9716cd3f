// tests/e2e/harness.test.mjs — checks the test harness itself (independent of the app): the
// static server's headers, and that Chromium launches with both flag sets: without the WebGPU
// flags navigator.gpu gives no adapter (the app's CPU path), with them a SwiftShader adapter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startServer, launchBrowser, launchBrowserWebGPU } from './harness.mjs';

async function withSite(fn) {
  const dir = mkdtempSync(join(tmpdir(), 'aeplay-site-'));
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title><main id="app">hi</main>');
  writeFileSync(join(dir, 'app.js'), 'export const x = 1;');
  writeFileSync(join(dir, 'app_bg.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  writeFileSync(join(dir, 'data', 'manifest.json'), '{"ok":true}');
  writeFileSync(join(dir, 'data', 'x.gz'), gzipSync(Buffer.alloc(1000)));
  const server = await startServer(dir);
  try {
    await fn(server);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('static server: content types, lengths, no encoding, 404, no traversal', async () => {
  await withSite(async (server) => {
    const expect = {
      '': 'text/html',
      'app.js': 'application/javascript',
      'app_bg.wasm': 'application/wasm',
      'data/manifest.json': 'application/json',
      'data/x.gz': 'application/gzip',
    };
    for (const [path, type] of Object.entries(expect)) {
      const res = await fetch(server.url + path);
      assert.equal(res.status, 200, path);
      assert.ok(res.headers.get('content-type').startsWith(type), `${path}: ${res.headers.get('content-type')}`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(Number(res.headers.get('content-length')), body.length, path);
      assert.equal(res.headers.get('content-encoding'), null, path);
    }
    assert.equal((await fetch(server.url + 'data/missing.gz')).status, 404);
    assert.equal((await fetch(server.url + '..%2f..%2fetc%2fpasswd')).status, 404);
  });
});

test('chromium without WebGPU flags: page loads, no WebGPU adapter', { timeout: 90_000 }, async () => {
  await withSite(async (server) => {
    const context = await launchBrowser();
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(server.url);
      assert.equal(await page.locator('#app').textContent(), 'hi');
      const adapter = await page.evaluate(async () =>
        navigator.gpu ? !!(await navigator.gpu.requestAdapter().catch(() => null)) : false);
      assert.equal(adapter, false, 'expected no WebGPU adapter without the WebGPU flags');
    } finally {
      await context.close();
    }
  });
});

test('chromium with WebGPU flags: SwiftShader adapter runs a compute shader', { timeout: 90_000 }, async () => {
  await withSite(async (server) => {
    const context = await launchBrowserWebGPU();
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(server.url); // WebGPU needs a secure context: http://127.0.0.1 is one
      const r = await page.evaluate(async () => {
        if (!navigator.gpu) return { error: 'navigator.gpu missing' };
        const adapter = await navigator.gpu.requestAdapter();
        if (!adapter) return { error: 'no adapter' };
        const info = adapter.info ?? {};
        const device = await adapter.requestDevice();
        const module = device.createShaderModule({
          code: `@group(0) @binding(0) var<storage, read_write> v: array<f32>;
                 @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
                   v[id.x] = v[id.x] * 2.0 + 1.0; }`,
        });
        const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
        const n = 256;
        const buf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        device.queue.writeBuffer(buf, 0, new Float32Array(n).map((_, i) => i));
        const read = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] });
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bind);
        pass.dispatchWorkgroups(n / 64);
        pass.end();
        enc.copyBufferToBuffer(buf, 0, read, 0, n * 4);
        device.queue.submit([enc.finish()]);
        await read.mapAsync(GPUMapMode.READ);
        const out = Array.from(new Float32Array(read.getMappedRange()));
        return { vendor: info.vendor, architecture: info.architecture, ok: out.every((v, i) => v === i * 2 + 1) };
      });
      assert.equal(r.error, undefined, r.error);
      assert.ok(r.ok, `compute shader result wrong (${JSON.stringify(r)})`);
    } finally {
      await context.close();
    }
  });
});
