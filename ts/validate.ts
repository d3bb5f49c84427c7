/**
 * The one place where the ops' params are checked (DESIGN §5). Every message starts with the op, names the
 * argument, and gives the expected vs the actual shape or value. Wrong kinds of value (not a tensor, not a
 * boolean, unknown option) are TypeErrors; wrong sizes and values are RangeErrors.
 */
import type {
  CausalConv1dArgs, CausalConv1dStepArgs, LinearArgs, MambaBlockArgs, MambaBlocksStepArgs, DeltaRuleArgs, DeltaRuleStepArgs, FftConvArgs, FftConvSpectrumArgs,
  SelectiveScanArgs, SelectiveScanStepArgs, SsdScanArgs, SsdScanStepArgs,
} from './backend.js';
import type { SsdScanParams } from './ops/ssdScan.js';
import type { SsdScanStepParams } from './ops/ssdScanStep.js';
import type { FftConvParams, FftConvPlanParams, FftConvRunParams } from './ops/fftConv.js';
import type { CausalConv1dParams } from './ops/causalConv1d.js';
import type { LinearParams } from './ops/linear.js';
import type { MambaBlocksStepParams } from './ops/mambaBlocksStep.js';
import type { CausalConv1dStepParams } from './ops/causalConv1dStep.js';
import type { DeltaRuleParams } from './ops/deltaRule.js';
import type { DeltaRuleStepParams } from './ops/deltaRuleStep.js';
import type { FloatInput, ScanInput, SelectiveScanParams } from './ops/selectiveScan.js';
import type { SelectiveScanStepParams } from './ops/selectiveScanStep.js';
import { bfloat16ToFloats, sizeOf, type DType, type Tensor } from './tensor.js';
import { DeviceTensor } from './device.js';
import type { Operand, WithOperands } from './backend.js';

/** The largest buffer an op accepts, in elements (DESIGN §5: indices stay within 32-bit signed range). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

function fmt(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

function isFloat32Array(x: unknown): x is Float32Array {
  // instanceof fails for arrays from another realm (vm contexts, iframes); the tag does not.
  return x instanceof Float32Array || Object.prototype.toString.call(x) === '[object Float32Array]';
}

/** `params` must be a plain object holding only the keys `allowed`. */
export function checkParams(op: string, params: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new TypeError(`${op}: params must be an object, got ${params === null ? 'null' : typeof params}`);
  }
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${op}: unknown argument '${key}' (expected some of: ${allowed.join(', ')})`);
    }
  }
  return params as Record<string, unknown>;
}

/** A float32 tensor whose data matches its shape, of one of the given ranks. */
export function checkTensor(op: string, name: string, value: unknown, ranks: readonly number[]): Tensor {
  if (value instanceof DeviceTensor) {
    throw new TypeError(`${op}: ${name} is a CUDA device tensor, which ${op} does not take yet; copy it back with ls.toHost()`);
  }
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${op}: ${name} must be a Tensor (use tensor(data, shape)), got ${value === null ? 'null' : typeof value}`);
  }
  const t = value as Partial<Tensor>;
  if (t.dtype !== 'float32') {
    throw new TypeError(`${op}: ${name} must have dtype float32, got ${String(t.dtype)}`);
  }
  checkShapeArray(op, name, t.shape);
  if (!isFloat32Array(t.data)) {
    throw new TypeError(`${op}: ${name}.data must be a Float32Array`);
  }
  checkRankAndLength(op, name, t.shape, t.data.length, ranks);
  return t as Tensor;
}

function checkShapeArray(op: string, name: string, shape: unknown): asserts shape is readonly number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new TypeError(`${op}: ${name}.shape must be an array of non-negative integers`);
  }
}

/** The rank is one of `ranks`, the size is supported, and the data holds exactly the shape's elements. */
function checkRankAndLength(op: string, name: string, shape: readonly number[], length: number, ranks: readonly number[]): void {
  if (!ranks.includes(shape.length)) {
    throw new RangeError(
      `${op}: ${name} must have rank ${ranks.join(' or ')}, got rank ${shape.length} (shape ${fmt(shape)})`,
    );
  }
  const elements = sizeOf(shape);
  if (elements > MAX_ELEMENTS) {
    throw new RangeError(`${op}: ${name} has ${elements} elements (shape ${fmt(shape)}), more than the 2^31 - 1 supported`);
  }
  if (length !== elements) {
    throw new RangeError(`${op}: ${name}.data holds ${length} elements but its shape ${fmt(shape)} needs ${elements}`);
  }
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 0) throw new RangeError(`${op}: ${name} has an empty dimension (shape ${fmt(shape)})`);
  }
}

/** A checked tensor of the ops that also take bfloat16 and device tensors (the selective scan). */
export interface CheckedOperand {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly operand: Operand;
}

/**
 * A host tensor (float32, or bfloat16 when `bf16`) or a device tensor of one of the given ranks. The dtype
 * rules between tensors are the caller's.
 */
export function checkOperand(op: string, name: string, value: unknown, ranks: readonly number[], bf16: boolean): CheckedOperand {
  if (value instanceof DeviceTensor) {
    value.handleFor(op, name);  // throws once disposed
    if (!bf16 && value.dtype !== 'float32') {
      throw new TypeError(`${op}: ${name} must have dtype float32, got ${value.dtype}`);
    }
    checkRankAndLength(op, name, value.shape, sizeOf(value.shape), ranks);
    return { dtype: value.dtype, shape: value.shape, operand: value };
  }
  if (bf16 && typeof value === 'object' && value !== null && (value as Partial<Tensor<DType>>).dtype === 'bfloat16') {
    const t = value as Partial<Tensor<'bfloat16'>>;
    checkShapeArray(op, name, t.shape);
    const data = t.data;
    if (!(data instanceof Uint16Array || Object.prototype.toString.call(data) === '[object Uint16Array]')) {
      throw new TypeError(`${op}: ${name}.data must be a Uint16Array (bfloat16 bit patterns)`);
    }
    checkRankAndLength(op, name, t.shape, (data as Uint16Array).length, ranks);
    return { dtype: 'bfloat16', shape: t.shape, operand: data as Uint16Array };
  }
  const t = checkTensor(op, name, value, ranks);
  return { dtype: 'float32', shape: t.shape, operand: t.data };
}

/** An optional operand of exactly the shape `expected`. */
function checkOptionalOperand(
  op: string, name: string, value: unknown, expected: readonly number[], layout: string, bf16: boolean,
): CheckedOperand | undefined {
  if (value === undefined) return undefined;
  const t = checkOperand(op, name, value, [expected.length], bf16);
  checkShape(op, name, t, expected, layout);
  return t;
}

/** The tensors of an op's storage dtype (the selective scan's u, delta, z, B, C; the SSD scan's x, z, B, C; the delta rule's q, k, v) share it. */
function checkSameDtype(op: string, first: string, dtype: DType, others: Record<string, CheckedOperand | undefined>): void {
  for (const [name, t] of Object.entries(others)) {
    if (t && t.dtype !== dtype) {
      throw new TypeError(`${op}: ${name} has dtype ${t.dtype} but ${first} has ${dtype}; ${first}, ${Object.keys(others).join(', ')} share one dtype`);
    }
  }
}

/**
 * Host float32 arrays for a backend without device memory: bfloat16 data is widened (exactly); a device
 * tensor is a TypeError naming the argument.
 */
export function hostFloats<T extends object>(op: string, backend: string, args: WithOperands<T>): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (value instanceof DeviceTensor) {
      throw new TypeError(`${op}: ${key} is a CUDA device tensor but the backend is '${backend}'; use init({ backend: 'cuda' }) or ls.toHost()`);
    }
    out[key] = value instanceof Uint16Array ? bfloat16ToFloats(value) : value;
  }
  return out as T;
}

/** `t` must have exactly `expected`; `layout` names the dimensions for the message, e.g. "[B, D, L]". */
export function checkShape(op: string, name: string, t: { readonly shape: readonly number[] }, expected: readonly number[], layout: string): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new RangeError(`${op}: ${name} must have shape ${fmt(expected)} (${layout}), got ${fmt(t.shape)}`);
  }
}

/** An optional tensor of exactly the shape `expected`. */
export function checkOptionalTensor(
  op: string,
  name: string,
  value: unknown,
  expected: readonly number[],
  layout: string,
): Tensor | undefined {
  if (value === undefined) return undefined;
  const t = checkTensor(op, name, value, [expected.length]);
  checkShape(op, name, t, expected, layout);
  return t;
}

/** A finite number option (default `fallback`). */
export function checkFinite(op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${typeof value}`);
  if (!Number.isFinite(value) || Math.abs(value) > 3.4e38) {
    throw new RangeError(`${op}: ${name} must be a finite float32 number, got ${value}`);
  }
  return value;
}

/** One of the listed values (default `fallback`). */
export function checkChoice<T extends string | number>(op: string, name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) {
    const type = typeof choices[0] === 'string' ? TypeError : RangeError;
    throw new type(`${op}: ${name} must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function checkBoolean(op: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${op}: ${name} must be a boolean, got ${typeof value}`);
  return value;
}

/** B and C of the selective scan: [B, N, L] (one group) or [B, G, N, L]. Returns G. */
function checkScanBC(op: string, Bt: CheckedOperand, Ct: CheckedOperand, batch: number, dim: number, dstate: number, seqlen: number, step: boolean): number {
  const grouped = Bt.shape.length === (step ? 3 : 4);
  const groups = grouped ? Bt.shape[1]! : 1;
  const expected = step
    ? grouped ? [batch, groups, dstate] : [batch, dstate]
    : grouped ? [batch, groups, dstate, seqlen] : [batch, dstate, seqlen];
  const layout = step ? (grouped ? '[B, G, N]' : '[B, N]') : grouped ? '[B, G, N, L]' : '[B, N, L]';
  checkShape(op, 'B', Bt, expected, layout);
  checkShape(op, 'C', Ct, expected, `${layout}, like B`);
  if (dim % groups !== 0) {
    throw new RangeError(`${op}: the channel count D = ${dim} must be a multiple of the group count G = ${groups} (B's dim 1)`);
  }
  return groups;
}

const SELECTIVE_SCAN_KEYS = [
  'u', 'delta', 'A', 'B', 'C', 'D', 'z', 'deltaBias', 'initialState', 'deltaSoftplus', 'returnFinalState', 'signal',
] as const;

/** The selective scan's checked args: operands (host float32/bfloat16 data or device tensors) and options. */
export type SelectiveScanOperands = WithOperands<SelectiveScanArgs> & { storage: DType; onDevice: boolean };
export type SelectiveScanStepOperands = WithOperands<SelectiveScanStepArgs> & { storage: DType; onDevice: boolean };

export function validateSelectiveScan(params: SelectiveScanParams<ScanInput, FloatInput>): SelectiveScanOperands {
  const op = 'selectiveScan';
  const p = checkParams(op, params, SELECTIVE_SCAN_KEYS);
  const u = checkOperand(op, 'u', p.u, [3], true);
  const [batch, dim, seqlen] = u.shape as [number, number, number];
  const delta = checkOperand(op, 'delta', p.delta, [3], true);
  checkShape(op, 'delta', delta, u.shape, '[B, D, L], like u');
  const A = checkOperand(op, 'A', p.A, [2], false);
  if (A.shape[0] !== dim) {
    throw new RangeError(`${op}: A must have shape [${dim}, N] ([D, N] with D = ${dim} from u), got ${fmt(A.shape)}`);
  }
  const dstate = A.shape[1]!;
  const Bt = checkOperand(op, 'B', p.B, [3, 4], true);
  const Ct = checkOperand(op, 'C', p.C, [3, 4], true);
  const groups = checkScanBC(op, Bt, Ct, batch, dim, dstate, seqlen, false);
  const z = checkOptionalOperand(op, 'z', p.z, u.shape, '[B, D, L], like u', true);
  checkSameDtype(op, 'u', u.dtype, { delta, z, B: Bt, C: Ct });
  const D = checkOptionalOperand(op, 'D', p.D, [dim], '[D]', false);
  const deltaBias = checkOptionalOperand(op, 'deltaBias', p.deltaBias, [dim], '[D]', false);
  const initialState = checkOptionalOperand(op, 'initialState', p.initialState, [batch, dim, dstate], '[B, D, N]', false);
  if (batch * dim * dstate > MAX_ELEMENTS) {
    throw new RangeError(`${op}: the state [${batch}, ${dim}, ${dstate}] has more than 2^31 - 1 elements`);
  }
  return {
    batch, dim, dstate, seqlen, groups,
    u: u.operand, delta: delta.operand, A: A.operand, B: Bt.operand, C: Ct.operand,
    z: z?.operand, D: D?.operand, deltaBias: deltaBias?.operand, initialState: initialState?.operand,
    deltaSoftplus: checkBoolean(op, 'deltaSoftplus', p.deltaSoftplus, false),
    returnFinalState: checkBoolean(op, 'returnFinalState', p.returnFinalState, false),
    storage: u.dtype,
    onDevice: u.operand instanceof DeviceTensor,
  };
}

const SELECTIVE_SCAN_STEP_KEYS = ['state', 'x', 'delta', 'A', 'B', 'C', 'D', 'z', 'deltaBias', 'deltaSoftplus', 'signal'] as const;

export function validateSelectiveScanStep(params: SelectiveScanStepParams<ScanInput, FloatInput>): SelectiveScanStepOperands {
  const op = 'selectiveScanStep';
  const p = checkParams(op, params, SELECTIVE_SCAN_STEP_KEYS);
  const state = checkOperand(op, 'state', p.state, [3], false);
  const [batch, dim, dstate] = state.shape as [number, number, number];
  const x = checkOperand(op, 'x', p.x, [2], true);
  checkShape(op, 'x', x, [batch, dim], '[B, D] from state [B, D, N]');
  const delta = checkOperand(op, 'delta', p.delta, [2], true);
  checkShape(op, 'delta', delta, [batch, dim], '[B, D], like x');
  const A = checkOperand(op, 'A', p.A, [2], false);
  checkShape(op, 'A', A, [dim, dstate], '[D, N] from state [B, D, N]');
  const Bt = checkOperand(op, 'B', p.B, [2, 3], true);
  const Ct = checkOperand(op, 'C', p.C, [2, 3], true);
  const groups = checkScanBC(op, Bt, Ct, batch, dim, dstate, 1, true);
  const z = checkOptionalOperand(op, 'z', p.z, [batch, dim], '[B, D], like x', true);
  checkSameDtype(op, 'x', x.dtype, { delta, z, B: Bt, C: Ct });
  const D = checkOptionalOperand(op, 'D', p.D, [dim], '[D]', false);
  const deltaBias = checkOptionalOperand(op, 'deltaBias', p.deltaBias, [dim], '[D]', false);
  return {
    batch, dim, dstate, groups,
    state: state.operand, x: x.operand, delta: delta.operand, A: A.operand, B: Bt.operand, C: Ct.operand,
    z: z?.operand, D: D?.operand, deltaBias: deltaBias?.operand,
    deltaSoftplus: checkBoolean(op, 'deltaSoftplus', p.deltaSoftplus, false),
    storage: x.dtype,
    onDevice: x.operand instanceof DeviceTensor,
  };
}

const DELTA_RULE_KEYS = [
  'q', 'k', 'v', 'beta', 'g', 'initialState', 'scale', 'chunkSize', 'returnFinalState', 'useQkL2Norm', 'algorithm',
  'allowBf16Products', 'signal',
] as const;

/** q/k heads H and value heads HV: HV must be a multiple of H (grouped value heads). */
function checkHeads(op: string, heads: number, valueHeads: number): void {
  if (valueHeads % heads !== 0) {
    throw new RangeError(`${op}: the value heads HV = ${valueHeads} (from v) must be a multiple of the q/k heads H = ${heads}`);
  }
}

/** Checked delta rule args with host or device operands, the dtype of q, k, v and o, and whether the outputs go
 * to the device. */
export type DeltaRuleOperands = WithOperands<DeltaRuleArgs> & { storage: DType; onDevice: boolean };
export type DeltaRuleStepOperands = WithOperands<DeltaRuleStepArgs> & { storage: DType; onDevice: boolean };

export function validateDeltaRule(params: DeltaRuleParams<ScanInput, FloatInput>): DeltaRuleOperands {
  const op = 'deltaRule';
  const p = checkParams(op, params, DELTA_RULE_KEYS);
  const q = checkOperand(op, 'q', p.q, [4], true);
  const [batch, seqlen, heads, keyDim] = q.shape as [number, number, number, number];
  const k = checkOperand(op, 'k', p.k, [4], true);
  checkShape(op, 'k', k, q.shape, '[B, T, H, K], like q');
  const v = checkOperand(op, 'v', p.v, [4], true);
  checkSameDtype(op, 'q', q.dtype, { k, v });
  if (v.shape[0] !== batch || v.shape[1] !== seqlen) {
    throw new RangeError(`${op}: v must have shape [${batch}, ${seqlen}, HV, V] ([B, T, HV, V] with B, T from q), got ${fmt(v.shape)}`);
  }
  const [, , valueHeads, valueDim] = v.shape as [number, number, number, number];
  checkHeads(op, heads, valueHeads);
  const beta = checkOperand(op, 'beta', p.beta, [3], false);
  checkShape(op, 'beta', beta, [batch, seqlen, valueHeads], '[B, T, HV]');
  const g = checkOptionalOperand(op, 'g', p.g, [batch, seqlen, valueHeads], '[B, T, HV]', false);
  const initialState = checkOptionalOperand(op, 'initialState', p.initialState, [batch, valueHeads, keyDim, valueDim], '[B, HV, K, V]', false);
  if (batch * valueHeads * keyDim * valueDim > MAX_ELEMENTS) {
    throw new RangeError(`${op}: the state [${batch}, ${valueHeads}, ${keyDim}, ${valueDim}] has more than 2^31 - 1 elements`);
  }
  return {
    batch, seqlen, heads, valueHeads, keyDim, valueDim,
    q: q.operand, k: k.operand, v: v.operand, beta: beta.operand, g: g?.operand, initialState: initialState?.operand,
    scale: checkFinite(op, 'scale', p.scale, 1 / Math.sqrt(keyDim)),
    chunkSize: checkChoice(op, 'chunkSize', p.chunkSize, [16, 32, 64], 64),
    useQkL2Norm: checkBoolean(op, 'useQkL2Norm', p.useQkL2Norm, false),
    algorithm: checkChoice(op, 'algorithm', p.algorithm, ['auto', 'chunked', 'recurrent'], 'auto'),
    returnFinalState: checkBoolean(op, 'returnFinalState', p.returnFinalState, false),
    allowBf16Products: checkBoolean(op, 'allowBf16Products', p.allowBf16Products, false),
    storage: q.dtype, onDevice: q.operand instanceof DeviceTensor,
  };
}

const DELTA_RULE_STEP_KEYS = ['state', 'q', 'k', 'v', 'beta', 'g', 'scale', 'useQkL2Norm', 'signal'] as const;

export function validateDeltaRuleStep(params: DeltaRuleStepParams<ScanInput, FloatInput>): DeltaRuleStepOperands {
  const op = 'deltaRuleStep';
  const p = checkParams(op, params, DELTA_RULE_STEP_KEYS);
  const state = checkOperand(op, 'state', p.state, [4], false);
  const [batch, valueHeads, keyDim, valueDim] = state.shape as [number, number, number, number];
  const q = checkOperand(op, 'q', p.q, [3], true);
  if (q.shape[0] !== batch || q.shape[2] !== keyDim) {
    throw new RangeError(`${op}: q must have shape [${batch}, H, ${keyDim}] ([B, H, K] with B, K from state [B, HV, K, V]), got ${fmt(q.shape)}`);
  }
  const heads = q.shape[1]!;
  checkHeads(op, heads, valueHeads);
  const k = checkOperand(op, 'k', p.k, [3], true);
  checkShape(op, 'k', k, q.shape, '[B, H, K], like q');
  const v = checkOperand(op, 'v', p.v, [3], true);
  checkShape(op, 'v', v, [batch, valueHeads, valueDim], '[B, HV, V] from state [B, HV, K, V]');
  checkSameDtype(op, 'q', q.dtype, { k, v });
  const beta = checkOperand(op, 'beta', p.beta, [2], false);
  checkShape(op, 'beta', beta, [batch, valueHeads], '[B, HV]');
  const g = checkOptionalOperand(op, 'g', p.g, [batch, valueHeads], '[B, HV]', false);
  return {
    batch, heads, valueHeads, keyDim, valueDim,
    state: state.operand, q: q.operand, k: k.operand, v: v.operand, beta: beta.operand, g: g?.operand,
    scale: checkFinite(op, 'scale', p.scale, 1 / Math.sqrt(keyDim)),
    useQkL2Norm: checkBoolean(op, 'useQkL2Norm', p.useQkL2Norm, false),
    storage: q.dtype, onDevice: q.operand instanceof DeviceTensor,
  };
}

/** The widths causalConv1d supports (the native kernels' limit). */
export const MAX_CONV_WIDTH = 64;

function checkActivation(op: string, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (value === 'silu') return true;
  throw new TypeError(`${op}: activation must be null or 'silu', got ${JSON.stringify(value)}`);
}

function checkConvWeight(op: string, value: unknown, dim: number): CheckedOperand {
  const weight = checkOperand(op, 'weight', value, [2], false);
  const width = weight.shape[1]!;
  if (weight.shape[0] !== dim || width < 2 || width > MAX_CONV_WIDTH) {
    throw new RangeError(`${op}: weight must have shape [${dim}, W] ([D, W] with 2 <= W <= ${MAX_CONV_WIDTH}), got ${fmt(weight.shape)}`);
  }
  return weight;
}

const CAUSAL_CONV1D_KEYS = ['x', 'weight', 'bias', 'initialState', 'activation', 'returnFinalState', 'signal'] as const;

/** Checked args with host or device operands (float32), and whether the outputs go to the device (x is there). */
export type CausalConv1dOperands = WithOperands<CausalConv1dArgs> & { onDevice: boolean };
export type CausalConv1dStepOperands = WithOperands<CausalConv1dStepArgs> & { onDevice: boolean };

export function validateCausalConv1d(params: CausalConv1dParams<FloatInput, FloatInput>): CausalConv1dOperands {
  const op = 'causalConv1d';
  const p = checkParams(op, params, CAUSAL_CONV1D_KEYS);
  const x = checkOperand(op, 'x', p.x, [3], false);
  const [batch, dim, seqlen] = x.shape as [number, number, number];
  const weight = checkConvWeight(op, p.weight, dim);
  const width = weight.shape[1]!;
  const bias = checkOptionalOperand(op, 'bias', p.bias, [dim], '[D]', false);
  const initialState = checkOptionalOperand(op, 'initialState', p.initialState, [batch, dim, width - 1], '[B, D, W-1]', false);
  return {
    batch, dim, seqlen, width, x: x.operand, weight: weight.operand, bias: bias?.operand, initialState: initialState?.operand,
    silu: checkActivation(op, p.activation),
    returnFinalState: checkBoolean(op, 'returnFinalState', p.returnFinalState, false),
    onDevice: x.operand instanceof DeviceTensor,
  };
}

const CAUSAL_CONV1D_STEP_KEYS = ['state', 'x', 'weight', 'bias', 'activation', 'signal'] as const;

export function validateCausalConv1dStep(params: CausalConv1dStepParams<FloatInput, FloatInput>): CausalConv1dStepOperands {
  const op = 'causalConv1dStep';
  const p = checkParams(op, params, CAUSAL_CONV1D_STEP_KEYS);
  const state = checkOperand(op, 'state', p.state, [3], false);
  const [batch, dim] = state.shape as [number, number, number];
  const weight = checkConvWeight(op, p.weight, dim);
  const width = weight.shape[1]!;
  checkShape(op, 'state', state, [batch, dim, width - 1], '[B, D, W-1] with W from weight');
  const x = checkOperand(op, 'x', p.x, [2], false);
  checkShape(op, 'x', x, [batch, dim], '[B, D] from state [B, D, W-1]');
  const bias = checkOptionalOperand(op, 'bias', p.bias, [dim], '[D]', false);
  return {
    batch, dim, width, state: state.operand, x: x.operand, weight: weight.operand, bias: bias?.operand,
    silu: checkActivation(op, p.activation), onDevice: x.operand instanceof DeviceTensor,
  };
}

/** The longest sequence fftConv takes (the FFT size, a power of two >= L + Lk - 1, must stay <= 2^31). */
export const MAX_FFT_CONV_LENGTH = 2 ** 30;

function checkFftKernel(op: string, value: unknown, channels: number, seqlen: number): CheckedOperand {
  const k = checkOperand(op, 'k', value, [2], true);
  if (k.shape[0] !== channels || k.shape[1]! > seqlen) {
    throw new RangeError(`${op}: k must have shape [${channels}, Lk] ([H, Lk] with Lk <= L = ${seqlen}), got ${fmt(k.shape)}`);
  }
  return k;
}

function checkLength(op: string, seqlen: number): void {
  if (seqlen > MAX_FFT_CONV_LENGTH) throw new RangeError(`${op}: L must be <= 2^30, got ${seqlen}`);
}

/**
 * Checked fftConv args with host or device operands, the storage dtype of u, k and y (float32 or bfloat16), and
 * whether y goes to the device (u is there).
 */
export type FftConvOperands = WithOperands<FftConvArgs> & { storage: DType; onDevice: boolean };

const FFT_CONV_KEYS = ['u', 'k', 'D', 'algorithm', 'signal'] as const;

export function validateFftConv(params: FftConvParams<ScanInput, FloatInput>): FftConvOperands {
  const op = 'fftConv';
  const p = checkParams(op, params, FFT_CONV_KEYS);
  const u = checkOperand(op, 'u', p.u, [3], true);
  const [batch, channels, seqlen] = u.shape as [number, number, number];
  checkLength(op, seqlen);
  const k = checkFftKernel(op, p.k, channels, seqlen);
  checkSameDtype(op, 'u', u.dtype, { k });
  const D = checkOptionalOperand(op, 'D', p.D, [channels], '[H]', false);
  return {
    batch, channels, seqlen, kernelLen: k.shape[1]!, u: u.operand, k: k.operand, D: D?.operand,
    algorithm: checkChoice(op, 'algorithm', p.algorithm, ['auto', 'fft', 'direct'], 'auto'),
    storage: u.dtype, onDevice: u.operand instanceof DeviceTensor,
  };
}

const FFT_CONV_PLAN_KEYS = ['k', 'L', 'signal'] as const;

export function validateFftConvPlan(params: FftConvPlanParams<ScanInput>): WithOperands<FftConvSpectrumArgs> & { storage: DType } {
  const op = 'fftConvPlan';
  const p = checkParams(op, params, FFT_CONV_PLAN_KEYS);
  if (typeof p.L !== 'number') throw new TypeError(`${op}: L must be a number, got ${typeof p.L}`);
  if (!Number.isSafeInteger(p.L) || p.L < 1) throw new RangeError(`${op}: L must be an integer >= 1, got ${p.L}`);
  checkLength(op, p.L);
  const k = checkOperand(op, 'k', p.k, [2], true);
  const [channels, kernelLen] = k.shape as [number, number];
  if (kernelLen > p.L) throw new RangeError(`${op}: k's length Lk = ${kernelLen} must be <= L = ${p.L}`);
  return { channels, seqlen: p.L, kernelLen, k: k.operand, storage: k.dtype };
}

const FFT_CONV_RUN_KEYS = ['u', 'D', 'signal'] as const;

/** plan.run's params against the plan's H and L. */
export function validateFftConvRun(
  params: FftConvRunParams<ScanInput, FloatInput>, channels: number, seqlen: number,
): Pick<FftConvOperands, 'batch' | 'u' | 'D' | 'storage' | 'onDevice'> {
  const op = 'fftConvPlan.run';
  const p = checkParams(op, params, FFT_CONV_RUN_KEYS);
  const u = checkOperand(op, 'u', p.u, [3], true);
  if (u.shape[1] !== channels || u.shape[2] !== seqlen) {
    throw new RangeError(`${op}: u must have shape [B, ${channels}, ${seqlen}] ([B, H, L] with the plan's H and L), got ${fmt(u.shape)}`);
  }
  const D = checkOptionalOperand(op, 'D', p.D, [channels], '[H]', false);
  return { batch: u.shape[0]!, u: u.operand, D: D?.operand, storage: u.dtype, onDevice: u.operand instanceof DeviceTensor };
}

/** dtLimit: [lo, hi] with lo <= hi, lo finite, hi finite or Infinity (default [0, Infinity]: no clamp). */
function checkDtLimit(op: string, value: unknown): [number, number] {
  if (value === undefined) return [0, Infinity];
  if (!Array.isArray(value) || value.length !== 2 || value.some((v) => typeof v !== 'number')) {
    throw new TypeError(`${op}: dtLimit must be an array of two numbers [lo, hi]`);
  }
  const [lo, hi] = value as [number, number];
  if (!Number.isFinite(lo) || Number.isNaN(hi) || hi === -Infinity || lo > hi || Math.abs(lo) > 3.4e38 || (Number.isFinite(hi) && Math.abs(hi) > 3.4e38)) {
    throw new RangeError(`${op}: dtLimit must be [lo, hi] with finite lo <= hi (hi may be Infinity), got [${lo}, ${hi}]`);
  }
  return [lo, hi];
}

/** Checked ssdScan args with host or device operands; whether outputs go to the device, and D's layout. */
export type SsdScanOperands = WithOperands<SsdScanArgs> & SsdDeviceFields;
export type SsdScanStepOperands = WithOperands<SsdScanStepArgs> & SsdDeviceFields;
export interface SsdDeviceFields {
  /** The dtype of x, z, B, C and y (float32, or bfloat16); the rest is float32. */
  storage: DType;
  /** x is a device tensor: the outputs stay there. */
  onDevice: boolean;
  /** D is [H, P] (per head dimension), not [H]. */
  dPerDim: boolean;
}

/** D of ssdScan: [H] or [H, P]. */
function checkSsdSkip(op: string, value: unknown, heads: number, headDim: number): CheckedOperand | undefined {
  if (value === undefined) return undefined;
  const D = checkOperand(op, 'D', value, [1, 2], false);
  if (D.shape.length === 1) checkShape(op, 'D', D, [heads], '[H]');
  else checkShape(op, 'D', D, [heads, headDim], '[H, P]');
  return D;
}

function checkSsdGroups(op: string, heads: number, groups: number): void {
  if (heads % groups !== 0) {
    throw new RangeError(`${op}: the head count H = ${heads} must be a multiple of the group count G = ${groups} (B's groups dim)`);
  }
}

const SSD_SCAN_KEYS = [
  'x', 'dt', 'A', 'B', 'C', 'D', 'z', 'dtBias', 'initialState', 'dtSoftplus', 'dtLimit', 'chunkSize', 'algorithm',
  'returnFinalState', 'signal',
] as const;

export function validateSsdScan(params: SsdScanParams<ScanInput, FloatInput>): SsdScanOperands {
  const op = 'ssdScan';
  const p = checkParams(op, params, SSD_SCAN_KEYS);
  const x = checkOperand(op, 'x', p.x, [4], true);
  const [batch, seqlen, heads, headDim] = x.shape as [number, number, number, number];
  const dt = checkOperand(op, 'dt', p.dt, [3], false);
  checkShape(op, 'dt', dt, [batch, seqlen, heads], '[B, L, H] from x [B, L, H, P]');
  const A = checkOperand(op, 'A', p.A, [1], false);
  checkShape(op, 'A', A, [heads], '[H]');
  const Bt = checkOperand(op, 'B', p.B, [4], true);
  if (Bt.shape[0] !== batch || Bt.shape[1] !== seqlen) {
    throw new RangeError(`${op}: B must have shape [${batch}, ${seqlen}, G, N] ([B, L, G, N] with B, L from x), got ${fmt(Bt.shape)}`);
  }
  const [, , groups, dstate] = Bt.shape as [number, number, number, number];
  checkSsdGroups(op, heads, groups);
  const Ct = checkOperand(op, 'C', p.C, [4], true);
  checkShape(op, 'C', Ct, Bt.shape, '[B, L, G, N], like B');
  const D = checkSsdSkip(op, p.D, heads, headDim);
  const z = checkOptionalOperand(op, 'z', p.z, x.shape, '[B, L, H, P], like x', true);
  checkSameDtype(op, 'x', x.dtype, { B: Bt, C: Ct, z });
  const dtBias = checkOptionalOperand(op, 'dtBias', p.dtBias, [heads], '[H]', false);
  const initialState = checkOptionalOperand(op, 'initialState', p.initialState, [batch, heads, headDim, dstate], '[B, H, P, N]', false);
  if (batch * heads * headDim * dstate > MAX_ELEMENTS) {
    throw new RangeError(`${op}: the state [${batch}, ${heads}, ${headDim}, ${dstate}] has more than 2^31 - 1 elements`);
  }
  const [dtMin, dtMax] = checkDtLimit(op, p.dtLimit);
  const chunkSize = p.chunkSize === undefined ? 256 : p.chunkSize;
  if (typeof chunkSize !== 'number') throw new TypeError(`${op}: chunkSize must be a number, got ${typeof chunkSize}`);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 1024) {
    throw new RangeError(`${op}: chunkSize must be an integer in [1, 1024], got ${chunkSize}`);
  }
  return {
    batch, seqlen, heads, headDim, groups, dstate,
    x: x.operand, dt: dt.operand, A: A.operand, B: Bt.operand, C: Ct.operand, D: D?.operand, z: z?.operand, dtBias: dtBias?.operand,
    initialState: initialState?.operand,
    dtSoftplus: checkBoolean(op, 'dtSoftplus', p.dtSoftplus, false), dtMin, dtMax, chunkSize,
    algorithm: checkChoice(op, 'algorithm', p.algorithm, ['auto', 'chunked', 'recurrent'], 'auto'),
    returnFinalState: checkBoolean(op, 'returnFinalState', p.returnFinalState, false),
    storage: x.dtype, onDevice: x.operand instanceof DeviceTensor, dPerDim: D?.shape.length === 2,
  };
}

const SSD_SCAN_STEP_KEYS = ['state', 'x', 'dt', 'A', 'B', 'C', 'D', 'z', 'dtBias', 'dtSoftplus', 'dtLimit', 'signal'] as const;

export function validateSsdScanStep(params: SsdScanStepParams<ScanInput, FloatInput>): SsdScanStepOperands {
  const op = 'ssdScanStep';
  const p = checkParams(op, params, SSD_SCAN_STEP_KEYS);
  const state = checkOperand(op, 'state', p.state, [4], false);
  const [batch, heads, headDim, dstate] = state.shape as [number, number, number, number];
  const x = checkOperand(op, 'x', p.x, [3], true);
  checkShape(op, 'x', x, [batch, heads, headDim], '[B, H, P] from state [B, H, P, N]');
  const dt = checkOperand(op, 'dt', p.dt, [2], false);
  checkShape(op, 'dt', dt, [batch, heads], '[B, H]');
  const A = checkOperand(op, 'A', p.A, [1], false);
  checkShape(op, 'A', A, [heads], '[H]');
  const Bt = checkOperand(op, 'B', p.B, [3], true);
  if (Bt.shape[0] !== batch || Bt.shape[2] !== dstate) {
    throw new RangeError(`${op}: B must have shape [${batch}, G, ${dstate}] ([B, G, N] with B, N from state), got ${fmt(Bt.shape)}`);
  }
  const groups = Bt.shape[1]!;
  checkSsdGroups(op, heads, groups);
  const Ct = checkOperand(op, 'C', p.C, [3], true);
  checkShape(op, 'C', Ct, Bt.shape, '[B, G, N], like B');
  const D = checkSsdSkip(op, p.D, heads, headDim);
  const z = checkOptionalOperand(op, 'z', p.z, x.shape, '[B, H, P], like x', true);
  checkSameDtype(op, 'x', x.dtype, { B: Bt, C: Ct, z });
  const dtBias = checkOptionalOperand(op, 'dtBias', p.dtBias, [heads], '[H]', false);
  const [dtMin, dtMax] = checkDtLimit(op, p.dtLimit);
  return {
    batch, heads, headDim, groups, dstate,
    state: state.operand, x: x.operand, dt: dt.operand, A: A.operand, B: Bt.operand, C: Ct.operand, D: D?.operand, z: z?.operand,
    dtBias: dtBias?.operand, dtSoftplus: checkBoolean(op, 'dtSoftplus', p.dtSoftplus, false), dtMin, dtMax,
    storage: x.dtype, onDevice: x.operand instanceof DeviceTensor, dPerDim: D?.shape.length === 2,
  };
}

const LINEAR_KEYS = ['x', 'weight', 'bias', 'signal'] as const;

export function validateLinear(params: LinearParams): LinearArgs {
  const op = 'linear';
  const p = checkParams(op, params, LINEAR_KEYS);
  const x = checkTensor(op, 'x', p.x, [1, 2, 3, 4]);
  const inFeatures = x.shape[x.shape.length - 1]!;
  const weight = checkTensor(op, 'weight', p.weight, [2]);
  if (weight.shape[1] !== inFeatures) {
    throw new RangeError(`${op}: weight must have shape [N, ${inFeatures}] ([out, in] with in = ${inFeatures} from x), got ${fmt(weight.shape)}`);
  }
  const outFeatures = weight.shape[0]!;
  const bias = checkOptionalTensor(op, 'bias', p.bias, [outFeatures], '[out]');
  const rows = x.data.length / inFeatures;
  if (rows * outFeatures > MAX_ELEMENTS) {
    throw new RangeError(`${op}: the output [${rows}, ${outFeatures}] has more than 2^31 - 1 elements`);
  }
  return { rows, inFeatures, outFeatures, x: x.data, weight: weight.data, bias: bias?.data };
}

const MAMBA_BLOCKS_STEP_KEYS = ['hidden', 'blocks', 'eps', 'signal'] as const;
const MAMBA_BLOCK_KEYS = ['weights', 'convState', 'ssmState'] as const;
const MAMBA_BLOCK_WEIGHT_KEYS = ['norm', 'inProj', 'convWeight', 'convBias', 'xProj', 'dtProj', 'dtBias', 'A', 'D', 'outProj'] as const;

/** An object holding only `allowed` keys; `name` is its path in the params (e.g. "blocks[3].weights"). */
function checkObject(op: string, name: string, value: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${op}: ${name} must be an object of ${allowed.join(', ')}`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new TypeError(`${op}: unknown argument '${name}.${key}' (expected some of: ${allowed.join(', ')})`);
  }
  return value as Record<string, unknown>;
}

/** Sizes every block of a mambaBlocksStep call shares; the first block sets them. */
interface MambaBlockSizes {
  inner: number;
  dstate: number;
  dtRank: number;
  convWidth: number;
}

function checkMambaBlock(op: string, i: number, value: unknown, batch: number, hiddenSize: number, sizes?: MambaBlockSizes): MambaBlockArgs & MambaBlockSizes {
  const b = checkObject(op, `blocks[${i}]`, value, MAMBA_BLOCK_KEYS);
  const at = `blocks[${i}].weights`;
  const w = checkObject(op, at, b.weights, MAMBA_BLOCK_WEIGHT_KEYS);
  const weight = (name: string, ranks: readonly number[]): Tensor => checkTensor(op, `${at}.${name}`, w[name], ranks);
  const shaped = (name: string, expected: readonly number[], layout: string): Tensor => {
    const t = weight(name, [expected.length]);
    checkShape(op, `${at}.${name}`, t, expected, layout);
    return t;
  };
  const norm = shaped('norm', [hiddenSize], '[H] from hidden [B, H]');
  const inProj = weight('inProj', [2]);
  const inner = sizes?.inner ?? inProj.shape[0]! / 2;
  if (!Number.isInteger(inner) || inProj.shape[0] !== 2 * inner || inProj.shape[1] !== hiddenSize) {
    throw new RangeError(`${op}: ${at}.inProj must have shape [${sizes ? 2 * inner : '2·I'}, ${hiddenSize}] ([2·inner, H]), got ${fmt(inProj.shape)}`);
  }
  const convWeight = weight('convWeight', [2]);
  const convWidth = sizes?.convWidth ?? convWeight.shape[1]!;
  if (convWeight.shape[0] !== inner || convWeight.shape[1] !== convWidth || convWidth < 2) {
    throw new RangeError(`${op}: ${at}.convWeight must have shape [${inner}, ${sizes ? convWidth : 'W'}] ([I, W], W >= 2), got ${fmt(convWeight.shape)}`);
  }
  const A = weight('A', [2]);
  const dstate = sizes?.dstate ?? A.shape[1]!;
  checkShape(op, `${at}.A`, A, [inner, dstate], '[I, N]');
  const dtProj = weight('dtProj', [2]);
  const dtRank = sizes?.dtRank ?? dtProj.shape[1]!;
  checkShape(op, `${at}.dtProj`, dtProj, [inner, dtRank], '[I, R]');
  const xProj = shaped('xProj', [dtRank + 2 * dstate, inner], '[R + 2·N, I]');
  const dtBias = shaped('dtBias', [inner], '[I]');
  const D = shaped('D', [inner], '[I]');
  const outProj = shaped('outProj', [hiddenSize, inner], '[H, I]');
  const convBias = checkOptionalTensor(op, `${at}.convBias`, w.convBias, [inner], '[I]');
  const convState = checkTensor(op, `blocks[${i}].convState`, b.convState, [3]);
  checkShape(op, `blocks[${i}].convState`, convState, [batch, inner, convWidth - 1], '[B, I, W - 1]');
  const ssmState = checkTensor(op, `blocks[${i}].ssmState`, b.ssmState, [3]);
  checkShape(op, `blocks[${i}].ssmState`, ssmState, [batch, inner, dstate], '[B, I, N]');
  return {
    inner, dstate, dtRank, convWidth,
    norm: norm.data, inProj: inProj.data, convWeight: convWeight.data, convBias: convBias?.data, xProj: xProj.data,
    dtProj: dtProj.data, dtBias: dtBias.data, A: A.data, D: D.data, outProj: outProj.data,
    convState: convState.data, ssmState: ssmState.data,
  };
}

export function validateMambaBlocksStep(params: MambaBlocksStepParams): MambaBlocksStepArgs {
  const op = 'mambaBlocksStep';
  const p = checkParams(op, params, MAMBA_BLOCKS_STEP_KEYS);
  const hidden = checkTensor(op, 'hidden', p.hidden, [2]);
  const [batch, hiddenSize] = hidden.shape as [number, number];
  if (!Array.isArray(p.blocks) || p.blocks.length === 0) throw new TypeError(`${op}: blocks must be a non-empty array of { weights, convState, ssmState }`);
  const { inner, dstate, dtRank, convWidth, ...first } = checkMambaBlock(op, 0, p.blocks[0], batch, hiddenSize);
  const sizes = { inner, dstate, dtRank, convWidth };
  const blocks: MambaBlockArgs[] = [first];
  for (let i = 1; i < p.blocks.length; i++) blocks.push(checkMambaBlock(op, i, p.blocks[i], batch, hiddenSize, sizes));
  const eps = checkFinite(op, 'eps', p.eps, 1e-5);
  if (eps < 0) throw new RangeError(`${op}: eps must be >= 0, got ${eps}`);
  if (batch * 2 * inner > MAX_ELEMENTS) throw new RangeError(`${op}: batch · 2·inner passes 2^31 - 1 elements`);
  return { batch, hiddenSize, ...sizes, eps, hidden: hidden.data, blocks };
}
