/**
 * The CUDA selective scan's kernels (native/cuda/selective_scan.cu, selective_scan_step.cu) where no GPU is present:
 * longseq-selective-scan-emulated compiles their device code for the CPU (native/cuda/emulate.h: each CUDA thread a
 * std::thread, barriers and warp shuffles through std::barriers, cp.async copies done at their wait and their
 * destinations poisoned until then) and runs the scan kernel in each tile shape the host side launches (float32 and
 * bfloat16, quad and element-wise access, strided rows, idle warps, groups, every option) and the step's three
 * kernels against the recurrence in double. It checks their arithmetic, barriers and copy waits, not their speed;
 * test/cuda/selectiveScan.cuda.test.ts checks them on a GPU.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from 'vitest';

const binary = new URL('../build/Release/longseq-selective-scan-emulated', import.meta.url).pathname;

test.skipIf(!existsSync(binary))('the CUDA selective scan kernels, run on the CPU, match the recurrence', () => {
  const out = spawnSync(binary, [], { encoding: 'utf8', timeout: 120_000 });
  expect(out.status, out.stdout + out.stderr).toBe(0);
  const lines = out.stdout.trim().split('\n');
  expect(lines.length).toBeGreaterThanOrEqual(20);
  for (const line of lines) expect(line).toMatch(/: rel L2 y \S+ state \S+ ok$/);
});
