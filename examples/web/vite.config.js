// The demo resolves 'longseq' to this repository's build (an app of your own just installs the package) and serves
// the page crossOriginIsolated, so the threaded wasm build runs.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: { alias: { longseq: fileURLToPath(new URL('../../dist/index.js', import.meta.url)) } },
  server: { headers: isolated, fs: { allow: [fileURLToPath(new URL('../..', import.meta.url))] } },
  preview: { headers: isolated },
  build: { target: 'es2022' },
});
