/**
 * Issue 8: every golden case of every op on the wasm and js backends, in a real page (headless Chromium). The
 * "browser" project serves the page plainly (one-thread wasm), "browser-threads" with COOP/COEP, so the page
 * is crossOriginIsolated and the threaded wasm build runs. Chromium has relaxed SIMD, so 'wasm' is the
 * relaxed-SIMD build there; 'wasm simd128' runs the plain one, which engines without relaxed SIMD take.
 */
import { describe, expect, inject, test } from 'vitest';
import { init, readSafetensors } from '../../ts/index.js';
import { expectClose } from '../helpers/compare.js';
import { caseFromFile, GOLDEN_OPS, runGolden } from '../helpers/goldenRun.js';

const goldenUrl = inject('goldenUrl');
const goldenFiles = inject('goldenFiles');
const expectThreads = inject('expectThreads');

// The js reference sums fftConv directly: its 65536-long case would take minutes in a page.
const SLOW_FOR_JS = new Set(['fftConv-long']);

const CONFIGS = [
  { label: 'wasm', name: 'wasm', options: { backend: 'wasm' } },
  { label: 'wasm simd128', name: 'wasm', options: { backend: 'wasm', wasmSimd: 'simd128' } },
  { label: 'js', name: 'js', options: { backend: 'js' } },
] as const;

describe.each(CONFIGS)('$label backend in the page', ({ label, name, options }) => {
  test('loads, threaded exactly when the page is crossOriginIsolated, relaxed SIMD unless asked not to', async () => {
    const ls = await init(options);
    expect(ls.backend).toBe(name);
    if (name === 'wasm') {
      expect(crossOriginIsolated).toBe(expectThreads);
      expect(ls.description.includes('pthreads')).toBe(expectThreads);
      expect(ls.description.includes('relaxed-SIMD')).toBe(label === 'wasm');
      if (expectThreads) expect(ls.threads).toBeGreaterThanOrEqual(2);
    }
  });

  if (!goldenUrl) {
    test.skip('golden cases: no golden folder here (set LONGSEQ_GOLDEN)', () => {});
    return;
  }
  const files = goldenFiles.filter((f) => GOLDEN_OPS.includes(f.slice(0, f.indexOf('-'))) && !(name === 'js' && SLOW_FOR_JS.has(f)));
  const algorithms: Record<string, string[]> = { deltaRule: ['recurrent', 'chunked'], fftConv: ['fft', 'direct'] };
  test.each(files)('golden %s', async (file) => {
    const ls = await init(options);
    const response = await fetch(`${goldenUrl}/${file}.safetensors`);
    expect(response.ok, `fetching ${file}`).toBe(true);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const op = file.slice(0, file.indexOf('-'));
    for (const algorithm of name === 'wasm' ? (algorithms[op] ?? [undefined]) : [undefined]) {
      const c = { ...caseFromFile(file, readSafetensors(bytes)), options: algorithm ? { algorithm } : {} };
      const out = await runGolden(ls, c);
      for (const [key, ref] of Object.entries(c.expected)) expectClose(`${file} ${algorithm ?? ''} ${key}`, out[key], ref, 1e-4);
    }
  });
});
