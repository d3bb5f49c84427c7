/**
 * The bench's side-by-side measurement of WASM against native (bench/interleaved.mjs and longseq-bench's
 * --case / --interleave): the protocol works and its errors are usage errors; the Chromium bench page reports its
 * errors. Times are not checked here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from 'vitest';

const binary = new URL('../build/Release/longseq-bench', import.meta.url).pathname;
const built = existsSync(binary) && existsSync(new URL('../wasm/dist/longseq.wasm', import.meta.url));
const causalConv = 'causalConv1d B1 D1536 L4096 W4';
const chromium = existsSync(process.env.LONGSEQ_CHROMIUM ?? '/usr/bin/chromium');

test.skipIf(!existsSync(binary))('longseq-bench --interleave serves the runs stdin asks for, and nothing else', () => {
  const out = spawnSync(binary, ['--threads', '1', '--op', 'causalConv1d', '--case', causalConv, '--interleave'], {
    input: '2\n1\n0\n',
    encoding: 'utf8',
  });
  expect(out.status, out.stderr).toBe(0);
  const lines = out.stdout.trim().split('\n');
  expect(lines[0]).toBe('ready');
  expect(lines.slice(1).map((l) => l.split(' ').length)).toEqual([2, 1]);
  for (const ms of lines.slice(1).join(' ').split(' ').map(Number)) expect(ms).toBeGreaterThan(0);
});

test.skipIf(!existsSync(binary))('--interleave without --case is a usage error, and a --case that matches nothing fails', () => {
  const usage = spawnSync(binary, ['--interleave'], { encoding: 'utf8' });
  expect(usage.status).toBe(2);
  expect(usage.stderr).toMatch(/--interleave needs --case/);
  const missing = spawnSync(binary, ['--op', 'causalConv1d', '--case', 'causalConv1d B1 D1536 L4096 W5', '--interleave'], { encoding: 'utf8' });
  expect(missing.status).toBe(1);
  expect(missing.stdout).toBe('');
  expect(missing.stderr).toMatch(/no case "causalConv1d B1 D1536 L4096 W5"/);
  // without --interleave too, and before it spends seconds measuring the machine's limits
  const plain = spawnSync(binary, ['--case', 'causalConv1d B1 D1536 L4096 W5'], { encoding: 'utf8' });
  expect(plain.status).toBe(1);
  expect(plain.stderr).toMatch(/no case "causalConv1d B1 D1536 L4096 W5"/);
  expect(plain.stderr).not.toMatch(/measuring machine limits/);
});

test.skipIf(!built)('interleavedRatios reads a ratio per round, and skips cases longseq-bench does not have', async () => {
  // @ts-expect-error: plain ES modules of the bench, no declarations
  const { interleavedRatios } = await import('../bench/interleaved.mjs');
  // @ts-expect-error: as above
  const { loadWasmModule } = await import('../bench/wasmKernel.mjs');
  // @ts-expect-error: as above
  const { cases } = await import('../bench/cases/causalConv1d.mjs');
  const c = cases.find((x: { op: string; config: string }) => `${x.op} ${x.config}` === causalConv);
  const unknown = { ...c, config: 'B1 D1536 L4096 W5' };
  const rows = await interleavedRatios(binary, [c, unknown], [['SIMD128', await loadWasmModule('longseq')]], { rounds: 3, runs: 1 });
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ op: 'causalConv1d', config: 'B1 D1536 L4096 W4', build: 'SIMD128', rounds: 3 });
  expect(rows[0].ratioMin).toBeGreaterThan(0);
  expect(rows[0].ratioMin).toBeLessThanOrEqual(rows[0].ratio);
  expect(rows[0].ratio).toBeLessThanOrEqual(rows[0].ratioMax);
}, 60_000);

test.skipIf(!chromium || !existsSync(new URL('../dist/index.js', import.meta.url)) || !built)(
  'the Chromium bench page\'s errors reach the bench at once, not as its wait\'s timeout',
  async () => {
    // @ts-expect-error: a plain ES module of the bench, no declarations
    const { benchInBrowser } = await import('../bench/browser.mjs');
    const root = new URL('..', import.meta.url).pathname;
    const start = Date.now();
    await expect(benchInBrowser(root, [['noSuchOp', 'B1']], 0.01, '/nonexistent/longseq-bench')).rejects.toThrow(
      /the Chromium bench page failed: .*no bench cases for op noSuchOp/,
    );
    expect(Date.now() - start).toBeLessThan(60_000);
  },
  90_000,
);
