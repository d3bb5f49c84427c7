/**
 * Issue 8: the wasm heap up to its 4 GiB limit. Pointers past 2 GiB (negative as signed i32) must work, and a call
 * that cannot fit must be refused with a RangeError naming the size before anything is allocated.
 */
import { describe, expect, test } from 'vitest';
import { tensor } from '../ts/index.node.js';
import { backend, testBackends } from './helpers/backends.js';

const wasm = testBackends.find((b) => b.name === 'wasm')!;

describe.skipIf(!wasm.available)('the wasm heap near its limit', () => {
  test('a call whose buffers cross 2 GiB computes right', async () => {
    const ls = await backend('wasm');
    const L = 2 ** 28; // x and y: 1 GiB each, so y lies past 2 GiB in the heap
    const x = new Float32Array(L);
    x[L - 1] = 2;
    x[L - 2] = 1;
    const { y } = await ls.causalConv1d({ x: tensor(x, [1, 1, L]), weight: tensor([10, 1], [1, 2]), bias: tensor([0.5], [1]) });
    expect(y.data[0]).toBe(0.5);
    expect(y.data[L - 2]).toBe(1.5); // 10 * x[L-3] + 1 * x[L-2] + 0.5
    expect(y.data[L - 1]).toBe(12.5); // 10 * 1 + 1 * 2 + 0.5
  }, 120_000);

  test('a call that cannot fit in 4 GiB is refused up front with a RangeError naming the size', async () => {
    const ls = await backend('wasm');
    const shape = [1, 1024, 2 ** 18]; // u, delta and z: 1 GiB each, y another: more than the heap can hold
    const big = () => tensor(new Float32Array(shape[0]! * shape[1]! * shape[2]!), shape); // never touched
    const small = (s: number[]) => tensor(new Float32Array(s.reduce((a, b) => a * b)), s);
    await expect(ls.selectiveScan({
      u: big(), delta: big(), z: big(), A: small([1024, 4]), B: small([1, 4, 2 ** 18]), C: small([1, 4, 2 ** 18]),
    })).rejects.toThrow(/selectiveScan: cannot allocate \d+ bytes in the WebAssembly heap \(limit 4 GiB\)/);
    // And the backend still works.
    const { y } = await ls.causalConv1d({ x: tensor([1, 2], [1, 1, 2]), weight: tensor([1, 1], [1, 2]) });
    expect(Array.from(y.data)).toEqual([1, 3]);
  }, 60_000);
});
