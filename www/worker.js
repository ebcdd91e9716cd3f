// www/worker.js — the training worker: a module worker that loads the app's WebAssembly (the
// build the page chose: ?js=…&wasm=…, see scripts/trunk-variants-html.mjs) and runs its
// worker entry (src/worker/: the controller, the data, WebGPU or the CPU path). Messages that
// arrive before the module is ready wait in a queue the worker entry takes over.
const queue = [];
self.__aeplayQueue = queue;
self.onmessage = (e) => queue.push(e.data);
const params = new URL(self.location.href).searchParams;
const js = params.get('js');
const wasm = params.get('wasm');
// Only the app's own modules (same origin, absolute paths).
if (!/^\/[\w.-]+\.js$/.test(js || '') || !/^\/[\w.-]+\.wasm$/.test(wasm || '')) {
  throw new Error(`worker.js: bad module names ${js} ${wasm}`);
}
const bindings = await import(js);
await bindings.default({ module_or_path: wasm });
