import { describe, expect, test } from 'vitest';
import { tensor, type LongSeq, type MambaBlock, type Tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { choose, clone, pick, rng, uniform } from './helpers/random.js';

interface Sizes {
  B: number;
  H: number;
  I: number;
  N: number;
  R: number;
  W: number;
}

function block(r: () => number, { B, H, I, N, R, W }: Sizes, convBias = true): MambaBlock {
  return {
    weights: {
      norm: uniform(r, [H], 0.5, 1.5), inProj: uniform(r, [2 * I, H], -0.3, 0.3), convWeight: uniform(r, [I, W], -0.5, 0.5),
      ...(convBias && { convBias: uniform(r, [I], -0.1, 0.1) }), xProj: uniform(r, [R + 2 * N, I], -0.3, 0.3),
      dtProj: uniform(r, [I, R], -0.3, 0.3), dtBias: uniform(r, [I], -3, -1), A: uniform(r, [I, N], -4, -0.5), D: uniform(r, [I], 0.5, 1.5),
      outProj: uniform(r, [H, I], -0.3, 0.3),
    },
    convState: uniform(r, [B, I, W - 1]),
    ssmState: uniform(r, [B, I, N]),
  };
}

const copy = (b: MambaBlock): MambaBlock => ({ ...b, convState: clone(b.convState), ssmState: clone(b.ssmState) });

/** The block through the public ops one by one (the models' composition, written out again). */
async function reference(ls: LongSeq, hidden: Tensor, b: MambaBlock, eps: number): Promise<Tensor> {
  const [B, H] = hidden.shape as [number, number];
  const [I, N] = b.weights.A.shape as [number, number];
  const R = b.weights.dtProj.shape[1]!;
  const normed = new Float32Array(B * H);
  for (let row = 0; row < B; row++) {
    let sum = 0;
    for (let i = 0; i < H; i++) sum += hidden.data[row * H + i]! ** 2;
    const scale = 1 / Math.sqrt(sum / H + eps);
    for (let i = 0; i < H; i++) normed[row * H + i] = hidden.data[row * H + i]! * scale * b.weights.norm.data[i]!;
  }
  const { y: proj } = await ls.linear({ x: tensor(normed, [B, H]), weight: b.weights.inProj });
  const part = (t: Tensor, from: number, count: number): Tensor => {
    const width = t.shape[1]!;
    const out = new Float32Array(B * count);
    for (let row = 0; row < B; row++) out.set(t.data.subarray(row * width + from, row * width + from + count), row * count);
    return tensor(out, [B, count]);
  };
  const { y: x } = await ls.causalConv1dStep({
    state: b.convState, x: part(proj, 0, I), weight: b.weights.convWeight, bias: b.weights.convBias, activation: 'silu',
  });
  const { y: params } = await ls.linear({ x, weight: b.weights.xProj });
  const { y: delta } = await ls.linear({ x: part(params, 0, R), weight: b.weights.dtProj });
  const { y: s } = await ls.selectiveScanStep({
    state: b.ssmState, x, delta, A: b.weights.A, B: part(params, R, N), C: part(params, R + N, N), D: b.weights.D,
    z: part(proj, I, I), deltaBias: b.weights.dtBias, deltaSoftplus: true,
  });
  const { y: out } = await ls.linear({ x: s, weight: b.weights.outProj });
  return tensor(hidden.data.map((v, i) => v + out.data[i]!), [B, H]);
}

describe.each(testBackends)('mambaBlocksStep on $name', (b) => {
  const run = b.available ? test : test.skip;

  run('equals the ops one by one on the js reference, for one block and for several, states included', async () => {
    const ls = await backend(b.name);
    const js = await backend('js');
    for (let seed = 1; seed <= 8; seed++) {
      const r = rng(seed);
      const sizes = { B: pick(r, 1, 3), H: choose(r, [4, 16, 33]), I: choose(r, [8, 17, 48]), N: choose(r, [1, 4, 16]), R: pick(r, 1, 6), W: pick(r, 2, 5) };
      const blocks = Array.from({ length: pick(r, 1, 3) }, () => block(r, sizes, r() < 0.5));
      const hidden = uniform(r, [sizes.B, sizes.H]);
      const eps = choose(r, [1e-5, 1e-6]);
      const ours = blocks.map(copy);
      const { y } = await ls.mambaBlocksStep({ hidden, blocks: ours, eps });
      let expected = hidden;
      for (const blk of blocks) expected = await reference(js, expected, blk, eps);
      expect(y.shape).toEqual([sizes.B, sizes.H]);
      expectClose(`seed ${seed} y`, y, expected, 1e-5);
      ours.forEach((o, i) => {
        expectClose(`seed ${seed} block ${i} convState`, o.convState, blocks[i]!.convState, 1e-6);
        expectClose(`seed ${seed} block ${i} ssmState`, o.ssmState, blocks[i]!.ssmState, 1e-5);
      });
    }
  });

  run('names the argument that does not fit, and leaves every state untouched', async () => {
    const ls = await backend(b.name);
    const r = rng(99);
    const sizes = { B: 2, H: 8, I: 6, N: 4, R: 2, W: 4 };
    const blocks = [block(r, sizes), block(r, sizes)];
    const before = blocks.map(copy);
    const hidden = uniform(r, [2, 8]);
    const bad = (blk: MambaBlock, change: Partial<MambaBlock['weights']>): MambaBlock => ({ ...blk, weights: { ...blk.weights, ...change } });
    await expect(ls.mambaBlocksStep({ hidden, blocks: [blocks[0]!, bad(blocks[1]!, { xProj: uniform(r, [9, 6]) })] })).rejects.toThrow(
      /mambaBlocksStep: blocks\[1\]\.weights\.xProj must have shape \[10, 6\] \(\[R \+ 2·N, I\]\), got \[9, 6\]/,
    );
    await expect(ls.mambaBlocksStep({ hidden, blocks: [blocks[0]!, bad(blocks[1]!, { inProj: uniform(r, [14, 8]) })] })).rejects.toThrow(
      /mambaBlocksStep: blocks\[1\]\.weights\.inProj must have shape \[12, 8\]/,
    );
    await expect(ls.mambaBlocksStep({ hidden: uniform(r, [2, 7]), blocks })).rejects.toThrow(/blocks\[0\]\.weights\.norm must have shape \[7\]/);
    await expect(ls.mambaBlocksStep({ hidden, blocks: [{ ...blocks[0]!, ssmState: uniform(r, [1, 6, 4]) }] })).rejects.toThrow(
      /blocks\[0\]\.ssmState must have shape \[2, 6, 4\]/,
    );
    await expect(ls.mambaBlocksStep({ hidden, blocks: [] })).rejects.toThrow(TypeError);
    await expect(ls.mambaBlocksStep({ hidden, blocks, eps: -1 })).rejects.toThrow(RangeError);
    await expect(ls.mambaBlocksStep({ hidden, blocks: [{ ...blocks[0]!, weights: { ...blocks[0]!.weights, bias: hidden } as never }] })).rejects.toThrow(
      /unknown argument 'blocks\[0\]\.weights\.bias'/,
    );
    await expect(ls.mambaBlocksStep({ hidden, blocks, signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow('stop');
    blocks.forEach((blk, i) => {
      expect(blk.convState.data).toEqual(before[i]!.convState.data);
      expect(blk.ssmState.data).toEqual(before[i]!.ssmState.data);
    });
  });
});
