// The post-event report opened once in a real browser (Debian's chromium via
// playwright-core), as the issue asks: every section and chart is there, the annotations the
// dashboard test added are on its timeline, nothing is fetched from anywhere, a screenshot is
// kept. Run by tests/it/dashboard.rs after the dashboard test:
//
//   node tests/browser/report.mjs <report.html> <screenshot.png> <annotation text>

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [file, shot, note] = process.argv.slice(2);
if (!file || !shot) {
  console.error('usage: node report.mjs <report.html> <screenshot.png> [annotation text]');
  process.exit(2);
}
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cdnsteer-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1240, height: 1754 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let code = 1;
try {
  const page = browser.pages()[0] || (await browser.newPage());
  const url = pathToFileURL(path.resolve(file)).href;
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => { if (r.url() !== url && !r.url().startsWith('data:')) problems.push('request: ' + r.url()); });
  await page.goto(url);
  const sections = await page.$$eval('section[id]', (els) => els.map((e) => e.id));
  for (const id of ['summary', 'findings', 'incidents', 'sla', 'regions', 'cdns', 'timeline', 'methods']) {
    if (!sections.includes(id)) throw new Error('the report has no section #' + id + ' (has ' + sections.join(', ') + ')');
  }
  const charts = await page.$$eval('svg', (els) => els.filter((e) => e.getBoundingClientRect().width > 200).length);
  if (charts < 3) throw new Error('only ' + charts + ' charts drawn');
  if (note) {
    const timeline = await page.textContent('#timeline');
    if (!timeline.includes(note)) throw new Error('the annotation `' + note + '` is not on the report\'s timeline');
  }
  if (problems.length) throw new Error(problems.join('; '));
  await page.screenshot({ path: shot });
  console.log('report ok: sections ' + sections.join(', ') + '; ' + charts + ' charts; screenshot ' + shot);
  code = 0;
} catch (e) {
  console.error('FAILED:', e.message);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
