/**
 * The cuda backend's delta rule and its step, on a GPU (`npm run test:cuda`; skipped, saying why, where CUDA
 * cannot run): golden cases, random shapes against the native backend (key dims that are and are not multiples of
 * 16, value dims past one block of 32 columns, grouped value heads, long sequences across staging chunks), the
 * chunked form and the recurrence each against it, inputs past one workspace, device tensors, prefill + steps on
 * a device state, a host state updated in place, and the GPU's key_dim limit.
 */
import { describe, expect, test } from 'vitest';
import { available, DeviceTensor, tensor, toBFloat16, toFloat32, type DeltaRuleParams, type DType, type Tensor } from '../../ts/index.node.js';
import { backend, type TestBackend, withEnv, withWorkspaceLimit } from '../helpers/backends.js';
import { expectClose } from '../helpers/compare.js';
import { goldenTests } from '../helpers/goldenTests.js';
import { choose, pick, rng, uniform } from '../helpers/random.js';

const status = (await available()).find((s) => s.name === 'cuda')!;
const cuda: TestBackend = { name: 'cuda', available: status.available, reason: status.reason ?? '' };
const run = cuda.available ? test : test.skip;

function randomRule(seed: number): DeltaRuleParams {
  const r = rng(seed);
  const [B, T, H] = [pick(r, 1, 3), choose(r, [1, 2, 31, 32, 33, 100, 500]), pick(r, 1, 3)];
  const HV = H * choose(r, [1, 2]);
  const K = choose(r, [4, 16, 24, 64, 100, 128, 256]);
  const V = choose(r, [1, 8, 32, 33, 64, 100, 128]);
  const keyScale = Math.sqrt(3 / K);
  const p: DeltaRuleParams = {
    q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K], -keyScale, keyScale), v: uniform(r, [B, T, HV, V]),
    beta: uniform(r, [B, T, HV], 0, 1), useQkL2Norm: r() < 0.5, returnFinalState: true,
  };
  if (r() < 0.7) p.g = uniform(r, [B, T, HV], -0.7, 0);
  if (r() < 0.6) p.initialState = uniform(r, [B, HV, K, V], -0.5, 0.5);
  if (r() < 0.3) p.scale = 0.5 + r();
  return p;
}

const rounded = (t: Tensor): Tensor => toFloat32(toBFloat16(t));
/** Whether two tensors hold the same bits. */
function sameBits(a: Tensor<DType>, b: Tensor<DType>): boolean {
  const x = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const y = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  return x.length === y.length && x.every((value, i) => value === y[i]);
}

/** Token t of [B, T, X, Y] as [B, X, Y] (or of [B, T, X] as [B, X]). */
function token(t: Tensor, index: number): Tensor {
  const [B, T] = t.shape as [number, number];
  const inner = t.data.length / (B * T);
  const out = new Float32Array(B * inner);
  for (let b = 0; b < B; b++) out.set(t.data.subarray((b * T + index) * inner, (b * T + index + 1) * inner), b * inner);
  return tensor(out, [B, ...t.shape.slice(2)]);
}

describe(`deltaRule on cuda${cuda.available ? '' : ` (skipped: ${cuda.reason})`}`, () => {
  goldenTests('deltaRule', cuda);
  goldenTests('deltaRuleStep', cuda);

  run('matches the native recurrence on random shapes', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 1; seed <= 40; seed++) {
      const p = randomRule(seed);
      const [out, ref] = await Promise.all([gpu.deltaRule(p), cpu.deltaRule({ ...p, algorithm: 'recurrent' })]);
      const what = `seed ${seed} (T ${p.q.shape[1]} K ${p.q.shape[3]} V ${p.v.shape[3]})`;
      expectClose(`${what} o`, out.o, ref.o, 1e-4);  // past one chunk the GPU picks the chunked form
      expectClose(`${what} finalState`, out.finalState!, ref.finalState!, 1e-4);
    }
  });

  run('the chunked form (3xTF32 tensor-core products) and the recurrence each match the native recurrence', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 41; seed <= 70; seed++) {
      const p = randomRule(seed);
      const [K, T] = [p.q.shape[3]!, p.q.shape[1]!];
      const ref = await cpu.deltaRule({ ...p, algorithm: 'recurrent' });
      for (const algorithm of ['chunked', 'recurrent'] as const) {
        const out = await gpu.deltaRule({ ...p, algorithm });
        // The chunked form sums in another order (and runs the recurrence for key_dim > 128): DESIGN's float32 bound.
        const tolerance = algorithm === 'chunked' && K <= 128 && T > 1 ? 1e-4 : 1e-5;
        const what = `seed ${seed} ${algorithm} (T ${T} K ${K} V ${p.v.shape[3]})`;
        expectClose(`${what} o`, out.o, ref.o, tolerance);
        expectClose(`${what} finalState`, out.finalState!, ref.finalState!, tolerance);
      }
    }
  });

  run('bfloat16 q, k and v (both forms, device tensors, and the step): float32 state, o rounded', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 81; seed <= 90; seed++) {
      const p = randomRule(seed);
      const [K, T] = [p.q.shape[3]!, p.q.shape[1]!];
      const ref = await cpu.deltaRule({ ...p, q: rounded(p.q), k: rounded(p.k), v: rounded(p.v), algorithm: 'recurrent' });
      for (const algorithm of ['chunked', 'recurrent'] as const) {
        const out = await gpu.deltaRule({ ...p, q: toBFloat16(p.q), k: toBFloat16(p.k), v: toBFloat16(p.v), algorithm });
        expect(out.o.dtype).toBe('bfloat16');
        const what = `seed ${seed} ${algorithm} (T ${T} K ${K} V ${p.v.shape[3]})`;
        // o: the recurrence's float32 result rounded to bfloat16 (2^-9 relative at most); the chunked form's products
        // on bf16 tensor cores, with the causal P rounded to bf16 once as in fla's kernels. The state keeps float32
        // accuracy in both (the chunked form's state products take their operands exact or in two bf16 parts).
        expectClose(`${what} o`, toFloat32(out.o), ref.o, algorithm === 'chunked' && K <= 128 && T > 1 ? 6e-3 : 4e-3);
        expectClose(`${what} finalState`, out.finalState!, ref.finalState!, algorithm === 'chunked' && K <= 128 && T > 1 ? 1e-4 : 1e-5);
      }
    }
    // Key dims that are not whole 16-byte rows (36) and that are (40), padded to 48 in the chunked form's tiles, and a
    // last chunk of 2 tokens. On sm_90, 40 takes q's and k's tiles from the inputs by tensor maps (zeros past K and
    // past the sequence from the copy itself); 36 has them written into the workspace.
    for (const K of [36, 40]) {
      const r = rng(91);
      const p: DeltaRuleParams = {
        q: uniform(r, [2, 130, 3, K]), k: uniform(r, [2, 130, 3, K]), v: uniform(r, [2, 130, 6, 24]), beta: uniform(r, [2, 130, 6], 0, 1),
        g: uniform(r, [2, 130, 6], -0.7, 0), initialState: uniform(r, [2, 6, K, 24], -0.5, 0.5), useQkL2Norm: true, returnFinalState: true,
      };
      const ref = await cpu.deltaRule({ ...p, q: rounded(p.q), k: rounded(p.k), v: rounded(p.v), algorithm: 'recurrent' });
      const out = await gpu.deltaRule({ ...p, q: toBFloat16(p.q), k: toBFloat16(p.k), v: toBFloat16(p.v), algorithm: 'chunked' });
      expectClose(`K ${K} o`, toFloat32(out.o), ref.o, 6e-3);
      expectClose(`K ${K} finalState`, out.finalState!, ref.finalState!, 1e-4);
    }
    const r = rng(92);
    const [B, T, H, K, V] = [2, 100, 2, 64, 64];
    const q = toBFloat16(uniform(r, [B, T, H, K])), k = toBFloat16(uniform(r, [B, T, H, K], -0.2, 0.2));
    const v = toBFloat16(uniform(r, [B, T, H, V])), beta = uniform(r, [B, T, H], 0, 1);
    const host = await gpu.deltaRule({ q, k, v, beta, returnFinalState: true });
    const dq = await gpu.toDevice(q);
    const onDevice = await gpu.deltaRule({ q: dq, k, v, beta, returnFinalState: true });
    expect(onDevice.o).toBeInstanceOf(DeviceTensor);
    expect((await gpu.toHost(onDevice.o)).data).toEqual(host.o.data);
    const state = onDevice.finalState!;
    const step = { q: toBFloat16(uniform(r, [B, H, K])), k: toBFloat16(uniform(r, [B, H, K], -0.2, 0.2)), v: toBFloat16(uniform(r, [B, H, V])), beta: uniform(r, [B, H], 0, 1) };
    const reference = tensor((await gpu.toHost(state)).data.slice(), [B, H, K, V]);
    const stepQ = await gpu.toDevice(step.q);
    const { o } = await gpu.deltaRuleStep({ ...step, q: stepQ, state });
    const want = await cpu.deltaRuleStep({ ...step, state: reference, q: toFloat32(step.q), k: toFloat32(step.k), v: toFloat32(step.v) });
    expect(o).toBeInstanceOf(DeviceTensor);
    expectClose('step o', toFloat32((await gpu.toHost(o)) as Tensor<'bfloat16'>), want.o, 4e-3);
    expectClose('step state', await gpu.toHost(state), reference, 1e-5);
    for (const d of [dq, stepQ, onDevice.o, state, o]) d.dispose();
  });

  run('many heads: the widest state blocks (64 columns, the last one partial) match native in both storages', async () => {
    // B4 HV32 makes 128 (batch, value head) pairs, so the state kernel takes blocks of 64 columns where they fit the
    // GPU: two a head at V 100, the second 36 columns wide (bf16 takes them up to key dim 64, and 32 columns at K 100,
    // both in the T form). The sequence ends 2 tokens into its third chunk.
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const [B, T, H, HV, V] = [4, 130, 16, 32, 100];
    for (const K of [64, 100]) {
      const r = rng(96 + K);
      const p: DeltaRuleParams = {
        q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K]), v: uniform(r, [B, T, HV, V]), beta: uniform(r, [B, T, HV], 0, 1),
        g: uniform(r, [B, T, HV], -0.7, 0), initialState: uniform(r, [B, HV, K, V], -0.5, 0.5), useQkL2Norm: true, returnFinalState: true,
      };
      const out = await gpu.deltaRule(p);
      const ref = await cpu.deltaRule({ ...p, algorithm: 'recurrent' });
      expectClose(`K ${K} float32 o`, out.o, ref.o, 1e-4);
      expectClose(`K ${K} float32 finalState`, out.finalState!, ref.finalState!, 1e-4);
      const half = await gpu.deltaRule({ ...p, q: toBFloat16(p.q), k: toBFloat16(p.k), v: toBFloat16(p.v) });
      const want = await cpu.deltaRule({ ...p, q: rounded(p.q), k: rounded(p.k), v: rounded(p.v), algorithm: 'recurrent' });
      expectClose(`K ${K} bfloat16 o`, toFloat32(half.o), want.o, 6e-3);
      expectClose(`K ${K} bfloat16 finalState`, half.finalState!, want.finalState!, 1e-4);
    }
  });

  run('key dim 128: the walk on warpgroup products and the mma.sync walks both match native, in both storages', async () => {
    // Where the GPU runs sm_90a code (H100, H200) padded key dim 128 walks on warpgroup products in blocks of 64
    // columns (the last one partial at V 72), unless LONGSEQ_CUDA_DELTA_WGMMA is 0; both ways against native, with
    // grouped value heads, a partial last chunk, gated and plain, with and without an initial state. float32 there
    // takes its operands in two bf16 parts (about 1e-5), else 3xTF32 (about 1e-6): DESIGN's 1e-4 either way.
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const shapes = [[2, 150, 8, 16, 128, 72, true, true], [1, 200, 16, 16, 120, 128, false, false]] as const;
    for (const [B, T, H, HV, K, V, gated, initial] of shapes) {
      const r = rng(7 * T + K);
      const p: DeltaRuleParams = {
        q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K]), v: uniform(r, [B, T, HV, V]),
        beta: uniform(r, [B, T, HV], 0, 1), useQkL2Norm: true, returnFinalState: true,
      };
      if (gated) p.g = uniform(r, [B, T, HV], -0.7, 0);
      if (initial) p.initialState = uniform(r, [B, HV, K, V], -0.5, 0.5);
      const half = { ...p, q: toBFloat16(p.q), k: toBFloat16(p.k), v: toBFloat16(p.v) };
      const want = await cpu.deltaRule({ ...p, q: rounded(p.q), k: rounded(p.k), v: rounded(p.v), algorithm: 'recurrent' });
      const ref = await cpu.deltaRule({ ...p, algorithm: 'recurrent' });
      for (const setting of ['1', '0']) {
        const [out, full] = await withEnv('LONGSEQ_CUDA_DELTA_WGMMA', setting, async () => [await gpu.deltaRule(half), await gpu.deltaRule(p)] as const);
        const what = `B${B} T${T} H${H} HV${HV} K${K} V${V}${setting === '0' ? ' (mma.sync walks)' : ''}`;
        expectClose(`${what} bfloat16 o`, toFloat32(out.o), want.o, 6e-3);
        expectClose(`${what} bfloat16 finalState`, out.finalState!, want.finalState!, 1e-4);
        expectClose(`${what} float32 o`, full.o, ref.o, 1e-4);
        expectClose(`${what} float32 finalState`, full.finalState!, ref.finalState!, 1e-4);
      }
    }
  });

  run('allowBf16Products: bf16 products within 1e-2 of native where the GPU has them; elsewhere the same bits as without', async () => {
    // bf16 storage at K 113-128 on sm_90a (H100, H200): the warpgroup walk with every operand rounded once to bf16, as
    // fla's kernels take them, within 1e-2 (o and the final state; about 3e-3 measured). Where there is no such path
    // (float32 storage, K 64, or a GPU without sm_90a code) the option changes nothing.
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const shapes = [[1, 300, 16, 16, 128, 128, true], [2, 150, 8, 16, 120, 72, false], [1, 200, 4, 4, 64, 64, true]] as const;
    for (const [B, T, H, HV, K, V, gated] of shapes) {
      const r = rng(13 * T + K);
      const p: DeltaRuleParams = {
        q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K]), v: uniform(r, [B, T, HV, V]),
        beta: uniform(r, [B, T, HV], 0, 1), initialState: uniform(r, [B, HV, K, V], -0.5, 0.5), useQkL2Norm: true,
        returnFinalState: true,
      };
      if (gated) p.g = uniform(r, [B, T, HV], -0.7, 0);
      const half = { ...p, q: toBFloat16(p.q), k: toBFloat16(p.k), v: toBFloat16(p.v) };
      const want = await cpu.deltaRule({ ...p, q: rounded(p.q), k: rounded(p.k), v: rounded(p.v), algorithm: 'recurrent' });
      const what = `B${B} T${T} H${H} HV${HV} K${K} V${V}`;
      const out = await gpu.deltaRule({ ...half, allowBf16Products: true });
      expectClose(`${what} bf16 products o`, toFloat32(out.o), want.o, 1e-2);
      expectClose(`${what} bf16 products finalState`, out.finalState!, want.finalState!, 1e-2);
      const full = [await gpu.deltaRule(p), await gpu.deltaRule({ ...p, allowBf16Products: true })];
      expect(sameBits(full[0]!.o, full[1]!.o) && sameBits(full[0]!.finalState!, full[1]!.finalState!), `${what} float32`).toBe(true);
      if (K === 64) {
        const plain = await gpu.deltaRule(half);
        expect(sameBits(plain.o, out.o) && sameBits(plain.finalState!, out.finalState!), `${what} bfloat16`).toBe(true);
      }
    }
  });

  run('inputs longer than one workspace (segments, the state carried between them) match native', async () => {
    // T 20000 at H16 K=V=128: about 310 chunks, 10 or more segments of a workspace held to 64 MB (float32 or bf16
    // storage). Also slots smaller than the walk's short first segment (16 chunks): float32 at 64 MB walking two segments
    // at once (10 chunks a slot) and in one at 32 MB (10), bf16 at 16 MB (10).
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const r = rng(95);
    const [B, T, H, K, V] = [1, 20000, 16, 128, 128];
    const p: DeltaRuleParams = {
      q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K]), v: uniform(r, [B, T, H, V]), beta: uniform(r, [B, T, H], 0, 1),
      g: uniform(r, [B, T, H], -0.2, 0), initialState: uniform(r, [B, H, K, V], -0.5, 0.5), useQkL2Norm: true, returnFinalState: true,
    };
    const bf16 = { ...p, q: toBFloat16(p.q), k: toBFloat16(p.k), v: toBFloat16(p.v) };
    const [out, half] = await withWorkspaceLimit(64 << 20, async () => [await gpu.deltaRule(p), await gpu.deltaRule(bf16)] as const);
    const oneWalk = await withWorkspaceLimit(32 << 20, () => withEnv('LONGSEQ_CUDA_DELTA_SEGMENTS', '1', () => gpu.deltaRule(p)));
    const smallHalf = await withWorkspaceLimit(16 << 20, () => gpu.deltaRule(bf16));
    const ref = await cpu.deltaRule({ ...p, algorithm: 'recurrent' });
    for (const [what, o] of [['float32', out], ['float32, one walk', oneWalk]] as const) {
      expectClose(`${what} o`, o.o, ref.o, 1e-4);
      expectClose(`${what} finalState`, o.finalState!, ref.finalState!, 1e-4);
    }
    const want = await cpu.deltaRule({ ...p, q: rounded(p.q), k: rounded(p.k), v: rounded(p.v), algorithm: 'recurrent' });
    for (const [what, o] of [['bfloat16', half], ['bfloat16, 16 MB', smallHalf]] as const) {
      expectClose(`${what} o`, toFloat32(o.o), want.o, 6e-3);
      expectClose(`${what} finalState`, o.finalState!, want.finalState!, 1e-4);
    }
  }, 60_000);

  run('few heads past 256 chunks: the segments walked at once (bf16, float32) match native', async () => {
    // B1 T17000 H2 HV4 (grouped value heads) K128 V96: 266 chunks, four value heads, so the walk goes in four segments
    // walked at once (LaunchWgmmaParallel), their starts chained; an initial state, gated. float32 takes four too, and is
    // made to take three (its rule's count at B1 T262144 H8).
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const r = rng(97);
    const [B, T, H, HV, K, V] = [1, 17000, 2, 4, 128, 96];
    const p: DeltaRuleParams = {
      q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K]), v: uniform(r, [B, T, HV, V]), beta: uniform(r, [B, T, HV], 0, 1),
      g: uniform(r, [B, T, HV], -0.2, 0), initialState: uniform(r, [B, HV, K, V], -0.5, 0.5), useQkL2Norm: true, returnFinalState: true,
    };
    const half = { ...p, q: toBFloat16(p.q), k: toBFloat16(p.k), v: toBFloat16(p.v) };
    const want = await cpu.deltaRule({ ...p, q: rounded(p.q), k: rounded(p.k), v: rounded(p.v), algorithm: 'recurrent' });
    const exact = await gpu.deltaRule(half);
    expectClose('bfloat16 o', toFloat32(exact.o), want.o, 6e-3);
    expectClose('bfloat16 finalState', exact.finalState!, want.finalState!, 1e-4);
    const products = await gpu.deltaRule({ ...half, allowBf16Products: true });
    expectClose('bf16 products o', toFloat32(products.o), want.o, 1e-2);
    expectClose('bf16 products finalState', products.finalState!, want.finalState!, 1e-2);
    const four = await gpu.deltaRule(p);  // (in turn: the count is read where the call is launched)
    const three = await withEnv('LONGSEQ_CUDA_DELTA_SEGMENTS', '3', () => gpu.deltaRule(p));
    const wantSingle = await cpu.deltaRule({ ...p, algorithm: 'recurrent' });
    for (const [what, o] of [['float32', four], ['float32, three segments', three]] as const) {
      expectClose(`${what} o`, o.o, wantSingle.o, 1e-4);
      expectClose(`${what} finalState`, o.finalState!, wantSingle.finalState!, 1e-4);
    }
  }, 60_000);

  run('device tensors in and out; prefill then steps on a device state == the whole sequence', async () => {
    const gpu = await backend('cuda');
    const r = rng(11);
    const [B, T, H, HV, K, V, prefix] = [2, 40, 2, 4, 64, 48, 30];
    const p = {
      q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K], -0.2, 0.2), v: uniform(r, [B, T, HV, V]),
      beta: uniform(r, [B, T, HV], 0, 1), g: uniform(r, [B, T, HV], -0.5, 0), useQkL2Norm: true,
    };
    const full = await gpu.deltaRule({ ...p, returnFinalState: true });
    const onDevice = await Promise.all([p.q, p.k, p.v, p.beta, p.g].map((t) => gpu.toDevice(t)));
    const [q, k, v, beta, g] = onDevice;
    const deviceFull = await gpu.deltaRule({ q: q!, k: k!, v: v!, beta: beta!, g: g!, useQkL2Norm: true, returnFinalState: true });
    expect(deviceFull.o).toBeInstanceOf(DeviceTensor);
    expectClose('device o', await gpu.toHost(deviceFull.o), full.o, 0);
    const slice = (t: Tensor, from: number, to: number): Tensor => {
      const inner = t.data.length / (B * T);
      const out = new Float32Array(B * (to - from) * inner);
      for (let b = 0; b < B; b++) out.set(t.data.subarray((b * T + from) * inner, (b * T + to) * inner), b * (to - from) * inner);
      return tensor(out, [B, to - from, ...t.shape.slice(2)]);
    };
    const prefill = await gpu.deltaRule({
      q: slice(p.q, 0, prefix), k: slice(p.k, 0, prefix), v: slice(p.v, 0, prefix), beta: slice(p.beta, 0, prefix),
      g: slice(p.g, 0, prefix), useQkL2Norm: true, returnFinalState: true,
    });
    const state = await gpu.toDevice(prefill.finalState!);
    for (let t = prefix; t < T; t++) {
      const step = await Promise.all([p.q, p.k, p.v, p.beta, p.g].map((x) => gpu.toDevice(token(x, t))));
      const { o } = await gpu.deltaRuleStep({ state, q: step[0]!, k: step[1]!, v: step[2]!, beta: step[3]!, g: step[4]!, useQkL2Norm: true });
      expect(o).toBeInstanceOf(DeviceTensor);
      expectClose(`step ${t}`, await gpu.toHost(o), token(full.o, t), 1e-5);
      for (const d of [...step, o]) d.dispose();
    }
    expectClose('final state', await gpu.toHost(state), full.finalState!, 1e-5);
    for (const d of [...onDevice, deviceFull.o, deviceFull.finalState!, state]) d.dispose();
  });

  run('a host state is updated in place by the step, as on the CPU', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    const r = rng(12);
    const [B, H, HV, K, V] = [3, 2, 4, 128, 128];
    const p = {
      q: uniform(r, [B, H, K]), k: uniform(r, [B, H, K]), v: uniform(r, [B, HV, V]), beta: uniform(r, [B, HV], 0, 1),
      g: uniform(r, [B, HV], -1, 0), useQkL2Norm: true,
    };
    const s1 = uniform(r, [B, HV, K, V], -0.2, 0.2);
    const s2 = tensor(s1.data.slice(), s1.shape);
    const [a, c] = [await gpu.deltaRuleStep({ ...p, state: s1 }), await cpu.deltaRuleStep({ ...p, state: s2 })];
    expectClose('o', a.o, c.o, 1e-5);
    expectClose('state', s1, s2, 1e-6);
  });

  run('refuses key_dim > 256 on the GPU, naming it', async () => {
    const gpu = await backend('cuda');
    const r = rng(13);
    const p = { q: uniform(r, [1, 2, 1, 257]), k: uniform(r, [1, 2, 1, 257]), v: uniform(r, [1, 2, 1, 4]), beta: uniform(r, [1, 2, 1]) };
    await expect(gpu.deltaRule(p)).rejects.toThrow(/key_dim <= 256/);
  });
});
