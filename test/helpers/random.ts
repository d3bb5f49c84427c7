/** Seeded random tensors for property tests: the same seed gives the same inputs on every run and backend. */
import { tensor, sizeOf, type Tensor } from '../../ts/index.node.js';

/** mulberry32: a small, fast, well-distributed 32-bit generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A tensor of uniform values in [lo, hi). */
export function uniform(random: () => number, shape: readonly number[], lo = -1, hi = 1): Tensor {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * random();
  return tensor(data, shape);
}

/** An integer in [lo, hi]. */
export function pick(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

export function choose<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)]!;
}

/** A deep copy of a tensor (for checking that inputs are not mutated). */
export function clone(t: Tensor): Tensor {
  return tensor(Float32Array.from(t.data), t.shape);
}
