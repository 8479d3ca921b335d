// The post-event report opened once in a real browser: Debian's chromium driven by
// playwright-core (never a downloaded browser). Run by tests/it/report.rs:
//
//   node tests/browser/report.mjs <report.html> <screenshot.png> <report.pdf>
//
// Checks that the page lays out as a customer sees it: every section and chart rendered with
// a size, nothing wider than the page at A4 width, evidence links that land on something, and
// that it prints on A4 pages; keeps a screenshot of the first page and the PDF. The last line
// is "@@ result {json}". CHROMIUM overrides the browser path (default /usr/bin/chromium).

import path from 'node:path';
import { chromium } from 'playwright-core';

const [file, shot, pdf] = process.argv.slice(2);
if (!file || !shot || !pdf) {
  console.error('usage: node report.mjs <report.html> <screenshot.png> <report.pdf>');
  process.exit(2);
}
const result = { checks: [] };
function check(ok, what) {
  result.checks.push(what);
  if (!ok) throw new Error('check failed: ' + what);
  console.log('ok:', what);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  // 1240 x 1754: an A4 page at 150 dpi.
  const page = await browser.newPage({ viewport: { width: 1240, height: 1754 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
  await page.goto('file://' + path.resolve(file));
  const facts = await page.evaluate(() => {
    const ids = ['summary', 'findings', 'recommendations', 'incidents', 'sla', 'regions', 'capacity', 'cdns', 'timeline', 'methods'];
    const charts = [...document.querySelectorAll('svg.chart')].map((s) => s.getBoundingClientRect());
    const links = [...document.querySelectorAll('a[href^="#"]')].map((a) => a.getAttribute('href').slice(1));
    return {
      sections: ids.filter((id) => document.getElementById(id)),
      charts: charts.length,
      drawn: charts.filter((r) => r.width > 300 && r.height > 80).length,
      overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      dangling: links.filter((id) => !document.getElementById(id)),
      requests: performance.getEntriesByType('resource').length,
    };
  });
  result.facts = facts;
  check(facts.sections.length === 10, `all ten sections are there (${facts.sections.join(', ')})`);
  check(facts.charts >= 10 && facts.drawn === facts.charts, `${facts.drawn} of ${facts.charts} charts drawn with a size`);
  check(facts.overflow <= 0, `nothing wider than the page (overflow ${facts.overflow} px)`);
  check(facts.dangling.length === 0, `every evidence link lands (${facts.dangling.join(', ') || 'all'})`);
  check(facts.requests === 0 && errors.length === 0, `self-contained: no request, no script error (${errors.join('; ')})`);
  await page.screenshot({ path: shot });
  // A4 in print: the page count tells the print stylesheet works (breaks, no runaway width).
  await page.emulateMedia({ media: 'print' });
  const bytes = await page.pdf({ path: pdf, format: 'A4', printBackground: true });
  const pages = (bytes.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
  result.pages = pages;
  check(pages >= 4 && pages <= 30, `prints on ${pages} A4 pages`);
} finally {
  await browser.close();
}
console.log('@@ result ' + JSON.stringify(result));
