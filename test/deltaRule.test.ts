import { describe, expect, test } from 'vitest';
import { tensor, type DeltaRuleParams, type DeltaRuleResult, type LongSeq, type Tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { goldenFolderHasCases, goldenTests } from './helpers/goldenTests.js';
import { choose, pick, rng, uniform } from './helpers/random.js';

/**
 * Random deltaRule params. Keys get a norm near 1 (as after the l2 norm real layers apply), so the chunked
 * form's triangular solve is as well conditioned as in a model.
 */
function randomDeltaRule(seed: number, overrides: Partial<{ T: number; gated: boolean }> = {}): DeltaRuleParams {
  const r = rng(seed);
  const B = pick(r, 1, 2);
  const T = overrides.T ?? choose(r, [1, 2, 15, 16, 17, 63, 64, 65, 129]);
  const H = pick(r, 1, 3);
  const HV = H * choose(r, [1, 1, 2]);
  const K = choose(r, [4, 8, 16, 24, 32, 64]);
  const V = choose(r, [4, 8, 16, 20, 32, 48, 64]);
  const keyScale = Math.sqrt(3 / K);
  const p: DeltaRuleParams = {
    q: uniform(r, [B, T, H, K]),
    k: uniform(r, [B, T, H, K], -keyScale, keyScale),
    v: uniform(r, [B, T, HV, V]),
    beta: uniform(r, [B, T, HV], 0, 1),
    chunkSize: choose(r, [16, 32, 64] as const),
    useQkL2Norm: r() < 0.4,
    returnFinalState: true,
  };
  if (overrides.gated ?? r() < 0.7) p.g = uniform(r, [B, T, HV], -0.7, 0);
  if (r() < 0.5) p.initialState = uniform(r, [B, HV, K, V]);
  if (r() < 0.3) p.scale = 0.5 + r();
  return p;
}

const ALGORITHMS = ['recurrent', 'chunked'] as const;

goldenFolderHasCases('deltaRule');

describe.each(testBackends)('deltaRule on $name', (b) => {
  const run = b.available ? test : test.skip;
  // The js reference always runs the recurrence; native and wasm are tested with each algorithm.
  const algorithms = b.name === 'js' ? (['auto'] as const) : (['auto', ...ALGORITHMS] as const);

  goldenTests('deltaRule', b, algorithms.map((algorithm) => ({ algorithm })));

  run('matches the js reference on random shapes, with every option', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 1; seed <= 30; seed++) {
      const p = randomDeltaRule(seed);
      const ref = await js.deltaRule(p);
      for (const algorithm of algorithms) {
        const out = await ls.deltaRule({ ...p, algorithm });
        expectClose(`seed ${seed} ${algorithm} o`, out.o, ref.o, 1e-5);
        expectClose(`seed ${seed} ${algorithm} finalState`, out.finalState, ref.finalState!, 1e-5);
      }
    }
  });

  (b.available && b.name !== 'js' ? test : test.skip)('chunked == recurrent, for T in {1, 63, 64, 65, 129} and every chunk size', async () => {
    const ls = await backend(b.name);
    let seed = 100;
    for (const T of [1, 63, 64, 65, 129]) {
      for (const chunkSize of [16, 32, 64] as const) {
        const p = { ...randomDeltaRule(seed++, { T }), chunkSize };
        const [chunked, recurrent] = await Promise.all([
          ls.deltaRule({ ...p, algorithm: 'chunked' }), ls.deltaRule({ ...p, algorithm: 'recurrent' }),
        ]);
        expectClose(`T ${T} chunk ${chunkSize} o`, chunked.o, recurrent.o, 1e-5);
        expectClose(`T ${T} chunk ${chunkSize} finalState`, chunked.finalState, recurrent.finalState!, 1e-5);
      }
    }
  });

  run('strong decay (g << 0) and no decay (g = 0) stay finite and exact', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (const [what, value] of [['strong', -60], ['none', 0]] as const) {
      const p = randomDeltaRule(7, { T: 130, gated: true });
      const g = tensor(new Float32Array(p.g!.data.length).fill(value), p.g!.shape);
      const ref = await js.deltaRule({ ...p, g });
      for (const algorithm of algorithms) {
        const out = await ls.deltaRule({ ...p, g, algorithm });
        expect(out.o.data.every(Number.isFinite), `${what} ${algorithm}: finite`).toBe(true);
        expectClose(`${what} decay ${algorithm} o`, out.o, ref.o, 1e-5);
        expectClose(`${what} decay ${algorithm} finalState`, out.finalState, ref.finalState!, 1e-5);
      }
    }
  });

  // Without FMA (WASM) the CPU recurrence holds the state divided by the product of the decays so far and
  // multiplies that product in whenever it would leave [2^-40, 2^40]: gates averaging -0.75 cross that bound
  // every ~37 tokens, and the gates of one head growing (g > 0) cross it upwards.
  run('long runs of decay and growth, across the recurrence\'s rescaling bound', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    const p = randomDeltaRule(8, { T: 400, gated: true });
    const r = rng(81);
    const g = tensor(Float32Array.from(p.g!.data, (_, i) => (i % 5 === 0 ? 0.4 * r() : -1.5 * r())), p.g!.shape);
    const ref = await js.deltaRule({ ...p, g });
    for (const algorithm of algorithms) {
      const out = await ls.deltaRule({ ...p, g, algorithm });
      expectClose(`${algorithm} o`, out.o, ref.o, 1e-5);
      expectClose(`${algorithm} finalState`, out.finalState, ref.finalState!, 1e-5);
    }
  });

  run('propagates NaN in the data', async () => {
    const ls = await backend(b.name);
    const p = randomDeltaRule(9, { T: 70, gated: true });
    const v = tensor(Float32Array.from(p.v.data), p.v.shape);
    v.data[0] = NaN; // batch 0, token 0, head 0: every later output of that head depends on it
    for (const algorithm of algorithms) {
      const out = await ls.deltaRule({ ...p, v, algorithm });
      const [, T, HV, V] = out.o.shape as [number, number, number, number];
      expect(Number.isNaN(out.o.data[((T - 1) * HV) * V]!), algorithm).toBe(true);
    }
  });

  run('prefill with finalState, then one step per token, equals the whole sequence', async () => {
    const ls = await backend(b.name);
    for (let seed = 40; seed < 46; seed++) {
      const p = randomDeltaRule(seed, { T: 33 });
      const full = await ls.deltaRule(p);
      const [B, T, H, K] = p.q.shape as [number, number, number, number];
      const [, , HV, V] = p.v.shape as [number, number, number, number];
      const split = 20;
      const part = (t: Tensor, from: number, to: number): Tensor => {
        const inner = t.data.length / (t.shape[0]! * t.shape[1]!);
        const out = new Float32Array(B * (to - from) * inner);
        for (let bi = 0; bi < B; bi++) {
          out.set(t.data.subarray((bi * T + from) * inner, (bi * T + to) * inner), bi * (to - from) * inner);
        }
        return tensor(out, [B, to - from, ...t.shape.slice(2)]);
      };
      const sliced = (from: number, to: number) => ({
        q: part(p.q, from, to), k: part(p.k, from, to), v: part(p.v, from, to), beta: part(p.beta, from, to),
        ...(p.g ? { g: part(p.g, from, to) } : {}),
      });
      const prefill = await ls.deltaRule({ ...p, ...sliced(0, split) });
      const state = prefill.finalState!;
      const o = new Float32Array(full.o.data.length);
      for (let bi = 0; bi < B; bi++) {
        o.set(prefill.o.data.subarray(bi * split * HV * V, (bi + 1) * split * HV * V), bi * T * HV * V);
      }
      for (let t = split; t < T; t++) {
        const s = sliced(t, t + 1);
        const squeeze = (x: Tensor) => tensor(x.data, [x.shape[0]!, ...x.shape.slice(2)]);
        const step = await ls.deltaRuleStep({
          state, q: squeeze(s.q), k: squeeze(s.k), v: squeeze(s.v), beta: squeeze(s.beta),
          ...(s.g ? { g: squeeze(s.g) } : {}), scale: p.scale, useQkL2Norm: p.useQkL2Norm,
        });
        for (let bi = 0; bi < B; bi++) o.set(step.o.data.subarray(bi * HV * V, (bi + 1) * HV * V), ((bi * T + t) * HV) * V);
      }
      expectClose(`seed ${seed} o`, tensor(o, full.o.shape), full.o, 1e-5);
      expectClose(`seed ${seed} state`, state, full.finalState!, 1e-5);
      void H;
      void K;
    }
  });
});

describe('deltaRule threads', () => {
  const native = testBackends.find((x) => x.name === 'native')!;
  test.skipIf(!native.available)('1 and 2 threads give bit-identical results, both algorithms', async () => {
    const one: LongSeq = await backend('native', 1);
    const two: LongSeq = await backend('native', 2);
    for (let seed = 60; seed < 66; seed++) {
      for (const algorithm of ALGORITHMS) {
        const p = { ...randomDeltaRule(seed), algorithm };
        const [a, c]: DeltaRuleResult[] = await Promise.all([one.deltaRule(p), two.deltaRule(p)]);
        expect(Buffer.from(a.o.data.buffer).equals(Buffer.from(c.o.data.buffer)), `seed ${seed} ${algorithm}`).toBe(true);
      }
    }
  });
});
