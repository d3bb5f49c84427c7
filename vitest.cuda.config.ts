import { defineConfig } from 'vitest/config';

// The CUDA suites alone (`npm run test:cuda`): the node project of vitest.config.ts for test/cuda, without the browser
// toolchain that config loads, so that a GPU machine needs only Node, vitest and the addon (README: the CUDA tests).
export default defineConfig({
  test: {
    include: ['test/cuda/**/*.test.ts'],
    environment: 'node',
    // As in vitest.config.ts: every output element must be written (DESIGN.md §4).
    env: { LONGSEQ_POISON_OUTPUTS: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
