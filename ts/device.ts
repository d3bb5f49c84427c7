/**
 * Device tensors: tensors that live in GPU memory (the cuda backend). `ls.toDevice(t)` makes one and
 * `ls.toHost(d)` copies one back. Ops that take them keep their outputs on the device, so a model's layers can
 * run without copies in between.
 *
 * Device memory is freed by `dispose()`, or, as a backstop, some time after the tensor becomes unreachable
 * (a FinalizationRegistry): JS's garbage collector does not see GPU memory, so call `dispose()` in loops.
 */
import type { DType } from './tensor.js';

/** What a backend provides to free its device memory. */
export interface DeviceMemory {
  free(handle: object): void;
}

const registry = new FinalizationRegistry<{ memory: DeviceMemory; handle: object }>(({ memory, handle }) => {
  memory.free(handle);
});

export class DeviceTensor<D extends DType = DType> {
  /** Where the data is. */
  readonly device = 'cuda' as const;
  readonly dtype: D;
  readonly shape: readonly number[];
  #handle: object | undefined;
  readonly #memory: DeviceMemory;

  /** @internal Made by the cuda backend; use `ls.toDevice(t)`. */
  constructor(dtype: D, shape: readonly number[], handle: object, memory: DeviceMemory) {
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.#handle = handle;
    this.#memory = memory;
    registry.register(this, { memory, handle }, this);
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.#handle === undefined;
  }

  /**
   * Frees the device memory. An op already running with this tensor finishes first; later calls that pass it
   * throw a TypeError. Calling dispose() again does nothing.
   */
  dispose(): void {
    if (this.#handle === undefined) return;
    registry.unregister(this);
    this.#memory.free(this.#handle);
    this.#handle = undefined;
  }

  /** @internal The backend's handle; throws a TypeError naming `name` once disposed. */
  handleFor(op: string, name: string): object {
    if (this.#handle === undefined) throw new TypeError(`${op}: ${name} is a disposed device tensor`);
    return this.#handle;
  }
}

export function isDeviceTensor(value: unknown): value is DeviceTensor {
  return value instanceof DeviceTensor;
}
