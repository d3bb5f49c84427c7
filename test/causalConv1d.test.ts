import { describe, expect, test } from 'vitest';
import { tensor, type CausalConv1dParams, type Tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { goldenFolderHasCases, goldenTests } from './helpers/goldenTests.js';
import { choose, clone, pick, rng, uniform } from './helpers/random.js';

function randomConv(seed: number, overrides: Partial<{ L: number; W: number }> = {}): CausalConv1dParams {
  const r = rng(seed);
  const [B, D] = [pick(r, 1, 3), pick(r, 1, 40)];
  const L = overrides.L ?? choose(r, [1, 2, 3, 7, 16, 63, 64, 65, 100, 300]);
  const W = overrides.W ?? choose(r, [2, 3, 4, 5, 6, 7, 8, 13, 64]);
  const p: CausalConv1dParams = { x: uniform(r, [B, D, L]), weight: uniform(r, [D, W]), returnFinalState: true };
  if (r() < 0.7) p.bias = uniform(r, [D]);
  if (r() < 0.5) p.initialState = uniform(r, [B, D, W - 1]);
  if (r() < 0.5) p.activation = 'silu';
  return p;
}

goldenFolderHasCases('causalConv1d');

describe.each(testBackends)('causalConv1d on $name', (b) => {
  const run = b.available ? test : test.skip;

  goldenTests('causalConv1d', b);

  run('matches the js reference for widths 2 to 64, any length, with every option', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 1; seed <= 40; seed++) {
      const p = randomConv(seed);
      const [out, ref] = await Promise.all([ls.causalConv1d(p), js.causalConv1d(p)]);
      expectClose(`seed ${seed} y`, out.y, ref.y, 1e-5);
      expect(out.finalState!.data, `seed ${seed} finalState`).toEqual(ref.finalState!.data); // copies, exact
    }
  });

  run('prefill with finalState, then one step per token, equals the whole sequence', async () => {
    const ls = await backend(b.name);
    for (let seed = 50; seed < 60; seed++) {
      const p = randomConv(seed, { L: 37 });
      const [B, D, L] = p.x.shape as [number, number, number];
      const cols = (t: Tensor, from: number, to: number) => {
        const out = new Float32Array(B * D * (to - from));
        for (let r = 0; r < B * D; r++) out.set(t.data.subarray(r * L + from, r * L + to), r * (to - from));
        return tensor(out, [B, D, to - from]);
      };
      const full = await ls.causalConv1d(p);
      const split = 11;
      const prefill = await ls.causalConv1d({ ...p, x: cols(p.x, 0, split) });
      const state = prefill.finalState!;
      const y = new Float32Array(B * D * L);
      for (let r = 0; r < B * D; r++) y.set(prefill.y.data.subarray(r * split, (r + 1) * split), r * L);
      for (let t = split; t < L; t++) {
        const x = tensor(cols(p.x, t, t + 1).data, [B, D]);
        const step = await ls.causalConv1dStep({ state, x, weight: p.weight, bias: p.bias, activation: p.activation });
        for (let r = 0; r < B * D; r++) y[r * L + t] = step.y.data[r]!;
      }
      expectClose(`seed ${seed} y`, tensor(y, full.y.shape), full.y, 1e-5);
      expect(state.data, `seed ${seed} state`).toEqual(full.finalState!.data);
    }
  });

  run('propagates NaN and Inf in the data', async () => {
    const ls = await backend(b.name);
    const r = rng(12);
    const x = uniform(r, [1, 2, 20]);
    x.data[3] = NaN;
    x.data[20 + 5] = Infinity;
    const { y } = await ls.causalConv1d({ x, weight: uniform(r, [2, 4], 0.1, 1) });
    expect(Number.isNaN(y.data[4]!)).toBe(true); // t = 4 reads x[1..4]
    expect(y.data[20 + 6]).toBe(Infinity); // positive weights carry +Inf
  });

  run('a rejected step leaves its state untouched', async () => {
    const ls = await backend(b.name);
    const r = rng(8);
    const state = uniform(r, [2, 3, 3]);
    const before = clone(state);
    const good = { state, x: uniform(r, [2, 3]), weight: uniform(r, [3, 4]) };
    for (const [what, change] of [
      ['weight of another width', { weight: uniform(r, [3, 5]) }],
      ['x of the wrong shape', { x: uniform(r, [3, 2]) }],
      ['an unknown activation', { activation: 'relu' }],
    ] as const) {
      await expect(ls.causalConv1dStep({ ...good, ...change } as never), what).rejects.toThrow(/causalConv1dStep/);
      expect(state.data, what).toEqual(before.data);
    }
  });
});

describe.each(testBackends)('causalConv1d errors on $name', (b) => {
  const run = b.available ? test : test.skip;
  const r = rng(3);
  const good = { x: uniform(r, [2, 3, 10]), weight: uniform(r, [3, 4]) };
  run.each([
    ['weight of width 1', { weight: uniform(r, [3, 1]) }, RangeError, /weight must have shape \[3, W\] \(\[D, W\] with 2 <= W <= 64\), got \[3, 1\]/],
    ['weight of width 65', { weight: uniform(r, [3, 65]) }, RangeError, /2 <= W <= 64/],
    ['initialState of the wrong width', { initialState: uniform(r, [2, 3, 4]) }, RangeError, /initialState must have shape \[2, 3, 3\]/],
    ['bias of the wrong size', { bias: uniform(r, [4]) }, RangeError, /bias must have shape \[3\]/],
    ['an unknown activation', { activation: 'gelu' }, TypeError, /activation must be null or 'silu', got "gelu"/],
  ] as const)('%s', async (_what, change, type, message) => {
    const ls = await backend(b.name);
    const call = ls.causalConv1d({ ...good, ...change } as never);
    await expect(call).rejects.toThrow(type);
    await expect(call).rejects.toThrow(message);
  });
});
