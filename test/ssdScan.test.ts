import { describe, expect, test } from 'vitest';
import { tensor, type LongSeq, type SsdScanParams, type Tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { goldenFolderHasCases, goldenTests } from './helpers/goldenTests.js';
import { choose, clone, pick, rng, uniform } from './helpers/random.js';

/** Random ssdScan params: any length (the golden cases only have multiples of 16), groups, D of either shape. */
function randomSsd(seed: number, overrides: Partial<{ L: number }> = {}): SsdScanParams {
  const r = rng(seed);
  const B = pick(r, 1, 2);
  const L = overrides.L ?? choose(r, [1, 2, 15, 16, 17, 63, 64, 65, 130]);
  const G = choose(r, [1, 1, 2]);
  const H = G * pick(r, 1, 3);
  const P = choose(r, [1, 3, 4, 8, 16, 20]);
  const N = choose(r, [1, 4, 8, 16, 24]);
  const p: SsdScanParams = {
    x: uniform(r, [B, L, H, P]), dt: uniform(r, [B, L, H], -3, 1), A: uniform(r, [H], -2, -0.1),
    B: uniform(r, [B, L, G, N]), C: uniform(r, [B, L, G, N]), dtSoftplus: r() < 0.8, returnFinalState: true,
    chunkSize: choose(r, [1, 4, 16, 32, 64, 256]),
  };
  if (!p.dtSoftplus) p.dt = uniform(r, [B, L, H], 0, 1);
  if (r() < 0.7) p.D = r() < 0.5 ? uniform(r, [H]) : uniform(r, [H, P]);
  if (r() < 0.6) p.z = uniform(r, [B, L, H, P], -3, 3);
  if (r() < 0.6) p.dtBias = uniform(r, [H], -1, 1);
  if (r() < 0.5) p.initialState = uniform(r, [B, H, P, N]);
  if (r() < 0.3) p.dtLimit = [0.05, 0.8];
  return p;
}

goldenFolderHasCases('ssdScan');

describe.each(testBackends)('ssdScan on $name', (b) => {
  const run = b.available ? test : test.skip;
  const algorithms = b.name === 'js' ? (['auto'] as const) : (['auto', 'chunked', 'recurrent'] as const);

  goldenTests('ssdScan', b, algorithms.map((algorithm) => ({ algorithm })));

  run('matches the js reference on random shapes, lengths and options', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 1; seed <= 25; seed++) {
      const p = randomSsd(seed);
      const ref = await js.ssdScan(p);
      for (const algorithm of algorithms) {
        const out = await ls.ssdScan({ ...p, algorithm });
        expectClose(`seed ${seed} ${algorithm} y`, out.y, ref.y, 1e-5);
        expectClose(`seed ${seed} ${algorithm} finalState`, out.finalState, ref.finalState!, 1e-5);
      }
    }
  });

  // The CPU recurrence holds the state divided by the decay so far within a run of a block's tokens (64), a run ending
  // before that product would leave [2^-40, 2^40]: heads here decay by 2^-1.2 to 2^-4.1 a token, so runs end after 9
  // to 34 tokens, inside blocks and at their ends, and the last block (L = 100) is partial.
  run('decays across the recurrence\'s rescaling range', async () => {
    const ls = await backend(b.name);
    const r = rng(77);
    const [B, L, H, P, N] = [2, 100, 6, 8, 16];
    const A = tensor(Float32Array.from({ length: H }, (_, h) => -(0.9 + (1.7 * h) / (H - 1))), [H]);
    const p: SsdScanParams = {
      x: uniform(r, [B, L, H, P]), dt: uniform(r, [B, L, H], 0.9, 1.1), A, B: uniform(r, [B, L, 1, N]),
      C: uniform(r, [B, L, 1, N]), initialState: uniform(r, [B, H, P, N]), returnFinalState: true,
    };
    const ref = await (await backend('js')).ssdScan(p);
    for (const algorithm of algorithms) {
      const out = await ls.ssdScan({ ...p, algorithm });
      expectClose(`${algorithm} y`, out.y, ref.y, 1e-5);
      expectClose(`${algorithm} finalState`, out.finalState, ref.finalState!, 1e-5);
    }
  });

  (b.available && b.name !== 'js' ? test : test.skip)('chunked == recurrent for lengths around the chunk size', async () => {
    const ls = await backend(b.name);
    let seed = 100;
    for (const L of [1, 63, 64, 65, 129, 300]) {
      for (const chunkSize of [16, 64, 256]) {
        const p = { ...randomSsd(seed++, { L }), chunkSize };
        const [chunked, recurrent] = await Promise.all([ls.ssdScan({ ...p, algorithm: 'chunked' }), ls.ssdScan({ ...p, algorithm: 'recurrent' })]);
        expectClose(`L ${L} chunk ${chunkSize} y`, chunked.y, recurrent.y, 1e-5);
        expectClose(`L ${L} chunk ${chunkSize} state`, chunked.finalState, recurrent.finalState!, 1e-5);
      }
    }
  });

  run('prefill with finalState, then one step per token, equals the whole sequence', async () => {
    const ls: LongSeq = await backend(b.name);
    for (let seed = 200; seed < 206; seed++) {
      const p = randomSsd(seed, { L: 25 });
      const full = await ls.ssdScan(p);
      const [B, L, H, P] = p.x.shape as [number, number, number, number];
      const part = (t: Tensor, from: number, to: number): Tensor => {
        const inner = t.data.length / (B * L);
        const out = new Float32Array(B * (to - from) * inner);
        for (let bi = 0; bi < B; bi++) out.set(t.data.subarray((bi * L + from) * inner, (bi * L + to) * inner), bi * (to - from) * inner);
        return tensor(out, [B, to - from, ...t.shape.slice(2)]);
      };
      const squeeze = (t: Tensor) => tensor(t.data, [t.shape[0]!, ...t.shape.slice(2)]);
      const split = 10;
      const sliced = (from: number, to: number) => ({
        x: part(p.x, from, to), dt: part(p.dt, from, to), B: part(p.B, from, to), C: part(p.C, from, to),
        ...(p.z ? { z: part(p.z, from, to) } : {}),
      });
      const prefill = await ls.ssdScan({ ...p, ...sliced(0, split) });
      const state = prefill.finalState!;
      const y = new Float32Array(full.y.data.length);
      for (let bi = 0; bi < B; bi++) y.set(prefill.y.data.subarray(bi * split * H * P, (bi + 1) * split * H * P), bi * L * H * P);
      for (let t = split; t < L; t++) {
        const s = sliced(t, t + 1);
        const step = await ls.ssdScanStep({
          state, x: squeeze(s.x), dt: squeeze(s.dt), A: p.A, B: squeeze(s.B), C: squeeze(s.C), ...(s.z ? { z: squeeze(s.z) } : {}),
          D: p.D, dtBias: p.dtBias, dtSoftplus: p.dtSoftplus, dtLimit: p.dtLimit,
        });
        for (let bi = 0; bi < B; bi++) y.set(step.y.data.subarray(bi * H * P, (bi + 1) * H * P), (bi * L + t) * H * P);
      }
      expectClose(`seed ${seed} y`, tensor(y, full.y.shape), full.y, 1e-5);
      expectClose(`seed ${seed} state`, state, full.finalState!, 1e-5);
    }
  });

  run('a rejected step leaves its state untouched', async () => {
    const ls = await backend(b.name);
    const r = rng(9);
    const state = uniform(r, [1, 2, 3, 4]);
    const before = clone(state);
    const good = { state, x: uniform(r, [1, 2, 3]), dt: uniform(r, [1, 2]), A: uniform(r, [2], -1, 0), B: uniform(r, [1, 1, 4]), C: uniform(r, [1, 1, 4]) };
    for (const [what, change] of [
      ['x of the wrong shape', { x: uniform(r, [1, 2, 4]) }],
      ['groups that do not divide the heads', { B: uniform(r, [1, 3, 4]), C: uniform(r, [1, 3, 4]) }],
      ['a bad dtLimit', { dtLimit: [1, 0] }],
    ] as const) {
      await expect(ls.ssdScanStep({ ...good, ...change } as never), what).rejects.toThrow(/ssdScanStep/);
      expect(state.data, what).toEqual(before.data);
    }
  });

  run('strong decay and NaN in the data', async () => {
    const ls = await backend(b.name);
    const p = randomSsd(300, { L: 70 });
    const A = tensor(new Float32Array(p.A.data.length).fill(-80), p.A.shape);
    for (const algorithm of algorithms) {
      const { y } = await ls.ssdScan({ ...p, A, dtSoftplus: true, algorithm });
      expect(y.data.every(Number.isFinite), algorithm).toBe(true);
    }
    const x = clone(p.x);
    x.data[0] = NaN;
    const [, L, H, P] = x.shape as [number, number, number, number];
    for (const algorithm of algorithms) {
      const { y } = await ls.ssdScan({ ...p, x, z: undefined, algorithm });
      expect(Number.isNaN(y.data[(L - 1) * H * P]!), algorithm).toBe(true); // the last token of head 0 carries it
    }
  });
});

describe.each(testBackends)('ssdScan errors on $name', (b) => {
  const run = b.available ? test : test.skip;
  const r = rng(5);
  const good = { x: uniform(r, [1, 8, 4, 2]), dt: uniform(r, [1, 8, 4]), A: uniform(r, [4]), B: uniform(r, [1, 8, 2, 3]), C: uniform(r, [1, 8, 2, 3]) };
  run.each([
    ['heads not a multiple of groups', { B: uniform(r, [1, 8, 3, 3]), C: uniform(r, [1, 8, 3, 3]) }, RangeError, /H = 4 must be a multiple of the group count G = 3/],
    ['D of neither shape', { D: uniform(r, [4, 3]) }, RangeError, /D must have shape \[4, 2\]/],
    ['a dtLimit upside down', { dtLimit: [1, 0.5] }, RangeError, /dtLimit must be \[lo, hi\] with finite lo <= hi/],
    ['a dtLimit that is not a pair', { dtLimit: 0.5 }, TypeError, /dtLimit must be an array of two numbers/],
    ['chunkSize 0', { chunkSize: 0 }, RangeError, /chunkSize must be an integer in \[1, 1024\], got 0/],
    ['dt of the wrong shape', { dt: uniform(r, [1, 8, 3]) }, RangeError, /dt must have shape \[1, 8, 4\]/],
  ] as const)('%s', async (_what, change, type, message) => {
    const ls = await backend(b.name);
    const call = ls.ssdScan({ ...good, ...change } as never);
    await expect(call).rejects.toThrow(type);
    await expect(call).rejects.toThrow(message);
  });
});

describe('ssdScan threads', () => {
  const native = testBackends.find((b) => b.name === 'native')!;
  test.skipIf(!native.available)('1 and 2 threads give bit-identical results, with heads split unevenly', async () => {
    const one: LongSeq = await backend('native', 1);
    const two: LongSeq = await backend('native', 2);
    const r = rng(9);
    // 2 x 19 heads: the recurrence takes them in ranges of up to 8, the last range short.
    const p: SsdScanParams = {
      x: uniform(r, [2, 37, 19, 20]), dt: uniform(r, [2, 37, 19], -3, 1), A: uniform(r, [19], -2, -0.1),
      B: uniform(r, [2, 37, 1, 24]), C: uniform(r, [2, 37, 1, 24]), z: uniform(r, [2, 37, 19, 20]),
      initialState: uniform(r, [2, 19, 20, 24]), dtSoftplus: true, returnFinalState: true,
    };
    const ref = await (await backend('js')).ssdScan(p);
    for (const algorithm of ['chunked', 'recurrent'] as const) {
      const [a, b] = await Promise.all([one.ssdScan({ ...p, algorithm }), two.ssdScan({ ...p, algorithm })]);
      expect(Buffer.from(a.y.data.buffer).equals(Buffer.from(b.y.data.buffer)), algorithm).toBe(true);
      expect(Buffer.from(a.finalState!.data.buffer).equals(Buffer.from(b.finalState!.data.buffer)), algorithm).toBe(true);
      expectClose(`${algorithm} y`, a.y, ref.y, 1e-5);
      expectClose(`${algorithm} finalState`, a.finalState, ref.finalState!, 1e-5);
    }
  });
});
