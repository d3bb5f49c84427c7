import { defineConfig } from 'vitest/config';
import { nodeProject } from './vitest.node.js';

// The CUDA suites alone (`npm run test:cuda`): the node project of vitest.config.ts for test/cuda, without the browser
// toolchain that config loads, so that a GPU machine needs only Node, vitest and the addon (README: the CUDA tests).
export default defineConfig({
  test: {
    include: ['test/cuda/**/*.test.ts'],
    ...nodeProject,
  },
});
