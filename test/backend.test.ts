import { expect, test } from 'vitest';
import { available, init } from '../ts/index.node.js';
import { testBackends } from './helpers/backends.js';

test('available() lists every backend, with a reason for each one that does not load', async () => {
  const list = await available();
  expect(list.map((b) => b.name)).toEqual(['cuda', 'native', 'wasm', 'js']);
  for (const b of list) {
    if (b.available) expect(b.description).toBeTruthy();
    else expect(b.reason).toBeTruthy();
  }
  expect(list.find((b) => b.name === 'js')!.available).toBe(true);
});

test('init() picks the best available backend', async () => {
  const best = (await available()).find((b) => b.available)!.name; // available() lists them best first
  const ls = await init();
  expect(ls.backend).toBe(best);
  expect(ls.threads).toBeGreaterThanOrEqual(1);
});

test.skipIf(!testBackends.find((b) => b.name === 'native')!.available)('init({ threads }) sets the native thread count', async () => {
  expect((await init({ backend: 'native', threads: 1 })).threads).toBe(1);
  expect((await init({ backend: 'native', threads: 1000 })).description).toMatch(/C\+\+ \w+, \d+ threads?/);
});

test('simdTarget names the SIMD instruction set each backend runs, as its description does', async () => {
  for (const { name } of testBackends.filter((b) => b.available)) {
    const ls = await init({ backend: name });
    if (name === 'js') {
      expect(ls.simdTarget).toBeNull();
      continue;
    }
    expect(ls.simdTarget, name).toMatch(name === 'wasm' ? /^WASM( relaxed-SIMD)?$/ : /^\w+$/);
    expect(ls.description, name).toContain(ls.simdTarget!);
  }
  if (testBackends.find((b) => b.name === 'wasm')!.available) {
    expect((await init({ backend: 'wasm', wasmSimd: 'simd128' })).simdTarget).toBe('WASM');
  }
});

test.skipIf(!testBackends.find((b) => b.name === 'wasm')!.available)('init({ wasmPath }) and init({ wasmBinary }) load the module', async () => {
  const url = new URL('../wasm/dist/longseq.wasm', import.meta.url);
  expect((await init({ backend: 'wasm', wasmPath: url })).backend).toBe('wasm');
  const { readFile } = await import('node:fs/promises');
  expect((await init({ backend: 'wasm', wasmBinary: await readFile(url) })).backend).toBe('wasm');
});
