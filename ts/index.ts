/**
 * longseq for browsers and other non-Node hosts (the package's "default" export): the wasm and js backends.
 * Node.js resolves the "node" export, index.node.ts, which adds the native addon.
 */
import { createEntry } from './longseq.js';
import { jsLoader } from './backends/js.js';
import { createWasmLoader } from './backends/wasm.js';

export * from './exports.js';

/**
 * `await init()` loads the best backend available here (wasm, else js); `init({ backend })` pins one and
 * throws a BackendUnavailableError saying why when it cannot load.
 */
export const { init, available } = createEntry([createWasmLoader(), jsLoader]);
