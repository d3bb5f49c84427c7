/**
 * deltaRule — DeltaNet and Gated DeltaNet (fla `chunk_gated_delta_rule` / `chunk_delta_rule`).
 *
 * Per batch b and value head hv (its q/k head is hv / (HV/H)), with state S ∈ R^{K×V}:
 *   S ← exp(g_t)·S;  v' = β_t·(v_t − Sᵀk_t);  S ← S + k_t v'ᵀ;  o_t = scale·Sᵀq_t
 * Without g it is plain DeltaNet (g = 0). With useQkL2Norm, q and k are first divided by √(Σx² + 1e-6) (fla's
 * `use_qk_l2norm_in_kernel`). Native and wasm compute it either as the chunked WY / UT-transform form or as a
 * fused recurrence (`algorithm`; 'auto' picks the faster for the shape); the js reference is the recurrence. cuda
 * has both too, with host or device tensors: the chunked form (64-token chunks whatever chunkSize says, products
 * on tensor cores at float32 accuracy, about 1e-6; about 1e-5 at K 113–128 on an H100 / H200, whose warpgroup
 * products take float32 operands in two bf16 parts, unless LONGSEQ_CUDA_DELTA_WGMMA=0) for K ≤ 128 past one chunk
 * under 'auto', the recurrence otherwise (K ≤ 256). allowBf16Products trades the bf16 walk's state accuracy for
 * speed there (below). Past 256 chunks with few heads (K 113–128, on an H100 / H200), cuda walks up to four segments
 * of the sequence at once (float32 fewer) and chains their starts (LONGSEQ_CUDA_DELTA_SEGMENTS=n sets how many; 1: one
 * walk).
 * q, k and v may be bfloat16 (one dtype for the three; o comes back in it; beta, g and the states stay float32):
 * cuda computes in float32 from bfloat16 storage, the CPU backends widen the inputs and round o.
 */
import type { Backend, DeltaRuleAlgorithm, DeltaRuleArgs, Operand } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { cancellable, checkSignal } from '../cancel.js';
import { hostFloats, validateDeltaRule } from '../validate.js';
import { inStorage, outputTensor, type FloatInput, type ScanInput } from './selectiveScan.js';

/**
 * X: the type of q, k and v (float32 or bfloat16, host or, cuda backend, device); F: the type of beta, g and
 * initialState (float32). o comes back in q's dtype.
 */
export interface DeltaRuleParams<X extends ScanInput = Tensor, F extends FloatInput = Tensor> {
  /** Queries, [B, T, H, K]. */
  q: X;
  /** Keys, [B, T, H, K]. */
  k: X;
  /** Values, [B, T, HV, V]; HV = m·H value heads share each q/k head (grouped value heads). */
  v: X;
  /** Writing strength, [B, T, HV]. */
  beta: F;
  /** Log-decay (≤ 0), [B, T, HV]: Gated DeltaNet. Absent: plain DeltaNet. */
  g?: F;
  /** State at t = 0, [B, HV, K, V]; zeros when absent. */
  initialState?: F;
  /** Output scale (default K^-0.5). */
  scale?: number;
  /** Tokens per chunk of the chunked form: 16, 32 or 64 (default 64). */
  chunkSize?: 16 | 32 | 64;
  /** L2-normalise q and k inside the op (default false). */
  useQkL2Norm?: boolean;
  /** 'chunked', 'recurrent', or 'auto' (default): the same result, different speed. */
  algorithm?: DeltaRuleAlgorithm;
  /** Also return the state after the last token, [B, HV, K, V] (default false). */
  returnFinalState?: boolean;
  /**
   * Lets the cuda backend take the chunked form's tensor-core products with every operand rounded once to bfloat16,
   * the state and what is formed from it included, as flash-linear-attention's kernels do, where it has that path
   * (bfloat16 storage, K 113–128, Hopper; not few heads at 256 chunks or fewer, which take the mma.sync walk): on an
   * H100 1.1–1.2× faster at long T (B1 K=V=128, 2026-12-07: T65536 H16 1.42 ms against 1.62, T262144 H8 3.03
   * against 3.63), with o and the final state within a few 1e-3 of the float32 recurrence instead of o within 3e-3
   * and the state within a few 1e-6. Default false;
   * elsewhere it changes nothing.
   */
  allowBf16Products?: boolean;
  /** Aborts the call (see cancel.ts); it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface DeltaRuleResult<Y = Tensor, S = Tensor> {
  /** [B, T, HV, V] in q's dtype, on the device when q is. */
  o: Y;
  /** [B, HV, K, V] float32, present when returnFinalState was true; on the device when q is. */
  finalState?: S;
}

export async function deltaRule(backend: Backend, params: DeltaRuleParams<ScanInput, FloatInput>): Promise<DeltaRuleResult<unknown, unknown>> {
  const { storage, onDevice, ...args } = validateDeltaRule(params);
  const signal = checkSignal('deltaRule', params.signal);
  let out: { o: Operand; finalState?: Operand };
  if (backend.device) {
    const device = backend.device;
    out = await cancellable(signal, () => device.deltaRule({ ...args, storage, outputsOnDevice: onDevice }));
  } else {
    // CPU backends compute in float32: bfloat16 inputs are widened, and o is rounded back.
    const host = hostFloats<DeltaRuleArgs>('deltaRule', backend.name, args);
    const cpu = await cancellable(signal, (cancel) => backend.deltaRule({ ...host, cancel }));
    out = { o: inStorage(cpu.o, storage), finalState: cpu.finalState };
  }
  const result: DeltaRuleResult<unknown, unknown> = { o: outputTensor(out.o, storage, [args.batch, args.seqlen, args.valueHeads, args.valueDim]) };
  if (args.returnFinalState) {
    result.finalState = outputTensor(out.finalState!, 'float32', [args.batch, args.valueHeads, args.keyDim, args.valueDim]);
  }
  return result;
}
