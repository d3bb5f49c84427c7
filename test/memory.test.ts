/**
 * Issue 9: 10,000 calls of each op leave the process's memory flat: measured in a child process, after gc, over
 * a second round of 10,000 calls (the first brings the heaps and pools to their working size).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { testBackends } from './helpers/backends.js';

const script = new URL('./child/memory.mjs', import.meta.url).pathname;
const built = existsSync(new URL('../dist/index.node.js', import.meta.url));
// Generous for allocator noise, far below a leak: 10,000 calls leaking even 2 KiB each would be 20 MiB.
const MAX_GROWTH_MIB = 16;

describe.each(testBackends)('memory on $name', (b) => {
  (b.available && built ? test : test.skip)('10,000 calls of each op leave RSS flat', () => {
    const run = spawnSync(process.execPath, ['--expose-gc', script, b.name, '10000'], { encoding: 'utf8', timeout: 300_000 });
    expect(run.status, `child exited with ${run.status} (${run.signal}); stderr: ${run.stderr}`).toBe(0);
    const growth = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number>;
    for (const [op, mib] of Object.entries(growth)) expect(mib, `${op}: RSS grew by ${mib} MiB`).toBeLessThan(MAX_GROWTH_MIB);
  }, 300_000);
});

describe('large outputs on native', () => {
  const native = testBackends.find((x) => x.name === 'native')!;
  // The addon keeps collected outputs' memory for the next outputs of the same size (up to 256 MiB): the reused
  // memory must give the same results, and what it holds must stay bounded. Its pool holds a block of 8-16 MiB more or
  // fewer at the end than at the start, as the outputs' finalizers ran (measured 2026-12-06: -4 to +12 MiB in 20 runs,
  // 20.1 once in CI, which failed the bound of 16 MiB); leaked outputs would grow it by the round's 36 MiB eight times
  // over (288 MiB).
  const MAX_POOL_GROWTH_MIB = 40;
  test.skipIf(!native.available || !built)('reuse the memory of collected ones: same results, bounded memory', () => {
    const child = new URL('./child/outputReuse.mjs', import.meta.url).pathname;
    const run = spawnSync(process.execPath, ['--expose-gc', child, '8'], { encoding: 'utf8', timeout: 300_000 });
    expect(run.status, `child exited with ${run.status} (${run.signal}); stderr: ${run.stderr}`).toBe(0);
    const { mismatches, calls, growthMiB } = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number>;
    expect(calls).toBe(48);
    expect(mismatches).toBe(0);
    expect(growthMiB).toBeLessThan(MAX_POOL_GROWTH_MIB);
  }, 300_000);
});

describe('running out of memory', () => {
  const wasm = testBackends.find((x) => x.name === 'wasm')!;
  // The wasm heap ends at 4 GiB: an FFT of 2^26 points needs ~6 GiB of scratch.
  test.skipIf(!wasm.available)('an op that cannot allocate rejects with a RangeError, and the backend keeps working', async () => {
    const { backend } = await import('./helpers/backends.js');
    const { tensor } = await import('../ts/index.node.js');
    const ls = await backend('wasm');
    const L = 2 ** 26;
    const u = tensor(new Float32Array(L).fill(0.5), [1, 1, L]);
    const failed = ls.fftConv({ u, k: tensor([1], [1, 1]), algorithm: 'fft' });
    await expect(failed).rejects.toThrow(RangeError);
    // The kernel's message names the op; the adapter does not add it a second time.
    await expect(failed).rejects.toThrow(/^fftConv: out of memory for scratch buffers$/);
    const { y } = await ls.fftConv({ u: tensor([1, 2, 3], [1, 1, 3]), k: tensor([1, 1], [1, 2]) });
    expect(Array.from(y.data)).toEqual([1, 3, 5]);
  }, 120_000);
});
