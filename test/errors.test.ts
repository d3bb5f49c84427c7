/**
 * DESIGN §5: every malformed call rejects with a TypeError or RangeError whose message names the argument
 * (and, for shapes, the expected and the actual shape); nothing crashes the process.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { available, init, tensor, type SelectiveScanParams } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';
import { rng, uniform } from './helpers/random.js';

const r = rng(11);
const [B, D, N, L] = [2, 4, 3, 5];
const scan: SelectiveScanParams = {
  u: uniform(r, [B, D, L]), delta: uniform(r, [B, D, L]), A: uniform(r, [D, N], -1, -0.1),
  B: uniform(r, [B, N, L]), C: uniform(r, [B, N, L]), D: uniform(r, [D]), z: uniform(r, [B, D, L]),
  deltaBias: uniform(r, [D]), initialState: uniform(r, [B, D, N]),
};

/** A tensor-like object whose shape claims more elements than any buffer may hold. */
const huge = { dtype: 'float32', shape: [65536, 65536, 1], data: new Float32Array(4) };

describe.each(testBackends)('selectiveScan errors on $name', (b) => {
  const run = b.available ? test : test.skip;
  const cases: [rule: string, change: object, type: ErrorConstructor, message: RegExp][] = [
    ['wrong rank', { u: uniform(r, [B * D, L]) }, RangeError, /selectiveScan: u must have rank 3, got rank 2/],
    ['shape mismatch', { delta: uniform(r, [B, D, L + 1]) }, RangeError, /delta must have shape \[2, 4, 5\].*got \[2, 4, 6\]/],
    ['shape mismatch across arguments', { A: uniform(r, [D + 1, N]) }, RangeError, /A must have shape \[4, N\].*got \[5, 3\]/],
    ['B and C disagree', { C: uniform(r, [B, 1, N, L]) }, RangeError, /C must have shape \[2, 3, 5\]/],
    ['channels not a multiple of groups', { B: uniform(r, [B, 3, N, L]), C: uniform(r, [B, 3, N, L]) }, RangeError, /multiple of the group count G = 3/],
    ['optional input of the wrong shape', { initialState: uniform(r, [B, D, N + 1]) }, RangeError, /initialState must have shape \[2, 4, 3\]/],
    ['wrong dtype', { z: { dtype: 'float16', shape: [B, D, L], data: new Uint16Array(B * D * L) } }, TypeError, /z must have dtype float32, got float16/],
    ['data of the wrong type', { u: { dtype: 'float32', shape: [B, D, L], data: new Float64Array(B * D * L) } }, TypeError, /u.data must be a Float32Array/],
    ['data shorter than the shape', { u: { dtype: 'float32', shape: [B, D, L], data: new Float32Array(3) } }, RangeError, /u.data holds 3 elements but its shape \[2, 4, 5\] needs 40/],
    ['not a tensor', { B: [1, 2, 3] }, TypeError, /B must have dtype float32/],
    ['missing required argument', { C: undefined }, TypeError, /C must be a Tensor/],
    ['unknown argument', { deltaSoftPlus: true }, TypeError, /unknown argument 'deltaSoftPlus'/],
    ['non-boolean option', { deltaSoftplus: 'yes' }, TypeError, /deltaSoftplus must be a boolean/],
    ['size overflow', { u: huge }, RangeError, /u has 4294967296 elements.*more than the 2\^31 - 1 supported/],
    ['empty dimension', { u: tensor(new Float32Array(0), [B, 0, L]) }, RangeError, /u has an empty dimension/],
  ];

  run.each(cases)('%s', async (_rule, change, type, message) => {
    const ls = await backend(b.name);
    const call = ls.selectiveScan({ ...scan, ...change } as never);
    await expect(call).rejects.toThrow(type);
    await expect(call).rejects.toThrow(message);
  });

  run('params that are not an object', async () => {
    const ls = await backend(b.name);
    await expect(ls.selectiveScan(null as never)).rejects.toThrow(/selectiveScan: params must be an object, got null/);
    await expect(ls.selectiveScan(undefined as never)).rejects.toThrow(TypeError);
  });
});

const [T, H, HV, K, V] = [5, 2, 4, 3, 6];
const rule = {
  q: uniform(r, [B, T, H, K]), k: uniform(r, [B, T, H, K]), v: uniform(r, [B, T, HV, V]),
  beta: uniform(r, [B, T, HV]), g: uniform(r, [B, T, HV], -1, 0), initialState: uniform(r, [B, HV, K, V]),
};

describe.each(testBackends)('deltaRule errors on $name', (b) => {
  const run = b.available ? test : test.skip;
  const cases: [rule: string, change: object, type: ErrorConstructor, message: RegExp][] = [
    ['wrong rank', { q: uniform(r, [B, T, H * K]) }, RangeError, /deltaRule: q must have rank 4, got rank 3/],
    ['k unlike q', { k: uniform(r, [B, T, H, K + 1]) }, RangeError, /k must have shape \[2, 5, 2, 3\].*got \[2, 5, 2, 4\]/],
    ['v of another length', { v: uniform(r, [B, T + 1, HV, V]) }, RangeError, /v must have shape \[2, 5, HV, V\]/],
    ['value heads not a multiple of heads', { v: uniform(r, [B, T, 3, V]) }, RangeError, /HV = 3 .* multiple of the q\/k heads H = 2/],
    ['beta per q/k head instead of value head', { beta: uniform(r, [B, T, H]) }, RangeError, /beta must have shape \[2, 5, 4\]/],
    ['state of the wrong shape', { initialState: uniform(r, [B, HV, V, K]) }, RangeError, /initialState must have shape \[2, 4, 3, 6\]/],
    ['a NaN scale', { scale: NaN }, RangeError, /scale must be a finite float32 number, got NaN/],
    ['an infinite scale', { scale: Infinity }, RangeError, /scale must be a finite/],
    ['a string scale', { scale: '0.5' }, TypeError, /scale must be a number/],
    ['chunkSize 0', { chunkSize: 0 }, RangeError, /chunkSize must be one of 16, 32, 64, got 0/],
    ['an unknown algorithm', { algorithm: 'fast' }, TypeError, /algorithm must be one of "auto", "chunked", "recurrent"/],
    ['allowBf16Products not a boolean', { allowBf16Products: 1 }, TypeError, /allowBf16Products must be a boolean/],
    ['g of the wrong dtype', { g: { dtype: 'bfloat16', shape: [B, T, HV], data: new Uint16Array(B * T * HV) } }, TypeError, /g must have dtype float32/],
  ];
  run.each(cases)('%s', async (_rule, change, type, message) => {
    const ls = await backend(b.name);
    const call = ls.deltaRule({ ...rule, ...change } as never);
    await expect(call).rejects.toThrow(type);
    await expect(call).rejects.toThrow(message);
  });
});

describe('init errors', () => {
  test('an unknown backend is a TypeError', async () => {
    await expect(init({ backend: 'gpu' as never })).rejects.toThrow(/backend must be one of cuda, native, wasm, js, got gpu/);
  });
  test('threads must be a positive integer', async () => {
    await expect(init({ threads: 0 })).rejects.toThrow(RangeError);
    await expect(init({ threads: NaN })).rejects.toThrow(/threads must be an integer >= 1, got NaN/);
    await expect(init({ threads: 1.5 })).rejects.toThrow(RangeError);
  });
  test('a backend that cannot load says why', async () => {
    // cuda on a machine without a GPU (CI); on a GPU machine every backend loads and there is nothing to check.
    const missing = (await available()).find((s) => !s.available);
    if (!missing) return;
    await expect(init({ backend: missing.name })).rejects.toThrow(`backend '${missing.name}' is not available: ${missing.reason}`);
  });
  test('bytes that are not WebAssembly are named as such', async () => {
    const html = new TextEncoder().encode('<!DOCTYPE html><html><body>Not found</body></html>');
    await expect(init({ backend: 'wasm', wasmBinary: html })).rejects.toThrow(/not a WebAssembly binary \(it starts with "<!DOCTYPE html>/);
  });
  test('a wasmPath that does not exist is reported with the path', async () => {
    await expect(init({ backend: 'wasm', wasmPath: '/nonexistent/longseq.wasm' })).rejects.toThrow(/cannot read file:\/\/\/nonexistent\/longseq.wasm/);
  });
});

// The addon checks its arguments again, so calls that bypass the TS layer cannot reach a kernel with bad sizes.
const addonPath = new URL('../build/Release/longseq.node', import.meta.url);
describe.skipIf(!existsSync(addonPath))('the native addon boundary', () => {
  const addon = createRequire(import.meta.url)(addonPath.pathname) as Record<string, (args?: unknown) => Promise<void>>;
  const valid = () => ({
    threads: 1, batch: B, dim: D, dstate: N, seqlen: L, groups: 1, deltaSoftplus: true, returnFinalState: true,
    u: scan.u.data, delta: scan.delta.data, A: scan.A.data, B: scan.B.data, C: scan.C.data, D: scan.D!.data,
  });

  test('a valid raw call works', async () => {
    const out = (await addon.selectiveScan!(valid())) as unknown as { y: Float32Array; finalState: Float32Array };
    expect(out.y).toHaveLength(B * D * L);
    expect(out.finalState).toHaveLength(B * D * N);
  });

  const validRule = () => ({
    threads: 1, batch: B, seqlen: T, heads: H, valueHeads: HV, keyDim: K, valueDim: V, scale: 0.5, useQkL2Norm: true,
    chunkSize: 16, algorithm: 1, returnFinalState: true,
    q: rule.q.data, k: rule.k.data, v: rule.v.data, beta: rule.beta.data, g: rule.g.data,
  });

  test.each([
    ['selectiveScan', valid],
    ['deltaRule', validRule],
  ] as const)('malformed raw %s calls throw TypeError or RangeError naming the argument, and never crash', async (op, make) => {
    const random = rng(123);
    const values = [undefined, null, 0, -1, 1.5, NaN, Infinity, 2 ** 53, 'x', true, {}, [], new Float32Array(1),
      new Float64Array(40), new Int32Array(40), new Float32Array(39), new Float32Array(41), new Float32Array(new SharedArrayBuffer(160))];
    const keys = Object.keys(make());
    for (let i = 0; i < 2000; i++) {
      const args: Record<string, unknown> = make();
      const key = keys[Math.floor(random() * keys.length)]!;
      args[key] = values[Math.floor(random() * values.length)];
      let error: unknown;
      try {
        await addon[op]!(args);
      } catch (e) {
        error = e;
      }
      if (error === undefined) continue; // e.g. an optional argument set to undefined, or a valid value
      expect(error instanceof TypeError || error instanceof RangeError, `${key}: ${String(error)}`).toBe(true);
      expect((error as Error).message).toContain(key);
    }
    expect(() => addon[op]!()).toThrow(TypeError);
    expect(() => addon[`${op}Step`]!(42)).toThrow(TypeError);
  });
});
