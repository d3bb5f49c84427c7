/**
 * The small blocks around the sequence-mixing ops, on host float32 rows ([rows, features], row-major):
 * embedding, RMSNorm (plain and Mamba-2's gated form), and the layout changes between the models' token-major
 * rows and the ops' channel-major tensors. Sums run in float64. (The linear layers are the backend's `linear` op.)
 */

/** Rows of `table` [vocab, dim] for each id; a RangeError names the first id outside the vocabulary. */
export function embed(ids: Int32Array, table: Float32Array, dim: number): Float32Array {
  const vocab = table.length / dim;
  const out = new Float32Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id < vocab)) throw new RangeError(`model: token id ${id} at position ${i} is outside the vocabulary [0, ${vocab})`);
    out.set(table.subarray(id * dim, (id + 1) * dim), i * dim);
  }
  return out;
}

/** y = x / sqrt(mean(x²) + eps) · weight, per row of `dim`. */
export function rmsNorm(x: Float32Array, dim: number, weight: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length; r += dim) {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[r + i]! * x[r + i]!;
    const scale = 1 / Math.sqrt(sum / dim + eps);
    for (let i = 0; i < dim; i++) out[r + i] = x[r + i]! * scale * weight[i]!;
  }
  return out;
}

/**
 * Mamba-2's gated RMSNorm (mamba_ssm RMSNormGated, norm_before_gate = false): h = x·silu(gate), then RMSNorm of
 * h over groups of `groupSize` features, times weight.
 */
export function gatedRmsNorm(
  x: Float32Array, gate: Float32Array, dim: number, weight: Float32Array, eps: number, groupSize: number,
): Float32Array {
  const out = new Float32Array(x.length);
  const h = new Float64Array(groupSize);
  for (let r = 0; r < x.length; r += dim) {
    for (let g = 0; g < dim; g += groupSize) {
      let sum = 0;
      for (let i = 0; i < groupSize; i++) {
        const z = gate[r + g + i]!;
        h[i] = (x[r + g + i]! * z) / (1 + Math.exp(-z));
        sum += h[i]! * h[i]!;
      }
      const scale = 1 / Math.sqrt(sum / groupSize + eps);
      for (let i = 0; i < groupSize; i++) out[r + g + i] = h[i]! * scale * weight[g + i]!;
    }
  }
  return out;
}

/** Columns [from, from + count) of rows [batch·length, width] as channel-major [batch, count, length]. */
export function toChannels(rows: Float32Array, batch: number, length: number, width: number, from: number, count: number): Float32Array {
  const out = new Float32Array(batch * count * length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) {
      const src = (b * length + t) * width + from;
      for (let c = 0; c < count; c++) out[(b * count + c) * length + t] = rows[src + c]!;
    }
  }
  return out;
}

/** Channel-major [batch, channels, length] as rows [batch·length, channels]. */
export function toRows(channels: Float32Array, batch: number, count: number, length: number): Float32Array {
  const out = new Float32Array(channels.length);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < count; c++) {
      const src = (b * count + c) * length;
      for (let t = 0; t < length; t++) out[(b * length + t) * count + c] = channels[src + t]!;
    }
  }
  return out;
}

/** Columns [from, from + count) of rows [rows, width]. */
export function columns(rows: Float32Array, width: number, from: number, count: number): Float32Array {
  const n = rows.length / width;
  const out = new Float32Array(n * count);
  for (let r = 0; r < n; r++) out.set(rows.subarray(r * width + from, r * width + from + count), r * count);
  return out;
}

/** a += b, elementwise. */
export function addInto(a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
}

/** -exp(x): the state matrix A from a checkpoint's A_log. */
export function negExp(x: Float32Array): Float32Array {
  return Float32Array.from(x, (v) => -Math.exp(v));
}
