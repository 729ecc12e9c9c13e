// Renders the example's sample image (sample.png) with Debian's Chromium and its DejaVu fonts: two lines of text on
// white, 8-bit RGB. Run from the repository root: node examples/confidential-ocr/make-sample.mjs
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const SAMPLE_LINES = ['Confidential inference', 'Hello from an enclave 2026'];

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 560, height: 150 }, deviceScaleFactor: 1 });
  await page.setContent(`<!doctype html><html><body style="margin:0;background:#fff">
<div style="font:34px 'DejaVu Sans';color:#000;padding:18px 24px;line-height:56px">${SAMPLE_LINES.join('<br>')}</div></body></html>`);
  const png = await page.screenshot({ type: 'png', clip: { x: 0, y: 0, width: 560, height: 150 } });
  writeFileSync(new URL('./sample.png', import.meta.url), png);
} finally {
  await browser.close();
}
