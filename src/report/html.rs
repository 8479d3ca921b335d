//! The report as one self-contained HTML file for the customer: summary and findings first,
//! then recommendations, incidents and SLA adherence, regions and capacity, per-CDN detail,
//! the operators' timeline, and how every figure was derived. Charts are inline SVG; the print
//! stylesheet lays it out on A4 with page breaks between parts. Formats the [`Report`] only:
//! every figure was computed in `build`.

use std::fmt::Write as _;

use super::calc::{self, span_text};
use super::model::*;
use super::svg::{self, Band, Chart, Line, esc};
use crate::timestamp::{Millis, parse_rfc3339};

/// Regions given their own share chart.
pub const TOP_REGIONS: usize = 4;
/// Dash patterns of the regions in a CDN's charts, in order (the CDN's colour for all).
const DASHES: [Option<&str>; 4] = [None, Some("7 3"), Some("2 2"), Some("9 3 2 3")];
const W: f64 = 700.0;

fn ms(text: &str) -> Millis {
    parse_rfc3339(text).unwrap_or(0)
}

fn pct(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".to_string(), |v| format!("{:.*}%", digits, v * 100.0))
}

fn pct_of(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}%"))
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
}

fn count(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), calc::compact)
}

struct Page<'a> {
    r: &'a Report,
    offset: i32,
    out: String,
}

impl Page<'_> {
    fn hm(&self, text: &str) -> String {
        calc::clock(ms(text), self.offset, false)
    }

    fn hms(&self, text: &str) -> String {
        calc::clock(ms(text), self.offset, true)
    }

    fn colour(&self, cdn: &str) -> &'static str {
        self.r.cdns.iter().find(|c| c.cdn == cdn).map_or("#555555", |c| c.colour)
    }

    fn swatch(&self, cdn: &str) -> String {
        format!(r#"<span class="sw" style="background:{}"></span>{}"#, self.colour(cdn), esc(cdn))
    }

    fn evidence(&self, list: &[Evidence]) -> String {
        if list.is_empty() {
            return String::new();
        }
        let links: Vec<String> = list.iter().map(|e| format!(r##"<a href="#{}">{}</a>"##, esc(&e.anchor), esc(&e.label))).collect();
        format!(r#"<span class="ev">Evidence: {}</span>"#, links.join(", "))
    }

    fn chart(&self, title: &str, height: f64) -> Chart {
        let c = &self.r.charts;
        Chart {
            width: W,
            height,
            from: c.from,
            to: ms(&self.r.subject.to),
            step_ms: c.step_secs * 1000,
            offset_min: self.offset,
            y_min: 0.0,
            y_max: 1.0,
            y_fit: false,
            y_title: String::new(),
            percent: false,
            lines: Vec::new(),
            stacked: Vec::new(),
            hlines: Vec::new(),
            bands: Vec::new(),
            marks: c.annotations.iter().map(|m| (m.at, m.text.clone())).collect(),
            title: title.to_string(),
        }
    }

    fn bands(&self, keep: impl Fn(&Incident) -> bool) -> Vec<Band> {
        self.r.incidents.iter().filter(|i| keep(i)).map(|i| Band { from: ms(&i.start), to: ms(&i.end), label: i.id.clone() }).collect()
    }

    fn legend(&self, items: &[(String, String, Option<&str>)]) -> String {
        let mut s = String::from(r#"<div class="legend">"#);
        for (label, colour, dash) in items {
            let d = dash.map_or_else(String::new, |p| format!(r#" stroke-dasharray="{p}""#));
            let _ = write!(s, r#"<span><svg width="26" height="8" aria-hidden="true"><line x1="1" y1="4" x2="25" y2="4" stroke="{colour}" stroke-width="2.4"{d}/></svg>{}</span>"#, esc(label));
        }
        s.push_str("</div>");
        s
    }

    fn figure(&mut self, id: Option<&str>, caption: &str, svg: &str, legend: &str) {
        let id = id.map_or_else(String::new, |i| format!(r#" id="{i}""#));
        let _ = write!(self.out, r#"<figure{id}>{svg}{legend}<figcaption>{caption}</figcaption></figure>"#);
    }
}

/// The HTML document.
pub fn render(r: &Report) -> String {
    let offset = offset_minutes(&r.subject.utc_offset);
    let mut p = Page { r, offset, out: String::with_capacity(256 * 1024) };
    head(&mut p);
    cover(&mut p);
    summary(&mut p);
    findings(&mut p);
    recommendations(&mut p);
    incidents(&mut p);
    sla(&mut p);
    regions(&mut p);
    capacity(&mut p);
    cdns(&mut p);
    timeline(&mut p);
    methods(&mut p);
    p.out.push_str("</main></body></html>\n");
    p.out
}

fn offset_minutes(text: &str) -> i32 {
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    sign * (h.parse::<i32>().unwrap_or(0) * 60 + m.parse::<i32>().unwrap_or(0))
}

const CSS: &str = r#"
:root{--ink:#1d1d1f;--muted:#5b5b60;--line:#d9d9de;--soft:#f4f4f6;--crit:#b3261e;--warn:#a15c00;--good:#1b7a3d;--info:#2d5f9a}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);font:10.5pt/1.45 "Helvetica Neue",Helvetica,Arial,"Liberation Sans",sans-serif;background:#fff}
main{max-width:190mm;margin:0 auto;padding:10mm 0 16mm}
h1{font-size:22pt;margin:0 0 2mm;letter-spacing:-0.01em}
h2{font-size:14pt;margin:9mm 0 3mm;padding-bottom:1.5mm;border-bottom:2px solid var(--ink);break-after:avoid}
h3{font-size:11.5pt;margin:6mm 0 2mm;break-after:avoid}
p{margin:0 0 2.5mm}
a{color:#1f4e8c;text-decoration:none}
.kicker{text-transform:uppercase;letter-spacing:.08em;font-size:8.5pt;color:var(--muted);font-weight:600}
.meta{color:var(--muted);margin-bottom:4mm}
.headline{font-size:12pt;line-height:1.5;border-left:4px solid var(--ink);padding:1mm 0 1mm 4mm;margin:5mm 0}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:2.5mm;margin:4mm 0}
.card{background:var(--soft);border-radius:2mm;padding:2.5mm 3mm}
.card b{display:block;font-size:12.5pt;line-height:1.25;white-space:nowrap}
.card span{font-size:8pt;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%;margin:2mm 0 4mm;font-size:9pt}
th,td{text-align:left;padding:1.3mm 2mm;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:8pt;text-transform:uppercase;letter-spacing:.03em;border-bottom:1.5px solid #b9b9c0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.n{white-space:nowrap}
tr.all td{font-weight:600;background:var(--soft)}
tr,figure,.finding,.rec,article .kv{break-inside:avoid}
thead{display:table-header-group}
.sw{display:inline-block;width:2.6mm;height:2.6mm;border-radius:.6mm;margin-right:1.5mm;vertical-align:-.2mm}
ol.findings{list-style:none;padding:0;margin:0}
td:first-child{white-space:nowrap}
table.recs td:first-child{white-space:normal}
table.recs td:nth-child(4){width:34%}
table.incidents{table-layout:fixed}
td.wrap{white-space:normal}
table.detail{font-size:8.3pt}
table.detail th,table.detail td{padding:1.1mm 1.3mm}
.finding{display:grid;grid-template-columns:12mm 20mm 1fr;gap:2mm;padding:2mm 0;border-bottom:1px solid var(--line)}
.finding .id{font-weight:700;color:var(--muted)}
.pill{display:inline-block;font-size:7.5pt;font-weight:700;text-transform:uppercase;letter-spacing:.05em;padding:.3mm 1.6mm;border-radius:1mm;color:#fff;height:fit-content}
.critical{background:var(--crit)}.warning{background:var(--warn)}.good{background:var(--good)}.info{background:var(--info)}
.ev{display:block;font-size:8.5pt;color:var(--muted);margin-top:.8mm}
.setting{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:8pt;background:var(--soft);padding:.2mm 1mm;border-radius:.8mm;overflow-wrap:break-word}
figure{margin:3mm 0 5mm}
figcaption{font-size:8.5pt;color:var(--muted);margin-top:1mm}
.legend{display:flex;flex-wrap:wrap;gap:1mm 5mm;font-size:8.5pt;margin:1mm 0 0 14mm}
.legend span{display:inline-flex;align-items:center;gap:1.5mm}
.kv{display:grid;grid-template-columns:repeat(4,1fr);gap:1.5mm 4mm;background:var(--soft);padding:3mm;border-radius:2mm;margin:2mm 0 3mm;font-size:9pt}
.kv div span{display:block;font-size:7.5pt;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.muted{color:var(--muted)}
.small{font-size:8.5pt}
dl.methods dt{font-weight:600;margin-top:2mm}
dl.methods dd{margin:0 0 1mm 0;color:#333}
.actions{margin:0;padding-left:4mm;font-size:8.5pt;color:#333}
.pagebreak{break-before:page}
footer{margin-top:8mm;font-size:8pt;color:var(--muted);border-top:1px solid var(--line);padding-top:2mm}
@page{size:A4;margin:13mm 12mm 15mm}
@media print{main{max-width:none;padding:0}body{font-size:9.5pt}a{color:inherit}h2{margin-top:4mm}.cover{margin-top:0}}
"#;

fn head(p: &mut Page<'_>) {
    let title = p.r.subject.event.as_deref().map_or_else(|| "CDN performance report".to_string(), |e| format!("{e}: CDN performance report"));
    let _ = write!(p.out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}{}</style></head><body><main>", esc(&title), svg::CSS);
}

fn cover(p: &mut Page<'_>) {
    let s = &p.r.subject;
    let (from, to) = (ms(&s.from), ms(&s.to));
    let name = s.event.as_deref().map_or_else(|| "CDN performance".to_string(), |e| format!("CDN performance: {e}"));
    let mut meta = Vec::new();
    if let Some(c) = &s.customer {
        meta.push(format!("For {}", esc(c)));
    }
    meta.push(format!("{} {}–{} (UTC{}), {}", calc::date(from, p.offset), calc::clock(from, p.offset, false), calc::clock(to, p.offset, false), s.utc_offset, span_text(s.duration_secs)));
    if !s.names.is_empty() {
        meta.push(esc(&s.names.iter().map(|n| n.trim_end_matches('.')).collect::<Vec<_>>().join(", ")));
    }
    let _ = write!(
        p.out,
        r#"<header class="cover" id="top"><div class="kicker">Post-event CDN performance report</div><h1>{}</h1><p class="meta">{}</p><p class="headline">{}</p></header>"#,
        esc(&name),
        meta.join(" · "),
        esc(&p.r.summary.headline)
    );
    if let Some(cut) = &p.r.events_cut {
        let _ = write!(
            p.out,
            r##"<p class="headline" id="events-cut"><span class="pill warning">Incomplete</span> The window held more than {} events, the most a report reads: those from {} on are left out of the timeline, the incidents' actions and the findings (<a href="#methods">notes</a>).</p>"##,
            cut.limit,
            esc(&cut.from)
        );
    }
}

fn summary(p: &mut Page<'_>) {
    let s = &p.r.summary;
    p.out.push_str(r#"<section id="summary"><h2>1. Summary</h2><div class="cards">"#);
    let cards = [
        (calc::compact(s.answers as f64), "DNS answers"),
        (s.delivered_tb.map_or_else(|| "–".into(), |t| if t >= 1000.0 { format!("{:.2} PB", t / 1000.0) } else { format!("{t:.0} TB") }), "delivered"),
        (s.peak_gbps.map_or_else(|| "–".into(), |g| if g >= 1000.0 { format!("{:.2} Tbps", g / 1000.0) } else { format!("{g:.0} Gbps") }), "peak traffic"),
        (count(s.peak_viewers), "peak viewers"),
        (s.incidents.to_string(), "incidents"),
        (s.fail_opens.to_string(), "fail-opens"),
    ];
    for (v, l) in cards {
        let _ = write!(p.out, r#"<div class="card"><b>{v}</b><span>{l}</span></div>"#);
    }
    p.out.push_str(r#"</div><table><thead><tr><th>CDN</th><th class="n">Share of answers</th><th class="n">Share of traffic</th><th class="n">Availability</th><th class="n">Time missing SLA</th><th class="n">Incidents</th></tr></thead><tbody>"#);
    for c in &s.cdns {
        let _ = write!(
            p.out,
            r##"<tr><td><a href="#cdn-{}">{}</a></td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"##,
            super::findings::slug(&c.cdn),
            p.swatch(&c.cdn),
            pct(c.answer_share, 1),
            pct(c.delivered_share, 1),
            pct_of(c.availability_pct, 3),
            pct_of(c.sla_breach_pct, 2),
            c.incidents
        );
    }
    p.out.push_str("</tbody></table>");
    let c = &p.r.charts;
    if !c.answer_share.is_empty() {
        let mut ch = p.chart("Share of DNS answers by CDN, all regions", 200.0);
        ch.percent = true;
        ch.y_title = "Share of answers (%)".into();
        ch.stacked = c.answer_share.iter().map(|s| Line { label: s.cdn.clone(), colour: p.colour(&s.cdn).into(), dash: None, values: s.values.clone() }).collect();
        ch.bands = p.bands(|_| true);
        let legend = p.legend(&c.answer_share.iter().map(|s| (s.cdn.clone(), p.colour(&s.cdn).to_string(), None)).collect::<Vec<_>>());
        let caption = format!("Share of steered DNS answers per CDN over all regions, per {}. Shaded: incidents; dashed verticals: annotations.", span_text(c.step_secs));
        let svg = ch.render();
        p.figure(Some("chart-answers"), &caption, &svg, &legend);
    }
    p.out.push_str("</section>");
}

fn findings(p: &mut Page<'_>) {
    p.out.push_str(r#"<section id="findings"><h2>2. Findings</h2>"#);
    if p.r.findings.is_empty() {
        p.out.push_str("<p>Nothing to report: no data in the window.</p>");
    }
    p.out.push_str(r#"<ol class="findings">"#);
    for f in &p.r.findings {
        let _ = write!(
            p.out,
            r#"<li class="finding" id="finding-{}"><span class="id">{}</span><span class="pill {}">{}</span><span>{}{}</span></li>"#,
            f.id,
            f.id,
            f.severity.as_str(),
            f.severity.as_str(),
            esc(&f.text),
            p.evidence(&f.evidence)
        );
    }
    p.out.push_str("</ol></section>");
}

fn recommendations(p: &mut Page<'_>) {
    p.out.push_str(r#"<section id="recommendations"><h2>3. Recommendations for the next event</h2>"#);
    if p.r.recommendations.is_empty() {
        p.out.push_str("<p>No change suggested by this event's data.</p></section>");
        return;
    }
    p.out.push_str(r#"<table class="recs"><thead><tr><th>#</th><th>Area</th><th>Recommendation</th><th>Setting: now → suggested</th></tr></thead><tbody>"#);
    for r in &p.r.recommendations {
        let setting = match (&r.setting, &r.current, &r.suggested) {
            (Some(s), c, g) => format!(r#"<span class="setting">{}</span><br>{} → <b>{}</b>"#, esc(s).replace('.', ".<wbr>"), esc(c.as_deref().unwrap_or("unset")), esc(g.as_deref().unwrap_or("(your figure)"))),
            _ => "no change".to_string(),
        };
        let _ = write!(p.out, r#"<tr class="rec" id="rec-{}"><td><b>{}</b></td><td>{}</td><td>{}{}</td><td>{setting}</td></tr>"#, r.id, r.id, r.area, esc(&r.text), p.evidence(&r.evidence));
    }
    p.out.push_str("</tbody></table></section>");
}

fn breach_text(b: &Breach) -> String {
    let v = |x: f64| match b.unit {
        "ratio" => format!("{:.1}%", x * 100.0),
        "ms" => format!("{x:.0} ms"),
        u => format!("{x:.1} {u}"),
    };
    let word = super::sla::SIGNALS.iter().find(|s| s.0 == b.signal).map_or(b.signal, |s| s.2);
    let dir = if b.target < b.bad { "≤" } else { "≥" };
    format!("{word} {} (target {dir} {}) for {}", v(b.worst), v(b.target), span_text(b.secs))
}

fn incidents(p: &mut Page<'_>) {
    p.out.push_str(r#"<section id="incidents"><h2>4. Incidents</h2>"#);
    if p.r.incidents.is_empty() {
        let _ = write!(p.out, "<p>No CDN missed an SLA target for {} or more in any region.</p></section>", span_text(super::sla::MIN_INCIDENT_MS / 1000));
        return;
    }
    let _ = write!(p.out, r#"<p class="small muted">A CDN missing an SLA target in a region for at least {}; the worst bucket's value is shown against the target. Shift: how long after the start cdnsteer's answers, then the viewers, had moved half of the CDN's traffic away. Times are local (UTC{}).</p>"#, span_text(super::sla::MIN_INCIDENT_MS / 1000), p.r.subject.utc_offset);
    p.out.push_str(r#"<table class="incidents"><colgroup><col style="width:5%"><col style="width:11%"><col style="width:11%"><col style="width:22%"><col style="width:25%"><col style="width:13%"><col style="width:13%"></colgroup><thead><tr><th>#</th><th>When</th><th>CDN, region</th><th>Measured vs target</th><th>What cdnsteer did</th><th class="n">Shift</th><th class="n">Viewers</th></tr></thead><tbody>"#);
    for i in &p.r.incidents {
        let breaches: Vec<String> = i.breaches.iter().map(breach_text).collect();
        let shift = match (i.half_moved_after_secs, i.drained_after_secs) {
            (Some(h), Some(d)) => format!("answers: {h} s (drained {d} s)"),
            (Some(h), None) => format!("answers: {h} s"),
            _ => "–".to_string(),
        };
        let shift = match i.viewers_halved_after_secs {
            Some(v) => format!("{shift}<br>viewers: {v} s"),
            None => shift,
        };
        let viewers = match (i.viewers_at_start, i.viewer_minutes) {
            (Some(v), Some(m)) => format!("{} on it<br>{} viewer-min", calc::compact(v), calc::compact(m)),
            (Some(v), None) => format!("{} on it", calc::compact(v)),
            _ => "not known".to_string(),
        };
        let failures = i.playback_failures.filter(|n| *n > 0).map_or_else(String::new, |n| format!("<br>{} failed plays", calc::thousands(n)));
        let _ = write!(
            p.out,
            r#"<tr id="incident-{}"><td><b>{}</b></td><td class="n">{}<br>–{}<br><span class="muted">{}</span></td><td>{}<br>{}</td><td>{}</td><td>{}</td><td class="n wrap">{shift}</td><td class="n wrap">{viewers}{failures}</td></tr>"#,
            i.id,
            i.id,
            p.hms(&i.start),
            p.hms(&i.end),
            span_text(i.duration_secs),
            p.swatch(&i.cdn),
            esc(&calc::region_label(&i.region)),
            breaches.iter().map(|b| esc(b)).collect::<Vec<_>>().join("<br>"),
            esc(&i.response)
        );
    }
    p.out.push_str("</tbody></table>");
    for i in p.r.incidents.iter().filter(|i| !i.actions.is_empty()) {
        let _ = write!(p.out, r#"<h3>{}: decisions and actions ({} in {})</h3><ul class="actions">"#, i.id, esc(&i.cdn), esc(&calc::region_label(&i.region)));
        for a in &i.actions {
            let _ = write!(p.out, "<li><b>{}</b> {}: {}</li>", p.hms(&a.at), a.by, esc(&a.text));
        }
        p.out.push_str("</ul>");
    }
    p.out.push_str("</section>");
}

fn sla(p: &mut Page<'_>) {
    let s = &p.r.sla;
    p.out.push_str(r#"<section id="sla"><h2>5. SLA adherence</h2>"#);
    p.out.push_str(r#"<table><thead><tr><th>Signal</th><th>Measured as</th><th class="n">Target</th><th class="n">Scores 0 at</th></tr></thead><tbody>"#);
    let multi = s.targets.iter().map(|t| &t.zone).collect::<std::collections::BTreeSet<_>>().len() > 1;
    for t in &s.targets {
        let v = |x: f64| match t.unit {
            "ratio" => format!("{:.1}%", x * 100.0),
            u => format!("{x} {u}"),
        };
        let dir = if t.target < t.bad { "≤" } else { "≥" };
        let zone = if multi { format!(" ({})", esc(&t.zone)) } else { String::new() };
        let word = super::sla::SIGNALS.iter().find(|x| x.0 == t.signal).map_or(t.signal, |x| x.2);
        let _ = write!(p.out, r#"<tr><td>{word}{zone}</td><td>{}</td><td class="n">{dir} {}</td><td class="n">{}</td></tr>"#, esc(&t.measured), v(t.target), v(t.bad));
    }
    p.out.push_str("</tbody></table><h3>Time missing each target, % of the event</h3>");
    p.out.push_str(r#"<table><thead><tr><th>CDN</th><th>Region</th><th class="n">TTFB</th><th class="n">Throughput</th><th class="n">Cache hits</th><th class="n">Errors</th><th class="n">Any</th><th class="n">Score below down</th><th class="n">Measured</th></tr></thead><tbody>"#);
    for row in &s.rows {
        let cells: Vec<String> = row.signals.iter().map(|x| if x.secs == 0 { r#"<td class="n muted">0</td>"#.to_string() } else { format!(r#"<td class="n">{:.2}%</td>"#, x.pct) }).collect();
        let _ = write!(
            p.out,
            r#"<tr id="sla-{}-{}"><td>{}</td><td>{}</td>{}<td class="n"><b>{:.2}%</b></td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            super::findings::slug(&row.cdn),
            super::findings::slug(&row.region),
            p.swatch(&row.cdn),
            esc(&calc::region_label(&row.region)),
            cells.join(""),
            row.any_pct,
            if row.below_down_secs == 0 { "–".to_string() } else { span_text(row.below_down_secs) },
            span_text(row.measured_secs)
        );
    }
    p.out.push_str("</tbody></table>");
    if !s.worst_windows.is_empty() {
        p.out.push_str(r#"<h3>Worst 5-minute windows</h3><table><thead><tr><th>When</th><th>CDN</th><th>Region</th><th>Signal</th><th class="n">Value</th><th class="n">Target</th></tr></thead><tbody>"#);
        for w in &s.worst_windows {
            let v = |x: f64| match w.unit {
                "ratio" => format!("{:.2}%", x * 100.0),
                u => format!("{x} {u}"),
            };
            let word = super::sla::SIGNALS.iter().find(|x| x.0 == w.signal).map_or(w.signal, |x| x.2);
            let _ = write!(p.out, r#"<tr><td class="n">{}–{}</td><td>{}</td><td>{}</td><td>{word}</td><td class="n">{}</td><td class="n">{}</td></tr>"#, p.hm(&w.start), p.hm(&w.end), p.swatch(&w.cdn), esc(&calc::region_label(&w.region)), v(w.value), v(w.target));
        }
        p.out.push_str("</tbody></table>");
    }
    p.out.push_str("</section>");
}

fn regions(p: &mut Page<'_>) {
    p.out.push_str(r#"<section id="regions"><h2>6. Regions</h2>"#);
    p.out.push_str(r#"<table><thead><tr><th>Region</th><th class="n">Answers</th><th class="n">Share</th><th class="n">Peak viewers</th><th class="n">Peak Gbps</th><th class="n">Fail-opens</th><th>CDNs</th></tr></thead><tbody>"#);
    for r in &p.r.regions {
        let cdns: Vec<String> = r.cdns.iter().map(|c| p.swatch(c)).collect();
        let _ = write!(
            p.out,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            esc(&r.label),
            calc::thousands(r.answers),
            pct(r.answer_share, 1),
            count(r.viewers_peak),
            num(r.peak_gbps, 0),
            r.fail_opens,
            cdns.join(" ")
        );
    }
    p.out.push_str("</tbody></table>");
    let charts: Vec<&RegionChart> = p.r.charts.regions.iter().filter(|c| !c.share.is_empty()).take(TOP_REGIONS).collect();
    for rc in charts {
        let mut ch = p.chart(&format!("Traffic share by CDN in {}", rc.label), 170.0);
        ch.percent = true;
        ch.y_title = "Share of region (%)".into();
        ch.stacked = rc.share.iter().map(|s| Line { label: s.cdn.clone(), colour: p.colour(&s.cdn).into(), dash: None, values: s.values.clone() }).collect();
        ch.bands = p.bands(|i| i.region == rc.region);
        let legend = p.legend(&rc.share.iter().map(|s| (s.cdn.clone(), p.colour(&s.cdn).to_string(), None)).collect::<Vec<_>>());
        let caption = format!("<b>{}</b>: share of the region's answers per CDN as cdnsteer planned them (time-weighted, per {}). Shaded: incidents in this region.", esc(&rc.label), span_text(p.r.charts.step_secs));
        let svg = ch.render();
        p.figure(Some(&format!("region-{}", super::findings::slug(&rc.region))), &caption, &svg, &legend);
    }
    p.out.push_str("</section>");
}

fn capacity(p: &mut Page<'_>) {
    p.out.push_str(r#"<section id="capacity"><h2>7. Capacity and commits</h2>"#);
    p.out.push_str(r#"<table><thead><tr><th>CDN</th><th class="n">Capacity</th><th class="n">Commit</th><th class="n">Peak</th><th class="n">95th pct</th><th class="n">Peak / capacity</th><th class="n">95th / commit</th><th class="n">Overage</th></tr></thead><tbody>"#);
    for c in &p.r.cdns {
        let cap = &c.capacity;
        let g = |x: Option<f64>| x.map_or_else(|| "–".to_string(), |v| format!("{v:.0} Gbps"));
        let peak_at = cap.peak_at.as_deref().map_or_else(String::new, |t| format!(r#" <span class="muted">at {}</span>"#, p.hm(t)));
        let _ = write!(
            p.out,
            r#"<tr id="capacity-{}"><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}{peak_at}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            super::findings::slug(&c.cdn),
            p.swatch(&c.cdn),
            g(cap.gbps),
            g(cap.commit_gbps),
            g(cap.peak_gbps),
            g(cap.p95_gbps),
            pct_of(cap.peak_of_capacity_pct, 0),
            pct_of(cap.p95_of_commit_pct, 0),
            cap.over_commit_gbps.map_or_else(|| "–".to_string(), |o| format!("{o:.0} Gbps"))
        );
        for r in &cap.regions {
            let _ = write!(p.out, r#"<tr><td class="muted">&nbsp;&nbsp;{} limit</td><td class="n">{:.0} Gbps</td><td></td><td class="n">{}</td><td></td><td class="n">{}</td><td></td><td></td></tr>"#, esc(&calc::region_label(&r.region)), r.gbps, g(r.peak_gbps), pct_of(r.peak_pct, 0));
        }
    }
    p.out.push_str("</tbody></table>");
    let c = &p.r.charts;
    if !c.delivered_gbps.is_empty() {
        let mut ch = p.chart("Delivered traffic by CDN", 190.0);
        ch.y_fit = true;
        ch.y_max = 1.0;
        ch.y_title = "Delivered (Gbps)".into();
        ch.lines = c.delivered_gbps.iter().map(|s| Line { label: s.cdn.clone(), colour: p.colour(&s.cdn).into(), dash: None, values: s.values.clone() }).collect();
        ch.bands = p.bands(|_| true);
        let legend = p.legend(&c.delivered_gbps.iter().map(|s| (s.cdn.clone(), p.colour(&s.cdn).to_string(), None)).collect::<Vec<_>>());
        let caption = format!("Traffic delivered per CDN (all regions), mean per {}, from players' telemetry. The 95th percentile in the table is of 5-minute means, as burstable billing counts it.", span_text(c.step_secs));
        let svg = ch.render();
        p.figure(Some("chart-delivered"), &caption, &svg, &legend);
    }
    p.out.push_str("</section>");
}

fn state_text(s: &Stats) -> String {
    let parts: Vec<String> = s.time_in_state.iter().filter(|t| t.pct >= 0.05).map(|t| format!("{} {:.1}%", t.state.replace('_', " "), t.pct)).collect();
    if parts.is_empty() { "–".to_string() } else { parts.join(", ") }
}

fn cdns(p: &mut Page<'_>) {
    p.out.push_str(r#"<section id="cdns" class="pagebreak"><h2>8. Per-CDN detail</h2>"#);
    let _ = write!(p.out, r#"<p class="small muted">Figures per region and over all regions ("All"). Section 10 says how each is derived. Charts show the CDN in its colour, one line style per region.</p>"#);
    for (k, c) in p.r.cdns.iter().enumerate() {
        let _ = k;
        let _ = write!(p.out, r#"<article id="cdn-{}" class="cdn"><h3>{}</h3>"#, super::findings::slug(&c.cdn), p.swatch(&c.cdn));
        let o = &c.overall;
        let kv = [
            ("Share of answers", pct(o.answer_share, 1)),
            ("Share of traffic", pct(o.delivered_share, 1)),
            ("Availability", pct_of(o.availability_pct, 3)),
            ("Time missing SLA", pct_of(o.sla_breach_pct, 2)),
            ("TTFB p50 / p95", format!("{} / {} ms", num(o.ttfb_p50_ms, 0), num(o.ttfb_p95_ms, 0))),
            ("Throughput", format!("{} Mbit/s", num(o.throughput_mbps, 1))),
            ("Share changes", o.share_changes.to_string()),
            ("Drained (health / NOC)", format!("{} / {}", o.health_drains, o.operator_drains)),
        ];
        p.out.push_str(r#"<div class="kv">"#);
        for (k, v) in kv {
            let _ = write!(p.out, "<div><span>{k}</span>{v}</div>");
        }
        p.out.push_str("</div>");
        quality_table(p, c);
        traffic_table(p, c);
        qoe_table(p, c);
        cdn_charts(p, c);
        p.out.push_str("</article>");
    }
    p.out.push_str("</section>");
}

fn rows(c: &CdnReport) -> impl Iterator<Item = (bool, String, Option<f64>, &Stats)> {
    std::iter::once((true, "All regions".to_string(), None, &c.overall)).chain(c.regions.iter().map(|r| (false, r.label.clone(), r.weight, &r.stats)))
}

fn quality_table(p: &mut Page<'_>, c: &CdnReport) {
    p.out.push_str(r#"<table class="detail"><thead><tr><th>Quality</th><th class="n">TTFB p50 (ms)</th><th class="n">TTFB p95 (ms)</th><th class="n">Players' p95 (ms)</th><th class="n">Throughput (Mbit/s)</th><th class="n">Cache hits</th><th class="n">Errors</th><th class="n">Availability</th><th class="n">Missing SLA</th></tr></thead><tbody>"#);
    for (all, label, _, s) in rows(c) {
        let _ = write!(
            p.out,
            r#"<tr{}><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            if all { r#" class="all""# } else { "" },
            esc(&label),
            num(s.ttfb_p50_ms, 0),
            num(s.ttfb_p95_ms, 0),
            num(s.ttfb_players_p95_ms, 0),
            num(s.throughput_mbps, 1),
            pct(s.cache_hit_ratio, 1),
            pct(s.error_rate, 3),
            pct_of(s.availability_pct, 3),
            pct_of(s.sla_breach_pct, 2)
        );
    }
    p.out.push_str("</tbody></table>");
}

fn traffic_table(p: &mut Page<'_>, c: &CdnReport) {
    p.out.push_str(r#"<table class="detail"><thead><tr><th>Traffic</th><th class="n">Weight</th><th class="n">Answers</th><th class="n">Traffic</th><th class="n">Peak / p95 (Gbps)</th><th>Time in state</th><th class="n">Share changes</th><th class="n">Fail-opens</th></tr></thead><tbody>"#);
    for (all, label, weight, s) in rows(c) {
        let _ = write!(
            p.out,
            r#"<tr{}><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{} / {}</td><td class="small">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            if all { r#" class="all""# } else { "" },
            esc(&label),
            num(weight, 0),
            pct(s.answer_share, 1),
            pct(s.delivered_share, 1),
            num(s.peak_gbps, 0),
            num(s.p95_gbps, 0),
            state_text(s),
            s.share_changes,
            s.fail_opens
        );
    }
    p.out.push_str("</tbody></table>");
}

fn qoe_table(p: &mut Page<'_>, c: &CdnReport) {
    if c.overall.qoe.is_none() {
        p.out.push_str(r#"<p class="small muted">No viewer experience reported for this CDN.</p>"#);
        return;
    }
    p.out.push_str(r#"<table class="detail"><thead><tr><th>Viewers</th><th class="n">Peak viewers</th><th class="n">Mean viewers</th><th class="n">Startup p50 (ms)</th><th class="n">Startup p95 (ms)</th><th class="n">Rebuffering</th><th class="n">Failed plays</th><th class="n">Left before start</th></tr></thead><tbody>"#);
    for (all, label, _, s) in rows(c) {
        let Some(q) = &s.qoe else { continue };
        let _ = write!(
            p.out,
            r#"<tr{}><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            if all { r#" class="all""# } else { "" },
            esc(&label),
            count(q.viewers_peak),
            count(q.viewers_mean),
            num(q.startup_p50_ms, 0),
            num(q.startup_p95_ms, 0),
            pct(q.rebuffer_ratio, 2),
            calc::thousands(q.playback_failures),
            calc::thousands(q.exits_before_start)
        );
    }
    p.out.push_str("</tbody></table>");
}

fn cdn_charts(p: &mut Page<'_>, c: &CdnReport) {
    let regions: Vec<&RegionChart> = p.r.charts.regions.iter().filter(|rc| c.regions.iter().any(|r| r.region == rc.region)).take(DASHES.len()).collect();
    if regions.is_empty() {
        return;
    }
    let colour = c.colour.to_string();
    let pick = |rc: &RegionChart, f: fn(&RegionChart) -> &Vec<CdnSeries>| f(rc).iter().find(|s| s.cdn == c.cdn).map(|s| s.values.clone());
    let build = |f: fn(&RegionChart) -> &Vec<CdnSeries>| -> Vec<Line> { regions.iter().enumerate().filter_map(|(k, rc)| pick(rc, f).map(|values| Line { label: rc.label.clone(), colour: colour.clone(), dash: DASHES[k], values })).collect() };
    let legend_items: Vec<(String, String, Option<&str>)> = regions.iter().enumerate().map(|(k, rc)| (rc.label.clone(), colour.clone(), DASHES[k])).collect();
    let legend = p.legend(&legend_items);
    let bands = p.bands(|i| i.cdn == c.cdn);
    let step = span_text(p.r.charts.step_secs);
    // Score.
    let lines = build(|rc| &rc.score);
    if !lines.is_empty() {
        let mut ch = p.chart(&format!("{} score by region", c.cdn), 132.0);
        ch.y_max = 100.0;
        ch.y_title = "Score (0–100)".into();
        ch.lines = lines;
        ch.bands = bands.clone();
        if let Some(t) = thresholds(p.r) {
            ch.hlines = vec![svg::HLine { y: t.0, label: format!("drain below {:.0}", t.0) }, svg::HLine { y: t.1, label: format!("back above {:.0}", t.1) }];
        }
        let svg = ch.render();
        p.figure(None, &format!("<b>{}</b>: health score per region (mean per {step}); dashed: the drain and return thresholds.", esc(&c.cdn)), &svg, &legend);
    }
    let lines = build(|rc| &rc.ttfb_p95_ms);
    if !lines.is_empty() {
        let mut ch = p.chart(&format!("{} TTFB by region", c.cdn), 132.0);
        ch.y_fit = true;
        ch.y_max = 100.0;
        ch.y_title = "TTFB p95 (ms)".into();
        ch.lines = lines;
        ch.bands = bands.clone();
        if let Some(t) = p.r.sla.targets.iter().find(|t| t.signal == "ttfb") {
            ch.hlines = vec![svg::HLine { y: t.target, label: format!("TTFB target {} ms (median)", t.target) }];
        }
        let svg = ch.render();
        p.figure(None, &format!("<b>{}</b>: TTFB, highest 95th percentile of the buckets in each {step}. The SLA target applies to the median.", esc(&c.cdn)), &svg, &legend);
    }
    let lines = build(|rc| &rc.share);
    if !lines.is_empty() {
        let mut ch = p.chart(&format!("{} share by region", c.cdn), 132.0);
        ch.percent = true;
        ch.y_title = "Share of region (%)".into();
        ch.lines = lines;
        ch.bands = bands;
        let svg = ch.render();
        p.figure(None, &format!("<b>{}</b>: its share of each region's answers as planned (mean per {step}).", esc(&c.cdn)), &svg, &legend);
    }
}

/// (down, up) score thresholds of the first zone.
fn thresholds(r: &Report) -> Option<(f64, f64)> {
    r.policy.first().map(|z| (z.thresholds.down, z.thresholds.up))
}

fn timeline(p: &mut Page<'_>) {
    p.out.push_str(r#"<section id="timeline"><h2>9. Operator actions and annotations</h2>"#);
    if p.r.timeline.is_empty() {
        p.out.push_str("<p>No overrides, reloads, freezes or annotations in the window.</p></section>");
        return;
    }
    p.out.push_str(r#"<table><thead><tr><th>Time</th><th>Kind</th><th>Who</th><th>What</th></tr></thead><tbody>"#);
    for t in &p.r.timeline {
        let _ = write!(p.out, r#"<tr><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#, p.hms(&t.at), t.kind.replace('_', " "), esc(t.who.as_deref().unwrap_or("")), esc(&t.text));
    }
    p.out.push_str("</tbody></table></section>");
}

fn methods(p: &mut Page<'_>) {
    p.out.push_str(r#"<section id="methods" class="pagebreak"><h2>10. How the figures were derived</h2><dl class="methods">"#);
    for m in &p.r.methods {
        let _ = write!(p.out, "<dt>{}</dt><dd>{}</dd>", esc(&m.figure), esc(&m.how));
    }
    p.out.push_str("</dl>");
    if !p.r.notes.is_empty() {
        p.out.push_str("<h3>What the data did not have</h3><ul>");
        for n in &p.r.notes {
            let _ = write!(p.out, "<li>{}</li>", esc(n));
        }
        p.out.push_str("</ul>");
    }
    let _ = write!(
        p.out,
        r#"<footer>Made by cdnsteer on {} from its history of the window {} to {} ({}). The same data is available as JSON (<code>--format json</code>) and the per-CDN x region table as CSV (<code>--format csv</code>).</footer>"#,
        esc(&p.r.generated_at),
        esc(&p.r.subject.from),
        esc(&p.r.subject.to),
        esc(&p.r.subject.window)
    );
    p.out.push_str("</section>");
}
