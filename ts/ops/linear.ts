/**
 * linear — a linear layer (PyTorch's nn.Linear) on the last axis: y[..., o] = Σ_i x[..., i]·weight[o, i] + bias[o].
 *
 * The projections around a model's scans. In a decode step (a few rows of x) it is one pass over the weights,
 * which is what the native and wasm kernels are built for (native/cpu/linear.cc).
 */
import type { Backend } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateLinear } from '../validate.js';

export interface LinearParams {
  /** [..., in] (rank 1 to 4). */
  x: Tensor;
  /** [out, in], as PyTorch stores it. */
  weight: Tensor;
  /** [out] */
  bias?: Tensor;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function linear(backend: Backend, params: LinearParams): Promise<{ y: Tensor }> {
  const args = validateLinear(params);
  const out = await cancellable(checkSignal('linear', params.signal), (cancel) => backend.linear({ ...args, cancel }));
  return { y: tensor(out.y, [...params.x.shape.slice(0, -1), args.outFeatures]) };
}
