// Times the WASM module at its C entry points, inputs already in the module heap: the wasm counterpart of the
// native longseq-bench rows ("C API"), so the two compare kernel to kernel, without the JS API's copies in
// and out of the heap.
const dist = new URL('../wasm/dist/', import.meta.url);

/** The one-thread module `name` ('longseq' or 'longseq-relaxed') in Node (reads the .wasm from disk). */
export async function loadWasmModule(name = 'longseq') {
  const { readFileSync } = await import('node:fs');
  const { default: createModule } = await import(new URL(`${name}.mjs`, dist).href);
  return createModule({ wasmBinary: readFileSync(new URL(`${name}.wasm`, dist)) });
}

/** The module `name` ('longseq' or 'longseq-threads') in a page. */
export async function fetchWasmModule(name) {
  const { default: createModule } = await import(new URL(`${name}.mjs`, dist).href);
  const bytes = new Uint8Array(await (await fetch(new URL(`${name}.wasm`, dist))).arrayBuffer());
  return createModule({ wasmBinary: bytes });
}

/** Copies the case's tensors into the heap once; returns a function that runs the kernel, and a cleanup. */
export function prepare(m, c, params) {
  const pointers = {};
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'object' || value === null || !(value.data instanceof Float32Array)) continue;
    pointers[name] = m._malloc(value.data.length * 4) >>> 0;
    m.HEAPF32.set(value.data, pointers[name] >>> 2);
  }
  // Room for the op's largest output (o of deltaRule holds elements x V floats).
  const outFloats = c.op.startsWith('deltaRule') ? params.v.data.length : c.op.startsWith('ssdScan') ? params.x.data.length : c.elements;
  const out = m._malloc(outFloats * 4) >>> 0;
  const p = (name) => pointers[name] ?? 0;
  const codes = { auto: 0, chunked: 1, recurrent: 2 };
  let call;
  if (c.op === 'selectiveScan') {
    const [batch, dim, seqlen] = params.u.shape;
    const dstate = params.A.shape[1];
    call = () => m._ls_wasm_selective_scan(batch, dim, dstate, seqlen, 1, 1, p('u'), p('delta'), p('z'), p('A'), p('B'),
      p('C'), p('D'), p('deltaBias'), 0, out, 0);
  } else if (c.op === 'selectiveScanStep') {
    const [batch, dim, dstate] = params.state.shape;
    call = () => m._ls_wasm_selective_scan_step(batch, dim, dstate, 1, 1, p('state'), p('x'), p('delta'), p('z'), p('A'),
      p('B'), p('C'), p('D'), p('deltaBias'), out);
  } else if (c.op.startsWith('deltaRule ')) {
    const [batch, seqlen, heads, keyDim] = params.q.shape;
    const [, , valueHeads, valueDim] = params.v.shape;
    call = () => m._ls_wasm_delta_rule(batch, seqlen, heads, valueHeads, keyDim, valueDim, 1 / Math.sqrt(keyDim), 1, 64,
      codes[params.algorithm], p('q'), p('k'), p('v'), p('beta'), p('g'), 0, out, 0);
  } else if (c.op === 'deltaRuleStep') {
    const [batch, valueHeads, keyDim, valueDim] = params.state.shape;
    const heads = params.q.shape[1];
    call = () => m._ls_wasm_delta_rule_step(batch, heads, valueHeads, keyDim, valueDim, 1 / Math.sqrt(keyDim), 1,
      p('state'), p('q'), p('k'), p('v'), p('beta'), p('g'), out);
  } else if (c.op === 'causalConv1d') {
    const [batch, dim, seqlen] = params.x.shape;
    const width = params.weight.shape[1];
    call = () => m._ls_wasm_causal_conv1d(batch, dim, seqlen, width, params.activation === 'silu' ? 1 : 0, p('x'),
      p('weight'), p('bias'), 0, out, 0);
  } else if (c.op.startsWith('ssdScan ')) {
    const [batch, seqlen, heads, headDim] = params.x.shape;
    const [, , groups, dstate] = params.B.shape;
    call = () => m._ls_wasm_ssd_scan(batch, seqlen, heads, headDim, groups, dstate, 1, 0, Infinity, 256,
      codes[params.algorithm], 0, p('x'), p('dt'), p('A'), p('B'), p('C'), p('D'), p('z'), p('dtBias'), 0, out, 0);
  } else if (c.op === 'linear') {
    const inFeatures = params.weight.shape[1];
    call = () => m._ls_wasm_linear(params.x.data.length / inFeatures, inFeatures, params.weight.shape[0], p('x'),
      p('weight'), p('bias'), out);
  } else if (c.op === 'fftConv') {
    const [batch, channels, seqlen] = params.u.shape;
    call = () => m._ls_wasm_fft_conv(batch, channels, seqlen, params.k.shape[1], 1, p('u'), p('k'), 0, p('D'), out);
  } else {
    return undefined;
  }
  return {
    run() {
      if (call() !== 0) throw new Error(`${c.op}: ${m.UTF8ToString(m._ls_last_error())}`);
    },
    free() {
      for (const pointer of Object.values(pointers)) m._free(pointer);
      m._free(out);
    },
  };
}
