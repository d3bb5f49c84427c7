/**
 * Issue 8: the browser demo (examples/web) builds with Vite, runs an op over lengths up to 1M tokens in headless
 * Chromium on a crossOriginIsolated page (threaded wasm), and is screenshotted. LONGSEQ_UPDATE_SCREENSHOT=1
 * writes the picture to docs/demo.png, the one in the README.
 */
import { copyFileSync, existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { hasChromium, launchChromium } from './helpers/chromium.js';
import { serve } from './helpers/server.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(repo, 'dist/index.js')) && existsSync(join(repo, 'wasm/dist/longseq-threads.wasm'));

test.skipIf(!hasChromium || !built)('the demo page runs fftConv up to 1M tokens on threaded wasm and plots it', async () => {
  const out = mkdtempSync(join(tmpdir(), 'longseq-demo-'));
  const { build } = await import('vite');
  await build({ configFile: join(repo, 'examples/web/vite.config.js'), logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
  const server = await serve(out, { isolated: true });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1040, height: 760 } });
    const lengths = '1024,4096,16384,65536,262144,1048576';
    await page.goto(`${server.url}/?op=fftConv&lengths=${lengths}&run=1`);
    await page.waitForFunction(() => (window as unknown as { demoDone?: boolean }).demoDone === true, null, { timeout: 240_000 });
    expect(await page.locator('#rows tr').count()).toBe(6);
    expect(await page.locator('#env').textContent()).toMatch(/pthreads.*crossOriginIsolated: true/);
    const shot = join(out, 'demo.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    if (process.env.LONGSEQ_UPDATE_SCREENSHOT) copyFileSync(shot, join(repo, 'docs/demo.png'));
  } finally {
    await browser.close();
    await server.close();
  }
}, 300_000);
