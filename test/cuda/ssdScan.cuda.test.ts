/**
 * The cuda backend's SSD scan (Mamba-2) and its step, on a GPU (`npm run test:cuda`; skipped, saying why, where
 * CUDA cannot run): golden cases, random shapes against the native backend (groups, D per head or per dimension,
 * dtLimit, states up to 256, lengths across chunks), device tensors, prefill + steps.
 */
import { describe, expect, test } from 'vitest';
import { available, DeviceTensor, tensor, toBFloat16, toFloat32, type SsdScanParams, type Tensor } from '../../ts/index.node.js';
import { backend, type TestBackend, withWorkspaceLimit } from '../helpers/backends.js';
import { expectClose } from '../helpers/compare.js';
import { goldenTests } from '../helpers/goldenTests.js';
import { choose, pick, rng, uniform } from '../helpers/random.js';

const status = (await available()).find((s) => s.name === 'cuda')!;
const cuda: TestBackend = { name: 'cuda', available: status.available, reason: status.reason ?? '' };
const run = cuda.available ? test : test.skip;

function randomSsd(seed: number): SsdScanParams {
  const r = rng(seed);
  const [B, G] = [pick(r, 1, 2), choose(r, [1, 1, 2])];
  const H = G * pick(r, 1, 3);
  const L = choose(r, [1, 2, 17, 64, 130, 1000]);
  const P = choose(r, [1, 3, 16, 20, 64]);
  const N = choose(r, [1, 5, 16, 24, 64, 128, 256]);
  const p: SsdScanParams = {
    x: uniform(r, [B, L, H, P]), dt: uniform(r, [B, L, H], -3, 1), A: uniform(r, [H], -2, -0.1),
    B: uniform(r, [B, L, G, N]), C: uniform(r, [B, L, G, N]), dtSoftplus: r() < 0.8, returnFinalState: r() < 0.7,
  };
  if (!p.dtSoftplus) p.dt = uniform(r, [B, L, H], 0, 1);
  if (r() < 0.7) p.D = r() < 0.5 ? uniform(r, [H]) : uniform(r, [H, P]);
  if (r() < 0.6) p.z = uniform(r, [B, L, H, P], -3, 3);
  if (r() < 0.6) p.dtBias = uniform(r, [H], -1, 1);
  if (r() < 0.5) p.initialState = uniform(r, [B, H, P, N]);
  if (r() < 0.3) p.dtLimit = [0.05, 0.8];
  return p;
}

const rounded = (t: Tensor): Tensor => toFloat32(toBFloat16(t));

/** Token t of [B, L, ...] as [B, ...]. */
function token(t: Tensor, index: number): Tensor {
  const [B, L] = t.shape as [number, number];
  const inner = t.data.length / (B * L);
  const out = new Float32Array(B * inner);
  for (let b = 0; b < B; b++) out.set(t.data.subarray((b * L + index) * inner, (b * L + index + 1) * inner), b * inner);
  return tensor(out, [B, ...t.shape.slice(2)]);
}

describe(`ssdScan on cuda${cuda.available ? '' : ` (skipped: ${cuda.reason})`}`, () => {
  goldenTests('ssdScan', cuda);

  run('matches the native backend on random shapes and options', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 1; seed <= 40; seed++) {
      const p = randomSsd(seed);
      const [out, ref] = await Promise.all([gpu.ssdScan(p), cpu.ssdScan({ ...p, algorithm: 'recurrent' })]);
      // Past 128 tokens the GPU picks the chunked form, which sums in another order: DESIGN's float32 bound.
      expectClose(`seed ${seed} y`, out.y, ref.y, 1e-4);
      if (p.returnFinalState) expectClose(`seed ${seed} finalState`, out.finalState!, ref.finalState!, 1e-4);
    }
  });

  run('the chunked form (3xTF32 tensor-core products) and the recurrence each match the native recurrence', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 41; seed <= 70; seed++) {
      const p = { ...randomSsd(seed), returnFinalState: true };
      const [L, N] = [p.x.shape[1]!, p.B.shape[3]!];
      const ref = await cpu.ssdScan({ ...p, algorithm: 'recurrent' });
      for (const algorithm of ['chunked', 'recurrent'] as const) {
        const out = await gpu.ssdScan({ ...p, algorithm });
        // The chunked form runs the recurrence for one token and for dstate > 128.
        const tolerance = algorithm === 'chunked' && N <= 128 && L > 1 ? 1e-4 : 1e-5;
        const what = `seed ${seed} ${algorithm} (L ${L} P ${p.x.shape[3]} N ${N})`;
        expectClose(`${what} y`, out.y, ref.y, tolerance);
        expectClose(`${what} finalState`, out.finalState!, ref.finalState!, tolerance);
      }
    }
  });

  run('the chunked form matches with more state-walk blocks than SMs (its 32-row, half-chunk walk)', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const r = rng(78);
    const [B, L, H, P, G, N] = [2, 300, 40, 40, 2, 64];  // 40 head dims: the second block of 32 rows partly empty
    const p: SsdScanParams = {
      x: uniform(r, [B, L, H, P]), dt: uniform(r, [B, L, H], -3, 1), A: uniform(r, [H], -2, -0.1), B: uniform(r, [B, L, G, N]),
      C: uniform(r, [B, L, G, N]), D: uniform(r, [H, P]), z: uniform(r, [B, L, H, P], -3, 3), initialState: uniform(r, [B, H, P, N]),
      dtSoftplus: true, returnFinalState: true, algorithm: 'chunked',
    };
    const [out, ref] = await Promise.all([gpu.ssdScan(p), cpu.ssdScan({ ...p, algorithm: 'recurrent' })]);
    expectClose('y', out.y, ref.y, 1e-4);
    expectClose('finalState', out.finalState!, ref.finalState!, 1e-4);
    // bf16 storage takes the bf16 tensor-core kernels, whose walk has its own 32-row, 128-state blocks here.
    const [x, Bm, C, z] = [p.x, p.B, p.C, p.z!];
    const half = await gpu.ssdScan({ ...p, x: toBFloat16(x), B: toBFloat16(Bm), C: toBFloat16(C), z: toBFloat16(z) });
    const want = await cpu.ssdScan({ ...p, x: rounded(x), B: rounded(Bm), C: rounded(C), z: rounded(z), algorithm: 'recurrent' });
    expectClose('bf16 y', toFloat32(half.y as Tensor<'bfloat16'>), want.y, 6e-3);
    expectClose('bf16 finalState', half.finalState!, want.finalState!, 1e-4);
  });

  run('bfloat16 x, z, B and C (both forms, host and device tensors, and the step)', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 81; seed <= 90; seed++) {
      const p = { ...randomSsd(seed), returnFinalState: true };
      const [L, N] = [p.x.shape[1]!, p.B.shape[3]!];
      const z = p.z && { bf: toBFloat16(p.z), ref: rounded(p.z) };
      const ref = await cpu.ssdScan({ ...p, x: rounded(p.x), B: rounded(p.B), C: rounded(p.C), z: z?.ref, algorithm: 'recurrent' });
      for (const algorithm of ['chunked', 'recurrent'] as const) {
        const out = await gpu.ssdScan({ ...p, x: toBFloat16(p.x), B: toBFloat16(p.B), C: toBFloat16(p.C), z: z?.bf, algorithm });
        expect(out.y.dtype).toBe('bfloat16');
        const what = `seed ${seed} ${algorithm} (L ${L} P ${p.x.shape[3]} N ${N})`;
        // y: the recurrence's float32 result rounded to bfloat16 (2^-9 relative at most); the chunked form's products
        // on bf16 tensor cores, the entering states and the mixing matrix rounded to bf16 as in mamba_ssm's Triton
        // kernels (measured 1.8-2.6e-3). The state stays float32 (the walk splits its operand into two bf16 parts).
        const tensorCores = algorithm === 'chunked' && N <= 128 && L > 1;
        expectClose(`${what} y`, toFloat32(out.y), ref.y, tensorCores ? 6e-3 : 4e-3);
        expectClose(`${what} finalState`, out.finalState!, ref.finalState!, tensorCores ? 1e-4 : 1e-5);
      }
    }
    const r = rng(91);
    const [B, H, P, G, N] = [2, 4, 16, 2, 32];
    const x = uniform(r, [B, 300, H, P]), Bt = uniform(r, [B, 300, G, N]), C = uniform(r, [B, 300, G, N]);
    const common = { dt: uniform(r, [B, 300, H], -3, 1), A: uniform(r, [H], -2, -0.1), dtSoftplus: true, returnFinalState: true };
    const host = await gpu.ssdScan({ ...common, x: toBFloat16(x), B: toBFloat16(Bt), C: toBFloat16(C) });
    const dx = await gpu.toDevice(toBFloat16(x));
    const onDevice = await gpu.ssdScan({ ...common, x: dx, B: toBFloat16(Bt), C: toBFloat16(C) });
    expect(onDevice.y).toBeInstanceOf(DeviceTensor);
    expect((await gpu.toHost(onDevice.y)).data).toEqual(host.y.data);
    const state = onDevice.finalState!;
    const step = { x: toBFloat16(uniform(r, [B, H, P])), dt: uniform(r, [B, H]), A: common.A, B: toBFloat16(uniform(r, [B, G, N])), C: toBFloat16(uniform(r, [B, G, N])) };
    const reference = tensor((await gpu.toHost(state)).data.slice(), [B, H, P, N]);
    const stepX = await gpu.toDevice(step.x);
    const { y } = await gpu.ssdScanStep({ ...step, x: stepX, state });
    const want = await cpu.ssdScanStep({ ...step, state: reference, x: toFloat32(step.x), B: toFloat32(step.B), C: toFloat32(step.C) });
    expect(y).toBeInstanceOf(DeviceTensor);
    expectClose('step y', toFloat32((await gpu.toHost(y)) as Tensor<'bfloat16'>), want.y, 4e-3);
    expectClose('step state', await gpu.toHost(state), reference, 1e-5);
    for (const d of [dx, stepX, onDevice.y, state, y]) d.dispose();
  });

  run('inputs longer than one workspace segment (the state carried between segments) give what one segment gives', async () => {
    const gpu = await backend('cuda');
    const r = rng(91);
    const [B, L, H, P, G, N] = [1, 1000, 4, 64, 1, 128];
    const p: SsdScanParams = {
      x: uniform(r, [B, L, H, P]), dt: uniform(r, [B, L, H], -3, 1), A: uniform(r, [H], -2, -0.1), B: uniform(r, [B, L, G, N]),
      C: uniform(r, [B, L, G, N]), D: uniform(r, [H]), z: uniform(r, [B, L, H, P], -3, 3), dtBias: uniform(r, [H], -1, 1),
      initialState: uniform(r, [B, H, P, N]), dtSoftplus: true, returnFinalState: true, algorithm: 'chunked',
    };
    const half = { ...p, x: toBFloat16(p.x), B: toBFloat16(p.B), C: toBFloat16(p.C), z: toBFloat16(p.z!) };
    const [whole, wholeHalf] = [await gpu.ssdScan(p), await gpu.ssdScan(half)];
    // 200 KB: one chunk of 128 tokens a segment in float32, two in bf16 (8 and 4 segments)
    const [parts, partsHalf] = await withWorkspaceLimit(200_000, async () => [await gpu.ssdScan(p), await gpu.ssdScan(half)] as const);
    expectClose('float32 y', parts.y, whole.y, 1e-6);
    expectClose('float32 finalState', parts.finalState!, whole.finalState!, 1e-6);
    expectClose('bf16 y', toFloat32(partsHalf.y as Tensor<'bfloat16'>), toFloat32(wholeHalf.y as Tensor<'bfloat16'>), 1e-6);
    expectClose('bf16 finalState', partsHalf.finalState!, wholeHalf.finalState!, 1e-6);
  });

  run('the chunked form stays finite and exact under strong decay and with no decay', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const r = rng(77);
    const [B, L, H, P, G, N] = [1, 700, 2, 16, 1, 32];
    const base = {
      x: uniform(r, [B, L, H, P]), B: uniform(r, [B, L, G, N]), C: uniform(r, [B, L, G, N]), dtSoftplus: true,
      returnFinalState: true, algorithm: 'chunked' as const,
    };
    const cases: Record<string, SsdScanParams> = {
      'strong decay': { ...base, dt: uniform(r, [B, L, H], 2, 4), A: uniform(r, [H], -60, -40) },
      'no decay': { ...base, dt: uniform(r, [B, L, H], -3, 1), A: tensor(new Float32Array(H), [H]) },
    };
    for (const [what, p] of Object.entries(cases)) {
      const [out, ref] = await Promise.all([gpu.ssdScan(p), cpu.ssdScan({ ...p, algorithm: 'recurrent' })]);
      expect(out.y.data.every(Number.isFinite), what).toBe(true);
      expectClose(`${what} y`, out.y, ref.y, 1e-4);
      expectClose(`${what} finalState`, out.finalState!, ref.finalState!, 1e-4);
      // and in bf16 storage (the bf16 tensor-core kernels, their decays from float differences of gamma)
      const half = await gpu.ssdScan({ ...p, x: toBFloat16(p.x), B: toBFloat16(p.B), C: toBFloat16(p.C) });
      const want = await cpu.ssdScan({ ...p, x: rounded(p.x), B: rounded(p.B), C: rounded(p.C), algorithm: 'recurrent' });
      const y = toFloat32(half.y as Tensor<'bfloat16'>);
      expect(y.data.every(Number.isFinite), `${what} bf16`).toBe(true);
      expectClose(`${what} bf16 y`, y, want.y, 6e-3);
      expectClose(`${what} bf16 finalState`, half.finalState!, want.finalState!, 1e-4);
    }
  });

  run('device tensors in and out; prefill, then steps on a device state == the whole sequence', async () => {
    const gpu = await backend('cuda');
    const r = rng(5);
    const [B, L, H, P, G, N, T] = [2, 40, 4, 16, 2, 32, 30];
    const p = {
      x: uniform(r, [B, L, H, P]), dt: uniform(r, [B, L, H], -3, 1), A: uniform(r, [H], -2, -0.1), B: uniform(r, [B, L, G, N]),
      C: uniform(r, [B, L, G, N]), D: uniform(r, [H, P]), z: uniform(r, [B, L, H, P], -3, 3), dtBias: uniform(r, [H], -1, 1),
      dtSoftplus: true,
    };
    const full = await gpu.ssdScan({ ...p, returnFinalState: true });
    const dev = async (t: Tensor) => gpu.toDevice(t);
    const weights = { A: await dev(p.A), D: await dev(p.D), dtBias: await dev(p.dtBias) };
    const onDevice = await gpu.ssdScan({ ...p, ...weights, x: await dev(p.x), returnFinalState: true });
    expect(onDevice.y).toBeInstanceOf(DeviceTensor);
    expectClose('device y', await gpu.toHost(onDevice.y), full.y, 0);
    const prefix = (t: Tensor) => {
      const inner = t.data.length / (B * L);
      const out = new Float32Array(B * T * inner);
      for (let b = 0; b < B; b++) out.set(t.data.subarray(b * L * inner, (b * L + T) * inner), b * T * inner);
      return tensor(out, [B, T, ...t.shape.slice(2)]);
    };
    const prefill = await gpu.ssdScan({ ...p, x: prefix(p.x), dt: prefix(p.dt), B: prefix(p.B), C: prefix(p.C), z: prefix(p.z), returnFinalState: true });
    const state = await dev(prefill.finalState!);
    for (let t = T; t < L; t++) {
      const { y } = await gpu.ssdScanStep({
        ...weights, state, x: await dev(token(p.x, t)), dt: token(p.dt, t), B: token(p.B, t), C: token(p.C, t), z: token(p.z, t),
        dtSoftplus: true,
      });
      expect(y).toBeInstanceOf(DeviceTensor);
      expectClose(`step ${t}`, await gpu.toHost(y), token(full.y, t), 1e-5);
      y.dispose();
    }
    expectClose('final state', await gpu.toHost(state), full.finalState!, 1e-5);
    for (const d of [...Object.values(weights), onDevice.y, onDevice.finalState!, state]) d.dispose();
  });
});
