/**
 * The backends the tests run on: every backend of the Node entry point. One that cannot load here (not built)
 * is listed with its reason, and its tests are reported as skipped, never as passed.
 */
import { available, init, type BackendName, type LongSeq } from '../../ts/index.node.js';

export const CPU_BACKENDS: readonly BackendName[] = ['js', 'native', 'wasm'];

const statuses = await available();

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
    ls = init(threads === undefined ? { backend: name } : { backend: name, threads });
    cache.set(key, ls);
  }
  return ls;
}

/** Describe-title for a backend, with the reason it is skipped when it is. */
export function title(b: TestBackend): string {
  return b.available ? b.name : `${b.name} (skipped: ${b.reason})`;
}
