/** Error measures of DESIGN §4. */
import { expect } from 'vitest';
import type { Tensor } from '../../ts/index.node.js';

/** ‖out − ref‖ / ‖ref‖ (‖out‖ when ref is all zeros); NaN anywhere gives NaN, which never passes. */
export function relativeL2(out: Float32Array, ref: Float32Array): number {
  if (out.length !== ref.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i]! - ref[i]!;
    num += d * d;
    den += ref[i]! * ref[i]!;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Asserts shape equality and relative L2 error <= tolerance, naming `what` on failure. */
export function expectClose(what: string, out: Tensor | undefined, ref: Tensor, tolerance: number): void {
  expect(out, `${what}: missing output`).toBeDefined();
  expect(out!.shape, `${what}: shape`).toEqual(ref.shape);
  const error = relativeL2(out!.data, ref.data);
  expect(error, `${what}: relative L2 error ${error}`).toBeLessThanOrEqual(tolerance);
}
