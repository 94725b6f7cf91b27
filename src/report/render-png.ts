// Renders a report page to a PNG in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core, which downloads no browser of its own), and reports what a reader would
// trip over: console errors, page errors, requests for anything outside the file (the page
// must be self-contained; such requests are blocked), SVGs that render with an empty box,
// and horizontal overflow.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where the browser lives; IVR_CHROMIUM overrides it. */
export const CHROMIUM_PATH = process.env.IVR_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface RenderResult {
  png: string;
  /** Size of the PNG in pixels (full page). */
  width: number;
  height: number;
  consoleErrors: string[];
  pageErrors: string[];
  /** URLs the page asked for that are not the file itself (blocked). */
  externalRequests: string[];
  /** Every <svg> on the page with its rendered box. */
  svgs: { label: string; width: number; height: number }[];
  /** The page is wider than the viewport. */
  overflowX: boolean;
}

export class ChromiumMissingError extends Error {
  constructor(readonly executable: string) {
    super(`headless Chromium not found at ${executable}: install it with "apt-get update && apt-get install -y chromium" (or point IVR_CHROMIUM at a Chromium binary)`);
    this.name = 'ChromiumMissingError';
  }
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(buf: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (buf.length < 24 || sig.some((b, i) => buf[i] !== b)) throw new Error('not a PNG file');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

export async function renderHtmlToPng(htmlFile: string, pngFile: string, width = 1200, selector?: string): Promise<RenderResult> {
  if (!fs.existsSync(CHROMIUM_PATH)) throw new ChromiumMissingError(CHROMIUM_PATH);
  if (!fs.existsSync(htmlFile)) throw new Error(`render: no such file ${htmlFile}`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 120_000 });
  try {
    const page = await browser.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
    const consoleErrors: string[] = [];
    const pageErrors: string[] = [];
    const externalRequests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const url = pathToFileURL(path.resolve(htmlFile)).href;
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u === url || u.startsWith('data:')) return route.continue();
      externalRequests.push(u);
      return route.abort();
    });
    await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    const info = await page.evaluate(() => ({
      svgs: [...document.querySelectorAll('svg')].map((s) => {
        const b = s.getBoundingClientRect();
        return { label: s.getAttribute('aria-label') ?? '', width: b.width, height: b.height };
      }),
      overflowX: document.documentElement.scrollWidth > window.innerWidth,
    }));
    fs.mkdirSync(path.dirname(path.resolve(pngFile)), { recursive: true });
    // A selector shoots one element (e.g. the README's main plot); otherwise the full page.
    if (selector) await page.locator(selector).first().screenshot({ path: pngFile, type: 'png' });
    else await page.screenshot({ path: pngFile, fullPage: true, type: 'png' });
    const size = pngSize(fs.readFileSync(pngFile));
    return { png: pngFile, ...size, consoleErrors, pageErrors, externalRequests, ...info };
  } finally {
    await browser.close();
  }
}
