// www/bench/tfjs-bench.js — the dae_vincent workload written with TensorFlow.js 4.22 (npm
// packages @tensorflow/tfjs, -backend-wasm, -backend-webgpu, loaded as classic scripts
// before this one), for the side-by-side comparison run by
// scripts/bench-web.mjs in the same page, right after our own benchmark.
//
// Same workload as ours: 784→500 sigmoid →784, binary cross-entropy with logits against the
// clean input summed over pixels and the batch, masking noise (keep 0.9), plain SGD with
// learning rate 0.01 on the summed loss, the *same initial weights* (window.__aeplayShared,
// published by the page's `?bench=train&export=1` mode, seed 1) and the same training
// pixels, shuffled minibatches.
//
// window.tfjsBench({ backend, batch, steps, warmup, seconds, threads }) resolves to
// { preset, backend: 'tfjs-<name>', batch, steps, samples_per_s, ms_per_step, final_loss,
//   ...backend details (wasm: simd, threads) }.

(function () {
  'use strict';

  function mulberry32(seed) {
    return function () {
      seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  async function useBackend(name, threads) {
    if (name === 'wasm') {
      tf.wasm.setWasmPaths(new URL('/tfjs/tfjs-backend-wasm/dist/', location.href).href);
      // Threads of its threaded build (used where the page is cross-origin isolated); set
      // before the backend starts.
      if (threads) tf.wasm.setThreadsCount(threads);
    }
    const ok = await tf.setBackend(name);
    if (!ok || tf.getBackend() !== name) throw new Error(`TensorFlow.js backend '${name}' could not be initialised`);
    await tf.ready();
    const details = {};
    if (name === 'wasm') {
      details.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      details.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
      details.cross_origin_isolated = self.crossOriginIsolated === true;
      details.threads = details.multithread ? threads || 'default' : 1;
    }
    if (name === 'webgpu') {
      const info = tf.backend().adapterInfo;
      details.adapter = info ? [info.vendor, info.architecture].filter(Boolean).join(' ') : 'unknown';
    }
    return details;
  }

  window.tfjsBench = async function tfjsBench({ backend, batch, steps = 40, warmup = 3, seconds = 6, threads = 0 }) {
    const S = window.__aeplayShared;
    if (!S) throw new Error('window.__aeplayShared is missing: open the page with ?bench=train&export=1 first');
    const details = await useBackend(backend, threads);
    const [l1, l2] = S.layers;
    const p = S.params;
    const vars = [];
    const dense = (l) => {
      const w = tf.variable(tf.tensor2d(p.slice(l.w, l.w + l.fan_in * l.fan_out), [l.fan_in, l.fan_out]));
      const b = tf.variable(tf.tensor1d(p.slice(l.b, l.b + l.fan_out)));
      vars.push(w, b);
      return [w, b];
    };
    const [W1, b1] = dense(l1);
    const [W2, b2] = dense(l2);
    const opt = tf.train.sgd(0.01);
    const rows = S.train_rows, dim = S.dim, px = S.train;
    const rand = mulberry32(1);
    const order = new Uint32Array(rows);
    for (let i = 0; i < rows; i++) order[i] = i;
    for (let i = rows - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i]; order[i] = order[j]; order[j] = t;
    }
    let pos = 0;
    const buf = new Float32Array(batch * dim);
    const nextBatch = () => {
      for (let i = 0; i < batch; i++) {
        const r = order[pos]; pos = (pos + 1) % rows;
        const src = r * dim, dst = i * dim;
        for (let j = 0; j < dim; j++) buf[dst + j] = px[src + j] / 255;
      }
      return tf.tensor2d(buf, [batch, dim]);
    };
    // One step; returns the batch's summed loss as a scalar tensor (kept on the device).
    const step = () => tf.tidy(() => {
      const x = nextBatch();
      return opt.minimize(() => {
        const keep = tf.cast(tf.less(tf.randomUniform([batch, dim]), 0.9), 'float32');
        const h = tf.sigmoid(tf.add(tf.matMul(tf.mul(x, keep), W1), b1));
        const z = tf.add(tf.matMul(h, W2), b2);
        return tf.losses.sigmoidCrossEntropy(x, z, undefined, 0, tf.Reduction.SUM);
      }, true, vars);
    });
    try {
      for (let i = 0; i < warmup; i++) step().dispose();
      await tf.zeros([1]).data(); // all warm-up work done
      let total = tf.scalar(0);
      const t0 = performance.now();
      let done = 0;
      let every = 1;
      while (done < steps && (done < 3 || performance.now() - t0 < seconds * 1e3)) {
        const l = step();
        const t = tf.add(total, l);
        total.dispose(); l.dispose();
        total = t;
        done++;
        // Asynchronous backends queue work: wait for it after each of the first 3 steps, then
        // every 10 (every step when one takes over 100 ms), so the time budget counts work
        // done rather than work queued: the same rule as the page's ?bench=train mode.
        if (done <= 3 || done % every === 0) {
          await total.data();
          if (done === 3) every = (performance.now() - t0) / 3 > 100 ? 1 : 10;
        }
      }
      const sum = (await total.data())[0];
      const secs = (performance.now() - t0) / 1e3;
      total.dispose();
      return {
        preset: 'dae_vincent', backend: `tfjs-${backend}`, batch, steps: done,
        samples_per_s: done * batch / secs, ms_per_step: secs * 1e3 / done,
        final_loss: sum / (done * batch), tfjs_version: tf.version.tfjs, ...details,
      };
    } finally {
      vars.forEach((v) => v.dispose());
      opt.dispose();
    }
  };
})();
