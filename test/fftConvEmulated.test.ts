/**
 * The CUDA fftConv kernels (native/cuda/fft_conv.cu) where no GPU is present: longseq-fft-conv-emulated compiles
 * their device code for the CPU (native/cuda/emulate.h: each CUDA thread a std::thread, the barriers std::barriers,
 * shared memory poisoned with NaNs) and runs the kernels as the host side launches them — the fused ones (the
 * spectrum kernel, the convolution with the filters' spectrum and with their FFT inline, every fused size's paths)
 * and the four-step ones, in float32 and bfloat16 storage — against the direct convolution in double. It checks
 * their arithmetic and their barriers (a missing one shows up as wrong results), not their speed;
 * test/cuda/fftConv.cuda.test.ts checks them on a GPU.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from 'vitest';

const binary = new URL('../build/Release/longseq-fft-conv-emulated', import.meta.url).pathname;

test.skipIf(!existsSync(binary))('the CUDA fftConv kernels, run on the CPU, match the direct convolution', () => {
  const out = spawnSync(binary, [], { encoding: 'utf8', timeout: 120_000 });
  expect(out.status, out.stdout + out.stderr).toBe(0);
  const lines = out.stdout.trim().split('\n');
  expect(lines.length).toBeGreaterThanOrEqual(24);
  for (const line of lines) expect(line).toMatch(/: rel L2 \S+ ok$/);
});
