// Seeded random inputs for the bench (mulberry32), so every backend in a run sees the same data.
export function random(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    floats(n, lo, hi) {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
      return out;
    },
  };
}
