import { describe, expect, test } from 'vitest';
import {
  available, bfloat16ToFloats, floatsToBFloat16, init, tensor, toBFloat16, toFloat32, type SelectiveScanParams, type Tensor,
} from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { rng, uniform } from './helpers/random.js';

describe('bfloat16 tensors', () => {
  test('round to nearest even, keep NaN and Inf, and widen exactly', () => {
    const values = Float32Array.from([1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38, Infinity, -Infinity, NaN, 0, -0, 1e-40]);
    const back = bfloat16ToFloats(floatsToBFloat16(values));
    expect(Array.from(back.slice(0, 4))).toEqual([1, -2.5, 1, 1 + 4 * 2 ** -8]); // ties to even
    expect(back[4]).toBe(Infinity); // 3.4e38 rounds past the largest bfloat16
    expect([back[5], back[6]]).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(back[7])).toBe(true);
    expect(Object.is(back[9], -0)).toBe(true);
    const exact = bfloat16ToFloats(floatsToBFloat16(back));
    expect(exact).toEqual(back);
  });

  test('tensor(data, shape, "bfloat16") takes bit patterns and checks them', () => {
    const t = toBFloat16(tensor([1, 2, 3, 4], [2, 2]));
    expect(t.dtype).toBe('bfloat16');
    expect(t.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(toFloat32(t).data)).toEqual([1, 2, 3, 4]);
    expect(() => tensor(new Float32Array(4) as unknown as Uint16Array, [4], 'bfloat16')).toThrow(TypeError);
    expect(() => tensor(new Uint16Array(3), [4], 'bfloat16')).toThrow(RangeError);
  });
});

function scanParams(seed: number): SelectiveScanParams {
  const r = rng(seed);
  const [batch, dim, dstate, seqlen] = [2, 6, 5, 37];
  return {
    u: uniform(r, [batch, dim, seqlen]), delta: uniform(r, [batch, dim, seqlen], -3, 1), A: uniform(r, [dim, dstate], -4, -0.1),
    B: uniform(r, [batch, dstate, seqlen]), C: uniform(r, [batch, dstate, seqlen]), D: uniform(r, [dim]),
    z: uniform(r, [batch, dim, seqlen], -3, 3), deltaBias: uniform(r, [dim]), deltaSoftplus: true, returnFinalState: true,
  };
}

const rounded = (t: Tensor): Tensor => toFloat32(toBFloat16(t));

describe.each(testBackends)('selectiveScan in bfloat16 on $name', (b) => {
  const run = b.available ? test : test.skip;

  run('computes in float32 on the widened inputs and rounds y to bfloat16', async () => {
    const ls = await backend(b.name);
    const p = scanParams(5);
    const bf = await ls.selectiveScan({
      ...p, u: toBFloat16(p.u), delta: toBFloat16(p.delta), B: toBFloat16(p.B), C: toBFloat16(p.C), z: toBFloat16(p.z!),
    });
    const ref = await ls.selectiveScan({ ...p, u: rounded(p.u), delta: rounded(p.delta), B: rounded(p.B), C: rounded(p.C), z: rounded(p.z!) });
    expect(bf.y.dtype).toBe('bfloat16');
    expect(bf.y.data).toEqual(floatsToBFloat16(ref.y.data));
    expect(bf.finalState!.dtype).toBe('float32');
    expect(bf.finalState!.data).toEqual(ref.finalState!.data);
  });

  run('the step takes bfloat16 too', async () => {
    const ls = await backend(b.name);
    const r = rng(8);
    const [batch, dim, dstate] = [3, 4, 6];
    const p = {
      x: uniform(r, [batch, dim]), delta: uniform(r, [batch, dim]), A: uniform(r, [dim, dstate], -3, -0.1),
      B: uniform(r, [batch, dstate]), C: uniform(r, [batch, dstate]), deltaSoftplus: true,
    };
    const state = uniform(r, [batch, dim, dstate]);
    const state2 = tensor(state.data.slice(), state.shape);
    const bf = await ls.selectiveScanStep({ ...p, state, x: toBFloat16(p.x), delta: toBFloat16(p.delta), B: toBFloat16(p.B), C: toBFloat16(p.C) });
    const ref = await ls.selectiveScanStep({ ...p, state: state2, x: rounded(p.x), delta: rounded(p.delta), B: rounded(p.B), C: rounded(p.C) });
    expect(bf.y.data).toEqual(floatsToBFloat16(ref.y.data));
    expect(state.data).toEqual(state2.data);
  });

  run('rejects mixed dtypes and bfloat16 where float32 is required, naming the argument', async () => {
    const ls = await backend(b.name);
    const p = scanParams(6);
    await expect(ls.selectiveScan({ ...p, u: toBFloat16(p.u) } as unknown as SelectiveScanParams)).rejects.toThrow(
      /selectiveScan: delta has dtype float32 but u has bfloat16/,
    );
    await expect(ls.selectiveScan({ ...p, A: toBFloat16(p.A) } as unknown as SelectiveScanParams)).rejects.toThrow(
      /selectiveScan: A must have dtype float32, got bfloat16/,
    );
  });

  run('fftConv and its plans take bfloat16 u and k: float32 arithmetic on the widened values, y rounded', async () => {
    const ls = await backend(b.name);
    const r = rng(9);
    const p = { u: uniform(r, [2, 3, 50]), k: uniform(r, [3, 20], -0.3, 0.3), D: uniform(r, [3]) };
    const bf = await ls.fftConv({ ...p, u: toBFloat16(p.u), k: toBFloat16(p.k) });
    const ref = await ls.fftConv({ ...p, u: rounded(p.u), k: rounded(p.k) });
    expect(bf.y.dtype).toBe('bfloat16');
    expect(bf.y.data).toEqual(floatsToBFloat16(ref.y.data));
    const plan = await ls.fftConvPlan({ k: toBFloat16(p.k), L: 50 });
    const planned = await plan.run({ u: toBFloat16(p.u), D: p.D });
    expect(planned.y.dtype).toBe('bfloat16');
    const error = Math.max(...Array.from(bfloat16ToFloats(planned.y.data as Uint16Array), (v, i) => Math.abs(v - ref.y.data[i]!)));
    expect(error).toBeLessThanOrEqual(0.01 * Math.max(...Array.from(ref.y.data, Math.abs)));
    await expect(ls.fftConv({ ...p, u: toBFloat16(p.u) } as never)).rejects.toThrow(/fftConv: k has dtype float32 but u has bfloat16/);
    await expect(ls.fftConv({ ...p, u: toBFloat16(p.u), k: toBFloat16(p.k), D: toBFloat16(p.D) } as never)).rejects.toThrow(
      /fftConv: D must have dtype float32, got bfloat16/,
    );
  });

  run('ssdScan and its step take bfloat16 x, z, B and C: float32 arithmetic on the widened values, y rounded', async () => {
    const ls = await backend(b.name);
    const r = rng(10);
    const [B, L, H, P, G, N] = [2, 21, 4, 6, 2, 5];
    const p = {
      x: uniform(r, [B, L, H, P]), dt: uniform(r, [B, L, H], -3, 1), A: uniform(r, [H], -2, -0.1), B: uniform(r, [B, L, G, N]),
      C: uniform(r, [B, L, G, N]), D: uniform(r, [H]), z: uniform(r, [B, L, H, P], -3, 3), dtSoftplus: true, returnFinalState: true,
    };
    const bf = await ls.ssdScan({ ...p, x: toBFloat16(p.x), B: toBFloat16(p.B), C: toBFloat16(p.C), z: toBFloat16(p.z) });
    const ref = await ls.ssdScan({ ...p, x: rounded(p.x), B: rounded(p.B), C: rounded(p.C), z: rounded(p.z) });
    expect(bf.y.dtype).toBe('bfloat16');
    expect(bf.y.data).toEqual(floatsToBFloat16(ref.y.data));
    expect(bf.finalState!.dtype).toBe('float32');
    expect(bf.finalState!.data).toEqual(ref.finalState!.data);
    const token = (t: Tensor) => tensor(t.data.filter((_, i) => Math.floor(i / (t.data.length / (B * L))) % L === 0), [B, ...t.shape.slice(2)]);
    const step = { dt: token(p.dt), A: p.A, D: p.D, dtSoftplus: true };
    const state = tensor(ref.finalState!.data.slice(), ref.finalState!.shape), state2 = tensor(ref.finalState!.data.slice(), ref.finalState!.shape);
    const one = await ls.ssdScanStep({
      ...step, state, x: toBFloat16(token(p.x)), B: toBFloat16(token(p.B)), C: toBFloat16(token(p.C)), z: toBFloat16(token(p.z)),
    });
    const one2 = await ls.ssdScanStep({ ...step, state: state2, x: rounded(token(p.x)), B: rounded(token(p.B)), C: rounded(token(p.C)), z: rounded(token(p.z)) });
    expect(one.y.dtype).toBe('bfloat16');
    expect(one.y.data).toEqual(floatsToBFloat16(one2.y.data));
    expect(state.data).toEqual(state2.data);
    await expect(ls.ssdScan({ ...p, x: toBFloat16(p.x) } as never)).rejects.toThrow(/ssdScan: B has dtype float32 but x has bfloat16/);
    await expect(ls.ssdScan({ ...p, dt: toBFloat16(p.dt) } as never)).rejects.toThrow(/ssdScan: dt must have dtype float32, got bfloat16/);
  });

  run('deltaRule and its step take bfloat16 q, k and v: float32 arithmetic on the widened values, o rounded', async () => {
    const ls = await backend(b.name);
    const r = rng(11);
    const [B, T, H, HV, K, V] = [2, 19, 2, 4, 8, 6];
    const p = {
      q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K]), v: uniform(r, [B, T, HV, V]), beta: uniform(r, [B, T, HV], 0, 1),
      g: uniform(r, [B, T, HV], -1, 0), useQkL2Norm: true, returnFinalState: true,
    };
    const bf = await ls.deltaRule({ ...p, q: toBFloat16(p.q), k: toBFloat16(p.k), v: toBFloat16(p.v) });
    const ref = await ls.deltaRule({ ...p, q: rounded(p.q), k: rounded(p.k), v: rounded(p.v) });
    expect(bf.o.dtype).toBe('bfloat16');
    expect(bf.o.data).toEqual(floatsToBFloat16(ref.o.data));
    expect(bf.finalState!.dtype).toBe('float32');
    expect(bf.finalState!.data).toEqual(ref.finalState!.data);
    const step = { q: uniform(r, [B, H, K]), k: uniform(r, [B, H, K]), v: uniform(r, [B, HV, V]), beta: uniform(r, [B, HV], 0, 1) };
    const state = tensor(ref.finalState!.data.slice(), ref.finalState!.shape), state2 = tensor(ref.finalState!.data.slice(), ref.finalState!.shape);
    const one = await ls.deltaRuleStep({ ...step, state, q: toBFloat16(step.q), k: toBFloat16(step.k), v: toBFloat16(step.v) });
    const one2 = await ls.deltaRuleStep({ ...step, state: state2, q: rounded(step.q), k: rounded(step.k), v: rounded(step.v) });
    expect(one.o.dtype).toBe('bfloat16');
    expect(one.o.data).toEqual(floatsToBFloat16(one2.o.data));
    expect(state.data).toEqual(state2.data);
    await expect(ls.deltaRule({ ...p, q: toBFloat16(p.q) } as never)).rejects.toThrow(/deltaRule: k has dtype float32 but q has bfloat16/);
    await expect(ls.deltaRule({ ...p, beta: toBFloat16(p.beta) } as never)).rejects.toThrow(/deltaRule: beta must have dtype float32, got bfloat16/);
  });

  run('device memory needs the cuda backend', async () => {
    const ls = await backend(b.name);
    await expect(ls.toDevice(tensor([1, 2], [2]))).rejects.toThrow(new RegExp(`toDevice: the '${b.name}' backend has no device memory`));
  });
});

test('available() says why cuda cannot be used here, or describes the GPU', async () => {
  const cuda = (await available()).find((s) => s.name === 'cuda')!;
  if (cuda.available) {
    expect(cuda.description).toMatch(/^CUDA on /);
  } else {
    expect(cuda.reason).toMatch(/\S/);
    await expect(init({ backend: 'cuda' })).rejects.toThrow(`backend 'cuda' is not available: ${cuda.reason}`);
  }
});
