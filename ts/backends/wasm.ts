/**
 * The wasm backend: the same C++ kernels compiled to WebAssembly SIMD, in two builds: wasm/dist/longseq.{mjs,wasm}
 * (one thread) and wasm/dist/longseq-threads.{mjs,wasm,worker.js} (Emscripten pthreads). The threaded one is used
 * where SharedArrayBuffer is allowed (a page served crossOriginIsolated, i.e. with COOP/COEP headers), as tfjs and
 * onnxruntime-web do, unless init({ threads: 1 }) asks for one thread.
 *
 * Each call copies its inputs into the module's heap, runs the kernel, copies the outputs out and frees the
 * heap memory again. The files are found next to this JS through `new URL(..., import.meta.url)`, which bundlers
 * understand; init({ wasmPath }) (a .wasm file, or the folder holding both) and init({ wasmBinary }) override it.
 */
import type {
  Backend, BackendLoader, LinearArgs, SsdScanArgs, SsdScanOutputs, SsdScanStepArgs, FftConvArgs, FftConvSpectrumArgs, CausalConv1dArgs, CausalConv1dOutputs, CausalConv1dStepArgs, DeltaRuleArgs, DeltaRuleOutputs, DeltaRuleStepArgs, InitOptions, SelectiveScanArgs,
  SelectiveScanOutputs, SelectiveScanStepArgs,
} from '../backend.js';
import { DELTA_ALGORITHMS, FFT_CONV_ALGORITHMS, SSD_ALGORITHMS } from './codes.js';
import type { LongseqModule } from '../../wasm/dist/longseq.mjs';

// Whole file names in literal `new URL(..., import.meta.url)` calls: that is the form bundlers (Vite, webpack,
// esbuild) recognise and rewrite to the emitted asset. A directory URL is rewritten without its trailing slash.
const DEFAULT_URLS = {
  single: new URL('../../wasm/dist/longseq.wasm', import.meta.url),
  threads: new URL('../../wasm/dist/longseq-threads.wasm', import.meta.url),
};
const FILES = { single: 'longseq.wasm', threads: 'longseq-threads.wasm' } as const;
type Variant = keyof typeof FILES;

/** Reads the .wasm bytes; Node's entry passes one that reads files, browsers fetch. */
export type ReadBinary = (url: URL) => Promise<Uint8Array>;

export async function fetchBinary(url: URL): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetching ${url.href} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function checkWasmMagic(bytes: Uint8Array, where: string): void {
  if (bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d) return;
  const start = new TextDecoder().decode(bytes.subarray(0, 40)).replace(/\s+/g, ' ');
  throw new Error(
    `${where} is not a WebAssembly binary (it starts with "${start}"); ` +
      'the server probably returned an HTML page: serve longseq.wasm there or pass init({ wasmPath }) / init({ wasmBinary })',
  );
}

/** Threads are possible here: shared memory is allowed (crossOriginIsolated pages; never in Node's wasm path). */
function threadsAllowed(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
}

/** Which build, and where its .wasm is. */
function locate(options: InitOptions): { variant: Variant; url?: URL } {
  const wantThreads = threadsAllowed() && (options.threads === undefined || options.threads > 1);
  if (options.wasmBinary) {
    // The threaded build imports its (shared) memory; the single-threaded one defines its own.
    const bytes = options.wasmBinary instanceof Uint8Array ? options.wasmBinary : new Uint8Array(options.wasmBinary);
    let importsMemory = false;
    try {
      importsMemory = WebAssembly.Module.imports(new WebAssembly.Module(bytes as BufferSource)).some((i) => i.kind === 'memory');
    } catch {
      // not WebAssembly at all: instantiate() reports it
    }
    if (importsMemory && !threadsAllowed()) {
      throw new Error('init({ wasmBinary }) holds the threaded build, which needs a crossOriginIsolated page; pass longseq.wasm');
    }
    return { variant: importsMemory ? 'threads' : 'single' };
  }
  if (options.wasmPath) {
    const path = String(options.wasmPath);
    const base = new URL(path, DEFAULT_URLS.single);
    if (path.endsWith('.wasm')) return { variant: /threads\.wasm$/.test(path) && threadsAllowed() ? 'threads' : 'single', url: base };
    const folder = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
    const variant = wantThreads ? 'threads' : 'single';
    return { variant, url: new URL(FILES[variant], folder) };
  }
  const variant = wantThreads ? 'threads' : 'single';
  return { variant, url: DEFAULT_URLS[variant] };
}

async function instantiate(options: InitOptions, readBinary: ReadBinary): Promise<{ module: LongseqModule; variant: Variant }> {
  const { variant, url } = locate(options);
  let bytes: Uint8Array;
  let where: string;
  if (options.wasmBinary) {
    bytes = options.wasmBinary instanceof Uint8Array ? options.wasmBinary : new Uint8Array(options.wasmBinary);
    where = 'init({ wasmBinary })';
  } else {
    where = url!.href;
    try {
      bytes = await readBinary(url!);
    } catch (e) {
      throw new Error(`cannot read ${where}: ${(e as Error).message}; run 'npm run build' or pass init({ wasmPath })`);
    }
  }
  checkWasmMagic(bytes, where);
  // Literal import paths, so bundlers see and bundle both glue modules (and the threads' worker file).
  const { default: createModule } =
    variant === 'threads' ? await import('../../wasm/dist/longseq-threads.mjs') : await import('../../wasm/dist/longseq.mjs');
  return { module: await createModule({ wasmBinary: bytes }), variant };
}

/** The one module instance per source and build, shared by every backend object that uses it. */
const modules = new Map<string, Promise<{ module: LongseqModule; variant: Variant }>>();

function loadModule(options: InitOptions, readBinary: ReadBinary): Promise<{ module: LongseqModule; variant: Variant }> {
  // A caller's own bytes get their own instance; paths share one per path and build.
  if (options.wasmBinary) return instantiate(options, readBinary);
  const { url } = locate(options);
  const key = url!.href;
  let module = modules.get(key);
  if (!module) {
    module = instantiate(options, readBinary);
    modules.set(key, module);
    module.catch(() => modules.delete(key));
  }
  return module;
}

/** The WebAssembly heap's limit, and the largest single allocation Emscripten's malloc makes (its sbrk takes a
 * signed 32-bit increment). */
const HEAP_LIMIT = 0xffff_0000;
const MAX_ALLOCATION = 2 ** 31 - 2 ** 16;

/**
 * Places float32 arrays in the module heap for one call, each in an allocation of its own (see MAX_ALLOCATION),
 * all freed by `free()`. The constructor refuses a call that cannot fit before allocating anything. Pointers are
 * unsigned: the heap reaches past 2 GiB, where a signed i32 turns negative.
 */
class HeapArena {
  private readonly pointers: number[] = [];

  constructor(private readonly m: LongseqModule, floats: number, private readonly op: string) {
    if (floats * 4 > HEAP_LIMIT) {
      throw new RangeError(`${op}: cannot allocate ${floats * 4} bytes in the WebAssembly heap (limit 4 GiB)`);
    }
  }

  /** Room for `data` (copied in when given) or for `length` floats; returns the byte pointer (0 for none). */
  put(data: Float32Array | undefined, length = data?.length ?? 0): number {
    if (length === 0) return 0;
    const bytes = length * 4;
    const pointer = bytes > MAX_ALLOCATION ? 0 : this.m._malloc(bytes) >>> 0;
    if (pointer === 0) {
      throw new RangeError(`${this.op}: cannot allocate ${bytes} bytes in the WebAssembly heap (4 GiB, ${MAX_ALLOCATION} bytes per buffer)`);
    }
    this.pointers.push(pointer);
    if (data) this.m.HEAPF32.set(data, pointer >>> 2);
    return pointer;
  }

  read(pointer: number, length: number): Float32Array {
    return this.m.HEAPF32.slice(pointer >>> 2, (pointer >>> 2) + length);
  }

  free(): void {
    for (const pointer of this.pointers.splice(0)) this.m._free(pointer);
  }
}

function floats(...arrays: (Float32Array | number | undefined)[]): number {
  let n = 0;
  for (const a of arrays) n += typeof a === 'number' ? a : (a?.length ?? 0);
  return n;
}

class WasmBackend implements Backend {
  readonly name = 'wasm' as const;
  readonly threads: number;
  readonly description: string;

  constructor(private readonly m: LongseqModule, variant: Variant, options: InitOptions) {
    const available = variant === 'threads' ? m._ls_wasm_threads() : 1;
    this.threads = Math.min(options.threads ?? available, available);
    const simd = m.UTF8ToString(m._ls_simd_target());
    this.description = `WebAssembly ${simd}, ${this.threads} thread${this.threads === 1 ? '' : 's'}${variant === 'threads' ? ' (pthreads)' : ''}`;
  }

  /** Before each call: the module is shared by backend objects that may use different thread counts. */
  private useThreads(): void {
    this.m._ls_wasm_set_threads(this.threads);
  }

  private check(status: number, op: string): void {
    if (status !== 0) throw new RangeError(`${op}: ${this.m.UTF8ToString(this.m._ls_last_error())}`);
  }

  async selectiveScan(a: SelectiveScanArgs): Promise<SelectiveScanOutputs> {
    this.useThreads();
    const bdl = a.batch * a.dim * a.seqlen;
    const bdn = a.batch * a.dim * a.dstate;
    const heap = new HeapArena(this.m, floats(a.u, a.delta, a.z, a.A, a.B, a.C, a.D, a.deltaBias, a.initialState, bdl, a.returnFinalState ? bdn : 0), 'selectiveScan');
    try {
      const u = heap.put(a.u), delta = heap.put(a.delta), z = heap.put(a.z), A = heap.put(a.A);
      const B = heap.put(a.B), C = heap.put(a.C), D = heap.put(a.D), bias = heap.put(a.deltaBias);
      const init = heap.put(a.initialState);
      const y = heap.put(undefined, bdl);
      const final = a.returnFinalState ? heap.put(undefined, bdn) : 0;
      this.check(this.m._ls_wasm_selective_scan(a.batch, a.dim, a.dstate, a.seqlen, a.groups, a.deltaSoftplus ? 1 : 0,
        u, delta, z, A, B, C, D, bias, init, y, final), 'selectiveScan');
      const out: SelectiveScanOutputs = { y: heap.read(y, bdl) };
      if (final) out.finalState = heap.read(final, bdn);
      return out;
    } finally {
      heap.free();
    }
  }

  async selectiveScanStep(a: SelectiveScanStepArgs): Promise<{ y: Float32Array }> {
    this.useThreads();
    const bd = a.batch * a.dim;
    const heap = new HeapArena(this.m, floats(a.state, a.x, a.delta, a.z, a.A, a.B, a.C, a.D, a.deltaBias, bd), 'selectiveScanStep');
    try {
      const state = heap.put(a.state), x = heap.put(a.x), delta = heap.put(a.delta), z = heap.put(a.z);
      const A = heap.put(a.A), B = heap.put(a.B), C = heap.put(a.C), D = heap.put(a.D), bias = heap.put(a.deltaBias);
      const y = heap.put(undefined, bd);
      this.check(this.m._ls_wasm_selective_scan_step(a.batch, a.dim, a.dstate, a.groups, a.deltaSoftplus ? 1 : 0,
        state, x, delta, z, A, B, C, D, bias, y), 'selectiveScanStep');
      // Copy the state back only now that the step has succeeded.
      a.state.set(heap.read(state, a.state.length));
      return { y: heap.read(y, bd) };
    } finally {
      heap.free();
    }
  }

  async deltaRule(a: DeltaRuleArgs): Promise<DeltaRuleOutputs> {
    this.useThreads();
    const outSize = a.batch * a.seqlen * a.valueHeads * a.valueDim;
    const stateSize = a.batch * a.valueHeads * a.keyDim * a.valueDim;
    const heap = new HeapArena(this.m, floats(a.q, a.k, a.v, a.beta, a.g, a.initialState, outSize, a.returnFinalState ? stateSize : 0), 'deltaRule');
    try {
      const q = heap.put(a.q), k = heap.put(a.k), v = heap.put(a.v), beta = heap.put(a.beta), g = heap.put(a.g);
      const init = heap.put(a.initialState);
      const o = heap.put(undefined, outSize);
      const final = a.returnFinalState ? heap.put(undefined, stateSize) : 0;
      this.check(this.m._ls_wasm_delta_rule(a.batch, a.seqlen, a.heads, a.valueHeads, a.keyDim, a.valueDim, a.scale,
        a.useQkL2Norm ? 1 : 0, a.chunkSize, DELTA_ALGORITHMS[a.algorithm], q, k, v, beta, g, init, o, final), 'deltaRule');
      const out: DeltaRuleOutputs = { o: heap.read(o, outSize) };
      if (final) out.finalState = heap.read(final, stateSize);
      return out;
    } finally {
      heap.free();
    }
  }

  async causalConv1d(a: CausalConv1dArgs): Promise<CausalConv1dOutputs> {
    this.useThreads();
    const size = a.batch * a.dim * a.seqlen;
    const stateSize = a.batch * a.dim * (a.width - 1);
    const heap = new HeapArena(this.m, floats(a.x, a.weight, a.bias, a.initialState, size, a.returnFinalState ? stateSize : 0), 'causalConv1d');
    try {
      const x = heap.put(a.x), weight = heap.put(a.weight), bias = heap.put(a.bias), init = heap.put(a.initialState);
      const y = heap.put(undefined, size);
      const final = a.returnFinalState ? heap.put(undefined, stateSize) : 0;
      this.check(this.m._ls_wasm_causal_conv1d(a.batch, a.dim, a.seqlen, a.width, a.silu ? 1 : 0, x, weight, bias, init, y, final), 'causalConv1d');
      const out: CausalConv1dOutputs = { y: heap.read(y, size) };
      if (final) out.finalState = heap.read(final, stateSize);
      return out;
    } finally {
      heap.free();
    }
  }

  async ssdScan(a: SsdScanArgs): Promise<SsdScanOutputs> {
    this.useThreads();
    const size = a.batch * a.seqlen * a.heads * a.headDim;
    const stateSize = a.batch * a.heads * a.headDim * a.dstate;
    const heap = new HeapArena(this.m, floats(a.x, a.dt, a.A, a.B, a.C, a.D, a.z, a.dtBias, a.initialState, size, a.returnFinalState ? stateSize : 0), 'ssdScan');
    try {
      const x = heap.put(a.x), dt = heap.put(a.dt), A = heap.put(a.A), B = heap.put(a.B), C = heap.put(a.C);
      const D = heap.put(a.D), z = heap.put(a.z), bias = heap.put(a.dtBias), init = heap.put(a.initialState);
      const y = heap.put(undefined, size);
      const final = a.returnFinalState ? heap.put(undefined, stateSize) : 0;
      const perDim = a.D !== undefined && a.D.length === a.heads * a.headDim && a.headDim > 1 ? 1 : 0;
      this.check(this.m._ls_wasm_ssd_scan(a.batch, a.seqlen, a.heads, a.headDim, a.groups, a.dstate, a.dtSoftplus ? 1 : 0,
        a.dtMin, a.dtMax, a.chunkSize, SSD_ALGORITHMS[a.algorithm], perDim, x, dt, A, B, C, D, z, bias, init, y, final), 'ssdScan');
      const out: SsdScanOutputs = { y: heap.read(y, size) };
      if (final) out.finalState = heap.read(final, stateSize);
      return out;
    } finally {
      heap.free();
    }
  }

  async ssdScanStep(a: SsdScanStepArgs): Promise<{ y: Float32Array }> {
    this.useThreads();
    const size = a.batch * a.heads * a.headDim;
    const heap = new HeapArena(this.m, floats(a.state, a.x, a.dt, a.A, a.B, a.C, a.D, a.z, a.dtBias, size), 'ssdScanStep');
    try {
      const state = heap.put(a.state), x = heap.put(a.x), dt = heap.put(a.dt), A = heap.put(a.A), B = heap.put(a.B);
      const C = heap.put(a.C), D = heap.put(a.D), z = heap.put(a.z), bias = heap.put(a.dtBias);
      const y = heap.put(undefined, size);
      const perDim = a.D !== undefined && a.D.length === a.heads * a.headDim && a.headDim > 1 ? 1 : 0;
      this.check(this.m._ls_wasm_ssd_scan_step(a.batch, a.heads, a.headDim, a.groups, a.dstate, a.dtSoftplus ? 1 : 0,
        a.dtMin, a.dtMax, perDim, state, x, dt, A, B, C, D, z, bias, y), 'ssdScanStep');
      a.state.set(heap.read(state, a.state.length));
      return { y: heap.read(y, size) };
    } finally {
      heap.free();
    }
  }

  async fftConv(a: FftConvArgs): Promise<{ y: Float32Array }> {
    this.useThreads();
    const size = a.batch * a.channels * a.seqlen;
    const spectrum = a.spectrum as Float32Array | undefined;
    const heap = new HeapArena(this.m, floats(a.u, a.k, spectrum, a.D, size), 'fftConv');
    try {
      const u = heap.put(a.u), k = heap.put(a.k), s = heap.put(spectrum), D = heap.put(a.D);
      const y = heap.put(undefined, size);
      this.check(this.m._ls_wasm_fft_conv(a.batch, a.channels, a.seqlen, a.kernelLen, FFT_CONV_ALGORITHMS[a.algorithm], u, k, s, D, y), 'fftConv');
      return { y: heap.read(y, size) };
    } finally {
      heap.free();
    }
  }

  async fftConvSpectrum(a: FftConvSpectrumArgs): Promise<unknown> {
    this.useThreads();
    const size = this.m._ls_wasm_fft_conv_spectrum_floats(a.channels, a.seqlen, a.kernelLen);
    if (size < 0) throw new RangeError('fftConvPlan: cannot allocate the FFT plan');
    const heap = new HeapArena(this.m, floats(a.k, size), 'fftConvPlan');
    try {
      const k = heap.put(a.k);
      const spectrum = heap.put(undefined, size);
      this.check(this.m._ls_wasm_fft_conv_spectrum(a.channels, a.seqlen, a.kernelLen, k, spectrum), 'fftConvPlan');
      return heap.read(spectrum, size);
    } finally {
      heap.free();
    }
  }

  async linear(a: LinearArgs): Promise<{ y: Float32Array }> {
    this.useThreads();
    const size = a.rows * a.outFeatures;
    const heap = new HeapArena(this.m, floats(a.x, a.weight, a.bias, size), 'linear');
    try {
      const x = heap.put(a.x), weight = heap.put(a.weight), bias = heap.put(a.bias);
      const y = heap.put(undefined, size);
      this.check(this.m._ls_wasm_linear(a.rows, a.inFeatures, a.outFeatures, x, weight, bias, y), 'linear');
      return { y: heap.read(y, size) };
    } finally {
      heap.free();
    }
  }

  async causalConv1dStep(a: CausalConv1dStepArgs): Promise<{ y: Float32Array }> {
    this.useThreads();
    const size = a.batch * a.dim;
    const heap = new HeapArena(this.m, floats(a.state, a.x, a.weight, a.bias, size), 'causalConv1dStep');
    try {
      const state = heap.put(a.state), x = heap.put(a.x), weight = heap.put(a.weight), bias = heap.put(a.bias);
      const y = heap.put(undefined, size);
      this.check(this.m._ls_wasm_causal_conv1d_step(a.batch, a.dim, a.width, a.silu ? 1 : 0, state, x, weight, bias, y), 'causalConv1dStep');
      a.state.set(heap.read(state, a.state.length));
      return { y: heap.read(y, size) };
    } finally {
      heap.free();
    }
  }

  async deltaRuleStep(a: DeltaRuleStepArgs): Promise<{ o: Float32Array }> {
    this.useThreads();
    const outSize = a.batch * a.valueHeads * a.valueDim;
    const heap = new HeapArena(this.m, floats(a.state, a.q, a.k, a.v, a.beta, a.g, outSize), 'deltaRuleStep');
    try {
      const state = heap.put(a.state), q = heap.put(a.q), k = heap.put(a.k), v = heap.put(a.v);
      const beta = heap.put(a.beta), g = heap.put(a.g);
      const o = heap.put(undefined, outSize);
      this.check(this.m._ls_wasm_delta_rule_step(a.batch, a.heads, a.valueHeads, a.keyDim, a.valueDim, a.scale,
        a.useQkL2Norm ? 1 : 0, state, q, k, v, beta, g, o), 'deltaRuleStep');
      a.state.set(heap.read(state, a.state.length));
      return { o: heap.read(o, outSize) };
    } finally {
      heap.free();
    }
  }
}

export function createWasmLoader(readBinary: ReadBinary = fetchBinary): BackendLoader {
  return {
    name: 'wasm',
    async load(options: InitOptions) {
      const { module, variant } = await loadModule(options, readBinary);
      return new WasmBackend(module, variant, options);
    },
  };
}
