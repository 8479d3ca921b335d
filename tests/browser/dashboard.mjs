// The dashboard in a real browser: Debian's chromium driven by playwright-core (never a
// downloaded browser). Run by tests/it/dashboard.rs, which starts cdnsteer with CDN
// stand-ins and answers this script's requests on stdin:
//
//   node tests/browser/dashboard.mjs <admin-url> <dns-addr> <token> <screenshot.png>
//
// Lines starting with "@@ " on stdout are requests to the Rust side ("@@ degrade CDN REGION");
// it answers "ok" on stdin. The last line is "@@ result {json}". Exit status 0 means every
// check passed. CHROMIUM overrides the browser path (default /usr/bin/chromium).

import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const [admin, dnsAddr, token, shot] = process.argv.slice(2);
if (!admin || !dnsAddr || !token || !shot) {
  console.error('usage: node dashboard.mjs <admin-url> <dns-addr> <token> <screenshot.png>');
  process.exit(2);
}
const NAME = 'live.example.com';
const KR = 'country:KR';
const started = Date.now();
const result = { checks: [] };
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
function check(ok, what) {
  result.checks.push(what);
  if (!ok) throw new Error('check failed: ' + what);
  log('ok:', what);
}

// ---- The Rust side, over stdin/stdout. ----
const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', (l) => { const w = waiting.shift(); if (w) w(l.trim()); });
function ask(request) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer to ' + request)), 15000);
    waiting.push((line) => { clearTimeout(timer); resolve(line); });
    console.log('@@ ' + request);
  });
}

// ---- A DNS client over UDP: A query with an ECS option, the CNAME target back. ----
const [dnsHost, dnsPortText] = dnsAddr.startsWith('[') ? [dnsAddr.slice(1, dnsAddr.indexOf(']')), dnsAddr.split(']:')[1]] : dnsAddr.split(':');
const dnsPort = Number(dnsPortText);
const sock = dgram.createSocket(dnsHost.includes(':') ? 'udp6' : 'udp4');
const pending = new Map();
sock.on('message', (msg) => { const id = msg.readUInt16BE(0); const p = pending.get(id); if (p) { pending.delete(id); p(msg); } });
let nextId = 1;
function query(name, subnet) {
  const id = nextId++ & 0xffff;
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const qname = Buffer.concat([...labels, Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0); header.writeUInt16BE(0, 2); header.writeUInt16BE(1, 4); header.writeUInt16BE(1, 10);
  const [addr, prefix] = subnet.split('/');
  const bytes = addr.split('.').map(Number).slice(0, Math.ceil(Number(prefix) / 8));
  const ecs = Buffer.concat([Buffer.from([0, 1, Number(prefix), 0]), Buffer.from(bytes)]);
  const opt = Buffer.alloc(11 + 4);
  opt.writeUInt8(0, 0); opt.writeUInt16BE(41, 1); opt.writeUInt16BE(1232, 3); opt.writeUInt32BE(0, 5);
  opt.writeUInt16BE(4 + ecs.length, 9); opt.writeUInt16BE(8, 11); opt.writeUInt16BE(ecs.length, 13);
  const packet = Buffer.concat([header, qname, Buffer.from([0, 1, 0, 1]), opt, ecs]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { pending.delete(id); reject(new Error('no DNS reply for ' + subnet)); }, 3000);
    pending.set(id, (msg) => { clearTimeout(timer); resolve(cnameOf(msg)); });
    sock.send(packet, dnsPort, dnsHost);
  });
}
function readName(buf, off) {
  const out = [];
  let jumped = false, end = off, guard = 0;
  while (guard++ < 128) {
    const len = buf[off];
    if (len === 0) { if (!jumped) end = off + 1; break; }
    if ((len & 0xc0) === 0xc0) { if (!jumped) end = off + 2; off = ((len & 0x3f) << 8) | buf[off + 1]; jumped = true; continue; }
    out.push(buf.toString('ascii', off + 1, off + 1 + len));
    off += 1 + len;
  }
  return [out.join('.'), end];
}
function cnameOf(msg) {
  const qd = msg.readUInt16BE(4), an = msg.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = readName(msg, off)[1] + 4;
  for (let i = 0; i < an; i++) {
    off = readName(msg, off)[1];
    const type = msg.readUInt16BE(off), rdlen = msg.readUInt16BE(off + 8);
    if (type === 5) return readName(msg, off + 10)[0];
    off += 10 + rdlen;
  }
  return null;
}
/** The CDN (first label of the CNAME target) each of 64 KR client subnets is sent to. */
async function krAnswers() {
  const out = [];
  for (let i = 0; i < 64; i++) out.push(await query(NAME, `211.234.${i}.0/24`));
  return out.map((t) => (t ? t.split('.')[0] : null));
}
const count = (list, cdn) => list.filter((x) => x === cdn).length;

async function until(what, limitMs, fn) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return Date.now() - t0;
    if (Date.now() - t0 > limitMs) throw new Error('timed out after ' + limitMs + ' ms: ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- The browser. ----
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cdnsteer-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1920, height: 1080 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps', '--metrics-recording-only'],
});
const problems = [];
let code = 1;
try {
  const page = browser.pages()[0] || (await browser.newPage());
  const origin = new URL(admin).origin;
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('request', (r) => { const u = r.url(); if (!u.startsWith(origin) && !u.startsWith('data:')) problems.push('request outside the admin listener: ' + u); });

  // 1. Load: the four CDNs and the KR share are shown.
  await page.goto(admin + '/dashboard?window=5m');
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  const legend = await page.$$eval('#legend [data-cdn]', (els) => els.map((e) => e.dataset.cdn));
  check(['akamai', 'fastly', 'cloudfront', 'edgio'].every((c) => legend.includes(c)), 'the four CDNs are in the legend: ' + legend.join(', '));
  const heads = await page.$$eval('#regions-head th', (els) => els.map((e) => e.textContent.trim()));
  check(['akamai', 'fastly', 'cloudfront', 'edgio'].every((c) => heads.includes(c)), 'the four CDNs head the region table');
  await page.waitForSelector(`tr.region[data-region="${KR}"]`, { timeout: 5000 });
  const firstRow = await page.$eval('#regions-body tr.region', (tr) => tr.dataset.region);
  const krShares = await page.$$eval(`td.cell[data-region="${KR}"]`, (tds) => tds.map((td) => [td.dataset.cdn, td.querySelector('.pct').textContent]));
  const krTotal = krShares.reduce((s, [, p]) => s + parseFloat(p), 0);
  check(krShares.length === 3 && Math.abs(krTotal - 100) <= 2, 'the KR row shows each candidate\'s share: ' + krShares.map((x) => x.join(' ')).join(', '));
  const barText = await page.$eval(`.bar[data-region="${KR}"]`, (b) => b.textContent);
  check(/akamai \d+%/.test(barText), 'the KR share bar is labelled: ' + barText);
  log('first region row (largest audience):', firstRow);
  result.first_region = firstRow;
  await page.waitForSelector('#chart-grid .chart canvas', { timeout: 5000 });
  check((await page.$$('#chart-grid .chart')).length === 9, 'nine charts are drawn');
  const focus = await page.textContent('#focus-label');
  check(focus.startsWith('KR'), 'charts focus on the biggest audience, KR: ' + focus);

  // 2. Unlock the actions: the token goes to sessionStorage only.
  await page.click('#unlock');
  await page.fill('#token-input', token);
  await page.fill('#author-input', 'browser-test');
  await page.click('#token-ok');
  check((await page.evaluate(() => sessionStorage.getItem('cdnsteer.token'))) === token, 'the token is kept in the tab\'s sessionStorage');
  check((await page.evaluate(() => localStorage.length)) === 0, 'nothing is kept in localStorage');

  // 3. A CDN degrades (its stand-in fails): the page follows within a few seconds.
  const before = await page.getAttribute(`td.cell[data-region="${KR}"][data-cdn="cloudfront"]`, 'data-state');
  check(before === 'healthy', 'cloudfront is healthy in KR before the fault: ' + before);
  check((await ask('degrade cloudfront ' + KR)) === 'ok', 'the stand-in was told to fail');
  const shown = await until('cloudfront KR leaves healthy on the page', 20000, async () => {
    const s = await page.getAttribute(`td.cell[data-region="${KR}"][data-cdn="cloudfront"]`, 'data-state');
    return s === 'down' || s === 'degraded';
  });
  result.fault_to_screen_ms = shown;
  log('fault -> on screen:', shown, 'ms (probe interval, scoring and the stream together)');
  const alerts = await page.textContent('#alerts');
  check(/cloudfront (DOWN|DEGRADED)/.test(alerts), 'the problem is at the top: ' + alerts.trim().slice(0, 120));
  await page.waitForSelector('#log li[data-kind="down"], #log li[data-kind="failopen"]', { timeout: 10000 });
  check(true, 'the live log has the decision with its reason');
  const lat = await page.evaluate(() => window.__dash.latency.slice(1).map((l) => l.ms));
  result.plan_to_screen_ms = lat;

  // 4. Annotate, reload, and find it again (it is in the history).
  const note = 'kickoff (browser test ' + process.pid + ')';
  await page.fill('#note', note);
  await page.click('#note-add');
  await until('the annotation appears in the log', 10000, async () => (await page.$$eval('#log li[data-kind="annotation"]', (els, n) => els.some((e) => e.textContent.includes(n)), note)));
  await page.reload();
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  const kept = await page.$$eval('#log li[data-kind="annotation"]', (els, n) => els.some((e) => e.textContent.includes(n)), note);
  check(kept, 'the annotation is still there after reloading the page');
  check((await page.evaluate((n) => window.__dash.notes.some((x) => x.text === n), note)), 'the annotation is drawn on the timelines');
  check((await page.evaluate(() => sessionStorage.getItem('cdnsteer.token'))) === token, 'the token survives a reload of the tab');

  // 5. Drain fastly in KR from the page; DNS follows.
  const fastlyBefore = count(await krAnswers(), 'fastly');
  check(fastlyBefore > 0, 'KR clients get fastly before the drain (' + fastlyBefore + ' of 64 subnets)');
  await page.click(`td.cell[data-region="${KR}"][data-cdn="fastly"]`);
  await page.click('#pop [data-action="drain"]');
  await page.fill('#pop input[name="reason"]', 'browser test: fastly KR ticket #123');
  const t0 = Date.now();
  await page.click('#pop button[type="submit"]');
  await page.waitForSelector('#overrides li[data-id]', { timeout: 10000 });
  const ovr = await page.textContent('#overrides');
  check(/DRAIN fastly/.test(ovr) && /browser-test/.test(ovr), 'the drain is listed with its author and expiry: ' + ovr.trim().slice(0, 100));
  const drained = await until('DNS stops answering fastly in KR', 10000, async () => count(await krAnswers(), 'fastly') === 0);
  result.drain_to_dns_ms = Date.now() - t0;
  check(true, 'DNS follows the drain: no KR subnet gets fastly (' + drained + ' ms after polling began)');
  await until('the cell shows drained', 5000, async () => (await page.getAttribute(`td.cell[data-region="${KR}"][data-cdn="fastly"]`, 'data-state')) === 'drained');
  check(true, 'the KR fastly cell says drained');
  await page.waitForTimeout(2500);
  await page.screenshot({ path: shot });
  log('screenshot:', shot);

  // 6. Undrain from the page; fastly comes back.
  await page.click(`td.cell[data-region="${KR}"][data-cdn="fastly"]`);
  await page.click('#pop [data-action="undrain"]');
  await until('the override goes away', 10000, async () => (await page.$$('#overrides li[data-id]')).length === 0);
  await until('DNS answers fastly in KR again', 15000, async () => count(await krAnswers(), 'fastly') > 0);
  check(true, 'undrain from the page: KR clients get fastly again');

  check(problems.length === 0, 'no page errors, console errors or outside requests' + (problems.length ? ': ' + problems.join('; ') : ''));
  code = 0;
} catch (e) {
  console.error('FAILED:', e.message);
  if (problems.length) console.error('page problems:', problems.join('\n'));
  try { const p = browser.pages()[0]; if (p) await p.screenshot({ path: shot.replace(/\.png$/, '') + '-failure.png' }); } catch (_) { /* best effort */ }
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
  sock.close();
  lines.close();
}
console.log('@@ result ' + JSON.stringify(result));
process.exit(code);
