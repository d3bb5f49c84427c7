/**
 * The CUDA kernels where no GPU is present: each longseq-*-emulated binary compiles one op's device code for the
 * CPU (native/cuda/emulate.h: each CUDA thread a std::thread, block and warp barriers and warp shuffles through
 * std::barriers, cp.async copies done at their wait with their destinations poisoned until then, mma.sync, wgmma and
 * ldmatrix exchanged through the warp, wgmma and bulk stores checked again at their waits, shared memory poisoned
 * with NaNs) and runs its kernels as the host side
 * launches them against a reference in double, printing a line per case and exiting with the number that failed. They
 * check the kernels' arithmetic, barriers and copy waits, not their speed; test/cuda/*.cuda.test.ts check them on a
 * GPU. The kernels take the paths an sm_80 GPU takes, and the chunked ones also an sm_90's and an sm_90a's (bulk
 * copies and their mbarriers, tensor maps, warpgroup products), as an H200 runs them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from 'vitest';

const kernels = [
  // binary, what it runs, its fewest cases
  ['fft-conv', 'fftConv: the fused and four-step kernels against the direct convolution', 24],
  ['selective-scan', 'selectiveScan: each tile shape, and the step kernels, against the recurrence', 20],
  ['causal-conv1d', 'causalConv1d: both quad kernels, the element kernel, the final state and the step', 11],
  ['delta-rule', 'deltaRule: the recurrent, step and chunked kernels (float32 and bf16, sm_80 and sm_90 paths)', 26],
  ['ssd-scan', 'ssdScan: the recurrent kernel at each lane shape, and the chunked forms (sm_80, sm_90, sm_90a)', 22],
] as const;

// The delta rule's binary takes 80-92 s on an otherwise idle 2-core machine (2026-12-08) and went past 120 s with a
// build running beside the suite, so each binary gets 300 s.
const binaryTimeoutMs = 300_000;

for (const [name, what, cases] of kernels) {
  const binary = new URL(`../build/Release/longseq-${name}-emulated`, import.meta.url).pathname;
  test.skipIf(!existsSync(binary))(`the CUDA kernels run on the CPU: ${what}`, { timeout: binaryTimeoutMs + 10_000 }, () => {
    const out = spawnSync(binary, [], { encoding: 'utf8', timeout: binaryTimeoutMs });
    expect(out.status, out.stdout + out.stderr).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(cases);
    for (const line of lines) expect(line).toMatch(/: rel L2 .+ ok$/);
  });
}
