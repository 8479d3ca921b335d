// cdnsteer live dashboard. Plain script, no build step: loads the backfill
// (GET api/v1/dashboard), then follows the server-sent event stream (GET api/v1/stream).
// Reads need no token; actions (drain, undrain, annotate) send the bearer token kept in
// this tab's sessionStorage. Every URL is relative, so a reverse proxy may mount the admin
// listener under any prefix.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- Colours: one per CDN, the same in every chart, bar and legend, and in the same order
  // as the post-event report (Okabe-Ito, colour-blind safe, given in CDN name order),
  // brightened for a dark screen. ----
  const PALETTE = ['#2b8fd6', '#eaa520', '#14b88a', '#d98cb8', '#f07530', '#6cc0ee', '#d4c020', '#a0a0a0'];
  let colours = {};
  function assignColours(cdns) {
    colours = {};
    [...cdns].sort().forEach((c, i) => { colours[c] = PALETTE[i % PALETTE.length]; });
  }

  // ---- Formatting. ----
  const pad = (n) => String(n).padStart(2, '0');
  function hms(secs) {
    secs = Math.max(0, Math.floor(secs));
    const d = Math.floor(secs / 86400), h = Math.floor(secs % 86400 / 3600), m = Math.floor(secs % 3600 / 60), s = secs % 60;
    return (d ? d + 'd ' : '') + pad(h) + ':' + pad(m) + ':' + pad(s);
  }
  function clockTime(ms) { const d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()); }
  function hm(ms) { const d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()); }
  function compact(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + 'k';
    if (a >= 10) return v.toFixed(0);
    if (a >= 1) return v.toFixed(1);
    return v.toFixed(2);
  }
  const pct = (share) => (share <= 0 ? '0' : share * 100 >= 9.95 ? (share * 100).toFixed(0) : (share * 100).toFixed(1)) + '%';
  function tzLabel() {
    const off = -new Date().getTimezoneOffset();
    const sign = off >= 0 ? '+' : '−';
    const h = Math.floor(Math.abs(off) / 60), m = Math.abs(off) % 60;
    return 'UTC' + sign + h + (m ? ':' + pad(m) : '');
  }

  // ---- Region names. ----
  const CONTINENTS = { AF: 'Africa', AN: 'Antarctica', AS: 'Asia', EU: 'Europe', NA: 'North America', OC: 'Oceania', SA: 'South America' };
  let countryNames = null;
  try { countryNames = new Intl.DisplayNames(['en'], { type: 'region' }); } catch (_) { countryNames = null; }
  function regionLabel(key) {
    const i = key.indexOf(':');
    const kind = i < 0 ? key : key.slice(0, i), code = i < 0 ? '' : key.slice(i + 1);
    if (kind === 'country') { let n = code; try { n = countryNames ? countryNames.of(code) : code; } catch (_) { /* unknown code */ } return { code, name: n }; }
    if (kind === 'continent') return { code, name: 'rest of ' + (CONTINENTS[code] || code) };
    if (kind === 'network') return { code, name: 'network' };
    return { code: 'default', name: 'everyone else' };
  }
  const short = (key) => regionLabel(key).code;

  // ---- State. ----
  const params = new URLSearchParams(location.search);
  const S = {
    name: params.get('name'),
    windowSpec: params.get('window') || '30m',
    focus: params.get('region'),
    offset: 0,
    plan: null,
    status: null,
    source: null,
    lastId: 0,
    model: null,
    audience: {},
    qoeLatest: {},
    answersRecent: [],
    log: [],
    notes: [],
    es: null,
    lastMessage: 0,
    sort: 'audience',
    filter: '',
    showMoves: true,
    latency: [],
  };
  const now = () => Date.now() + S.offset;
  const session = {
    get token() { return sessionStorage.getItem('cdnsteer.token'); },
    get author() { return sessionStorage.getItem('cdnsteer.author') || ''; },
    set(token, author) { sessionStorage.setItem('cdnsteer.token', token); sessionStorage.setItem('cdnsteer.author', author); },
    clear() { sessionStorage.removeItem('cdnsteer.token'); },
  };
  window.__dash = S;

  // ---- The bucket model: backfill arrays, extended and merged with live rows by the same
  // rules the server used (levels at a bucket's end, request-weighted means, answers spread
  // over the time they cover, viewers summed over regions). ----
  const VIEWERS_FRESH_MS = 15000;
  const HOLD_MS = 15000;
  function newSeries(n) {
    const z = () => new Array(n).fill(null);
    return { score: z(), share: z(), state: z(), req: new Array(n).fill(0), ttfbS: new Array(n).fill(0), ttfbW: new Array(n).fill(0), errs: new Array(n).fill(0), hitReq: new Array(n).fill(0), hits: new Array(n).fill(0), thrS: new Array(n).fill(0), thrW: new Array(n).fill(0), answers: new Array(n).fill(0), viewers: z(), rebuf: z() };
  }
  function modelFrom(b, windowMs) {
    const n = Math.max(0, Math.ceil((b.to - b.from) / b.step_ms));
    const m = { from: b.from, step: b.step_ms, n, windowMs, focus: b.focus, cdns: b.series.map((s) => s.cdn), s: {}, answersUntil: b.answers_until || 0, level: {} };
    for (const src of b.series) {
      const s = newSeries(n);
      for (let i = 0; i < n; i++) {
        const req = src.requests[i] || 0;
        s.score[i] = src.score[i]; s.share[i] = src.share[i]; s.state[i] = src.state[i];
        s.req[i] = req;
        if (src.ttfb_ms[i] !== null) { s.ttfbS[i] = src.ttfb_ms[i] * req; s.ttfbW[i] = req; }
        if (src.error_rate[i] !== null) s.errs[i] = src.error_rate[i] * req;
        if (src.cache_hit_ratio[i] !== null) { s.hits[i] = src.cache_hit_ratio[i] * req; s.hitReq[i] = req; }
        if (src.throughput_mbps[i] !== null) { s.thrS[i] = src.throughput_mbps[i] * req; s.thrW[i] = req; }
        s.answers[i] = src.answers[i] || 0;
        s.viewers[i] = src.viewers[i]; s.rebuf[i] = src.rebuffer_ratio[i];
      }
      m.s[src.cdn] = s;
      const last = n - 1;
      m.level[src.cdn] = last >= 0 ? { share: s.share[last], score: s.score[last], state: s.state[last] } : { share: null, score: null, state: null };
    }
    return m;
  }
  function slide(m, t) {
    if (!m) return;
    while (m.from + m.n * m.step <= t) {
      for (const c of m.cdns) {
        const s = m.s[c], l = m.level[c];
        s.score.push(l.score); s.share.push(l.share); s.state.push(l.state);
        for (const k of ['req', 'ttfbS', 'ttfbW', 'errs', 'hitReq', 'hits', 'thrS', 'thrW', 'answers']) s[k].push(0);
        const v = viewersAt(c, m.from + (m.n + 1) * m.step);
        s.viewers.push(v[0]); s.rebuf.push(v[1]);
      }
      m.n++;
    }
    const keep = Math.ceil(m.windowMs / m.step) + 1;
    while (m.n > keep) {
      for (const c of m.cdns) for (const k of Object.keys(m.s[c])) m.s[c][k].shift();
      m.n--; m.from += m.step;
    }
  }
  const bucketOf = (m, at) => Math.floor((at - m.from) / m.step);
  function viewersAt(cdn, t) {
    const per = S.qoeLatest[cdn] || {};
    let v = 0, any = false, rb = 0, w = 0;
    for (const region of Object.keys(per)) {
      const q = per[region];
      const fresh = Math.max(VIEWERS_FRESH_MS, (q.window_secs || 0) * 1500);
      if (q.at > t || t - q.at > fresh) continue;
      const weight = q.viewers === null || q.viewers === undefined ? 1 : q.viewers;
      if (q.viewers !== null && q.viewers !== undefined) { v += q.viewers; any = true; }
      if (q.rebuffer_ratio !== null && q.rebuffer_ratio !== undefined) { rb += q.rebuffer_ratio * weight; w += weight; }
    }
    return [any ? v : null, w > 0 ? rb / w : null];
  }

  function onRows(kind, rows) {
    const m = S.model;
    if (!m) return;
    slide(m, now());
    for (const r of rows) {
      if (kind === 'share') {
        if (r.region !== m.focus || !m.s[r.cdn]) continue;
        m.level[r.cdn] = { share: r.share, score: r.score, state: r.state };
        for (let i = Math.max(0, bucketOf(m, r.at)); i < m.n; i++) { m.s[r.cdn].share[i] = r.share; m.s[r.cdn].score[i] = r.score; m.s[r.cdn].state[i] = r.state; }
      } else if (kind === 'signal') {
        const s = m.s[r.cdn], i = bucketOf(m, r.at);
        if (r.region !== m.focus || !s || i < 0 || i >= m.n) continue;
        const req = Math.max(1, r.requests);
        s.req[i] += req;
        s.errs[i] += Math.min(r.errors, req);
        if (r.cache_hits !== null && r.cache_hits !== undefined) { s.hitReq[i] += req; s.hits[i] += Math.min(r.cache_hits, req); }
        if (r.ttfb_ms !== null && r.ttfb_ms !== undefined) { s.ttfbS[i] += r.ttfb_ms * req; s.ttfbW[i] += req; }
        if (r.throughput_mbps !== null && r.throughput_mbps !== undefined) { s.thrS[i] += r.throughput_mbps * req; s.thrW[i] += req; }
      } else if (kind === 'answers') {
        S.answersRecent.push({ at: r.at, end: r.at + r.span_ms, region: r.region, answers: r.answers });
        m.answersUntil = Math.max(m.answersUntil, r.at + r.span_ms);
        const s = m.s[r.cdn];
        if (!s) continue;
        const span = Math.max(1, r.span_ms);
        let t = Math.max(r.at, m.from);
        const end = r.at + span;
        while (t < end) {
          const i = bucketOf(m, t);
          if (i >= m.n) break;
          const bEnd = Math.min(m.from + (i + 1) * m.step, end);
          s.answers[i] += r.answers * (bEnd - t) / span;
          t = bEnd;
        }
      } else if (kind === 'qoe') {
        if (!S.qoeLatest[r.cdn]) S.qoeLatest[r.cdn] = {};
        const old = S.qoeLatest[r.cdn][r.region];
        if (!old || old.at <= r.at) S.qoeLatest[r.cdn][r.region] = r;
        const s = m.s[r.cdn];
        if (!s) continue;
        for (let i = Math.max(0, m.n - 2); i < m.n; i++) {
          const v = viewersAt(r.cdn, Math.min(m.from + (i + 1) * m.step, now()));
          s.viewers[i] = v[0]; s.rebuf[i] = v[1];
        }
      } else if (kind === 'log') {
        addLog(r, true);
      }
    }
    if (kind === 'answers' || kind === 'qoe') updateAudience();
    if (kind === 'qoe' || kind === 'answers') scheduleTable();
    scheduleCharts();
  }

  function updateAudience() {
    const t = now();
    S.answersRecent = S.answersRecent.filter((a) => a.end > t - 60000);
    const since = Math.max(t - 60000, Math.min(...S.answersRecent.map((a) => a.at), t));
    const secs = Math.max(1, (t - since) / 1000);
    const aps = {};
    for (const a of S.answersRecent) aps[a.region] = (aps[a.region] || 0) + a.answers;
    const viewers = {};
    for (const cdn of Object.keys(S.qoeLatest)) {
      for (const region of Object.keys(S.qoeLatest[cdn])) {
        const q = S.qoeLatest[cdn][region];
        if (q.viewers === null || q.viewers === undefined || t - q.at > Math.max(VIEWERS_FRESH_MS, (q.window_secs || 0) * 1500) + 5000) continue;
        viewers[region] = (viewers[region] || 0) + q.viewers;
      }
    }
    const regions = new Set([...Object.keys(aps), ...Object.keys(viewers), ...Object.keys(S.audience)]);
    const next = {};
    for (const r of regions) {
      const prev = S.audience[r] || {};
      next[r] = { viewers: viewers[r] !== undefined ? viewers[r] : (Object.keys(S.qoeLatest).length ? null : prev.viewers), aps: aps[r] !== undefined ? aps[r] / secs : (S.answersRecent.length ? 0 : prev.aps || 0) };
    }
    S.audience = next;
  }
  const audienceOf = (key) => { const a = S.audience[key]; return a ? (a.viewers !== null && a.viewers !== undefined ? 1e12 + a.viewers : a.aps || 0) : 0; };

  // ---- Top bar: event clock, freeze, connection. ----
  function pickEvent() {
    const evs = (S.status && S.status.events && S.status.events.events) || [];
    const mine = evs.filter((e) => !S.name || e.names.some((n) => n.replace(/\.?$/, '.') === S.name));
    const list = mine.length ? mine : evs;
    return list.find((e) => e.phase === 'live') || list.find((e) => e.phase === 'upcoming') || list[list.length - 1] || null;
  }
  function renderClock() {
    const e = pickEvent();
    const phase = $('clock-phase'), time = $('clock-time'), sub = $('clock-sub');
    if (!e) { phase.textContent = ''; phase.className = 'phase'; time.textContent = hm(now()); sub.textContent = 'no event window loaded (events/*.yaml)'; return; }
    const t = now(), start = Date.parse(e.start), end = Date.parse(e.end);
    const who = e.customer ? ' · ' + e.customer : '';
    const span = hm(start) + '–' + hm(end) + ' ' + tzLabel();
    if (t < start) {
      phase.textContent = 'T−'; phase.className = 'phase upcoming';
      time.textContent = hms((start - t) / 1000);
      sub.textContent = e.name + who + ' · starts ' + new Date(start).toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + span;
    } else if (t < end) {
      phase.textContent = 'LIVE'; phase.className = 'phase live';
      time.textContent = '+' + hms((t - start) / 1000);
      sub.textContent = e.name + who + ' · ' + span + ' · ends in ' + hms((end - t) / 1000);
    } else {
      phase.textContent = 'ENDED'; phase.className = 'phase';
      time.textContent = hms((t - end) / 1000) + ' ago';
      sub.textContent = e.name + who + ' · ' + span;
    }
    const f = $('freeze');
    const pending = S.status && S.status.events && S.status.events.pending;
    if (pending) {
      f.hidden = false; f.className = 'freeze pending';
      f.textContent = 'CHANGE PENDING · frozen by ' + (pending.event || '?') + ' until ' + hm(Date.parse(pending.until));
    } else if (e.freeze && t >= start && t < end) {
      f.hidden = false; f.className = 'freeze'; f.textContent = 'CHANGE FREEZE ON';
    } else f.hidden = true;
  }
  function setConn(state, text) {
    const c = $('conn');
    c.className = 'conn conn-' + state;
    $('conn-text').textContent = text;
  }
  function renderConn() {
    if (!S.es) return;
    if (S.es.readyState === 1) {
      const ago = S.lastMessage ? Math.round((Date.now() - S.lastMessage) / 1000) : null;
      const memo = S.source && S.source.kind === 'memory' ? ' · since start' : '';
      setConn('live', 'live' + (ago !== null && ago > 2 ? ' · ' + ago + ' s quiet' : '') + memo);
    } else if (S.es.readyState === 0) setConn('wait', 'reconnecting…');
    else setConn('down', 'disconnected');
  }

  // ---- Problems. ----
  function reasonText(r, plan) {
    const sla = plan.sla;
    switch (r.signal) {
      case 'ttfb': return 'TTFB ' + compact(r.value) + ' ms (good ≤ ' + compact(sla.ttfb_ms.good) + ')';
      case 'throughput': return 'throughput ' + compact(r.value) + ' Mbit/s (good ≥ ' + compact(sla.throughput_mbps.good) + ')';
      case 'cache_hit': return 'cache hits ' + (r.value * 100).toFixed(1) + '% (good ≥ ' + (sla.cache_hit_ratio.good * 100).toFixed(0) + '%)';
      case 'errors': return 'errors ' + (r.value * 100).toFixed(r.value < 0.01 ? 2 : 1) + '% (good ≤ ' + (sla.error_rate.good * 100).toFixed(1) + '%)';
      default: return r.signal;
    }
  }
  function overrideById(id) { return ((S.status && S.status.overrides) || []).find((o) => o.id === id); }
  function left(ms) { const s = Math.max(0, (ms - now()) / 1000); return s >= 3600 ? Math.floor(s / 3600) + 'h ' + pad(Math.floor(s % 3600 / 60)) + 'm' : Math.floor(s / 60) + ':' + pad(Math.floor(s % 60)); }
  function renderAlerts() {
    const box = $('alerts');
    box.textContent = '';
    const plan = S.plan;
    if (!plan) return;
    const items = [];
    const add = (sev, rank, region, head, why) => items.push({ sev, rank, region, head, why });
    const sevRank = { bad: 0, warn: 1, op: 2, info: 3 };
    for (const r of plan.regions) {
      const where = short(r.key);
      if (r.fail_open) add('bad', 0, r.key, where + ' FAILING OPEN → ' + plan.last_resort, 'no usable candidate · TTL ' + r.ttl + ' s');
      for (const c of r.candidates) {
        const why = c.reasons.length ? reasonText(c.reasons[0], plan) : '';
        if (c.state === 'down') add('bad', 1, r.key, where + ' · ' + c.cdn + ' DOWN', (c.since ? 'since ' + clockTime(c.since) + ' · ' : '') + why);
        else if (c.state === 'degraded') add('warn', 2, r.key, where + ' · ' + c.cdn + ' DEGRADED ' + (c.score !== null ? Math.round(c.score) : ''), why);
        else if (c.state === 'drained' || c.state === 'pinned') {
          const o = c.override_id ? overrideById(c.override_id) : null;
          add('op', 3, r.key, where + ' · ' + c.cdn + ' ' + c.state.toUpperCase(), (c.override_id || '') + (o ? ' by ' + o.author + ' · ' + left(Date.parse(o.expires_at)) + ' left' : ''));
        } else if (c.state === 'recovering') add('info', 4, r.key, where + ' · ' + c.cdn + ' recovering', c.since ? 'since ' + clockTime(c.since) : '');
      }
    }
    items.sort((a, b) => sevRank[a.sev] - sevRank[b.sev] || a.rank - b.rank || audienceOf(b.region) - audienceOf(a.region));
    if (!items.length) {
      const cold = plan.regions.every((r) => r.shares_from === 'configured');
      const a = el('div', 'alert sev-ok');
      a.append(el('b', null, cold ? 'No health data yet' : 'All clear'), el('span', 'why', cold ? 'configured weights serve every region until probes or telemetry report' : plan.regions.length + ' regions · ' + plan.cdns.length + ' CDNs healthy · generation ' + plan.generation));
      box.append(a);
      return;
    }
    const max = 7;
    for (const it of items.slice(0, max)) {
      const a = el('div', 'alert sev-' + it.sev);
      a.dataset.region = it.region;
      a.append(el('b', null, it.head));
      if (it.why) a.append(el('span', 'why', it.why));
      box.append(a);
    }
    if (items.length > max) box.append(el('div', 'alert', '+' + (items.length - max) + ' more'));
  }

  // ---- The answer split table. ----
  let tableTimer = null;
  function scheduleTable() { if (!tableTimer) tableTimer = setTimeout(() => { tableTimer = null; renderTable(); renderAlerts(); }, 200); }
  function renderTable() {
    const plan = S.plan;
    if (!plan) return;
    const head = $('regions-head');
    head.textContent = '';
    const th = (text, cls, sortKey) => {
      const h = el('th', cls, text);
      if (sortKey) { h.classList.add('sortable'); if (S.sort === sortKey) h.classList.add('sorted'); h.addEventListener('click', () => { S.sort = sortKey; renderTable(); }); }
      return h;
    };
    head.append(th('Region', null, 'zone'), th('Audience', 'aud', 'audience'), th('Share of answers now'));
    for (const c of plan.cdns) {
      const h = th('', 'cdn-col');
      const sw = el('span', 'sw'); sw.style.background = colours[c.name];
      h.append(sw, document.createTextNode(c.name));
      head.append(h);
    }
    head.append(th('TTL'));
    const body = $('regions-body');
    body.textContent = '';
    let regions = plan.regions.map((r, i) => ({ r, i }));
    const f = S.filter.trim().toLowerCase();
    if (f) regions = regions.filter(({ r }) => { const l = regionLabel(r.key); return (r.key + ' ' + l.code + ' ' + l.name).toLowerCase().includes(f); });
    if (S.sort === 'audience') regions.sort((a, b) => audienceOf(b.r.key) - audienceOf(a.r.key) || a.i - b.i);
    for (const { r } of regions) {
      const tr = el('tr', 'region' + (S.model && S.model.focus === r.key ? ' focus' : ''));
      tr.dataset.region = r.key;
      tr.addEventListener('click', (ev) => { if (!ev.target.closest('td.cell')) setFocus(r.key); });
      const l = regionLabel(r.key);
      const name = el('td');
      const rn = el('span', 'rname', l.code);
      rn.append(el('small', null, l.name));
      name.append(rn);
      tr.append(name);
      const a = S.audience[r.key];
      const aud = el('td', 'aud');
      if (a && a.viewers !== null && a.viewers !== undefined) { aud.append(document.createTextNode(compact(a.viewers) + ' viewers')); if (a.aps > 0) aud.append(el('span', 'sub', compact(a.aps) + ' answers/s')); }
      else aud.append(document.createTextNode(a && a.aps > 0 ? compact(a.aps) + ' answers/s' : '–'));
      tr.append(aud);
      const barCell = el('td');
      const bar = el('div', 'bar' + (r.fail_open ? ' failing' : ''));
      bar.dataset.region = r.key;
      if (r.fail_open) {
        const seg = el('span', null, plan.last_resort + ' (last resort) 100%');
        seg.style.width = '100%'; seg.style.background = colours[plan.last_resort];
        bar.append(seg);
      } else {
        for (const c of r.candidates) {
          if (c.share <= 0) continue;
          // Label what fits: the CDN and its share, the share alone, or nothing (the title has it).
          const room = c.share * 240 / 7;
          const full = c.cdn + ' ' + pct(c.share);
          const seg = el('span', null, room >= full.length + 1 ? full : room >= 4 ? pct(c.share) : '');
          seg.style.width = (c.share * 100).toFixed(2) + '%';
          seg.style.background = colours[c.cdn];
          seg.title = c.cdn + ' ' + pct(c.share);
          bar.append(seg);
        }
      }
      barCell.append(bar);
      tr.append(barCell);
      for (const cdn of plan.cdns) {
        const c = r.candidates.find((x) => x.cdn === cdn.name);
        if (!c) { tr.append(el('td', 'na', '·')); continue; }
        const td = el('td', 'cell');
        td.dataset.cdn = c.cdn; td.dataset.region = r.key; td.dataset.state = r.fail_open && c.state !== 'drained' && c.state !== 'down' ? 'failing_open' : c.state;
        const box = el('div', 'cellbox');
        const share = r.fail_open ? (c.cdn === plan.last_resort ? 1 : 0) : c.share;
        box.append(el('span', 'pct', pct(share)));
        const state = td.dataset.state;
        box.append(el('span', 'st st-' + state, state.replace('_', ' ')));
        box.append(el('span', 'score', c.score !== null ? Math.round(c.score) : ''));
        td.title = c.cdn + ' in ' + r.key + ': ' + state + (c.score !== null ? ', score ' + c.score : '') + (c.reasons.length ? ' — ' + c.reasons.map((x) => reasonText(x, plan)).join('; ') : '');
        td.append(box);
        td.addEventListener('click', (ev) => { ev.stopPropagation(); openCell(r, c, td); });
        tr.append(td);
      }
      tr.append(el('td', 'ttl' + (r.ttl < plan.ttl ? ' fast' : ''), r.ttl + ' s'));
      body.append(tr);
    }
  }

  // ---- Overrides and log. ----
  function renderOverrides() {
    const list = $('overrides');
    list.textContent = '';
    const items = (S.status && S.status.overrides) || [];
    $('ovr-count').textContent = items.length ? items.length + ' active' : '';
    if (!items.length) { list.append(el('li', 'none', 'none: health decides')); return; }
    for (const o of items) {
      const li = el('li');
      li.dataset.id = o.id;
      const scope = (o.region ? short(o.region) : 'every region') + (o.name ? '' : ' · every name');
      li.append(el('span', 'what', o.kind.toUpperCase() + ' ' + o.cdn + ' · ' + scope + (o.weight ? ' = ' + o.weight : '')));
      const exp = el('span', 'exp', left(Date.parse(o.expires_at)) + ' left');
      exp.dataset.expires = o.expires_at;
      li.append(exp);
      li.append(el('span', 'meta', o.id + ' · ' + o.author + ' (' + o.who + '): ' + o.reason + (o.dormant ? ' · dormant' : '')));
      const b = el('button', 'btn', 'Remove');
      b.type = 'button';
      b.addEventListener('click', () => removeOverride(o.id));
      li.append(b);
      list.append(li);
    }
  }
  function tickOverrides() {
    for (const e of document.querySelectorAll('#overrides .exp')) {
      const at = Date.parse(e.dataset.expires);
      e.textContent = left(at) + ' left';
      e.classList.toggle('soon', at - now() < 5 * 60000);
    }
  }
  function logKind(r) {
    if (r.kind === 'decision') {
      if (r.data && r.data.fails_open) return ['failopen', 'fail-open'];
      if (/-> down|failing open/.test(r.text)) return ['down', 'down'];
      if (/-> up|recover/.test(r.text)) return ['up', 'up'];
      if (r.data && r.data.overrides && r.data.overrides.length && /(drained|pinned|weighted) by /.test(r.text)) return ['override', 'operator'];
      return ['shares', 'shares'];
    }
    return [r.kind, r.kind === 'annotation' ? 'note' : r.kind];
  }
  /** An event's text for people: override audit rows say what, where, who and why. */
  function logText(r) {
    if (r.kind === 'override' && r.data && (r.data.after || r.data.before)) {
      const o = r.data.after && Object.keys(r.data.after).length ? r.data.after : r.data.before;
      const verb = { 'override.add': 'added', 'override.remove': 'removed', 'override.expire': 'expired' }[r.data.what] || r.data.what;
      const scope = (o.region ? short(o.region) : 'every region') + (o.name ? '' : ', every name');
      const by = r.data.what === 'override.expire' ? '' : ' by ' + (o.author || r.data.author || '?') + ' (' + (r.who || '?') + ')';
      return o.kind + ' ' + o.cdn + ' in ' + scope + ' ' + verb + by + (o.reason && verb === 'added' ? ': ' + o.reason : '') + ' [' + o.id + ']';
    }
    return r.text + (r.who && r.kind === 'annotation' ? ' — ' + r.who : '');
  }
  function addLog(r, live) {
    if (S.log.some((x) => x.id === r.id)) return;
    S.log.push(r);
    if (S.log.length > 500) S.log.shift();
    if (r.kind === 'annotation') { S.notes.push(r); scheduleCharts(); }
    if (live) renderLogItem(r, true);
  }
  // Share moves repeat (a region converging tick by tick): moves of one region with the same
  // kind of reason fold into one line with a count.
  const gist = (r) => (r.region || '') + '|' + r.text.replace(/\(.*$/, '');
  function renderLogItem(r, fresh) {
    const [k, word] = logKind(r);
    const log = $('log');
    if (k === 'shares') {
      // The same region converging again: move its line to the top with a count.
      const recent = Array.from(log.children).slice(0, 12);
      const same = recent.find((li) => li.dataset.kind === 'shares' && li.dataset.gist === gist(r));
      if (same) {
        const n = Number(same.dataset.count || '1') + 1;
        same.dataset.count = String(n);
        same.dataset.id = r.id;
        same.querySelector('time').textContent = clockTime(r.at);
        same.querySelector('.k').textContent = word + ' ×' + n;
        same.querySelector('.body').textContent = r.text;
        log.prepend(same);
        return;
      }
    }
    const li = el('li', fresh ? 'fresh' : null);
    li.dataset.kind = k;
    li.dataset.id = r.id;
    li.dataset.gist = gist(r);
    if (k === 'shares' && !S.showMoves) li.hidden = true;
    li.append(el('time', null, clockTime(r.at)));
    li.append(el('span', 'k k-' + k, word));
    const text = el('span', 'text');
    if (r.region && r.region !== '*') text.append(el('span', 'where', short(r.region)));
    text.append(el('span', 'body', logText(r)));
    li.append(text);
    log.prepend(li);
    while (log.children.length > 300) log.lastChild.remove();
  }
  function renderLog() {
    $('log').textContent = '';
    for (const r of S.log) renderLogItem(r, false);
  }

  // ---- Charts. ----
  const CHARTS = [
    { id: 'score', title: 'Score', unit: 'points (0–100)', scope: 'focus', fixed: [0, 100], value: (s, i) => s.score[i], refs: (p) => [[p.thresholds.down, 'down ' + p.thresholds.down], [p.thresholds.up, 'up ' + p.thresholds.up]], fmt: (v) => v.toFixed(0) },
    { id: 'share', title: 'Share of answers', unit: '%', scope: 'focus', fixed: [0, 100], value: (s, i) => (s.share[i] === null ? null : s.share[i] * 100), fmt: (v) => v.toFixed(0) + '%' },
    { id: 'ttfb', title: 'Time to first byte', unit: 'ms', scope: 'focus', value: (s, i) => (s.ttfbW[i] ? s.ttfbS[i] / s.ttfbW[i] : null), refs: (p) => [[p.sla.ttfb_ms.good, 'SLA good ' + p.sla.ttfb_ms.good + ' ms']], fmt: (v) => compact(v) + ' ms' },
    { id: 'errors', title: 'Error rate', unit: '% of requests', scope: 'focus', value: (s, i) => (s.req[i] ? s.errs[i] / s.req[i] * 100 : null), refs: (p) => [[p.sla.error_rate.good * 100, 'SLA good ' + (p.sla.error_rate.good * 100).toFixed(1) + '%']], fmt: (v) => v.toFixed(v < 1 ? 2 : 1) + '%' },
    { id: 'throughput', title: 'Throughput', unit: 'Mbit/s', scope: 'focus', value: (s, i) => (s.thrW[i] ? s.thrS[i] / s.thrW[i] : null), refs: (p) => [[p.sla.throughput_mbps.good, 'SLA good ' + p.sla.throughput_mbps.good]], fmt: (v) => compact(v) + ' Mbit/s' },
    { id: 'cache', title: 'Cache hit ratio', unit: '% of requests', scope: 'focus', value: (s, i) => (s.hitReq[i] ? s.hits[i] / s.hitReq[i] * 100 : null), refs: (p) => [[p.sla.cache_hit_ratio.good * 100, 'SLA good ' + (p.sla.cache_hit_ratio.good * 100).toFixed(0) + '%']], fmt: (v) => v.toFixed(1) + '%' },
    { id: 'answers', title: 'DNS answers', unit: 'answers/s', scope: 'all', empty: 'no steered answers counted yet', value: (s, i, m) => answersRate(s, i, m), fmt: (v) => compact(v) + '/s' },
    { id: 'viewers', title: 'Concurrent viewers', unit: 'viewers', scope: 'all', empty: 'no player telemetry with viewers', value: (s, i) => s.viewers[i], fmt: (v) => compact(v) },
    { id: 'rebuffer', title: 'Rebuffering', unit: '% of watch time', scope: 'all', empty: 'no player telemetry with rebuffering', value: (s, i) => (s.rebuf[i] === null || s.rebuf[i] === undefined ? null : s.rebuf[i] * 100), fmt: (v) => v.toFixed(2) + '%' },
  ];
  function answersRate(s, i, m) {
    const start = m.from + i * m.step;
    // Answers are counted per interval and arrive when it ends: a bucket the counted time
    // covers less than half of is not known yet (it would read as a drop to zero).
    const covered = Math.min(start + m.step, m.answersUntil) - start;
    if (covered < m.step / 2) return null;
    return s.answers[i] / (covered / 1000);
  }
  const charts = {};
  const AXIS = { stroke: '#8b98a9', grid: { stroke: '#222b37', width: 1 }, ticks: { stroke: '#2a3442', width: 1, size: 4 }, font: '12px "Segoe UI", system-ui, "DejaVu Sans", sans-serif', labelFont: '12px "Segoe UI", system-ui, "DejaVu Sans", sans-serif' };
  let chartKey = '';
  function chartSize() {
    const grid = $('chart-grid');
    const w = Math.max(260, Math.floor((grid.clientWidth - 28) / 3));
    const avail = window.innerHeight - grid.getBoundingClientRect().top - 24;
    const h = Math.max(140, Math.min(240, Math.floor(avail / 3) - 30));
    return { width: w, height: h };
  }
  function drawOverlays(u, def) {
    const ctx = u.ctx, { left, top, width, height } = u.bbox;
    const dpr = devicePixelRatio || 1;
    ctx.save();
    ctx.font = Math.round(11 * dpr) + 'px "Segoe UI", system-ui, "DejaVu Sans", sans-serif';
    if (def.refs && S.plan) {
      ctx.setLineDash([4 * dpr, 4 * dpr]);
      ctx.lineWidth = dpr;
      for (const [v, label] of def.refs(S.plan)) {
        const y = u.valToPos(v, 'y', true);
        if (!(y >= top && y <= top + height)) continue;
        ctx.strokeStyle = '#6b7a8c';
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + width, y); ctx.stroke();
        // The label on the left, on the panel's colour, so lines never run through it.
        const tw = ctx.measureText(label).width + 6 * dpr;
        const ly = Math.max(top + 12 * dpr, y - 2 * dpr);
        ctx.fillStyle = 'rgba(21, 27, 35, 0.85)';
        ctx.fillRect(left + 2 * dpr, ly - 11 * dpr, tw, 13 * dpr);
        ctx.fillStyle = '#9aa7b8';
        ctx.textAlign = 'left';
        ctx.fillText(label, left + 5 * dpr, ly - 1 * dpr);
      }
    }
    ctx.setLineDash([]);
    if (u.data.slice(1).every((ys) => ys.every((v) => v === null))) {
      ctx.fillStyle = '#5d6a7b';
      ctx.textAlign = 'center';
      ctx.font = Math.round(13 * dpr) + 'px "Segoe UI", system-ui, "DejaVu Sans", sans-serif';
      ctx.fillText(def.empty || 'no data in this window', left + width / 2, top + height / 2);
      ctx.font = Math.round(11 * dpr) + 'px "Segoe UI", system-ui, "DejaVu Sans", sans-serif';
    }
    // Annotations: a line through the plot, the note in the strip above it (never over the
    // newest data); a note that would run into the next one is cut short.
    const notes = S.notes.map((n) => ({ n, x: u.valToPos(n.at / 1000, 'x', true) })).filter((a) => a.x >= left && a.x <= left + width).sort((a, b) => a.x - b.x);
    // White-grey and dashed: no CDN has that colour, and a note never reads as a data line.
    notes.forEach((a, k) => {
      ctx.strokeStyle = '#d0d7de';
      ctx.lineWidth = 1.2 * dpr;
      ctx.setLineDash([5 * dpr, 3 * dpr]);
      ctx.beginPath(); ctx.moveTo(a.x, top - 16 * dpr); ctx.lineTo(a.x, top + height); ctx.stroke();
      ctx.setLineDash([]);
      const room = (k + 1 < notes.length ? notes[k + 1].x : left + width + 200 * dpr) - a.x - 6 * dpr;
      let text = a.n.text;
      while (text.length > 1 && ctx.measureText(text).width + 8 * dpr > Math.max(room, 14 * dpr)) text = text.slice(0, -2) + '…';
      const tw = ctx.measureText(text).width + 8 * dpr;
      const tx = Math.min(a.x, left + width + 40 * dpr - tw);
      ctx.fillStyle = 'rgba(230, 237, 243, 0.95)';
      ctx.fillRect(tx, top - 17 * dpr, tw, 14 * dpr);
      ctx.fillStyle = '#0d1117';
      ctx.textAlign = 'left';
      ctx.fillText(text, tx + 4 * dpr, top - 6 * dpr);
    });
    ctx.restore();
  }
  function buildCharts() {
    const m = S.model;
    const grid = $('chart-grid');
    for (const id of Object.keys(charts)) { charts[id].u.destroy(); delete charts[id]; }
    grid.textContent = '';
    if (!m) return;
    const size = chartSize();
    const sync = uPlot.sync('cdnsteer');
    for (const def of CHARTS) {
      const box = el('div', 'chart');
      box.dataset.chart = def.id;
      const head = el('div', 'chart-head');
      head.append(el('b', null, def.title), el('span', 'scope', def.scope === 'focus' ? short(m.focus) : 'all regions'));
      const readout = el('span', 'readout');
      head.append(readout);
      box.append(head);
      const plotBox = el('div');
      box.append(plotBox);
      grid.append(box);
      const opts = {
        width: size.width,
        height: size.height,
        legend: { show: false },
        padding: [20, 44, 0, 0],
        cursor: { sync: { key: sync.key }, points: { size: 6 }, drag: { x: false, y: false } },
        scales: {
          x: { time: true, range: () => { const t = now() / 1000; return [t - m.windowMs / 1000, t]; } },
          y: { range: (u, lo, hi) => yRange(def, lo, hi) },
        },
        axes: [
          Object.assign({}, AXIS, { label: 'time (' + tzLabel() + ')', labelSize: 16, size: 28, values: (u, ticks) => ticks.map((t) => hm(t * 1000)) }),
          Object.assign({}, AXIS, { label: def.unit, labelSize: 18, size: 52, values: (u, ticks) => ticks.map((v) => compact(v)) }),
        ],
        series: [{}].concat(m.cdns.map((c) => ({ label: c, stroke: colours[c], width: 2, spanGaps: false, points: { show: false } }))),
        hooks: {
          draw: [(u) => drawOverlays(u, def)],
          setCursor: [(u) => {
            const i = u.cursor.idx;
            readout.textContent = '';
            if (i === null || i === undefined) return;
            readout.append(document.createTextNode(clockTime(u.data[0][i] * 1000) + ' '));
            u.series.forEach((s, k) => {
              if (!k) return;
              const v = u.data[k][i];
              const b = el('b', null, ' ' + s.label + ' ');
              b.style.color = s.stroke();
              readout.append(b, document.createTextNode(v === null || v === undefined ? '–' : def.fmt(v)));
            });
          }],
        },
      };
      const u = new uPlot(opts, chartData(def), plotBox);
      charts[def.id] = { u, def };
    }
    chartKey = m.cdns.join(',') + '|' + m.focus;
  }
  function yRange(def, lo, hi) {
    if (def.fixed) return def.fixed;
    let max = hi === null || hi === undefined || !isFinite(hi) ? 1 : hi;
    if (def.refs && S.plan) for (const [v] of def.refs(S.plan)) if (v <= max * 3) max = Math.max(max, v);
    if (def.id === 'cache') return [Math.max(0, Math.min(lo === null ? 100 : lo, 90) - 5), 100];
    return [0, max <= 0 ? 1 : max * 1.12];
  }
  function chartData(def) {
    const m = S.model;
    const xs = new Array(m.n);
    for (let i = 0; i < m.n; i++) xs[i] = (m.from + i * m.step) / 1000;
    const data = [xs];
    // Measurements come every few seconds (probe interval, telemetry window): a bucket
    // without one holds the last value for up to HOLD_MS, so the line is a line; a longer
    // silence is a gap.
    const hold = def.scope === 'focus' && !def.fixed ? Math.max(1, Math.ceil(HOLD_MS / m.step)) : 0;
    for (const c of m.cdns) {
      const s = m.s[c], ys = new Array(m.n);
      let last = null, age = 0;
      for (let i = 0; i < m.n; i++) {
        let v = def.value(s, i, m);
        if (v === undefined) v = null;
        if (v !== null) { last = v; age = 0; } else if (last !== null && ++age <= hold) v = last;
        ys[i] = v;
      }
      data.push(ys);
    }
    return data;
  }
  let chartTimer = null;
  function scheduleCharts() { if (!chartTimer) chartTimer = setTimeout(() => { chartTimer = null; renderCharts(); }, 250); }
  function renderCharts() {
    const m = S.model;
    if (!m) return;
    slide(m, now());
    if (chartKey !== m.cdns.join(',') + '|' + m.focus) { buildCharts(); return; }
    for (const id of Object.keys(charts)) { const { u, def } = charts[id]; u.setData(chartData(def)); }
  }
  function renderLegend() {
    const lg = $('legend');
    lg.textContent = '';
    if (!S.model) return;
    for (const c of S.model.cdns) {
      const s = el('span'); s.dataset.cdn = c;
      const i = el('i'); i.style.background = colours[c];
      s.append(i, document.createTextNode(c));
      lg.append(s);
    }
    const n = el('span', 'note'); n.append(el('i'), document.createTextNode('annotation'));
    lg.append(n);
    $('focus-label').textContent = short(S.model.focus) + ' ' + regionLabel(S.model.focus).name;
  }

  // ---- Actions. ----
  function needToken() {
    return new Promise((resolve) => {
      if (session.token) { resolve(true); return; }
      const d = $('token-dialog');
      $('author-input').value = session.author;
      const done = (ok) => { d.close(); resolve(ok); };
      $('token-form').onsubmit = (ev) => { ev.preventDefault(); session.set($('token-input').value.trim(), $('author-input').value.trim()); $('token-input').value = ''; renderUnlock(); done(true); };
      $('token-cancel').onclick = () => done(false);
      d.showModal();
    });
  }
  function renderUnlock() {
    const b = $('unlock');
    if (session.token) { b.textContent = 'Actions unlocked · ' + (session.author || '?') + ' · lock'; b.classList.add('unlocked'); }
    else { b.textContent = 'Unlock actions'; b.classList.remove('unlocked'); }
    const canNote = S.source && S.source.annotations;
    $('note').disabled = !canNote;
    $('note-add').disabled = !canNote;
    $('note').placeholder = canNote ? 'Note on the timeline (kickoff, ticket #123)' : 'Annotations need the history database';
  }
  async function act(method, path, body) {
    if (!(await needToken())) return { status: 0, body: { error: 'cancelled' } };
    const headers = { Authorization: 'Bearer ' + session.token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try { res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }); } catch (e) { return { status: 0, body: { error: String(e) } }; }
    let json = null;
    try { json = await res.json(); } catch (_) { json = {}; }
    if (res.status === 401) { session.clear(); renderUnlock(); }
    return { status: res.status, body: json };
  }
  async function removeOverride(id) {
    const r = await act('DELETE', 'api/v1/overrides/' + enc(id));
    if (r.status !== 200 && r.status !== 0) alertMsg('Could not remove ' + id + ': ' + (r.body.error || r.status));
  }
  function alertMsg(text) { const m = $('note-msg'); m.hidden = false; m.className = 'msg err'; m.textContent = text; }
  function closePop() { $('pop').hidden = true; }
  function openCell(region, c, td) {
    const pop = $('pop'), plan = S.plan;
    pop.textContent = '';
    pop.dataset.cdn = c.cdn; pop.dataset.region = region.key;
    const l = regionLabel(region.key);
    pop.append(el('h3', null, c.cdn + ' in ' + l.code + ' (' + l.name + ')'));
    pop.append(el('div', 'kv', 'state ' + c.state + ' · share ' + pct(c.share) + ' · score ' + (c.score === null ? 'unknown' : c.score) + ' · weight ' + c.weight + (c.configured_weight !== null && c.configured_weight !== c.weight ? ' (zone ' + c.configured_weight + ')' : '')));
    if (c.reasons.length) { const ul = el('ul', 'reasons'); for (const r of c.reasons) ul.append(el('li', null, reasonText(r, plan) + ' · −' + r.cost.toFixed(0) + ' points')); pop.append(ul); }
    const o = c.override_id ? overrideById(c.override_id) : null;
    if (o) pop.append(el('div', 'kv', o.kind + ' by ' + o.author + ': ' + o.reason + ' · ' + left(Date.parse(o.expires_at)) + ' left'));
    const row = el('div', 'row');
    const close = el('button', 'btn', 'Close'); close.type = 'button'; close.onclick = closePop;
    row.append(close);
    if (o) {
      const un = el('button', 'btn primary', o.kind === 'drain' ? 'Undrain' : 'Remove ' + o.kind); un.type = 'button'; un.dataset.action = 'undrain';
      un.onclick = async () => { await removeOverride(o.id); closePop(); };
      row.append(un);
    } else {
      const dr = el('button', 'btn danger', 'Drain…'); dr.type = 'button'; dr.dataset.action = 'drain';
      dr.onclick = () => drainForm(region, c, pop);
      row.append(dr);
    }
    pop.append(row);
    const r = td.getBoundingClientRect();
    pop.hidden = false;
    pop.style.left = Math.min(window.innerWidth - 400, Math.max(8, r.left)) + 'px';
    pop.style.top = Math.min(window.innerHeight - pop.offsetHeight - 8, r.bottom + 6) + 'px';
  }
  function drainForm(region, c, pop) {
    const form = el('form');
    form.autocomplete = 'off';
    form.append(el('h3', null, 'Drain ' + c.cdn + ' in ' + short(region.key)));
    const dur = el('select'); dur.name = 'expires_in';
    for (const [v, t] of [['15m', '15 minutes'], ['30m', '30 minutes'], ['1h', '1 hour'], ['2h', '2 hours'], ['4h', '4 hours']]) { const o = el('option', null, t); o.value = v; if (v === '30m') o.selected = true; dur.append(o); }
    const l1 = el('label', null, 'For'); l1.append(dur);
    const reason = el('input'); reason.name = 'reason'; reason.required = true; reason.maxLength = 300; reason.placeholder = 'why (kept in the audit log)';
    const l2 = el('label', null, 'Reason'); l2.append(reason);
    const force = el('input'); force.type = 'checkbox'; force.name = 'force';
    const l3 = el('label', 'force', ''); l3.append(force, document.createTextNode('force: empty the region (it then answers its last resort)')); l3.hidden = true;
    const msg = el('div', 'msg');
    const row = el('div', 'row');
    const cancel = el('button', 'btn', 'Cancel'); cancel.type = 'button'; cancel.onclick = closePop;
    const go = el('button', 'btn danger', 'Drain'); go.type = 'submit';
    row.append(cancel, go);
    form.append(l1, l2, l3, msg, row);
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      go.disabled = true;
      msg.className = 'msg'; msg.textContent = 'draining…';
      const r = await act('POST', 'api/v1/overrides', { kind: 'drain', name: S.plan.name, region: region.key, cdn: c.cdn, expires_in: dur.value, author: session.author || 'dashboard', reason: reason.value.trim(), force: force.checked });
      go.disabled = false;
      if (r.status === 201) { closePop(); return; }
      msg.className = 'msg err';
      msg.textContent = r.status === 0 ? 'not sent' : (r.body.error || ('HTTP ' + r.status));
      if (r.status === 409) l3.hidden = false;
    };
    pop.textContent = '';
    pop.append(form);
    reason.focus();
  }
  async function annotate(ev) {
    ev.preventDefault();
    const text = $('note').value.trim();
    if (!text) return;
    const m = $('note-msg');
    const r = await act('POST', 'api/v1/annotations', { text, author: session.author || 'dashboard' });
    m.hidden = false;
    if (r.status === 201) { $('note').value = ''; m.className = 'msg'; m.textContent = 'added to every timeline'; setTimeout(() => { m.hidden = true; }, 4000); }
    else { m.className = 'msg err'; m.textContent = r.status === 404 ? 'annotations need the history database (not in this server)' : (r.body.error || ('HTTP ' + r.status)); }
  }

  // ---- Loading and the stream. ----
  async function load() {
    const q = new URLSearchParams();
    if (S.name) q.set('name', S.name);
    q.set('window', S.windowSpec);
    if (S.focus) q.set('region', S.focus);
    let res;
    try { res = await fetch('api/v1/dashboard?' + q.toString(), { cache: 'no-store' }); } catch (e) { setConn('down', 'server unreachable'); setTimeout(load, 3000); return; }
    if (!res.ok) {
      let msg = 'HTTP ' + res.status;
      try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
      setConn('down', msg);
      if (res.status === 404 && (S.name || S.focus)) { S.name = null; S.focus = null; setTimeout(load, 500); } else setTimeout(load, 3000);
      return;
    }
    const page = await res.json();
    S.offset = page.now - Date.now();
    S.name = page.name;
    S.source = page.source;
    S.plan = page.plan;
    S.status = page.status;
    S.lastId = page.backfill.last_id;
    assignColours(page.plan.cdns.map((c) => c.name));
    S.qoeLatest = {};
    for (const q of page.backfill.qoe_latest) { if (!S.qoeLatest[q.cdn]) S.qoeLatest[q.cdn] = {}; S.qoeLatest[q.cdn][q.region] = q; }
    S.answersRecent = [];
    S.audience = {};
    for (const a of page.backfill.audience) S.audience[a.region] = { viewers: a.viewers, aps: a.answers_per_sec };
    S.model = modelFrom(page.backfill, page.window_ms);
    S.focus = page.backfill.focus;
    S.log = [];
    S.notes = [];
    for (const e of page.backfill.events) addLog(e, false);
    const pick = $('name');
    pick.textContent = '';
    for (const n of page.names) { const o = el('option', null, n.replace(/\.$/, '')); o.value = n; if (n === page.name) o.selected = true; pick.append(o); }
    renderUnlock();
    renderClock();
    renderAlerts();
    renderTable();
    renderOverrides();
    renderLog();
    renderLegend();
    buildCharts();
    connect();
    document.body.dataset.ready = '1';
  }
  function connect() {
    if (S.es) S.es.close();
    const es = new EventSource('api/v1/stream?name=' + enc(S.name) + '&after=' + S.lastId);
    S.es = es;
    setConn('wait', 'connecting…');
    const seen = () => { S.lastMessage = Date.now(); renderConn(); };
    es.onopen = seen;
    es.onerror = () => renderConn();
    es.addEventListener('hello', (e) => { const h = JSON.parse(e.data); S.offset = h.now - Date.now(); S.source = h.source; seen(); renderUnlock(); });
    es.addEventListener('status', (e) => { S.status = JSON.parse(e.data); seen(); renderClock(); renderOverrides(); scheduleTable(); });
    es.addEventListener('plan', (e) => {
      const p = JSON.parse(e.data);
      seen();
      if (S.plan && p.generation < S.plan.generation) return;
      S.plan = p;
      renderTable(); renderAlerts();
      S.latency.push({ generation: p.generation, ms: now() - p.planned_at });
      if (S.latency.length > 100) S.latency.shift();
    });
    for (const kind of ['share', 'signal', 'answers', 'qoe', 'log']) {
      es.addEventListener(kind, (e) => {
        seen();
        const id = Number(e.lastEventId);
        if (id && id <= S.lastId) return;
        if (id) S.lastId = id;
        onRows(kind, JSON.parse(e.data));
      });
    }
    es.addEventListener('reset', () => { es.close(); S.es = null; setConn('wait', 'reloading…'); setTimeout(load, 200); });
  }
  function setFocus(region) {
    if (S.focus === region && S.model && S.model.focus === region) return;
    S.focus = region;
    const q = new URLSearchParams(location.search); q.set('region', region); history.replaceState(null, '', '?' + q.toString());
    load();
  }

  // ---- Wiring. ----
  $('window').value = S.windowSpec;
  $('window').addEventListener('change', () => { S.windowSpec = $('window').value; const q = new URLSearchParams(location.search); q.set('window', S.windowSpec); history.replaceState(null, '', '?' + q.toString()); load(); });
  $('name').addEventListener('change', () => { S.name = $('name').value; S.focus = null; const q = new URLSearchParams(); q.set('name', S.name); history.replaceState(null, '', '?' + q.toString()); load(); });
  $('region-filter').addEventListener('input', () => { S.filter = $('region-filter').value; renderTable(); });
  $('log-moves').addEventListener('change', () => { S.showMoves = $('log-moves').checked; renderLog(); });
  $('unlock').addEventListener('click', () => { if (session.token) { session.clear(); renderUnlock(); } else needToken(); });
  $('annotate').addEventListener('submit', annotate);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closePop(); });
  // composedPath: the path when the click happened (a button that re-renders the popover is
  // no longer inside it by the time the click bubbles up here).
  document.addEventListener('click', (e) => { const pop = $('pop'); const path = e.composedPath(); if (!pop.hidden && !path.includes(pop) && !path.some((n) => n.classList && n.classList.contains('cell'))) closePop(); });
  window.addEventListener('resize', () => { const size = chartSize(); for (const id of Object.keys(charts)) charts[id].u.setSize(size); });
  setInterval(() => { renderClock(); tickOverrides(); renderConn(); }, 1000);
  setInterval(() => { updateAudience(); renderCharts(); }, 2000);
  load();
})();
