/**
 * The reference backend: plain float64 loops that mirror DESIGN §3 line by line. It is the oracle the other
 * backends are tested against, so it stays simple; it is not meant to be fast.
 */
import type { Backend, BackendLoader, SelectiveScanArgs, SelectiveScanOutputs, SelectiveScanStepArgs } from '../backend.js';

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

class JsBackend implements Backend {
  readonly name = 'js' as const;
  readonly threads = 1;
  readonly description = 'TypeScript reference (float64)';

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
}

export const jsLoader: BackendLoader = {
  name: 'js',
  async load() {
    return new JsBackend();
  },
};
