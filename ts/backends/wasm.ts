/**
 * The wasm backend: the same C++ kernels compiled to WebAssembly SIMD, in two builds: wasm/dist/longseq.{mjs,wasm}
 * (one thread) and wasm/dist/longseq-threads.{mjs,wasm,worker.js} (Emscripten pthreads). The threaded one is used
 * where SharedArrayBuffer is allowed (a page served crossOriginIsolated, i.e. with COOP/COEP headers), as tfjs and
 * onnxruntime-web do, unless init({ threads: 1 }) asks for one thread. Each has a relaxed-SIMD twin,
 * longseq[-threads]-relaxed.{mjs,wasm}, whose multiply-adds are fused (f32x4.relaxed_madd), taken where the engine
 * validates that instruction (in Node 20 after turning it on, see index.node.ts) unless init({ wasmSimd: 'simd128' }).
 * Each .wasm needs its own JS glue (the threaded glue holds addresses in the module's data).
 *
 * Each call copies its inputs into the module's heap, runs the kernel, copies the outputs out and frees the
 * heap memory again. The files are found next to this JS through `new URL(..., import.meta.url)`, which bundlers
 * understand; init({ wasmPath }) (a .wasm file, or the folder holding them) and init({ wasmBinary }) override it.
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
  'single-relaxed': new URL('../../wasm/dist/longseq-relaxed.wasm', import.meta.url),
  'threads-relaxed': new URL('../../wasm/dist/longseq-threads-relaxed.wasm', import.meta.url),
};
const FILES = {
  single: 'longseq.wasm',
  threads: 'longseq-threads.wasm',
  'single-relaxed': 'longseq-relaxed.wasm',
  'threads-relaxed': 'longseq-threads-relaxed.wasm',
} as const;
type Build = keyof typeof FILES;
type Variant = 'single' | 'threads';

// A function that runs f32x4.relaxed_madd on three zero vectors: valid only where the engine has relaxed SIMD.
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: () -> ()
  0x03, 0x02, 0x01, 0x00, // functions: one of type 0
  0x0a, 0x3e, 0x01, 0x3c, 0x00, // code: one body of 60 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]), // v128.const 0, three times
  0xfd, 0x85, 0x02, 0x1a, 0x0b, // f32x4.relaxed_madd, drop, end
]);

/** The engine runs relaxed SIMD now (checked each time: a host may turn it on, see EnableRelaxedSimd). */
export function hasRelaxedSimd(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/**
 * Turns on relaxed SIMD where the engine has it behind a flag; the Node entry passes one (Node 20). Called only
 * when the engine lacks it and the caller has not asked for the SIMD128 build.
 */
export type EnableRelaxedSimd = () => void;

/** Whether the relaxed-SIMD build can run here, turning it on through `enable` first where that is allowed. */
function relaxedSimdFor(options: InitOptions, enable: EnableRelaxedSimd | undefined): boolean {
  if (hasRelaxedSimd()) return true;
  if (options.wasmSimd === 'simd128' || !enable) return false;
  enable();
  return hasRelaxedSimd();
}

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

/** The custom section scripts/relaxedSimdOpcodes.mjs adds to the relaxed-SIMD builds (RELAXED_SECTION there). */
const RELAXED_SECTION = 'longseq.relaxed-simd';

/** Which build the bytes hold: the threaded ones import their (shared) memory, the relaxed ones carry RELAXED_SECTION. */
function buildOf(bytes: Uint8Array, where: string): Build {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as BufferSource);
  } catch (e) {
    const hint = hasRelaxedSimd()
      ? ''
      : '; a relaxed-SIMD build (longseq[-threads]-relaxed.wasm) needs Chrome or Edge 114+ or Node 20+: ' +
        'pass longseq.wasm or longseq-threads.wasm';
    throw new Error(`${where} does not compile on this engine (${(e as Error).message})${hint}`);
  }
  const threads = WebAssembly.Module.imports(module).some((i) => i.kind === 'memory');
  if (threads && !threadsAllowed()) {
    throw new Error(`${where} holds the threaded build, which needs a crossOriginIsolated page; pass longseq.wasm`);
  }
  const relaxed = WebAssembly.Module.customSections(module, RELAXED_SECTION).length > 0;
  const variant: Variant = threads ? 'threads' : 'single';
  return relaxed ? `${variant}-relaxed` : variant;
}

/** A build and where its .wasm is (see locate). */
interface Located {
  build?: Build;
  url?: URL;
}

/**
 * Which build, and where its .wasm is; no build where only the bytes can tell (a caller's bytes or .wasm file).
 * Unless wasmSimd is 'simd128', relaxed SIMD is first turned on where the host can (`enable`), so that a caller's
 * relaxed-SIMD bytes compile too.
 */
function locate(options: InitOptions, enable: EnableRelaxedSimd | undefined): Located {
  const relaxedRuns = relaxedSimdFor(options, enable);
  if (options.wasmBinary) return {};
  if (options.wasmSimd === 'relaxed' && !relaxedRuns) {
    throw new Error(
      "init({ wasmSimd: 'relaxed' }): this engine has no relaxed SIMD (Chrome and Edge 114+, Node 20+); " +
        'leave wasmSimd out to take the build it runs',
    );
  }
  const relaxed = options.wasmSimd === 'relaxed' || (options.wasmSimd === undefined && relaxedRuns);
  const variant: Variant = threadsAllowed() && (options.threads === undefined || options.threads > 1) ? 'threads' : 'single';
  const build: Build = relaxed ? `${variant}-relaxed` : variant;
  if (options.wasmPath) {
    const path = String(options.wasmPath);
    const base = new URL(path, DEFAULT_URLS.single);
    if (path.endsWith('.wasm')) return { url: base };
    const folder = new URL(base.href.endsWith('/') ? base.href : `${base.href}/`);
    return { build, url: new URL(FILES[build], folder) };
  }
  return { build, url: DEFAULT_URLS[build] };
}

/** Each build's JS glue, through literal import paths so bundlers see and bundle all four (and the workers' files). */
async function glue(build: Build): Promise<(options: { wasmBinary: Uint8Array }) => Promise<LongseqModule>> {
  switch (build) {
    case 'single':
      return (await import('../../wasm/dist/longseq.mjs')).default;
    case 'threads':
      return (await import('../../wasm/dist/longseq-threads.mjs')).default;
    case 'single-relaxed':
      return (await import('../../wasm/dist/longseq-relaxed.mjs')).default;
    case 'threads-relaxed':
      return (await import('../../wasm/dist/longseq-threads-relaxed.mjs')).default;
  }
}

interface Loaded {
  module: LongseqModule;
  threaded: boolean;
}

async function instantiate(options: InitOptions, located: Located, readBinary: ReadBinary): Promise<Loaded> {
  let bytes: Uint8Array;
  let where: string;
  if (options.wasmBinary) {
    bytes = options.wasmBinary instanceof Uint8Array ? options.wasmBinary : new Uint8Array(options.wasmBinary);
    where = 'init({ wasmBinary })';
  } else {
    where = located.url!.href;
    try {
      bytes = await readBinary(located.url!);
    } catch (e) {
      throw new Error(`cannot read ${where}: ${(e as Error).message}; run 'npm run build' or pass init({ wasmPath })`);
    }
  }
  checkWasmMagic(bytes, where);
  const build = located.build ?? buildOf(bytes, where);
  const createModule = await glue(build);
  return { module: await createModule({ wasmBinary: bytes }), threaded: build.startsWith('threads') };
}

/** The one module instance per source and build, shared by every backend object that uses it. */
const modules = new Map<string, Promise<Loaded>>();

function loadModule(options: InitOptions, readBinary: ReadBinary, enable?: EnableRelaxedSimd): Promise<Loaded> {
  const located = locate(options, enable);
  // A caller's own bytes get their own instance; paths share one per path and build.
  if (options.wasmBinary) return instantiate(options, located, readBinary);
  const key = located.url!.href;
  let module = modules.get(key);
  if (!module) {
    module = instantiate(options, located, readBinary);
    modules.set(key, module);
    module.catch(() => modules.delete(key));
  }
  return module;
}

/** The WebAssembly heap's limit, and the largest single allocation Emscripten's malloc makes (its sbrk takes a
 * signed 32-bit increment). */
const HEAP_LIMIT = 0xffff_0000;
const MAX_ALLOCATION = 2 ** 31 - 2 ** 16;

/** Every output element must be written (DESIGN.md §4): where LONGSEQ_POISON_OUTPUTS is set (the tests, in Node), outputs
 * start as NaN, so that an element a kernel leaves unwritten shows instead of what malloc's reused memory held. Read
 * once, when this module loads. */
const POISON_OUTPUTS = Boolean((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LONGSEQ_POISON_OUTPUTS);

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

  /** Room for `data` (copied in when given) or for `length` floats of output; returns the byte pointer (0 for none). */
  put(data: Float32Array | undefined, length = data?.length ?? 0): number {
    if (length === 0) return 0;
    const bytes = length * 4;
    const pointer = bytes > MAX_ALLOCATION ? 0 : this.m._malloc(bytes) >>> 0;
    if (pointer === 0) {
      throw new RangeError(`${this.op}: cannot allocate ${bytes} bytes in the WebAssembly heap (4 GiB, ${MAX_ALLOCATION} bytes per buffer)`);
    }
    this.pointers.push(pointer);
    if (data) {
      this.m.HEAPF32.set(data, pointer >>> 2);
    } else if (POISON_OUTPUTS) {
      this.m.HEAPF32.fill(NaN, pointer >>> 2, (pointer >>> 2) + length);
    }
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
  readonly simdTarget: string;

  constructor(private readonly m: LongseqModule, threaded: boolean, options: InitOptions) {
    const available = threaded ? m._ls_wasm_threads() : 1;
    this.threads = Math.min(options.threads ?? available, available);
    this.simdTarget = m.UTF8ToString(m._ls_simd_target());
    this.description = `WebAssembly ${this.simdTarget}, ${this.threads} thread${this.threads === 1 ? '' : 's'}${threaded ? ' (pthreads)' : ''}`;
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

export function createWasmLoader(readBinary: ReadBinary = fetchBinary, enableRelaxedSimd?: EnableRelaxedSimd): BackendLoader {
  return {
    name: 'wasm',
    async load(options: InitOptions) {
      const { module, threaded } = await loadModule(options, readBinary, enableRelaxedSimd);
      return new WasmBackend(module, threaded, options);
    },
  };
}
