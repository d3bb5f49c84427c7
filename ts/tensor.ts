/** Tensors: a dtype, a shape and a flat row-major TypedArray. */

export type DType = 'float32';

export interface Tensor {
  readonly dtype: DType;
  /** Row-major shape; the last dimension is contiguous. */
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** The number of elements of a shape (1 for a scalar shape []). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Makes a float32 tensor. `data` is used as is (not copied) when it is a Float32Array; a plain array of numbers
 * is copied into a new Float32Array. Throws a TypeError / RangeError when shape and data disagree.
 */
export function tensor(data: Float32Array | readonly number[], shape: readonly number[]): Tensor {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new TypeError(`tensor: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const array = data instanceof Float32Array ? data : Array.isArray(data) ? Float32Array.from(data) : undefined;
  if (!array) throw new TypeError('tensor: data must be a Float32Array or an array of numbers');
  if (array.length !== sizeOf(shape)) {
    throw new RangeError(
      `tensor: data holds ${array.length} elements but shape [${shape.join(', ')}] needs ${sizeOf(shape)}`,
    );
  }
  return Object.freeze({ dtype: 'float32' as const, shape: Object.freeze([...shape]), data: array });
}

/** A new zero-filled float32 tensor. */
export function zeros(shape: readonly number[]): Tensor {
  return tensor(new Float32Array(sizeOf(shape)), shape);
}
