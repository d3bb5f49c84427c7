/**
 * The backends the tests run on: every backend of the Node entry point. One that cannot load here (not built)
 * is listed with its reason, and its tests are reported as skipped, never as passed.
 */
import { available, init, type BackendName, type LongSeq } from '../../ts/index.node.js';

export const CPU_BACKENDS: readonly BackendName[] = ['js', 'native', 'wasm'];

/**
 * The 'node-relaxed' project (vitest.config.ts) runs the op tests again on the relaxed-SIMD wasm build only (the
 * build init() takes by default in Node): the other backends are listed as skipped there, and 'wasm' is asked for
 * that build by name, so an engine without it fails rather than quietly testing the plain one. The 'node' project
 * asks for the plain SIMD128 build (what engines without relaxed SIMD run).
 */
export const RELAXED_WASM_ONLY = process.env.LONGSEQ_TEST_WASM === 'relaxed';

const statuses = (await available()).map((s) =>
  RELAXED_WASM_ONLY && s.name !== 'wasm' ? { ...s, available: false, reason: 'the node-relaxed project tests the relaxed-SIMD wasm build only' } : s,
);

export interface TestBackend {
  name: BackendName;
  available: boolean;
  reason: string;
}

export const testBackends: TestBackend[] = CPU_BACKENDS.map((name) => {
  const s = statuses.find((x) => x.name === name)!;
  return { name, available: s.available, reason: s.reason ?? '' };
});

const cache = new Map<string, Promise<LongSeq>>();

/** A LongSeq on `name` (shared across tests; threads optional). */
export function backend(name: BackendName, threads?: number): Promise<LongSeq> {
  const key = `${name}/${threads ?? ''}`;
  let ls = cache.get(key);
  if (!ls) {
    const simd = name === 'wasm' ? { wasmSimd: RELAXED_WASM_ONLY ? ('relaxed' as const) : ('simd128' as const) } : {};
    ls = init(threads === undefined ? { backend: name, ...simd } : { backend: name, threads, ...simd });
    cache.set(key, ls);
  }
  return ls;
}

/** Describe-title for a backend, with the reason it is skipped when it is. */
export function title(b: TestBackend): string {
  return b.available ? b.name : `${b.name} (skipped: ${b.reason})`;
}

/**
 * Runs f with the environment variable `name` set to `value` (the one the run was started with, if any, put back
 * after). The addon reads the process's environment at each call, which process.env is in vitest's default pool of
 * forked processes.
 */
export async function withEnv<T>(name: string, value: string, f: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/**
 * Runs f with the CUDA chunked ops' workspace held to `bytes` (LONGSEQ_CUDA_WORKSPACE_LIMIT), so that short inputs
 * span several segments of the sequence.
 */
export async function withWorkspaceLimit<T>(bytes: number, f: () => Promise<T>): Promise<T> {
  return withEnv('LONGSEQ_CUDA_WORKSPACE_LIMIT', String(bytes), f);
}
