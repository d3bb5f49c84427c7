/**
 * The cuda backend's fftConv, on a GPU (`npm run test:cuda`; skipped, saying why, where CUDA cannot run): golden
 * cases, random shapes against the native backend (every fused size and the four-step, odd channel counts,
 * filters shorter than the input), L = 2^20 against float64, plans on the device, device tensors, errors.
 */
import { describe, expect, test } from 'vitest';
import { available, DeviceTensor, tensor, toBFloat16, toFloat32, type FftConvParams, type Tensor } from '../../ts/index.node.js';
import { backend, type TestBackend } from '../helpers/backends.js';
import { expectClose } from '../helpers/compare.js';
import { causalConv64 } from '../helpers/fft64.js';
import { goldenTests } from '../helpers/goldenTests.js';
import { choose, pick, rng, uniform } from '../helpers/random.js';

const status = (await available()).find((s) => s.name === 'cuda')!;
const cuda: TestBackend = { name: 'cuda', available: status.available, reason: status.reason ?? '' };
const run = cuda.available ? test : test.skip;

/** Lengths across the fused sizes (n = 2 .. 2^14) and the four-step (n >= 2^15). */
function randomConv(seed: number): FftConvParams {
  const r = rng(seed);
  const L = choose(r, [1, 2, 3, 17, 100, 257, 1000, 1024, 3000, 4096, 5000, 8192, 8193, 16384, 20000, 40000]);
  const [B, H] = [pick(r, 1, 3), L > 8192 ? pick(r, 1, 5) : pick(r, 1, 21)];
  const Lk = Math.min(L, choose(r, [1, 4, Math.max(1, L >> 1), L, L, pick(r, 1, L)]));
  const p: FftConvParams = { u: uniform(r, [B, H, L]), k: uniform(r, [H, Lk], -1 / Math.sqrt(Lk), 1 / Math.sqrt(Lk)) };
  if (r() < 0.7) p.D = uniform(r, [H]);
  return p;
}

describe(`fftConv on cuda${cuda.available ? '' : ` (skipped: ${cuda.reason})`}`, () => {
  goldenTests('fftConv', cuda);

  run('matches the native backend on random shapes: every fused size, the four-step, odd channel counts', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 1; seed <= 50; seed++) {
      const p = randomConv(seed);
      const [out, ref] = await Promise.all([gpu.fftConv(p), cpu.fftConv({ ...p, algorithm: 'fft' })]);
      expectClose(`seed ${seed} (B ${p.u.shape[0]} H ${p.u.shape[1]} L ${p.u.shape[2]} Lk ${p.k.shape[1]})`, out.y, ref.y, 1e-5);
    }
  });

  run('stays within 1e-4 of a float64 reference at L = 2^20 (the four-step)', async () => {
    const gpu = await backend('cuda');
    const L = 2 ** 20;
    const r = rng(2020);
    const u = uniform(r, [1, 1, L]);
    const k = uniform(r, [1, L], -1e-3, 1e-3);
    const D = uniform(r, [1]);
    const { y } = await gpu.fftConv({ u, k, D });
    expectClose('L = 2^20', y, tensor(Float32Array.from(causalConv64(u.data, k.data, D.data[0]!)), [1, 1, L]), 1e-4);
  });

  run('the widest four-step columns (n = 2^23 and 2^24: 16384-point column blocks) match the direct sum', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    // L past n / 2 (no zero half) with an odd channel count, then the largest n with the filters at one row
    for (const [H, L] of [[3, 2 ** 22 + 100], [1, 2 ** 23]] as const) {
      const r = rng(L);
      const p = { u: uniform(r, [1, H, L]), k: uniform(r, [H, 5]), D: uniform(r, [H]) };
      const [out, ref] = await Promise.all([gpu.fftConv(p), cpu.fftConv({ ...p, algorithm: 'direct' })]);
      expectClose(`H ${H} L ${L}`, out.y, ref.y, 1e-4);
    }
  });

  run('a plan keeps the spectrum on the device and gives the plain call\'s result, for host and device inputs', async () => {
    const gpu = await backend('cuda');
    for (let seed = 60; seed < 70; seed++) {
      const p = randomConv(seed);
      const plan = await gpu.fftConvPlan({ k: p.k, L: p.u.shape[2]! });
      const [plain, planned] = await Promise.all([gpu.fftConv(p), plan.run({ u: p.u, D: p.D })]);
      expectClose(`seed ${seed}`, planned.y, plain.y, 1e-6);
      const du = await gpu.toDevice(p.u);
      const onDevice = await plan.run({ u: du, D: p.D });
      expect(onDevice.y).toBeInstanceOf(DeviceTensor);
      expectClose(`seed ${seed} device`, await gpu.toHost(onDevice.y), plain.y, 1e-6);
      plan.dispose();
      await expect(plan.run({ u: p.u })).rejects.toThrow(/disposed/);
      du.dispose();
      onDevice.y.dispose();
    }
  });

  run('device tensors in, device tensors out, with the filter and D on the device too', async () => {
    const gpu = await backend('cuda');
    const r = rng(8);
    const p = { u: uniform(r, [2, 7, 3000]), k: uniform(r, [7, 3000], -0.02, 0.02), D: uniform(r, [7]) };
    const host = await gpu.fftConv(p);
    const [u, k, D] = await Promise.all([gpu.toDevice(p.u), gpu.toDevice(p.k), gpu.toDevice(p.D)]);
    const { y } = await gpu.fftConv({ u, k, D });
    expect(y).toBeInstanceOf(DeviceTensor);
    expectClose('device y', await gpu.toHost(y), host.y, 0);
    const plan = await gpu.fftConvPlan({ k, L: 3000 });
    const planned = await plan.run({ u, D });
    expectClose('device plan', await gpu.toHost(planned.y), host.y, 1e-6);
    for (const d of [u, k, D, y, planned.y]) d.dispose();
    plan.dispose();
  });

  run('many concurrent calls give the same answers as one at a time', async () => {
    const gpu = await backend('cuda');
    const cases = [3, 11, 23, 31].map((seed) => randomConv(seed));
    const alone: Tensor[] = [];
    for (const p of cases) alone.push((await gpu.fftConv(p)).y);
    const together = await Promise.all(cases.flatMap((p) => [gpu.fftConv(p), gpu.fftConv(p)]));
    together.forEach((out, i) => expectClose(`call ${i}`, out.y, alone[i >> 1]!, 0));
  });

  run('bfloat16 storage: float32 arithmetic on the widened inputs, y rounded once; plans and device tensors too', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const rounded = (t: Tensor): Tensor => toFloat32(toBFloat16(t));
    for (const seed of [5, 12, 19, 26, 33]) {  // fused and four-step sizes
      const p = randomConv(seed);
      const bf = { ...p, u: toBFloat16(p.u), k: toBFloat16(p.k) };
      const out = await gpu.fftConv(bf);
      expect(out.y.dtype).toBe('bfloat16');
      const ref = await cpu.fftConv({ ...p, u: rounded(p.u), k: rounded(p.k), algorithm: 'fft' });
      // float32 results within 1e-5 of each other round to the same bfloat16 but for rare ties: 1e-2 bounds both
      expectClose(`seed ${seed}`, toFloat32(out.y), ref.y, 1e-2);
      const plan = await gpu.fftConvPlan({ k: bf.k, L: p.u.shape[2]! });
      const du = await gpu.toDevice(bf.u);
      const planned = await plan.run({ u: du, D: p.D });
      expect(planned.y.dtype).toBe('bfloat16');
      expectClose(`seed ${seed} plan`, toFloat32(await gpu.toHost(planned.y)), toFloat32(out.y), 1e-2);
      plan.dispose();
      du.dispose();
      planned.y.dispose();
    }
  });

  run('refuses lengths past its FFT size and a device tensor on a CPU backend', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const L = 2 ** 23 + 1;  // L + Lk - 1 > 2^24
    await expect(gpu.fftConv({ u: tensor(new Float32Array(L), [1, 1, L]), k: tensor(new Float32Array(L), [1, L]) }))
      .rejects.toThrow(/2\^24/);
    const du = await gpu.toDevice(uniform(rng(1), [1, 2, 10]));
    await expect(cpu.fftConv({ u: du, k: uniform(rng(2), [2, 3]) })).rejects.toThrow(/device tensor but the backend is 'native'/);
    du.dispose();
  });
});
