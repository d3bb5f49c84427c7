/** Tensors: a dtype, a shape and a flat row-major TypedArray. */

/**
 * float32 (Float32Array), or bfloat16 (Uint16Array holding the upper 16 bits of each float32). bfloat16 is a
 * storage type: kernels compute in float32. The selective scan takes it for u, delta, z, B and C on every
 * backend (the CPU backends convert); other ops take float32.
 */
export type DType = 'float32' | 'bfloat16';

/** The TypedArray that holds each dtype. */
export interface DataOf {
  float32: Float32Array;
  bfloat16: Uint16Array;
}

export interface Tensor<D extends DType = 'float32'> {
  readonly dtype: D;
  /** Row-major shape; the last dimension is contiguous. */
  readonly shape: readonly number[];
  readonly data: DataOf[D];
}

/** A host tensor of either dtype. */
export type AnyTensor = Tensor<'float32'> | Tensor<'bfloat16'>;

/** The number of elements of a shape (1 for a scalar shape []). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShapeArg(shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new TypeError(`tensor: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

function checkLength(length: number, shape: readonly number[]): void {
  if (length !== sizeOf(shape)) {
    throw new RangeError(`tensor: data holds ${length} elements but shape [${shape.join(', ')}] needs ${sizeOf(shape)}`);
  }
}

/**
 * Makes a tensor. float32 (the default): `data` is used as is (not copied) when it is a Float32Array; a plain
 * array of numbers is copied into a new Float32Array. bfloat16: `data` is a Uint16Array of bfloat16 bit
 * patterns, used as is (see toBFloat16 to convert numbers). Throws a TypeError / RangeError when shape and data
 * disagree.
 */
export function tensor(data: Float32Array | readonly number[], shape: readonly number[], dtype?: 'float32'): Tensor;
export function tensor(data: Uint16Array, shape: readonly number[], dtype: 'bfloat16'): Tensor<'bfloat16'>;
export function tensor(
  data: Float32Array | Uint16Array | readonly number[],
  shape: readonly number[],
  dtype: DType = 'float32',
): AnyTensor {
  checkShapeArg(shape);
  if (dtype === 'bfloat16') {
    if (!(data instanceof Uint16Array)) throw new TypeError('tensor: bfloat16 data must be a Uint16Array of bit patterns');
    checkLength(data.length, shape);
    return Object.freeze({ dtype, shape: Object.freeze([...shape]), data });
  }
  if (dtype !== 'float32') throw new TypeError(`tensor: dtype must be 'float32' or 'bfloat16', got ${String(dtype)}`);
  const array = data instanceof Float32Array ? data : Array.isArray(data) ? Float32Array.from(data) : undefined;
  if (!array) throw new TypeError('tensor: data must be a Float32Array or an array of numbers');
  checkLength(array.length, shape);
  return Object.freeze({ dtype: 'float32' as const, shape: Object.freeze([...shape]), data: array });
}

/** A new zero-filled float32 tensor. */
export function zeros(shape: readonly number[]): Tensor {
  return tensor(new Float32Array(sizeOf(shape)), shape);
}

/** float32 values to bfloat16 bit patterns, rounding to nearest even (NaN stays NaN). */
export function floatsToBFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]!;
    if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) {
      out[i] = (u >>> 16) | 0x40;  // a quiet NaN, whatever the payload
    } else {
      out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}

/** bfloat16 bit patterns to float32 values (exact). */
export function bfloat16ToFloats(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16;
  return new Float32Array(out.buffer);
}

/** A bfloat16 copy of a float32 tensor (or of numbers), rounded to nearest even. */
export function toBFloat16(t: Tensor | AnyTensor): Tensor<'bfloat16'> {
  if (t.dtype === 'bfloat16') return t as Tensor<'bfloat16'>;
  return tensor(floatsToBFloat16(t.data as Float32Array), t.shape, 'bfloat16');
}

/** A float32 copy of a bfloat16 tensor (exact); a float32 tensor is returned as is. */
export function toFloat32(t: AnyTensor): Tensor {
  if (t.dtype === 'float32') return t as Tensor;
  return tensor(bfloat16ToFloats(t.data as Uint16Array), t.shape);
}
