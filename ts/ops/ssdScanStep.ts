/**
 * ssdScanStep — one decode token of ssdScan for a batch of sequences.
 *
 * Advances `state` [B, H, P, N] by one token **in place** and returns y [B, H, P]; the math is ssdScan's with
 * L = 1 and initialState = state. If the call rejects (bad arguments), the state is left untouched.
 */
import type { Backend } from '../backend.js';
import { cancellable, checkSignal } from '../cancel.js';
import { tensor, type Tensor } from '../tensor.js';
import { validateSsdScanStep } from '../validate.js';

export interface SsdScanStepParams {
  /** [B, H, P, N], updated in place. */
  state: Tensor;
  /** [B, H, P] */
  x: Tensor;
  /** [B, H] */
  dt: Tensor;
  /** [H] */
  A: Tensor;
  /** [B, G, N] */
  B: Tensor;
  /** [B, G, N] */
  C: Tensor;
  /** [H] or [H, P] */
  D?: Tensor;
  /** [B, H, P] */
  z?: Tensor;
  /** [H] */
  dtBias?: Tensor;
  dtSoftplus?: boolean;
  dtLimit?: [number, number];
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function ssdScanStep(backend: Backend, params: SsdScanStepParams): Promise<{ y: Tensor }> {
  const a = validateSsdScanStep(params);
  const out = await cancellable(checkSignal('ssdScanStep', params.signal), (cancel) => backend.ssdScanStep({ ...a, cancel }));
  return { y: tensor(out.y, [a.batch, a.heads, a.headDim]) };
}
