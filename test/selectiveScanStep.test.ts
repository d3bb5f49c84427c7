import { describe, expect, test } from 'vitest';
import { tensor, type SelectiveScanParams, type Tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { goldenFolderHasCases, goldenTests } from './helpers/goldenTests.js';
import { choose, clone, pick, rng, uniform } from './helpers/random.js';

/** Column t of a [B, X, L] tensor as [B, X]; of a [B, G, N, L] tensor as [B, G, N]. */
function column(t: Tensor, index: number): Tensor {
  const L = t.shape[t.shape.length - 1]!;
  const rows = t.data.length / L;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = t.data[r * L + index]!;
  return tensor(out, t.shape.slice(0, -1));
}

/** Columns [from, to) of a [..., L] tensor. */
function columns(t: Tensor, from: number, to: number): Tensor {
  const L = t.shape[t.shape.length - 1]!;
  const rows = t.data.length / L;
  const out = new Float32Array(rows * (to - from));
  for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * L + from, r * L + to), r * (to - from));
  return tensor(out, [...t.shape.slice(0, -1), to - from]);
}

function randomScan(seed: number): SelectiveScanParams {
  const r = rng(seed);
  const groups = choose(r, [1, 2]);
  const [batch, dim, dstate, seqlen] = [pick(r, 1, 3), groups * pick(r, 1, 20), choose(r, [1, 4, 16, 18]), pick(r, 2, 40)];
  const bc = [batch, groups, dstate, seqlen];
  return {
    u: uniform(r, [batch, dim, seqlen]), delta: uniform(r, [batch, dim, seqlen], -3, 1), A: uniform(r, [dim, dstate], -4, -0.1),
    B: uniform(r, bc), C: uniform(r, bc), D: uniform(r, [dim]), z: uniform(r, [batch, dim, seqlen], -3, 3),
    deltaBias: uniform(r, [dim]), deltaSoftplus: true, initialState: uniform(r, [batch, dim, dstate]),
  };
}

goldenFolderHasCases('selectiveScanStep');

describe.each(testBackends)('selectiveScanStep on $name', (b) => {
  const run = b.available ? test : test.skip;

  goldenTests('selectiveScanStep', b);

  run('prefill with finalState, then one step per token, equals the whole scan', async () => {
    const ls = await backend(b.name);
    for (let seed = 1; seed <= 12; seed++) {
      const p = randomScan(seed);
      const seqlen = p.u.shape[2]!;
      const split = Math.floor(seqlen / 2);
      const full = await ls.selectiveScan({ ...p, returnFinalState: true });
      const prefill = await ls.selectiveScan({
        ...p, u: columns(p.u, 0, split), delta: columns(p.delta, 0, split), z: columns(p.z!, 0, split),
        B: columns(p.B, 0, split), C: columns(p.C, 0, split), returnFinalState: true,
      });
      const state = prefill.finalState!;
      const ys: Tensor[] = [columns(prefill.y, 0, split)];
      for (let t = split; t < seqlen; t++) {
        const { y } = await ls.selectiveScanStep({
          state, x: column(p.u, t), delta: column(p.delta, t), z: column(p.z!, t), A: p.A,
          B: column(p.B, t), C: column(p.C, t), D: p.D, deltaBias: p.deltaBias, deltaSoftplus: true,
        });
        ys.push(tensor(y.data, [...y.shape, 1]));
      }
      // Interleave the per-token columns back into [B, D, L].
      const [batch, dim] = p.u.shape as [number, number];
      const y = new Float32Array(batch * dim * seqlen);
      let t0 = 0;
      for (const part of ys) {
        const len = part.shape[2]!;
        for (let r = 0; r < batch * dim; r++) y.set(part.data.subarray(r * len, (r + 1) * len), r * seqlen + t0);
        t0 += len;
      }
      expectClose(`seed ${seed} y`, tensor(y, full.y.shape), full.y, 1e-5);
      expectClose(`seed ${seed} state`, state, full.finalState!, 1e-5);
    }
  });

  run('a rejected step leaves its state byte-for-byte untouched', async () => {
    const ls = await backend(b.name);
    const r = rng(4);
    const [batch, dim, dstate] = [2, 5, 4];
    const good = {
      state: uniform(r, [batch, dim, dstate]), x: uniform(r, [batch, dim]), delta: uniform(r, [batch, dim]),
      A: uniform(r, [dim, dstate], -2, -0.1), B: uniform(r, [batch, dstate]), C: uniform(r, [batch, dstate]),
    };
    const before = good.state.data.slice();
    const bad: [string, object][] = [
      ['x of the wrong shape', { x: uniform(r, [batch, dim + 1]) }],
      ['B of the wrong rank', { B: uniform(r, [batch * dstate]) }],
      ['C unlike B', { C: uniform(r, [batch, 1, dstate]) }],
      ['a Float64Array', { delta: { dtype: 'float32', shape: [batch, dim], data: new Float64Array(batch * dim) } }],
      ['an unknown argument', { seqlen: 1 }],
      ['A missing', { A: undefined }],
      ['a non-boolean option', { deltaSoftplus: 1 }],
      ['D of the wrong size', { D: uniform(r, [dim + 1]) }],
    ];
    for (const [what, change] of bad) {
      await expect(ls.selectiveScanStep({ ...good, ...change } as never), what).rejects.toThrow(/selectiveScanStep/);
      expect(Buffer.from(good.state.data.buffer).equals(Buffer.from(before.buffer)), what).toBe(true);
    }
  });

  run('matches the js reference', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 20; seed < 30; seed++) {
      const p = randomScan(seed);
      const args = {
        x: column(p.u, 0), delta: column(p.delta, 0), z: column(p.z!, 0), A: p.A, B: column(p.B, 0), C: column(p.C, 0),
        D: p.D, deltaBias: p.deltaBias, deltaSoftplus: true,
      };
      const s1 = clone(p.initialState!);
      const s2 = clone(p.initialState!);
      const [out, ref] = await Promise.all([ls.selectiveScanStep({ ...args, state: s1 }), js.selectiveScanStep({ ...args, state: s2 })]);
      expectClose(`seed ${seed} y`, out.y, ref.y, 1e-5);
      expectClose(`seed ${seed} state`, s1, s2, 1e-5);
    }
  });
});
