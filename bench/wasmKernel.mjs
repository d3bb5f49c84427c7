// Times the WASM module at its C entry points, inputs already in the module heap: the wasm counterpart of the
// native longseq-bench rows ("C API"), so the two compare kernel to kernel, without the JS API's copies in
// and out of the heap.
import { readFileSync } from 'node:fs';

const dist = new URL('../wasm/dist/', import.meta.url);

export async function loadWasmModule() {
  const { default: createModule } = await import(new URL('longseq.mjs', dist).href);
  return createModule({ wasmBinary: readFileSync(new URL('longseq.wasm', dist)) });
}

/** Copies the case's tensors into the heap once; returns a function that runs the kernel, and a cleanup. */
export function prepare(m, c, params) {
  const pointers = {};
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'object') continue;
    pointers[name] = m._malloc(value.data.length * 4) >>> 0;
    m.HEAPF32.set(value.data, pointers[name] >>> 2);
  }
  const out = m._malloc(c.elements * 4) >>> 0;
  const p = (name) => pointers[name] ?? 0;
  const s = params.u?.shape ?? params.state.shape;
  let call;
  if (c.op === 'selectiveScan') {
    const [batch, dim, seqlen] = s;
    const dstate = params.A.shape[1];
    call = () => m._ls_wasm_selective_scan(batch, dim, dstate, seqlen, 1, 1, p('u'), p('delta'), p('z'), p('A'), p('B'),
      p('C'), p('D'), p('deltaBias'), 0, out, 0);
  } else if (c.op === 'selectiveScanStep') {
    const [batch, dim, dstate] = s;
    call = () => m._ls_wasm_selective_scan_step(batch, dim, dstate, 1, 1, p('state'), p('x'), p('delta'), p('z'), p('A'),
      p('B'), p('C'), p('D'), p('deltaBias'), out);
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
