/**
 * longseq for Node.js (the package's "node" export): CUDA and the CPU kernels of the native addon, the wasm
 * module and the js reference.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as v8 from 'node:v8';
import { createEntry } from './longseq.js';
import { jsLoader } from './backends/js.js';
import { nativeLoader } from './backends/native.js';
import { cudaLoader } from './backends/cuda.js';
import { createWasmLoader, fetchBinary } from './backends/wasm.js';

export * from './exports.js';

// Node 20's fetch cannot read file: URLs, so the wasm module's bytes are read from disk here.
const readBinary = async (url: URL): Promise<Uint8Array> =>
  url.protocol === 'file:' ? new Uint8Array(await readFile(fileURLToPath(url))) : fetchBinary(url);

/**
 * Node 20's V8 (11.3) has relaxed SIMD behind a flag; V8 turned it on by default in 11.4 (Chrome 114), and Node 22
 * validates it without one. Turning the flag on lets the wasm backend take its relaxed-SIMD build, whose fused
 * multiply-adds make it 20-30% faster; the flag only makes more WebAssembly instructions valid. The node-relaxed
 * test project runs every op's tests on that build in Node 20. init({ wasmSimd: 'simd128' }) leaves the flag off.
 */
function enableRelaxedSimd(): void {
  // Only in Node itself (Bun and Deno report a Node version too, and stub node:v8).
  const { versions } = process as { versions: NodeJS.ProcessVersions & { bun?: string; deno?: string } };
  if (versions.node.split('.')[0] === '20' && !versions.bun && !versions.deno) {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  }
}

/**
 * `await init()` loads the best backend available here (cuda, else native, else wasm, else js); `init({ backend })` pins
 * one and throws a BackendUnavailableError saying why when it cannot load.
 */
export const { init, available } = createEntry([cudaLoader, nativeLoader, createWasmLoader(readBinary, enableRelaxedSimd), jsLoader]);
