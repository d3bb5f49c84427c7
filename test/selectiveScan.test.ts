import { describe, expect, test } from 'vitest';
import { tensor, type LongSeq, type SelectiveScanParams, type SelectiveScanResult, type Tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { goldenFolderHasCases, goldenTests } from './helpers/goldenTests.js';
import { choose, clone, pick, rng, uniform } from './helpers/random.js';

/** Random selectiveScan params: channels d in [1, 40] (not multiples of any SIMD width), any N and L. */
function randomScan(seed: number): SelectiveScanParams {
  const r = rng(seed);
  const groups = choose(r, [1, 1, 2, 3]);
  const batch = pick(r, 1, 3);
  const dim = groups * pick(r, 1, 13);
  const dstate = choose(r, [1, 3, 4, 5, 8, 16, 17]);
  const seqlen = choose(r, [1, 2, 7, 63, 64, 65, 130]);
  const bc = groups === 1 && r() < 0.5 ? [batch, dstate, seqlen] : [batch, groups, dstate, seqlen];
  const p: SelectiveScanParams = {
    u: uniform(r, [batch, dim, seqlen]),
    delta: uniform(r, [batch, dim, seqlen], -3, 1),
    A: uniform(r, [dim, dstate], -4, -0.1),
    B: uniform(r, bc),
    C: uniform(r, bc),
    deltaSoftplus: r() < 0.7,
    returnFinalState: r() < 0.7,
  };
  if (!p.deltaSoftplus) p.delta = uniform(r, [batch, dim, seqlen], 0, 1.5);
  if (r() < 0.7) p.D = uniform(r, [dim]);
  if (r() < 0.7) p.z = uniform(r, [batch, dim, seqlen], -3, 3);
  if (r() < 0.7) p.deltaBias = uniform(r, [dim], -1, 1);
  if (r() < 0.5) p.initialState = uniform(r, [batch, dim, dstate]);
  return p;
}

goldenFolderHasCases('selectiveScan');

describe.each(testBackends)('selectiveScan on $name', (b) => {
  const run = b.available ? test : test.skip;

  goldenTests('selectiveScan', b);

  run('matches the js reference on random shapes, groups and options', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 1; seed <= 40; seed++) {
      const p = randomScan(seed);
      const [out, ref] = await Promise.all([ls.selectiveScan(p), js.selectiveScan(p)]);
      expectClose(`seed ${seed} y`, out.y, ref.y, 1e-5);
      if (p.returnFinalState) expectClose(`seed ${seed} finalState`, out.finalState, ref.finalState!, 1e-5);
      else expect(out.finalState).toBeUndefined();
    }
  });

  run('does not modify its inputs', async () => {
    const ls = await backend(b.name);
    const p = { ...randomScan(8), returnFinalState: true };
    const tensors = Object.entries(p).filter((e): e is [string, Tensor] => typeof e[1] === 'object');
    const before = tensors.map(([, t]) => t.data.slice());
    await ls.selectiveScan(p);
    tensors.forEach(([name, t], i) => expect(t.data, name).toEqual(before[i]));
  });

  run('propagates NaN and Inf in the data without crashing', async () => {
    const ls = await backend(b.name);
    const p = randomScan(3);
    const [, dim, seqlen] = p.u.shape as [number, number, number];
    const u = clone(p.u);
    u.data[0] = NaN; // channel 0 of batch 0, t = 0: every later y of that channel depends on it
    const A = clone(p.A);
    A.data[A.data.length - 1] = NaN; // the last channel's last state
    const { y } = await ls.selectiveScan({ ...p, u, A });
    expect(Number.isNaN(y.data[seqlen - 1]!)).toBe(true);
    expect(Number.isNaN(y.data[(dim - 1) * seqlen + seqlen - 1]!)).toBe(true);
    const inf = clone(p.u);
    inf.data.fill(Infinity);
    const out = await ls.selectiveScan({ ...p, u: inf });
    expect(out.y.data.some((v) => !Number.isFinite(v))).toBe(true);
  });

  run('large outputs (the native addon gives them memory of its own) are right', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    const r = rng(77);
    const [batch, dim, dstate, seqlen] = [1, 256, 2, 5000]; // y: 5 MB, past the addon's own-memory threshold
    const p: SelectiveScanParams = {
      u: uniform(r, [batch, dim, seqlen]), delta: uniform(r, [batch, dim, seqlen], -2, 1),
      A: uniform(r, [dim, dstate], -2, -0.1), B: uniform(r, [batch, dstate, seqlen]), C: uniform(r, [batch, dstate, seqlen]),
      deltaSoftplus: true,
    };
    const [out, ref] = await Promise.all([ls.selectiveScan(p), js.selectiveScan(p)]);
    expectClose('y', out.y, ref.y, 1e-5);
  });

  run('handles long sequences and strong or no decay', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    const r = rng(99);
    const [batch, dim, dstate, seqlen] = [1, 3, 16, 1000];
    for (const [lo, hi] of [[-400, -50], [-1e-6, 0]] as const) {
      const p: SelectiveScanParams = {
        u: uniform(r, [batch, dim, seqlen]), delta: uniform(r, [batch, dim, seqlen], -2, 2),
        A: uniform(r, [dim, dstate], lo, hi), B: uniform(r, [batch, dstate, seqlen]), C: uniform(r, [batch, dstate, seqlen]),
        deltaSoftplus: true, returnFinalState: true,
      };
      const [out, ref] = await Promise.all([ls.selectiveScan(p), js.selectiveScan(p)]);
      expectClose(`A in [${lo}, ${hi}] y`, out.y, ref.y, 1e-5);
      expectClose(`A in [${lo}, ${hi}] finalState`, out.finalState, ref.finalState!, 1e-5);
    }
  });

  run('agrees with the reference where |dt * A| is small in some chunks and in the hundreds in others', async () => {
    // The exp's range reduction and clamp (2^-126 below) meet whole chunks (the CPU's are 1024 steps), some channels
    // and single steps of strong decay next to ordinary ones.
    const ls = await backend(b.name);
    const js = await backend('js');
    const r = rng(123);
    const [batch, dim, dstate, seqlen] = [2, 19, 5, 2300];
    const delta = uniform(r, [batch, dim, seqlen], -4, 0);
    for (let d = 0; d < dim; d++) {
      for (let t = 1024; t < 2048; t++) delta.data[d * seqlen + t] = 5 + 5 * r(); // a whole chunk of batch 0
      if (d % 3 === 0) delta.data[(dim + d) * seqlen + 200] = 60; // one step of some channels of batch 1
    }
    const A = uniform(r, [dim, dstate], -30, -0.5);
    const p: SelectiveScanParams = {
      u: uniform(r, [batch, dim, seqlen]), delta, A, B: uniform(r, [batch, dstate, seqlen]),
      C: uniform(r, [batch, dstate, seqlen]), D: uniform(r, [dim]), deltaSoftplus: true, returnFinalState: true,
    };
    const [out, ref] = await Promise.all([ls.selectiveScan(p), js.selectiveScan(p)]);
    expectClose('y', out.y, ref.y, 1e-5);
    expectClose('finalState', out.finalState, ref.finalState!, 1e-5);
  });
});

describe('selectiveScan threads', () => {
  const native = testBackends.find((b) => b.name === 'native')!;
  test.skipIf(!native.available)('1 and 2 threads give bit-identical results', async () => {
    const one: LongSeq = await backend('native', 1);
    const two: LongSeq = await backend('native', 2);
    expect(one.threads).toBe(1);
    for (let seed = 100; seed < 110; seed++) {
      const p = { ...randomScan(seed), returnFinalState: true };
      const [a, b] = await Promise.all([one.selectiveScan(p), two.selectiveScan(p)]);
      expect(Buffer.from(a.y.data.buffer).equals(Buffer.from(b.y.data.buffer))).toBe(true);
      expect(Buffer.from(a.finalState!.data.buffer).equals(Buffer.from(b.finalState!.data.buffer))).toBe(true);
    }
    // A shape with many tasks per thread.
    const r = rng(5);
    const big: SelectiveScanParams = {
      u: uniform(r, [2, 300, 200]), delta: uniform(r, [2, 300, 200]), A: uniform(r, [300, 16], -4, -0.1),
      B: uniform(r, [2, 16, 200]), C: uniform(r, [2, 16, 200]), deltaSoftplus: true,
    };
    const [a, b2] = await Promise.all([one.selectiveScan(big), two.selectiveScan(big)]);
    expect(Buffer.from(a.y.data.buffer).equals(Buffer.from(b2.y.data.buffer))).toBe(true);
  });

  test.skipIf(!native.available)('many overlapping calls give the same results as serial calls', async () => {
    const ls = await backend('native');
    const params = Array.from({ length: 24 }, (_, i) => randomScan(200 + i));
    const serial: SelectiveScanResult[] = [];
    for (const p of params) serial.push(await ls.selectiveScan(p));
    const parallel = await Promise.all(params.map((p) => ls.selectiveScan(p)));
    parallel.forEach((out, i) => expect(out.y.data).toEqual(serial[i]!.y.data));
  });
});

test('tensor() rejects data that does not match its shape', () => {
  expect(() => tensor(new Float32Array(5), [2, 3])).toThrow(RangeError);
  expect(() => tensor(new Float32Array(6), [2, -3])).toThrow(TypeError);
});
