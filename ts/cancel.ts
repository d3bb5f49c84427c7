/**
 * Cancellation: every op takes `{ signal }`, an AbortSignal. Native work checks a flag the signal sets between
 * pieces of work and stops early; the wasm and js backends run synchronously, so for them the signal is checked
 * before the call starts. An aborted op rejects with the signal's reason (an AbortError DOMException unless the
 * caller gave another). One-token *Step ops are checked only before they start: their state is updated entirely
 * or not at all.
 */

/** `value` as an AbortSignal (or undefined); a TypeError naming the op otherwise. */
export function checkSignal(op: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const s = value as Partial<AbortSignal> | null;
  if (typeof s !== 'object' || s === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
    throw new TypeError(`${op}: signal must be an AbortSignal, got ${value === null ? 'null' : typeof value}`);
  }
  return value as AbortSignal;
}

function reason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Runs `call` with a cancel flag (an Int32Array the native kernels poll) that `signal` sets when it fires. */
export async function cancellable<T>(signal: AbortSignal | undefined, call: (cancel?: Int32Array) => Promise<T>): Promise<T> {
  if (!signal) return call(undefined);
  if (signal.aborted) throw reason(signal);
  const cancel = new Int32Array(1);
  const onAbort = (): void => {
    cancel[0] = 1;
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await call(cancel);
  } catch (e) {
    // The native kernels report a cancelled call as an AbortError of their own: give the caller its reason.
    if (signal.aborted) throw reason(signal);
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
