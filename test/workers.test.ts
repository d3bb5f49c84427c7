/** The addon is context-aware: it loads and runs in several worker_threads at once, next to the main thread. */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { backend, testBackends } from './helpers/backends.js';
import { rng, uniform } from './helpers/random.js';

const dist = new URL('../dist/index.node.js', import.meta.url);
const native = testBackends.find((b) => b.name === 'native')!;

// Each worker builds the same inputs from the same seed (mulberry32, as in helpers/random.ts) and returns y.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { init, tensor } = await import(workerData.dist);
  let a = workerData.seed >>> 0;
  const next = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const u = (shape, lo = -1, hi = 1) => tensor(Float32Array.from({ length: shape.reduce((x, y) => x * y) }, () => lo + (hi - lo) * next()), shape);
  const [B, D, N, L] = [2, 40, 16, 300];
  const p = { u: u([B, D, L]), delta: u([B, D, L], -2, 1), A: u([D, N], -3, -0.1), B: u([B, N, L]), C: u([B, N, L]), deltaSoftplus: true };
  const ls = await init({ backend: 'native' });
  const { y } = await ls.selectiveScan(p);
  const { o } = await ls.deltaRule({ q: u([1, 40, 2, 8]), k: u([1, 40, 2, 8], -0.3, 0.3), v: u([1, 40, 2, 8]), beta: u([1, 40, 2], 0, 1) });
  const f = await ls.fftConv({ u: u([1, 2, 500]), k: u([2, 300]) });
  parentPort.postMessage([y.data, o.data, f.y.data]);
})().catch((e) => parentPort.postMessage(String(e)));
`;

test.skipIf(!native.available || !existsSync(dist))('ops in four worker_threads at once match the main thread', async () => {
  const runWorker = () =>
    new Promise<Float32Array[]>((resolve, reject) => {
      const w = new Worker(WORKER, { eval: true, workerData: { dist: dist.href, seed: 9 } });
      w.once('message', (m) => (typeof m === 'string' ? reject(new Error(m)) : resolve(m as Float32Array[])));
      w.once('error', reject);
    });
  const results = await Promise.all([runWorker(), runWorker(), runWorker(), runWorker()]);
  const r = rng(9);
  const [B, D, N, L] = [2, 40, 16, 300];
  const p = {
    u: uniform(r, [B, D, L]), delta: uniform(r, [B, D, L], -2, 1), A: uniform(r, [D, N], -3, -0.1),
    B: uniform(r, [B, N, L]), C: uniform(r, [B, N, L]), deltaSoftplus: true,
  };
  const ls = await backend('native');
  const { y } = await ls.selectiveScan(p);
  const u = (shape: number[], lo = -1, hi = 1) => uniform(r, shape, lo, hi);
  const { o } = await ls.deltaRule({ q: u([1, 40, 2, 8]), k: u([1, 40, 2, 8], -0.3, 0.3), v: u([1, 40, 2, 8]), beta: u([1, 40, 2], 0, 1) });
  const f = await ls.fftConv({ u: u([1, 2, 500]), k: u([2, 300]) });
  for (const [ys, os, fs] of results) {
    expect(ys).toEqual(y.data);
    expect(os).toEqual(o.data);
    expect(fs).toEqual(f.y.data);
  }
});
