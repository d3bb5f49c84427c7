// Rewrites a WASM module's relaxed-SIMD multiply-adds from the opcodes LLVM 14 emits to the standard ones.
//
// Debian's emscripten (3.1.6) uses clang 14, which emits the relaxed-SIMD proposal's early encoding: f32x4.fma as
// 0xfd 0xaf and f32x4.fms as 0xfd 0xb0. The standard (Chrome 114+, and V8 in Node behind
// --experimental-wasm-relaxed-simd) renumbered them f32x4.relaxed_madd 0xfd 0x105 and relaxed_nmadd 0xfd 0x106,
// with the same operands and meaning (a * b + c and -(a * b) + c, checked in test/wasmRelaxed.test.ts). The
// kernels use no other relaxed instruction; any other opcode outside the standard SIMD set stops the build.
//
// The code section is decoded instruction by instruction, so only opcodes are rewritten, never immediates or
// data. Both encodings take two LEB128 bytes after the prefix, so the rewrite is in place. The module then gets a
// custom section, RELAXED_SECTION, by which ts/backends/wasm.ts tells a relaxed build's bytes from a plain one's.
//
//   node scripts/relaxedSimdOpcodes.mjs <module.wasm>   (rewrites the file, prints how many it changed)

import { readFileSync, writeFileSync } from 'node:fs';

const REWRITE = new Map([
  [0xaf, 0x105], // f32x4.fma (LLVM 14) -> f32x4.relaxed_madd
  [0xb0, 0x106], // f32x4.fms (LLVM 14) -> f32x4.relaxed_nmadd
]);
// SIMD opcodes the standard leaves unassigned; the early relaxed proposal used some of them.
const SIMD_GAPS = new Set([0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0,
  0xd2, 0xd3, 0xd4, 0xe2, 0xee]);
const LAST_SIMD_OPCODE = 0x113; // SIMD128 ends at 0xff, the standard relaxed set (no immediates) at 0x113
export const RELAXED_SECTION = 'longseq.relaxed-simd';

/** Rewrites `bytes` (a Uint8Array of a WASM module) in place; returns the number of instructions rewritten and
 * whether the module already has RELAXED_SECTION. */
export function rewriteRelaxedSimd(bytes) {
  let pos = 8;
  const fail = (what) => {
    throw new Error(`relaxedSimdOpcodes: ${what} at byte ${pos}`);
  };
  const byte = () => (pos < bytes.length ? bytes[pos++] : fail('unexpected end of module'));
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = byte();
      if (shift < 32) result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return result;
      if (shift > 70) fail('LEB128 too long');
    }
  };
  const skip = (n) => {
    pos += n;
    if (pos > bytes.length) fail('unexpected end of module');
  };
  const memarg = () => {
    leb();
    leb();
  };
  const blockType = () => {
    const b = bytes[pos];
    if (b === 0x40 || (b >= 0x6f && b <= 0x7f)) pos += 1;
    else leb();
  };

  let rewritten = 0;
  const simd = () => {
    const start = pos;
    const op = leb();
    if (op <= 0x0b || op === 0x5c || op === 0x5d) return memarg(); // loads, stores, load32/64_zero
    if (op === 0x0c || op === 0x0d) return skip(16); // v128.const, i8x16.shuffle
    if (op >= 0x15 && op <= 0x22) return skip(1); // extract / replace lane
    if (op >= 0x54 && op <= 0x5b) return (memarg(), skip(1)); // load / store lane
    if (REWRITE.has(op)) {
      if (pos - start !== 2) fail(`non-canonical SIMD opcode ${op.toString(16)}`);
      const to = REWRITE.get(op);
      bytes[start] = 0x80 | (to & 0x7f);
      bytes[start + 1] = to >> 7;
      rewritten += 1;
      return;
    }
    if (SIMD_GAPS.has(op) || op > LAST_SIMD_OPCODE) fail(`SIMD opcode 0x${op.toString(16)} is not standard`);
  };
  const instruction = () => {
    const op = byte();
    if (op === 0x02 || op === 0x03 || op === 0x04 || op === 0x06) return blockType();
    if (op === 0x07 || op === 0x08 || op === 0x09 || op === 0x18) return void leb(); // exceptions
    if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12 || op === 0xd2) return void leb();
    if (op === 0x0e) {
      const n = leb();
      for (let i = 0; i <= n; i++) leb();
      return;
    }
    if (op === 0x11 || op === 0x13) return (leb(), void leb()); // call_indirect: type, table
    if (op === 0x1c) return skip(leb()); // select with types
    if (op >= 0x20 && op <= 0x26) return void leb(); // locals, globals, table.get / set
    if (op >= 0x28 && op <= 0x3e) return memarg();
    if (op === 0x3f || op === 0x40) return void leb(); // memory.size / grow
    if (op === 0x41 || op === 0x42) return void leb(); // i32 / i64 const (signed LEB: same length rule)
    if (op === 0x43) return skip(4);
    if (op === 0x44) return skip(8);
    if (op === 0xd0) return skip(1); // ref.null
    if (op === 0xfc) {
      const sub = leb();
      if (sub <= 7) return;
      if (sub === 8 || sub === 10 || sub === 12 || sub === 14) return (leb(), void leb());
      if (sub <= 17) return void leb();
      fail(`unknown 0xfc opcode ${sub}`);
    }
    if (op === 0xfd) return simd();
    if (op === 0xfe) {
      const sub = leb();
      if (sub === 0x03) return skip(1); // atomic.fence
      return memarg();
    }
    // Everything else (control without immediates, numeric operators) has no immediate.
  };

  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) fail('not a WASM module');
  let marked = false;
  while (pos < bytes.length) {
    const id = byte();
    const size = leb();
    const end = pos + size;
    if (id === 0) {
      const length = leb();
      marked ||= new TextDecoder().decode(bytes.subarray(pos, pos + length)) === RELAXED_SECTION;
    }
    if (id !== 10) {
      pos = end;
      continue;
    }
    const count = leb();
    for (let f = 0; f < count; f++) {
      const bodySize = leb();
      const bodyEnd = pos + bodySize;
      const groups = leb();
      for (let g = 0; g < groups; g++) {
        leb();
        byte();
      }
      while (pos < bodyEnd) instruction();
      if (pos !== bodyEnd) fail(`function ${f} decoded past its end`);
    }
    if (pos !== end) fail('code section decoded past its end');
  }
  return { rewritten, marked };
}

/** The module with its multiply-adds rewritten (in place) and RELAXED_SECTION added once; and how many changed. */
export function relaxedModule(bytes) {
  const { rewritten, marked } = rewriteRelaxedSimd(bytes);
  if (marked) return { bytes, rewritten };
  const name = new TextEncoder().encode(RELAXED_SECTION);
  const content = [...uleb(name.length), ...name];
  const section = [0, ...uleb(content.length), ...content];
  const out = new Uint8Array(bytes.length + section.length);
  out.set(bytes);
  out.set(section, bytes.length);
  return { bytes: out, rewritten };
}

/** Unsigned LEB128, as the binary format writes sizes and counts. */
export function uleb(n) {
  const out = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  const { bytes, rewritten } = relaxedModule(readFileSync(file));
  writeFileSync(file, bytes);
  console.log(`${file}: ${rewritten} relaxed multiply-adds in the standard encoding`);
}
