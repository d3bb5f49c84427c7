// WASM against native, one thread, kernel to kernel, from runs taken side by side. On this shared VM the speed
// of a core swings for seconds at a time (BENCHMARKS.md), so a WASM median and a native median taken a minute
// apart can land in different spells and their ratio says little. Here longseq-bench serves the native case run
// by run (--case … --interleave) while this process times the WASM module's C entry between those runs: each
// round is a few runs of native, then of each WASM build, within a fraction of a second, and the ratio is read
// per round.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { prepare } from './wasmKernel.mjs';

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** longseq-bench serving one case; undefined when it has no such case. */
async function nativeServer(benchBinary, op, config) {
  const child = spawn(benchBinary, ['--threads', '1', '--op', op.split(' ')[0], '--case', `${op} ${config}`, '--interleave'],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done || first.value !== 'ready') {
    child.kill();
    return undefined;
  }
  return {
    async run(k) {
      child.stdin.write(`${k}\n`);
      const line = await lines.next();
      if (line.done) throw new Error(`longseq-bench stopped serving ${op} ${config}`);
      return line.value.trim().split(/\s+/).map(Number);
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end('0\n');
      await exited;
    },
  };
}

/**
 * For each case and WASM build ([label, module] pairs): `rounds` rounds of `runs` native runs then `runs` runs of
 * each build; returns one row per (case, build) with the medians over rounds of each round's median time and of
 * each round's ratio native / WASM, and the ratios' range.
 */
export async function interleavedRatios(benchBinary, cases, builds, { rounds = 15, runs = 3, progress = () => {} } = {}) {
  const rows = [];
  for (const c of cases) {
    const nativeConfig = c.nativeConfig ?? c.config;
    const kernels = builds.map(([label, m]) => [label, prepare(m, c, c.make(1000))]).filter(([, k]) => k);
    const server = kernels.length > 0 ? await nativeServer(benchBinary, c.op, nativeConfig) : undefined;
    if (!server) {
      for (const [, k] of kernels) k.free();
      continue;
    }
    progress(`  ${c.op} ${c.config}: ${rounds} rounds of native and ${kernels.map(([label]) => label).join(', ')}, side by side...`);
    const nativeMs = [];
    const wasm = kernels.map(() => ({ ms: [], ratios: [] }));
    for (const [, k] of kernels) k.run();  // warm-up
    for (let round = 0; round < rounds; round++) {
      const n = median(await server.run(runs));
      nativeMs.push(n);
      kernels.forEach(([, k], i) => {
        const times = [];
        for (let r = 0; r < runs; r++) {
          const t0 = performance.now();
          k.run();
          times.push(performance.now() - t0);
        }
        wasm[i].ms.push(median(times));
        wasm[i].ratios.push(n / median(times));
      });
    }
    await server.close();
    kernels.forEach(([label, k], i) => {
      k.free();
      rows.push({ op: c.op, config: c.config, build: label, rounds, runsPerRound: runs, nativeMs: median(nativeMs),
        wasmMs: median(wasm[i].ms), ratio: median(wasm[i].ratios), ratioMin: Math.min(...wasm[i].ratios),
        ratioMax: Math.max(...wasm[i].ratios) });
    });
  }
  return rows;
}
