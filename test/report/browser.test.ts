// Renders the fixture report in headless Chromium (Debian's /usr/bin/chromium through
// playwright-core). This test does not skip: without the browser it fails and says how to
// install it (CI installs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderReport } from '../../src/report/html.js';
import { CHROMIUM_PATH, ChromiumMissingError, pngSize, renderHtmlToPng } from '../../src/report/render-png.js';
import { buildResults } from './fixture.js';
import { svgsOf } from './svg-check.js';

test('report renders in headless Chromium: PNG of the right width, no console errors, no external requests, every plot visible', { timeout: 180_000 }, async () => {
  assert.ok(fs.existsSync(CHROMIUM_PATH), `headless Chromium is required for this test and was not found at ${CHROMIUM_PATH}: install it with "apt-get update && apt-get install -y chromium"`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-report-png-'));
  try {
    const html = renderReport(buildResults());
    const htmlFile = path.join(dir, 'report.html');
    fs.writeFileSync(htmlFile, html);
    const png = path.join(dir, 'out', 'report.png');
    const r = await renderHtmlToPng(htmlFile, png, 1200);
    assert.ok(fs.existsSync(png));
    const size = pngSize(fs.readFileSync(png));
    assert.equal(size.width, 1200);
    assert.equal(r.width, 1200);
    assert.ok(size.height > 2000, `full page (${size.height} px tall)`);
    assert.deepEqual(r.consoleErrors, []);
    assert.deepEqual(r.pageErrors, []);
    assert.deepEqual(r.externalRequests, []);
    assert.equal(r.overflowX, false, 'nothing wider than the page');
    assert.equal(r.svgs.length, svgsOf(html).length);
    for (const s of r.svgs) assert.ok(s.width > 0 && s.height > 0, `svg "${s.label}" has an empty box`);

    // a page that asks for the network: the request is blocked and reported
    const leaky = path.join(dir, 'leaky.html');
    fs.writeFileSync(leaky, '<!DOCTYPE html><html><body><img src="https://example.com/x.png"><svg width="10" height="10"></svg></body></html>');
    const r2 = await renderHtmlToPng(leaky, path.join(dir, 'leaky.png'), 640);
    assert.equal(r2.width, 640);
    assert.deepEqual(r2.externalRequests, ['https://example.com/x.png']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing browser is a clear error', () => {
  assert.match(new ChromiumMissingError('/nowhere/chromium').message, /not found at \/nowhere\/chromium: install it with "apt-get update && apt-get install -y chromium"/);
});
