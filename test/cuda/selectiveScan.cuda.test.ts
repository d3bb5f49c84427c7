/**
 * The cuda backend's selective scan, on a GPU (`npm run test:cuda`; skipped, saying why, where CUDA cannot
 * run). Host float32 tensors, bfloat16, device tensors, prefill + steps, concurrency and the error paths.
 */
import { describe, expect, test } from 'vitest';
import {
  available, DeviceTensor, tensor, toBFloat16, toFloat32, type LongSeq, type SelectiveScanParams, type Tensor,
} from '../../ts/index.node.js';
import { backend, type TestBackend } from '../helpers/backends.js';
import { expectClose } from '../helpers/compare.js';
import { goldenTests } from '../helpers/goldenTests.js';
import { choose, pick, rng, uniform } from '../helpers/random.js';

const status = (await available()).find((s) => s.name === 'cuda')!;
const cuda: TestBackend = { name: 'cuda', available: status.available, reason: status.reason ?? '' };
const run = cuda.available ? test : test.skip;

function randomScan(seed: number, maxState = 64): SelectiveScanParams {
  const r = rng(seed);
  const groups = choose(r, [1, 1, 2, 3]);
  const batch = pick(r, 1, 3);
  const dim = groups * pick(r, 1, 21);
  const dstate = choose(r, [1, 3, 4, 8, 16, 17, 32, maxState]);
  const seqlen = choose(r, [1, 2, 7, 127, 128, 129, 300, 1024, 2051]);
  const bc = groups === 1 && r() < 0.5 ? [batch, dstate, seqlen] : [batch, groups, dstate, seqlen];
  const p: SelectiveScanParams = {
    u: uniform(r, [batch, dim, seqlen]), delta: uniform(r, [batch, dim, seqlen], -3, 1), A: uniform(r, [dim, dstate], -4, -0.1),
    B: uniform(r, bc), C: uniform(r, bc), deltaSoftplus: r() < 0.8, returnFinalState: r() < 0.7,
  };
  // Without softplus the step sizes (delta + deltaBias, bias in [-1, 1)) must stay positive, or the state grows
  // without bound on any backend.
  if (!p.deltaSoftplus) p.delta = uniform(r, [batch, dim, seqlen], 1, 2.5);
  if (r() < 0.7) p.D = uniform(r, [dim]);
  if (r() < 0.7) p.z = uniform(r, [batch, dim, seqlen], -3, 3);
  if (r() < 0.7) p.deltaBias = uniform(r, [dim], -1, 1);
  if (r() < 0.5) p.initialState = uniform(r, [batch, dim, dstate]);
  return p;
}

/** Column t of [B, X, L] as [B, X]. */
function column(t: Tensor, index: number): Tensor {
  const L = t.shape[t.shape.length - 1]!;
  const out = new Float32Array(t.data.length / L);
  for (let i = 0; i < out.length; i++) out[i] = t.data[i * L + index]!;
  return tensor(out, t.shape.slice(0, -1));
}

const bf = (t: Tensor | undefined) => (t ? toBFloat16(t) : undefined);
const widened = (t: Tensor | undefined) => (t ? toFloat32(toBFloat16(t)) : undefined);

describe(`selectiveScan on cuda${cuda.available ? '' : ` (skipped: ${cuda.reason})`}`, () => {
  goldenTests('selectiveScan', cuda);
  goldenTests('selectiveScanStep', cuda);

  run('matches the native backend on random shapes, groups, states up to 64 and options', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 1; seed <= 60; seed++) {
      const p = randomScan(seed);
      const [out, ref] = await Promise.all([gpu.selectiveScan(p), cpu.selectiveScan(p)]);
      expectClose(`seed ${seed} y`, out.y, ref.y, 1e-5);
      if (p.returnFinalState) expectClose(`seed ${seed} finalState`, out.finalState, ref.finalState!, 1e-5);
      else expect(out.finalState).toBeUndefined();
    }
  });

  run('bfloat16 storage matches float32 math on the rounded inputs', async () => {
    const [gpu, cpu] = await Promise.all([backend('cuda'), backend('native')]);
    for (let seed = 100; seed <= 120; seed++) {
      const p = randomScan(seed);
      const out = await gpu.selectiveScan({ ...p, u: bf(p.u)!, delta: bf(p.delta)!, B: bf(p.B)!, C: bf(p.C)!, z: bf(p.z) });
      const ref = await cpu.selectiveScan({
        ...p, u: widened(p.u)!, delta: widened(p.delta)!, B: widened(p.B)!, C: widened(p.C)!, z: widened(p.z),
      });
      expect(out.y.dtype).toBe('bfloat16');
      expectClose(`seed ${seed} y`, toFloat32(out.y), ref.y, 1e-2); // y itself is rounded to 8 bits
      if (p.returnFinalState) expectClose(`seed ${seed} finalState`, out.finalState, ref.finalState!, 1e-5);
    }
  });

  run('device tensors in, device tensors out; toHost gives the host result', async () => {
    const gpu = await backend('cuda');
    const p = { ...randomScan(7), returnFinalState: true };
    const onDevice = async (t: Tensor | undefined) => (t ? gpu.toDevice(t) : undefined);
    const d = {
      u: (await onDevice(p.u))!, delta: (await onDevice(p.delta))!, A: (await onDevice(p.A))!, B: (await onDevice(p.B))!,
      C: (await onDevice(p.C))!, z: await onDevice(p.z), D: await onDevice(p.D), deltaBias: await onDevice(p.deltaBias),
      initialState: await onDevice(p.initialState),
    };
    const out = await gpu.selectiveScan({ ...p, ...d });
    expect(out.y).toBeInstanceOf(DeviceTensor);
    expect(out.y.shape).toEqual(p.u.shape);
    const ref = await gpu.selectiveScan(p);
    expectClose('y', await gpu.toHost(out.y), ref.y, 0);
    expectClose('finalState', await gpu.toHost(out.finalState!), ref.finalState!, 0);
    for (const t of [...Object.values(d), out.y, out.finalState]) t?.dispose();
    expect(d.u.disposed).toBe(true);
    await expect(gpu.selectiveScan({ ...p, ...d })).rejects.toThrow(/selectiveScan: u is a disposed device tensor/);
    await expect(gpu.toHost(d.u)).rejects.toThrow(/toHost: d is a disposed device tensor/);
  });

  run('prefill then steps on a device state equal the whole scan', async () => {
    const gpu = await backend('cuda');
    const p = { ...randomScan(11), deltaSoftplus: true };
    const [batch, , seqlen] = p.u.shape as [number, number, number];
    const dstate = p.A.shape[1]!;
    const bc = (t: Tensor) => (t.shape.length === 3 ? tensor(t.data, [batch, 1, dstate, seqlen]) : t);
    const q = { ...p, B: bc(p.B), C: bc(p.C) };
    const split = Math.floor(seqlen / 2);
    const cut = (t: Tensor, from: number, to: number) => {
      const L = t.shape[t.shape.length - 1]!;
      const rows = t.data.length / L;
      const out = new Float32Array(rows * (to - from));
      for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * L + from, r * L + to), r * (to - from));
      return tensor(out, [...t.shape.slice(0, -1), to - from]);
    };
    const full = await gpu.selectiveScan({ ...q, returnFinalState: true });
    if (split === 0) return;
    const prefill = await gpu.selectiveScan({
      ...q, u: cut(q.u, 0, split), delta: cut(q.delta, 0, split), B: cut(q.B, 0, split), C: cut(q.C, 0, split),
      z: q.z && cut(q.z, 0, split), returnFinalState: true,
    });
    const state = await gpu.toDevice(prefill.finalState!);
    const ys: number[][] = [];
    for (let t = split; t < seqlen; t++) {
      const { y } = await gpu.selectiveScanStep({
        state, x: column(q.u, t), delta: column(q.delta, t), A: q.A, B: column(q.B, t), C: column(q.C, t),
        z: q.z && column(q.z, t), D: q.D, deltaBias: q.deltaBias, deltaSoftplus: true,
      });
      ys.push(Array.from(y.data));
    }
    const tail = cut(full.y, split, seqlen);
    const stepped = new Float32Array(tail.data.length);
    for (let t = 0; t < ys.length; t++) ys[t]!.forEach((v, i) => (stepped[i * (seqlen - split) + t] = v));
    expectClose('steps y', tensor(stepped, tail.shape), tail, 1e-5);
    expectClose('final state', await gpu.toHost(state), full.finalState!, 1e-5);
    state.dispose();
  });

  run('many concurrent calls give the serial results', async () => {
    const gpu = await backend('cuda');
    const params = Array.from({ length: 24 }, (_, i) => randomScan(200 + i));
    const serial: { y: Tensor }[] = [];
    for (const p of params) serial.push(await gpu.selectiveScan(p));
    const parallel = await Promise.all(params.map((p) => gpu.selectiveScan(p)));
    parallel.forEach((out, i) => expectClose(`call ${i}`, out.y, serial[i]!.y, 0));
  });

  run('errors are JS errors and the backend keeps working', async () => {
    const gpu: LongSeq = await backend('cuda');
    const p = randomScan(3);
    const [, dim] = p.u.shape as [number, number, number];
    const wide = { ...p, A: uniform(rng(1), [dim, 65], -1, -0.1), B: uniform(rng(2), [p.u.shape[0]!, 65, p.u.shape[2]!]) };
    await expect(gpu.selectiveScan({ ...wide, C: wide.B, initialState: undefined })).rejects.toThrow(/dstate up to 64/);
    const device = await gpu.toDevice(toBFloat16(p.A));
    await expect(gpu.selectiveScan({ ...p, A: device } as unknown as SelectiveScanParams)).rejects.toThrow(
      /selectiveScan: A must have dtype float32, got bfloat16/,
    );
    device.dispose();
    const again = await gpu.selectiveScan(p);
    expect(again.y.shape).toEqual(p.u.shape);
  });

  run('disposing frees device memory: 2000 tensors of 4 MB come and go', async () => {
    const gpu = await backend('cuda');
    const t = uniform(rng(5), [1 << 20]);
    for (let i = 0; i < 2000; i++) (await gpu.toDevice(t)).dispose();
  });
});
