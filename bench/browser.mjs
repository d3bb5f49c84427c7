// The wasm backend in headless Chromium, one thread against the threaded build: the page is served
// crossOriginIsolated (COOP/COEP), so init() picks the threaded module and init({ threads: 1 }) the other.
// Chromium has relaxed SIMD, so both are the relaxed-SIMD builds; the C API rows also time the plain SIMD128
// build on one thread ('Chromium C API SIMD128'), the one engines without relaxed SIMD run.
// Used by run.mjs when Chromium is installed; the page imports the same bench cases as Node does. Where the native
// longseq-bench binary is built, the page also times the one-thread builds side by side with it (sideBySide.mjs):
// it asks this server for native runs (/native-runs), which longseq-bench serves between the page's own runs.
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { nativeServer } from './interleaved.mjs';

const CHROMIUM = process.env.LONGSEQ_CHROMIUM ?? '/usr/bin/chromium';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

// Any error of the page ends up in window.result.error (its imports too: they are dynamic, inside the try), so that
// the bench reports it at once rather than as the wait's timeout.
const PAGE = (minSeconds, ops, sideBySideToo) => `<!doctype html><script type="module">
try {
  const { init } = await import('/dist/index.js');
  const { fetchWasmModule, prepare } = await import('/bench/wasmKernel.mjs');
  const { sideBySide } = await import('/bench/sideBySide.mjs');
  const modules = { selectiveScan: '/bench/cases/selectiveScan.mjs', deltaRule: '/bench/cases/deltaRule.mjs',
    causalConv1d: '/bench/cases/causalConv1d.mjs', fftConv: '/bench/cases/fftConv.mjs', ssdScan: '/bench/cases/ssdScan.mjs' };
  const wanted = ${JSON.stringify(ops)};
  const backends = [await init({ backend: 'wasm', threads: 1 }), await init({ backend: 'wasm' })];
  const relaxed = backends[0].simdTarget === 'WASM relaxed-SIMD' ? '-relaxed' : '';  // the build init() took
  const kernels = [
    ['Chromium C API', await fetchWasmModule(\`longseq\${relaxed}\`)],
    ['Chromium C API', await fetchWasmModule(\`longseq-threads\${relaxed}\`)],
    ...(relaxed ? [['Chromium C API SIMD128', await fetchWasmModule('longseq')]] : []),
  ];
  const rows = [];
  const ratios = [];
  async function time(run) {
    await run();
    const times = [];
    const start = performance.now();
    while (times.length < 3 || performance.now() - start < ${minSeconds * 1000}) {
      const t0 = performance.now();
      await run();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { medianMs: times[times.length >> 1], minMs: times[0], runs: times.length };
  }
  for (const [op, config] of wanted) {
    const casesModule = modules[op.split(' ')[0]];
    if (!casesModule) throw new Error(\`no bench cases for op \${op}\`);
    const { cases } = await import(casesModule);
    const c = cases.find((x) => x.op === op && x.config === config);
    if (!c) continue;
    const work = { elements: c.elements, flops: c.flops, bytes: c.bytes };
    for (const ls of backends) {
      let params = c.make(1000);
      if (c.prepare) params = await c.prepare(ls, params);
      rows.push({ via: 'Chromium JS API', op, config, threads: ls.threads, ...work, ...(await time(() => c.run(ls, params))) });
    }
    // The kernels alone, inputs already in the heap: the threads' speed-up without the copies in and out.
    for (const [via, m] of kernels) {
      const kernel = prepare(m, c, c.make(1000));
      if (!kernel) continue;
      const threads = m._ls_wasm_threads();
      m._ls_wasm_set_threads(threads);
      rows.push({ via, op, config, threads, ...work, ...(await time(() => kernel.run())) });
      kernel.free();
    }
    if (${sideBySideToo}) {
      const builds = kernels.filter(([, m]) => m._ls_wasm_threads() === 1)
        .map(([via, m]) => [via.endsWith('SIMD128') ? 'Chromium SIMD128' : \`Chromium \${relaxed ? 'relaxed SIMD' : 'SIMD128'}\`, prepare(m, c, c.make(1000))]);
      const nativeCase = new URLSearchParams({ op, config: c.nativeConfig ?? config });
      const nativeRuns = async (k) => {
        const response = await fetch(\`/native-runs?\${nativeCase}&runs=\${k}\`);
        if (!response.ok) throw new Error(await response.text());
        return response.json();
      };
      try {
        ratios.push(...await sideBySide(c, builds, nativeRuns));
      } catch (e) {
        console.warn(\`side by side: \${op} \${config} skipped (\${e.message})\`);  // e.g. a case longseq-bench lacks
      }
      for (const [, kernel] of builds) kernel.free();
    }
  }
  window.result = { rows, ratios };
} catch (e) {
  window.result = { error: String(e?.stack ?? e) };
}
</script>`;

/**
 * Runs the [op, config] pairs in Chromium; returns { rows } like run.mjs's and { ratios } like interleaved.mjs's
 * (where `benchBinary` exists), or undefined without Chromium; throws what the page threw.
 */
export async function benchInBrowser(root, ops, minSeconds, benchBinary) {
  if (!existsSync(CHROMIUM)) return undefined;
  const page = PAGE(minSeconds, ops, existsSync(benchBinary));
  const natives = new Map();  // case -> longseq-bench serving it (a promise)
  const server = createServer(async (request, response) => {
    const url = new URL(request.url, 'http://localhost');
    const path = url.pathname;
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    if (path === '/native-runs') {
      const [op, config] = [url.searchParams.get('op'), url.searchParams.get('config')];
      const name = `${op} ${config}`;
      if (!natives.has(name)) natives.set(name, nativeServer(benchBinary, op, config));
      const native = await natives.get(name);
      if (!native) {
        response.writeHead(404, headers);
        return response.end(`longseq-bench has no case ${name}`);
      }
      const times = await native.run(Number(url.searchParams.get('runs')));
      response.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
      return response.end(JSON.stringify(times));
    }
    if (path === '/bench.html') {
      response.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
      return response.end(page);
    }
    try {
      const body = await readFile(join(root, path));
      response.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404, headers);
      response.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { chromium } = await import('playwright');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${server.address().port}/bench.html`);
    await tab.waitForFunction(() => 'result' in window, null, { timeout: 600_000 });
    const result = await tab.evaluate(() => window.result);
    if (result.error) throw new Error(`the Chromium bench page failed: ${result.error}`);
    return result;
  } finally {
    await browser.close();
    server.close();
    for (const native of natives.values()) await (await native)?.close();
  }
}
