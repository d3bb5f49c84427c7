/**
 * The reference backend: plain float64 loops that mirror DESIGN §3 line by line. It is the oracle the other
 * backends are tested against, so it stays simple; it is not meant to be fast.
 */
import type {
  Backend, BackendLoader, LinearArgs, SsdScanArgs, SsdScanOutputs, SsdScanStepArgs, FftConvArgs, FftConvSpectrumArgs, CausalConv1dArgs, CausalConv1dOutputs, CausalConv1dStepArgs, DeltaRuleArgs, DeltaRuleOutputs, DeltaRuleStepArgs, SelectiveScanArgs, SelectiveScanOutputs,
  SelectiveScanStepArgs,
} from '../backend.js';

function softplus(x: number): number {
  // mamba_ssm's threshold: above 20, softplus(x) == x in float32.
  return x <= 20 ? Math.log1p(Math.exp(x)) : x;
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** The selective scan of DESIGN §3 in float64; `state` [B, D, N] holds h_0 on entry and h_L on return. */
function scan(a: SelectiveScanArgs, state: Float64Array, y: Float32Array): void {
  const { batch, dim, dstate: N, seqlen: L, groups } = a;
  const perGroup = dim / groups;
  const h = new Float64Array(N);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const g = Math.floor(d / perGroup);
      const bc = (b * groups + g) * N * L; // B[b, g, 0, 0]
      for (let n = 0; n < N; n++) h[n] = state[(b * dim + d) * N + n]!;
      for (let t = 0; t < L; t++) {
        const i = (b * dim + d) * L + t;
        let dt = a.delta[i]! + (a.deltaBias ? a.deltaBias[d]! : 0);
        if (a.deltaSoftplus) dt = softplus(dt);
        const u = a.u[i]!;
        let out = 0;
        for (let n = 0; n < N; n++) {
          h[n] = Math.exp(dt * a.A[d * N + n]!) * h[n]! + dt * a.B[bc + n * L + t]! * u;
          out += a.C[bc + n * L + t]! * h[n]!;
        }
        out += (a.D ? a.D[d]! : 0) * u;
        if (a.z) out *= silu(a.z[i]!);
        y[i] = out;
      }
      for (let n = 0; n < N; n++) state[(b * dim + d) * N + n] = h[n]!;
    }
  }
}

/** x[offset, offset + n) times factor, divided by √(Σx² + 1e-6) first when l2 (fla's l2norm). */
function scaledRow(x: Float32Array, offset: number, n: number, l2: boolean, factor: number): Float64Array {
  let norm = 1;
  if (l2) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += x[offset + i]! * x[offset + i]!;
    norm = Math.sqrt(sum + 1e-6);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[offset + i]! * factor) / norm;
  return out;
}

/** What the recurrence reads of a delta rule's args (the choices of algorithm and outputs are the caller's). */
type DeltaRecurrenceArgs = Omit<DeltaRuleArgs, 'chunkSize' | 'algorithm' | 'returnFinalState' | 'allowBf16Products'>;

/** The delta rule of DESIGN §3 in float64; `state` [B, HV, K, V] holds S_0 on entry and S_T on return. */
function deltaRecurrence(a: DeltaRecurrenceArgs, state: Float64Array, o: Float32Array): void {
  const { batch, seqlen: T, heads: H, valueHeads: HV, keyDim: K, valueDim: V } = a;
  const kS = new Float64Array(V);
  for (let b = 0; b < batch; b++) {
    for (let hv = 0; hv < HV; hv++) {
      const h = Math.floor(hv / (HV / H));
      const S = state.subarray((b * HV + hv) * K * V, (b * HV + hv + 1) * K * V);
      for (let t = 0; t < T; t++) {
        const qk = ((b * T + t) * H + h) * K;
        const row = (b * T + t) * HV + hv;
        const q = scaledRow(a.q, qk, K, a.useQkL2Norm, a.scale);
        const k = scaledRow(a.k, qk, K, a.useQkL2Norm, 1);
        const decay = a.g ? Math.exp(a.g[row]!) : 1;
        for (let i = 0; i < K * V; i++) S[i] = S[i]! * decay; // S ← exp(g)·S
        kS.fill(0);
        for (let i = 0; i < K; i++) for (let j = 0; j < V; j++) kS[j] += k[i]! * S[i * V + j]!;
        for (let j = 0; j < V; j++) {
          const vNew = a.beta[row]! * (a.v[row * V + j]! - kS[j]!); // v' = β(v − Sᵀk)
          for (let i = 0; i < K; i++) S[i * V + j] += k[i]! * vNew; // S ← S + k v'ᵀ
        }
        for (let j = 0; j < V; j++) {
          let out = 0;
          for (let i = 0; i < K; i++) out += q[i]! * S[i * V + j]!; // o = scale·Sᵀq
          o[row * V + j] = out;
        }
      }
    }
  }
}

/** causalConv1d of DESIGN §3 in float64: y[t] = act(bias + Σ_w weight[w]·x̃[t−W+1+w]), x̃ = state ⧺ x. */
function causalConv(a: CausalConv1dArgs, y: Float32Array, finalState?: Float32Array): void {
  const { batch, dim, seqlen: L, width: W } = a;
  for (let row = 0; row < batch * dim; row++) {
    const d = row % dim;
    const xt = (i: number): number => (i < W - 1 ? (a.initialState ? a.initialState[row * (W - 1) + i]! : 0) : a.x[row * L + i - (W - 1)]!);
    for (let t = 0; t < L; t++) {
      let out = a.bias ? a.bias[d]! : 0;
      for (let w = 0; w < W; w++) out += a.weight[d * W + w]! * xt(t + w); // x̃ index t + w is x[t − W + 1 + w]
      y[row * L + t] = a.silu ? silu(out) : out;
    }
    if (finalState) for (let i = 0; i < W - 1; i++) finalState[row * (W - 1) + i] = xt(L + i);
  }
}

/** fftConv of DESIGN §3 by direct summation in float64: y[t] = Σ_{s ≤ min(t, Lk−1)} k[s]·u[t−s] + D·u[t]. */
function longConv(a: FftConvArgs, k: Float32Array, y: Float32Array): void {
  const { batch, channels: H, seqlen: L, kernelLen: Lk } = a;
  for (let row = 0; row < batch * H; row++) {
    const h = row % H;
    for (let t = 0; t < L; t++) {
      let out = (a.D ? a.D[h]! : 0) * a.u[row * L + t]!;
      for (let s = 0; s <= Math.min(t, Lk - 1); s++) out += k[h * Lk + s]! * a.u[row * L + t - s]!;
      y[row * L + t] = out;
    }
  }
}

/** ssdScan of DESIGN §3 in float64; `state` [B, H, P, N] holds S_0 on entry and S_L on return. */
function ssd(a: SsdScanArgs, state: Float64Array, y: Float32Array): void {
  const { batch, seqlen: L, heads: H, headDim: P, groups: G, dstate: N } = a;
  const perDimD = a.D !== undefined && a.D.length === H * P && P > 1;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / G));
      const S = state.subarray((b * H + h) * P * N, (b * H + h + 1) * P * N);
      for (let t = 0; t < L; t++) {
        const row = (b * L + t) * H + h;
        let dt = a.dt[row]! + (a.dtBias ? a.dtBias[h]! : 0);
        if (a.dtSoftplus) dt = softplus(dt);
        dt = Math.min(Math.max(dt, a.dtMin), a.dtMax);
        const decay = Math.exp(dt * a.A[h]!);
        const bc = ((b * L + t) * G + g) * N;
        for (let p = 0; p < P; p++) {
          const x = a.x[row * P + p]!;
          let out = 0;
          for (let n = 0; n < N; n++) {
            S[p * N + n] = decay * S[p * N + n]! + dt * x * a.B[bc + n]!; // S ← exp(Δ·A)·S + Δ·x ⊗ B
            out += S[p * N + n]! * a.C[bc + n]!; // y = S·C
          }
          out += (a.D ? a.D[perDimD ? h * P + p : h]! : 0) * x;
          if (a.z) out *= silu(a.z[row * P + p]!);
          y[row * P + p] = out;
        }
      }
    }
  }
}

class JsBackend implements Backend {
  readonly name = 'js' as const;
  readonly threads = 1;
  readonly description = 'TypeScript reference (float64)';
  readonly simdTarget = null;

  async selectiveScan(a: SelectiveScanArgs): Promise<SelectiveScanOutputs> {
    const state = a.initialState ? Float64Array.from(a.initialState) : new Float64Array(a.batch * a.dim * a.dstate);
    const y = new Float32Array(a.batch * a.dim * a.seqlen);
    scan(a, state, y);
    return a.returnFinalState ? { y, finalState: Float32Array.from(state) } : { y };
  }

  async selectiveScanStep(a: SelectiveScanStepArgs): Promise<{ y: Float32Array }> {
    const state = Float64Array.from(a.state);
    const y = new Float32Array(a.batch * a.dim);
    scan({ ...a, seqlen: 1, u: a.x, returnFinalState: true }, state, y);
    a.state.set(state);
    return { y };
  }

  async deltaRule(a: DeltaRuleArgs): Promise<DeltaRuleOutputs> {
    const size = a.batch * a.valueHeads * a.keyDim * a.valueDim;
    const state = a.initialState ? Float64Array.from(a.initialState) : new Float64Array(size);
    const o = new Float32Array(a.batch * a.seqlen * a.valueHeads * a.valueDim);
    deltaRecurrence(a, state, o);
    return a.returnFinalState ? { o, finalState: Float32Array.from(state) } : { o };
  }

  async causalConv1d(a: CausalConv1dArgs): Promise<CausalConv1dOutputs> {
    const y = new Float32Array(a.batch * a.dim * a.seqlen);
    const finalState = a.returnFinalState ? new Float32Array(a.batch * a.dim * (a.width - 1)) : undefined;
    causalConv(a, y, finalState);
    return finalState ? { y, finalState } : { y };
  }

  async linear(a: LinearArgs): Promise<{ y: Float32Array }> {
    const y = new Float32Array(a.rows * a.outFeatures);
    for (let r = 0; r < a.rows; r++) {
      for (let o = 0; o < a.outFeatures; o++) {
        let sum = a.bias ? a.bias[o]! : 0;
        for (let i = 0; i < a.inFeatures; i++) sum += a.x[r * a.inFeatures + i]! * a.weight[o * a.inFeatures + i]!;
        y[r * a.outFeatures + o] = sum;
      }
    }
    return { y };
  }

  async causalConv1dStep(a: CausalConv1dStepArgs): Promise<{ y: Float32Array }> {
    const y = new Float32Array(a.batch * a.dim);
    const state = new Float32Array(a.state.length);
    causalConv({ ...a, seqlen: 1, initialState: a.state, returnFinalState: true }, y, state);
    a.state.set(state);
    return { y };
  }

  async fftConv(a: FftConvArgs): Promise<{ y: Float32Array }> {
    const y = new Float32Array(a.batch * a.channels * a.seqlen);
    longConv(a, (a.k ?? a.spectrum) as Float32Array, y);
    return { y };
  }

  /** The reference has no FFT: its "spectrum" is a copy of k. */
  async fftConvSpectrum(a: FftConvSpectrumArgs): Promise<unknown> {
    return Float32Array.from(a.k);
  }

  async ssdScan(a: SsdScanArgs): Promise<SsdScanOutputs> {
    const size = a.batch * a.heads * a.headDim * a.dstate;
    const state = a.initialState ? Float64Array.from(a.initialState) : new Float64Array(size);
    const y = new Float32Array(a.batch * a.seqlen * a.heads * a.headDim);
    ssd(a, state, y);
    return a.returnFinalState ? { y, finalState: Float32Array.from(state) } : { y };
  }

  async ssdScanStep(a: SsdScanStepArgs): Promise<{ y: Float32Array }> {
    const state = Float64Array.from(a.state);
    const y = new Float32Array(a.batch * a.heads * a.headDim);
    ssd({ ...a, seqlen: 1, chunkSize: 1, algorithm: 'recurrent', returnFinalState: true }, state, y);
    a.state.set(state);
    return { y };
  }

  async deltaRuleStep(a: DeltaRuleStepArgs): Promise<{ o: Float32Array }> {
    const state = Float64Array.from(a.state);
    const o = new Float32Array(a.batch * a.valueHeads * a.valueDim);
    deltaRecurrence({ ...a, seqlen: 1 }, state, o);
    a.state.set(state);
    return { o };
  }
}

export const jsLoader: BackendLoader = {
  name: 'js',
  async load() {
    return new JsBackend();
  },
};
