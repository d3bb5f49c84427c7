/**
 * Issue 8: longseq loads in real pages with no configuration: a fresh Vite app that imports it (built by Vite,
 * served plainly and crossOriginIsolated), and a plain <script type="module"> page importing dist/ directly.
 * A server that answers the .wasm with an HTML page gets a clear error.
 */
import { existsSync, mkdtempSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasChromium, launchChromium, pageResult } from './helpers/chromium.js';
import { serve } from './helpers/server.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(repo, 'dist/index.js')) && existsSync(join(repo, 'wasm/dist/longseq.wasm'));

// What every test page does: run one op on the default backend and publish the result.
const APP = `
const ls = await init();
const { y } = await ls.fftConv({ u: tensor([1, 2, 3], [1, 1, 3]), k: tensor([1, 1], [1, 2]) });
window.result = { backend: ls.backend, description: ls.description, y: Array.from(y.data) };`;

describe.skipIf(!hasChromium || !built)('in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('a fresh Vite app that imports longseq runs an op, single-threaded and threaded', async () => {
    const app = mkdtempSync(join(tmpdir(), 'longseq-vite-'));
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(repo, join(app, 'node_modules', 'longseq'), 'dir');
    writeFileSync(join(app, 'index.html'), '<!doctype html><html><body><script type="module" src="/main.js"></script></body></html>');
    writeFileSync(join(app, 'main.js'), `import { init, tensor } from 'longseq';\n${APP}\n`);
    const { build } = await import('vite');
    await build({ root: app, logLevel: 'silent', configFile: false });
    for (const isolated of [false, true]) {
      const server = await serve(join(app, 'dist'), { isolated });
      try {
        const result = (await pageResult(browser, `${server.url}/`)) as { backend: string; description: string; y: number[] };
        expect(result.backend).toBe('wasm');
        expect(result.y).toEqual([1, 3, 5]);
        expect(result.description.includes('pthreads'), result.description).toBe(isolated);
      } finally {
        await server.close();
      }
    }
  }, 120_000);

  test('a plain <script type="module"> page imports dist/index.js and finds the .wasm next to it', async () => {
    const page = `<!doctype html><script type="module">import { init, tensor } from '/dist/index.js';${APP}</script>`;
    const server = await serve(repo, { pages: { '/e2e.html': page } });
    try {
      const result = (await pageResult(browser, `${server.url}/e2e.html`)) as { backend: string; y: number[] };
      expect(result).toMatchObject({ backend: 'wasm', y: [1, 3, 5] });
    } finally {
      await server.close();
    }
  }, 60_000);

  test('a server that returns HTML for the .wasm gets an error saying so', async () => {
    const page = `<!doctype html><script type="module">import { init } from '/dist/index.js';
      try { await init({ backend: 'wasm' }); window.result = 'loaded'; } catch (e) { window.result = String(e.message); }</script>`;
    const server = await serve(repo, {
      // Chromium has relaxed SIMD, so the page asks for the relaxed-SIMD build.
      pages: { '/e2e.html': page, '/wasm/dist/longseq-relaxed.wasm': '<!doctype html><html><body>Not found</body></html>' },
    });
    try {
      const message = (await pageResult(browser, `${server.url}/e2e.html`)) as string;
      expect(message).toMatch(/longseq-relaxed\.wasm is not a WebAssembly binary \(it starts with "<!doctype html>/);
      expect(message).toMatch(/the server probably returned an HTML page/);
    } finally {
      await server.close();
    }
  }, 60_000);
});
