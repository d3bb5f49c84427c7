/**
 * longseq for Node.js (the package's "node" export): CUDA and the CPU kernels of the native addon, the wasm
 * module and the js reference.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
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
 * `await init()` loads the best backend available here (cuda, else native, else wasm, else js); `init({ backend })` pins
 * one and throws a BackendUnavailableError saying why when it cannot load.
 */
export const { init, available } = createEntry([cudaLoader, nativeLoader, createWasmLoader(readBinary), jsLoader]);
