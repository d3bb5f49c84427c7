import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { POISON, nodeProject } from './vitest.node.js';

const root = dirname(fileURLToPath(import.meta.url));
const goldenDir = [process.env.LONGSEQ_GOLDEN, join(root, '..', 'shared', 'golden')].find((d) => d && existsSync(d));
const goldenFiles = goldenDir
  ? readdirSync(goldenDir).filter((f) => f.endsWith('.safetensors')).map((f) => f.slice(0, -'.safetensors'.length)).sort()
  : [];

// Debian's Chromium, headless, and kept off the network (DEVELOPERS.md). Without it (scripts/build.mjs installs
// it as root, or prints the apt command), the browser projects are left out and a line says so.
const chromiumPath = process.env.LONGSEQ_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(chromiumPath);
if (!hasChromium) console.warn(`[vitest] ${chromiumPath} not found: the browser tests do not run (apt-get install chromium)`);
const chromium = playwright({
  launchOptions: {
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  },
});

declare module 'vitest' {
  export interface ProvidedContext {
    goldenUrl: string;
    goldenFiles: string[];
    expectThreads: boolean;
  }
}

// The tests that check the wasm kernels' numbers, run on both wasm builds.
const RELAXED_TESTS = ['selectiveScan', 'selectiveScanStep', 'deltaRule', 'deltaRuleStep', 'causalConv1d', 'fftConv',
  'ssdScan', 'linear', 'mambaBlocksStep', 'wasmRelaxed'];

/** A browser project: the page served plainly, or crossOriginIsolated (COOP/COEP) for the threaded wasm. */
function browserProject(name: string, isolated: boolean) {
  return {
    server: {
      fs: { allow: [root, ...(goldenDir ? [goldenDir] : [])] },
      headers: isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {},
    },
    optimizeDeps: { exclude: ['longseq'] },
    test: {
      name,
      include: ['test/browser/**/*.test.ts'],
      testTimeout: 120_000,
      provide: { goldenUrl: goldenDir ? `/@fs${goldenDir}` : '', goldenFiles, expectThreads: isolated },
      browser: { enabled: true, headless: true, provider: chromium, instances: [{ browser: 'chromium' as const }] },
    },
  };
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**'],
          ...nodeProject,
        },
      },
      {
        // The op tests again on the relaxed-SIMD wasm build (test/helpers/backends.ts), the one init() takes in
        // Node (in Node 20 by turning V8's flag on itself, as it does for users); the 'node' project above tests
        // the plain SIMD128 build.
        test: {
          name: 'node-relaxed',
          include: RELAXED_TESTS.map((t) => `test/${t}.test.ts`),
          ...nodeProject,
          env: { ...POISON, LONGSEQ_TEST_WASM: 'relaxed' },
        },
      },
      ...(hasChromium ? [browserProject('browser', false), browserProject('browser-threads', true)] : []),
    ],
  },
});
