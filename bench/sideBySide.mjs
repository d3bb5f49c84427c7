// WASM against native, kernel to kernel, from runs taken side by side (used in Node by interleaved.mjs and in
// Chromium by browser.mjs's page). On this shared VM the speed of a core swings for seconds at a time
// (BENCHMARKS.md), so medians taken a minute apart can land in different spells and their ratio says little;
// here each round is a few native runs, then a few of each WASM build, within a fraction of a second, and the
// ratio is read per round.

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/**
 * Case `c` (op, config): `rounds` rounds of `runs` native runs (nativeRuns(k) resolves to their times in ms,
 * taken by longseq-bench) then `runs` runs of each [label, kernel] build (kernel.run() times one run here).
 * Returns one row per build: the medians over rounds of each round's median time and of each round's ratio native
 * / WASM (WASM's speed as a fraction of native's), and the ratios' range.
 */
export async function sideBySide(c, builds, nativeRuns, { rounds = 15, runs = 3 } = {}) {
  const nativeMs = [];
  const wasm = builds.map(() => ({ ms: [], ratios: [] }));
  for (const [, kernel] of builds) kernel.run();  // warm-up
  for (let round = 0; round < rounds; round++) {
    const n = median(await nativeRuns(runs));
    nativeMs.push(n);
    builds.forEach(([, kernel], i) => {
      const times = [];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        kernel.run();
        times.push(performance.now() - t0);
      }
      wasm[i].ms.push(median(times));
      wasm[i].ratios.push(n / median(times));
    });
  }
  return builds.map(([label], i) => ({ op: c.op, config: c.config, build: label, rounds, runsPerRound: runs,
    nativeMs: median(nativeMs), wasmMs: median(wasm[i].ms), ratio: median(wasm[i].ratios),
    ratioMin: Math.min(...wasm[i].ratios), ratioMax: Math.max(...wasm[i].ratios) }));
}
