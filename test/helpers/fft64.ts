/**
 * A float64 FFT for test references where direct summation would take too long (L = 2^20): iterative radix-2,
 * twiddles from Math.cos/sin per stage. Independent of the kernels under test.
 */

/** In-place complex FFT of size n (a power of two); `inverse` conjugates and divides by n. */
export function fft64(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len *= 2) {
    const angle = ((inverse ? 2 : -2) * Math.PI) / len;
    for (let k = 0; k < len / 2; k++) {
      const wr = Math.cos(angle * k);
      const wi = Math.sin(angle * k);
      for (let i = k; i < n; i += len) {
        const j = i + len / 2;
        const xr = re[j]! * wr - im[j]! * wi;
        const xi = re[j]! * wi + im[j]! * wr;
        re[j] = re[i]! - xr;
        im[j] = im[i]! - xi;
        re[i] = re[i]! + xr;
        im[i] = im[i]! + xi;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = re[i]! / n;
      im[i] = im[i]! / n;
    }
  }
}

/** Causal convolution of u (length L) with k (length Lk <= L) plus D·u, in float64 through the FFT. */
export function causalConv64(u: Float32Array, k: Float32Array, D: number): Float64Array {
  let n = 1;
  while (n < u.length + k.length - 1) n *= 2;
  const ar = new Float64Array(n), ai = new Float64Array(n), br = new Float64Array(n), bi = new Float64Array(n);
  ar.set(u);
  br.set(k);
  fft64(ar, ai);
  fft64(br, bi);
  for (let i = 0; i < n; i++) {
    const r = ar[i]! * br[i]! - ai[i]! * bi[i]!;
    ai[i] = ar[i]! * bi[i]! + ai[i]! * br[i]!;
    ar[i] = r;
  }
  fft64(ar, ai, true);
  const y = new Float64Array(u.length);
  for (let t = 0; t < u.length; t++) y[t] = ar[t]! + D * u[t]!;
  return y;
}
