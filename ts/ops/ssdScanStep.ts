/**
 * ssdScanStep — one decode token of ssdScan for a batch of sequences.
 *
 * Advances `state` [B, H, P, N] by one token **in place** and returns y [B, H, P]; the math is ssdScan's with
 * L = 1 and initialState = state. If the call rejects (bad arguments), the state is left untouched. x, z, B and C
 * may be bfloat16 (y comes back in it; the state stays float32), as in ssdScan.
 */
import type { Backend, Operand, SsdScanStepArgs } from '../backend.js';
import { cancellable, checkSignal } from '../cancel.js';
import type { Tensor } from '../tensor.js';
import { hostFloats, validateSsdScanStep } from '../validate.js';
import { inStorage, outputTensor, type FloatInput, type ScanInput } from './selectiveScan.js';

/** X: the type of x, z, B and C (float32 or bfloat16); F: the type of the float32 rest (the state among them). */
export interface SsdScanStepParams<X extends ScanInput = Tensor, F extends FloatInput = Tensor> {
  /** [B, H, P, N], updated in place. */
  state: F;
  /** [B, H, P]; on the device (cuda backend), y stays there. */
  x: X;
  /** [B, H] */
  dt: F;
  /** [H] */
  A: F;
  /** [B, G, N] */
  B: X;
  /** [B, G, N] */
  C: X;
  /** [H] or [H, P] */
  D?: F;
  /** [B, H, P] */
  z?: X;
  /** [H] */
  dtBias?: F;
  dtSoftplus?: boolean;
  dtLimit?: [number, number];
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function ssdScanStep(backend: Backend, params: SsdScanStepParams<ScanInput, FloatInput>): Promise<{ y: unknown }> {
  const { storage, onDevice, dPerDim, ...args } = validateSsdScanStep(params);
  const signal = checkSignal('ssdScanStep', params.signal);
  let y: Operand;
  if (backend.device) {
    const device = backend.device;
    ({ y } = await cancellable(signal, () => device.ssdScanStep({ ...args, dPerDim, storage, outputsOnDevice: onDevice })));
  } else {
    const host = hostFloats<SsdScanStepArgs>('ssdScanStep', backend.name, args);
    const cpu = await cancellable(signal, (cancel) => backend.ssdScanStep({ ...host, cancel }));
    y = inStorage(cpu.y, storage);
  }
  return { y: outputTensor(y, storage, [args.batch, args.heads, args.headDim]) };
}
