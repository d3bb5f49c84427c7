/**
 * mambaBlocksStep — one decode token through consecutive Mamba blocks (transformers' MambaBlock), for a batch of
 * sequences. Each block, on the residual stream r (first `hidden`):
 *
 *   h = RMSNorm(r)·norm;  [x | z] = h·inProjᵀ;  x = SiLU(causalConv1dStep(convState, x));
 *   [dtIn | B | C] = x·xProjᵀ;  s = selectiveScanStep(ssmState, x, dtIn·dtProjᵀ, A, B, C, D, z, dtBias, softplus);
 *   r = r + s·outProjᵀ
 *
 * and y is the final r. The same arithmetic as six ops per block, in one call: a decode step is many small ops,
 * and on the native backend each call's trip to a worker thread and back costs as much as a small projection's
 * work (native/cpu/mamba_blocks_step.cc). Backends without the fused kernel run the ops one by one. The states
 * are updated in place, all or none: if the call rejects, they are left untouched.
 */
import type { Backend, MambaBlocksStepArgs } from '../backend.js';
import { tensor, type Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { validateMambaBlocksStep } from '../validate.js';
import { addInto, columns, rmsNorm } from '../layers.js';

/** One block's weights, as a checkpoint stores them (A already as −exp(A_log)). */
export interface MambaBlockWeights {
  /** [H], the RMSNorm before the mixer. */
  norm: Tensor;
  /** [2·I, H] */
  inProj: Tensor;
  /** [I, W] (the checkpoint's [I, 1, W]) */
  convWeight: Tensor;
  /** [I] */
  convBias?: Tensor;
  /** [R + 2·N, I] */
  xProj: Tensor;
  /** [I, R] */
  dtProj: Tensor;
  /** [I], dt_proj's bias: added to dt before the softplus. */
  dtBias: Tensor;
  /** [I, N] */
  A: Tensor;
  /** [I] */
  D: Tensor;
  /** [H, I] */
  outProj: Tensor;
}

export interface MambaBlock {
  weights: MambaBlockWeights;
  /** [B, I, W−1], updated in place. */
  convState: Tensor;
  /** [B, I, N], updated in place. */
  ssmState: Tensor;
}

export interface MambaBlocksStepParams {
  /** [B, H]: the residual stream before the first block. */
  hidden: Tensor;
  /** In order; every block of the same sizes. */
  blocks: readonly MambaBlock[];
  /** The RMSNorm's epsilon (default 1e-5). */
  eps?: number;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function mambaBlocksStep(backend: Backend, params: MambaBlocksStepParams): Promise<{ y: Tensor }> {
  const a = validateMambaBlocksStep(params);
  const fused = backend.mambaBlocksStep?.bind(backend);
  const out = await cancellable(checkSignal('mambaBlocksStep', params.signal), (cancel) =>
    fused ? fused({ ...a, cancel }) : composed(backend, { ...a, cancel }),
  );
  return { y: tensor(out.y, [a.batch, a.hiddenSize]) };
}

/** The ops one by one, on copies of the states that replace the originals once every op has succeeded. */
async function composed(backend: Backend, a: MambaBlocksStepArgs): Promise<{ y: Float32Array }> {
  const { batch, hiddenSize: H, inner: I, dstate: N, dtRank: R, cancel } = a;
  const linear = async (x: Float32Array, weight: Float32Array, inFeatures: number, outFeatures: number): Promise<Float32Array> =>
    (await backend.linear({ rows: batch, inFeatures, outFeatures, x, weight, cancel })).y;
  const states = a.blocks.map((b) => ({ conv: b.convState.slice(), ssm: b.ssmState.slice() }));
  const y = a.hidden.slice();
  for (const [i, b] of a.blocks.entries()) {
    const proj = await linear(rmsNorm(y, H, b.norm, a.eps), b.inProj, H, 2 * I);
    const { y: x } = await backend.causalConv1dStep({
      batch, dim: I, width: a.convWidth, state: states[i]!.conv, x: columns(proj, 2 * I, 0, I), weight: b.convWeight,
      bias: b.convBias, silu: true, cancel,
    });
    const params = await linear(x, b.xProj, I, R + 2 * N);
    const { y: s } = await backend.selectiveScanStep({
      batch, dim: I, dstate: N, groups: 1, state: states[i]!.ssm, x, delta: await linear(columns(params, R + 2 * N, 0, R), b.dtProj, R, I),
      A: b.A, B: columns(params, R + 2 * N, R, N), C: columns(params, R + 2 * N, R + N, N), D: b.D, z: columns(proj, 2 * I, I, I),
      deltaBias: b.dtBias, deltaSoftplus: true, cancel,
    });
    addInto(y, await linear(s, b.outProj, I, H));
  }
  a.blocks.forEach((b, i) => {
    b.convState.set(states[i]!.conv);
    b.ssmState.set(states[i]!.ssm);
  });
  return { y };
}
