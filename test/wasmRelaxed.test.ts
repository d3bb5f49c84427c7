/**
 * The relaxed-SIMD wasm build: the opcode rewrite that makes clang 14's output standard, and how init() picks the
 * build (turning relaxed SIMD on in Node 20, whose V8 has it behind a flag). Runs in both Node projects.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { init } from '../ts/index.node.js';
import { hasRelaxedSimd } from '../ts/backends/wasm.js';
import { RELAXED_SECTION, relaxedModule, rewriteRelaxedSimd, uleb as leb } from '../scripts/relaxedSimdOpcodes.mjs';
import { testBackends } from './helpers/backends.js';

const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const f32x4 = (x: number): number[] => [0xfd, 0x0c, ...new Uint8Array(new Float32Array([x, x, x, x]).buffer)];
const body = (code: number[]): number[] => [...leb(code.length + 2), 0x00, ...code, 0x0b];

/** madd() and nmadd() in LLVM 14's encoding (1.5, 3, 0.25 as a, b, c), and konst(), whose v128.const holds the
 * bytes of that encoding: the rewrite must change the first two and leave the constant alone. */
function module(extra: number[] = []): Uint8Array {
  const op = (sub: number): number[] => [...f32x4(1.5), ...f32x4(3), ...f32x4(0.25), 0xfd, sub, 0x01, 0xfd, 0x1f, 0x00];
  const konst = [0xfd, 0x0c, 0xfd, 0xaf, 0x01, 0x00, ...new Array<number>(12).fill(0), 0xfd, 0x1b, 0x00, ...extra];
  const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 0x00, 0x01, 0x7d], [0x60, 0x00, 0x01, 0x7f]])),
    ...section(3, vec([[0x00], [0x00], [0x01]])),
    ...section(7, vec([[...name('madd'), 0x00, 0x00], [...name('nmadd'), 0x00, 0x01], [...name('konst'), 0x00, 0x02]])),
    ...section(10, vec([body(op(0xaf)), body(op(0xb0)), body(konst)])),
  ]);
}

describe('relaxed-SIMD opcode rewrite (scripts/relaxedSimdOpcodes.mjs)', () => {
  test('rewrites the two multiply-adds and no immediate', () => {
    const { bytes, rewritten } = relaxedModule(module());
    expect(rewritten).toBe(2);
    expect(rewriteRelaxedSimd(bytes)).toEqual({ rewritten: 0, marked: true });
    expect(relaxedModule(bytes).bytes).toBe(bytes);
    const constant = bytes.findIndex((_, i) => bytes[i] === 0xfd && bytes[i + 1] === 0x0c && bytes[i + 2] === 0xfd);
    expect([...bytes.subarray(constant + 2, constant + 5)]).toEqual([0xfd, 0xaf, 0x01]);
  });

  test('refuses a SIMD opcode the standard does not have', () => {
    const bytes = module([0x1a, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0xfd, 0xa2, 0x01]);
    expect(() => rewriteRelaxedSimd(bytes)).toThrow(/0xa2 is not standard/);
  });

  test.skipIf(!hasRelaxedSimd())('the rewritten instructions compute a*b + c and c - a*b', async () => {
    const { bytes } = relaxedModule(module());
    const { instance, module: compiled } = await WebAssembly.instantiate(bytes as BufferSource);
    expect(WebAssembly.Module.customSections(compiled, RELAXED_SECTION)).toHaveLength(1);
    const e = instance.exports as { madd(): number; nmadd(): number; konst(): number };
    expect(e.madd()).toBe(4.75);
    expect(e.nmadd()).toBe(-4.25);
    expect(e.konst()).toBe(0x0001affd);
  });
});

const wasm = testBackends.find((b) => b.name === 'wasm')!;
const repo = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(repo, 'dist/index.node.js'));

/**
 * What init() does in a fresh Node process, where relaxed SIMD starts off in Node 20. A child process, because
 * this one's V8 already has it on (from loading the wasm backend), and switching it off again would break the
 * relaxed modules already loaded (V8 compiles their functions lazily, against the flags of the moment).
 */
function freshNode(): Record<string, unknown> {
  const script = `
    import { readFileSync } from 'node:fs';
    import { readFile } from 'node:fs/promises';
    import { fileURLToPath } from 'node:url';
    import { init } from ${JSON.stringify(join(repo, 'dist/index.node.js'))};
    import { createWasmLoader, hasRelaxedSimd } from ${JSON.stringify(join(repo, 'dist/backends/wasm.js'))};
    const relaxedBytes = readFileSync(${JSON.stringify(join(repo, 'wasm/dist/longseq-relaxed.wasm'))});
    const error = (p) => p.then(() => 'loaded', (e) => e.message);
    const out = { startsWithRelaxed: hasRelaxedSimd() };
    // As in a browser without relaxed SIMD: a loader with no host hook to turn it on.
    const browserLike = createWasmLoader(async (url) => new Uint8Array(await readFile(fileURLToPath(url))));
    out.browserAsked = await error(browserLike.load({ wasmSimd: 'relaxed' }));
    out.browserBytes = await error(browserLike.load({ wasmBinary: relaxedBytes }));
    out.browserDefault = (await browserLike.load({})).description;
    out.simd128 = (await init({ backend: 'wasm', wasmSimd: 'simd128' })).description;
    out.simd128Bytes = await error(init({ backend: 'wasm', wasmSimd: 'simd128', wasmBinary: relaxedBytes }));
    out.offAfterSimd128 = !hasRelaxedSimd();
    out.default = (await init({ backend: 'wasm' })).description;
    out.onAfterDefault = hasRelaxedSimd();
    console.log(JSON.stringify(out));`;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe.skipIf(!wasm.available)('init() picks the wasm build', () => {
  test('the relaxed-SIMD build by default in Node, the plain one when wasmSimd says simd128', async () => {
    expect((await init({ backend: 'wasm' })).description).toContain('relaxed-SIMD');
    const plain = await init({ backend: 'wasm', wasmSimd: 'simd128' });
    expect(plain.description).toMatch(/^WebAssembly WASM, /);
  });

  test.skipIf(!built)("where relaxed SIMD starts off (Node 20): init() turns it on unless wasmSimd says simd128; without a way to, asking for it says why", (ctx) => {
    const r = freshNode();
    if (r.startsWithRelaxed) ctx.skip();  // Node 22+: on from the start, nothing to turn on
    expect(r.browserAsked).toMatch(/no relaxed SIMD/);
    expect(r.browserBytes).toMatch(/relaxed-SIMD build/);
    expect(r.browserDefault).not.toContain('relaxed-SIMD');
    expect(r.simd128).not.toContain('relaxed-SIMD');
    expect(r.simd128Bytes).toMatch(/relaxed-SIMD build/);
    expect(r.offAfterSimd128).toBe(true);
    expect(r.default).toContain('relaxed-SIMD');
    expect(r.onAfterDefault).toBe(true);
  });

  test('wasmSimd takes only its two values', async () => {
    await expect(init({ backend: 'wasm', wasmSimd: 'avx2' as never })).rejects.toThrow(TypeError);
  });
});
