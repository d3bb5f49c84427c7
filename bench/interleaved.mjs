// WASM against native side by side in Node (sideBySide.mjs): longseq-bench serves the native case run by run
// (--case … --interleave) while this process times the WASM module's C entry between those runs.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { sideBySide } from './sideBySide.mjs';
import { prepare } from './wasmKernel.mjs';

/**
 * longseq-bench serving the case `op config` on one thread: run(k) resolves to the times of k runs, close() ends
 * it. Undefined when the binary has no such case.
 */
export async function nativeServer(benchBinary, op, config) {
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
 * For each case, the WASM builds ([label, module] pairs) against longseq-bench side by side (sideBySide.mjs);
 * cases the binary does not have (`c.nativeConfig ?? c.config`) are skipped.
 */
export async function interleavedRatios(benchBinary, cases, modules, { rounds = 15, runs = 3, progress = () => {} } = {}) {
  const rows = [];
  for (const c of cases) {
    const builds = modules.map(([label, m]) => [label, prepare(m, c, c.make(1000))]).filter(([, k]) => k);
    const server = builds.length > 0 ? await nativeServer(benchBinary, c.op, c.nativeConfig ?? c.config) : undefined;
    if (server) {
      progress(`  ${c.op} ${c.config}: ${rounds} rounds of native and ${builds.map(([label]) => label).join(', ')}, side by side...`);
      rows.push(...await sideBySide(c, builds, (k) => server.run(k), { rounds, runs }));
      await server.close();
    }
    for (const [, k] of builds) k.free();
  }
  return rows;
}
