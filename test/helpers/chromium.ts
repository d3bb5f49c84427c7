/** Debian's headless Chromium through Playwright, kept off the network (DEVELOPERS.md). */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright';

export const CHROMIUM = process.env.LONGSEQ_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Opens `url`, waits for the page to set window.result (or document.title 'error'), and returns it. */
export async function pageResult(browser: Browser, url: string): Promise<unknown> {
  const page = await browser.newPage();
  try {
    await page.goto(url);
    await page.waitForFunction(() => 'result' in window, null, { timeout: 60_000 });
    return await page.evaluate(() => (window as unknown as { result: unknown }).result);
  } finally {
    await page.close();
  }
}
