/**
 * The cuda backend's causal conv1d and its step, on a GPU (`npm run test:cuda`; skipped, saying why, where CUDA
 * cannot run): golden cases, random shapes against the native backend (every kernel: quads of widths up to 5 and
 * up to 9, the general one for other widths and lengths), device tensors, prefill + steps.
 */
import { describe, expect, test } from 'vitest';
import { available, DeviceTensor, tensor, type CausalConv1dParams, type Tensor } from '../../ts/index.node.js';
import { backend, type TestBackend } from '../helpers/backends.js';
import { expectClose } from '../helpers/compare.js';
import { goldenTests } from '../helpers/goldenTests.js';
import { choose, clone, pick, rng, uniform } from '../helpers/random.js';

const status = (await available()).find((s) => s.name === 'cuda')!;
const cuda: TestBackend = { name: 'cuda', available: status.available, reason: status.reason ?? '' };
const run = cuda.available ? test : test.skip;

function randomConv(seed: number): CausalConv1dParams {
  const r = rng(seed);
  const [batch, dim, width] = [pick(r, 1, 3), pick(r, 1, 40), choose(r, [2, 3, 4, 5, 6, 8, 9, 16, 64])];
  const seqlen = choose(r, [1, 3, 4, 64, 1000, 1001, 4096, 4100, 9000]);
  const p: CausalConv1dParams = {
    x: uniform(r, [batch, dim, seqlen]), weight: uniform(r, [dim, width], -0.5, 0.5), activation: r() < 0.6 ? 'silu' : null,
    returnFinalState: r() < 0.7,
  };
  if (r() < 0.7) p.bias = uniform(r, [dim], -0.2, 0.2);
  if (r() < 0.6) p.initialState = uniform(r, [batch, dim, width - 1]);
  return p;
}

/** Column t of [B, D, L] as [B, D]. */
function column(t: Tensor, index: number): Tensor {
  const L = t.shape[2]!;
  const out = new Float32Array(t.data.length / L);
  for (let i = 0; i < out.length; i++) out[i] = t.data[i * L + index]!;
  return tensor(out, t.shape.slice(0, 2));
}

describe(`causalConv1d on cuda${cuda.available ? '' : ` (skipped: ${cuda.reason})`}`, () => {
  goldenTests('causalConv1d', cuda);

  run('matches the native backend on random shapes, widths 2 to 64, lengths that are and are not multiples of 4', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 1; seed <= 60; seed++) {
      const p = randomConv(seed);
      const [out, ref] = await Promise.all([gpu.causalConv1d(p), cpu.causalConv1d(p)]);
      expectClose(`seed ${seed} y`, out.y, ref.y, 1e-6);
      if (p.returnFinalState) expectClose(`seed ${seed} finalState`, out.finalState!, ref.finalState!, 0);
    }
  });

  run('device tensors in, device tensors out; prefill on the device then steps on a device state == the whole sequence', async () => {
    const gpu = await backend('cuda');
    const r = rng(7);
    const [B, D, L, W, T] = [2, 48, 4096, 4, 4000];
    const x = uniform(r, [B, D, L]);
    const p = { weight: uniform(r, [D, W], -0.5, 0.5), bias: uniform(r, [D], -0.2, 0.2), activation: 'silu' as const };
    const full = await gpu.causalConv1d({ ...p, x });
    const dx = await gpu.toDevice(tensor(x.data.slice(), [B, D, L]));
    const onDevice = { weight: await gpu.toDevice(p.weight), bias: await gpu.toDevice(p.bias) };
    const deviceFull = await gpu.causalConv1d({ ...onDevice, activation: 'silu', x: dx, returnFinalState: true });
    expect(deviceFull.y).toBeInstanceOf(DeviceTensor);
    expect(deviceFull.finalState).toBeInstanceOf(DeviceTensor);
    expectClose('device y', await gpu.toHost(deviceFull.y), full.y, 0);
    // Prefill T tokens (host), then the rest one step at a time on a device state.
    const prefix = new Float32Array(B * D * T);
    for (let row = 0; row < B * D; row++) prefix.set(x.data.subarray(row * L, row * L + T), row * T);
    const prefill = await gpu.causalConv1d({ ...p, x: tensor(prefix, [B, D, T]), returnFinalState: true });
    const state = await gpu.toDevice(prefill.finalState!);
    for (let t = T; t < L; t++) {
      const { y } = await gpu.causalConv1dStep({ ...onDevice, activation: 'silu', state, x: await gpu.toDevice(column(x, t)) });
      expect(y).toBeInstanceOf(DeviceTensor);
      if (t % 16 === 0 || t === L - 1) expectClose(`step ${t}`, await gpu.toHost(y), column(full.y, t), 1e-6);
      y.dispose();
    }
    expectClose('final state', await gpu.toHost(state), await gpu.toHost(deviceFull.finalState!), 0);
    for (const d of [dx, onDevice.weight, onDevice.bias, deviceFull.y, deviceFull.finalState!, state]) d.dispose();
  });

  run('a host state is updated in place by the step, as on the CPU', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const r = rng(11);
    const state = uniform(r, [3, 17, 6]);
    const p = { x: uniform(r, [3, 17]), weight: uniform(r, [17, 7], -0.5, 0.5), activation: 'silu' as const };
    const cpuState = clone(state);
    const [out, ref] = await Promise.all([gpu.causalConv1dStep({ ...p, state }), cpu.causalConv1dStep({ ...p, state: cpuState })]);
    expectClose('y', out.y, ref.y, 1e-6);
    expectClose('state', state, cpuState, 0);
  });

  run('a device tensor on a CPU backend is a TypeError naming it', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const x = await gpu.toDevice(uniform(rng(3), [1, 2, 8]));
    await expect(cpu.causalConv1d({ x, weight: uniform(rng(4), [2, 4]) })).rejects.toThrow(/causalConv1d: x is a CUDA device tensor but the backend is 'native'/);
    x.dispose();
  });
});
