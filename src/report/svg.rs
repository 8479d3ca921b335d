//! Time-series charts as inline SVG, written by hand (no dependency, a few KB per chart):
//! lines and stacked areas over a local-time axis, threshold lines, incident bands and
//! annotation marks; units on both axes. Vector output prints sharply on A4.

use std::fmt::Write as _;

use super::calc;
use crate::timestamp::Millis;

/// Escape text for XML and HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A line: one value per step (`None` breaks it).
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend and end label.
    pub label: String,
    /// Stroke colour.
    pub colour: String,
    /// SVG dash pattern (`4 3`), solid when `None`.
    pub dash: Option<&'static str>,
    /// One value per step.
    pub values: Vec<Option<f64>>,
}

/// A horizontal reference line (a threshold).
#[derive(Debug, Clone)]
pub struct HLine {
    /// Where.
    pub y: f64,
    /// Label at its right end.
    pub label: String,
}

/// A shaded time band (an incident).
#[derive(Debug, Clone)]
pub struct Band {
    /// Start, Unix ms.
    pub from: Millis,
    /// End, Unix ms.
    pub to: Millis,
    /// Short label (`I1`).
    pub label: String,
}

/// A chart over time.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Width, px (the SVG scales to its container).
    pub width: f64,
    /// Height, px.
    pub height: f64,
    /// Start of the first step, Unix ms.
    pub from: Millis,
    /// End of the axis, Unix ms.
    pub to: Millis,
    /// Step, ms.
    pub step_ms: Millis,
    /// Local time offset, minutes.
    pub offset_min: i32,
    /// Y axis range.
    pub y_min: f64,
    /// Y axis range (raised to fit the data when `y_fit`).
    pub y_max: f64,
    /// Grow `y_max` to the data.
    pub y_fit: bool,
    /// Y axis title with its unit.
    pub y_title: String,
    /// Values are fractions shown as percent.
    pub percent: bool,
    /// Lines.
    pub lines: Vec<Line>,
    /// Stacked areas (fractions summing to at most 1), bottom first.
    pub stacked: Vec<Line>,
    /// Threshold lines.
    pub hlines: Vec<HLine>,
    /// Incident bands.
    pub bands: Vec<Band>,
    /// Annotations (time, text).
    pub marks: Vec<(Millis, String)>,
    /// Accessible description.
    pub title: String,
}

const LEFT: f64 = 54.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 36.0;

/// Round tick step for a range: 1, 2, 2.5 or 5 x 10^k giving about `n` ticks.
fn nice_step(range: f64, n: f64) -> f64 {
    if range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let raw = range / n;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_tick(v: f64, percent: bool) -> String {
    let v = if percent { v * 100.0 } else { v };
    if v.abs() >= 1000.0 {
        format!("{:.0}k", v / 1000.0).replace(".0k", "k")
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl Chart {
    fn x(&self, t: f64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        LEFT + (t - self.from as f64) / span * (self.width - LEFT - RIGHT)
    }

    fn y(&self, v: f64, max: f64) -> f64 {
        let h = self.height - TOP - BOTTOM;
        // Lines get a little headroom so a series at the top of the range stays off the frame.
        let room = if self.stacked.is_empty() { 1.04 } else { 1.0 };
        let span = ((max - self.y_min) * room).max(f64::MIN_POSITIVE);
        TOP + h - ((v - self.y_min) / span).clamp(0.0, 1.0) * h
    }

    /// Centre of step `i`, Unix ms.
    fn at(&self, i: usize) -> f64 {
        let a = self.from + i as Millis * self.step_ms;
        let b = (a + self.step_ms).min(self.to);
        (a + b) as f64 / 2.0
    }

    fn top(&self) -> f64 {
        let mut max = self.y_max;
        if self.y_fit {
            let data = self.lines.iter().flat_map(|l| l.values.iter().flatten()).copied().chain(self.hlines.iter().map(|h| h.y)).fold(f64::MIN, f64::max);
            if data > max {
                max = data * 1.08;
            }
        }
        let step = nice_step(max - self.y_min, 4.0);
        (max / step).ceil() * step
    }

    /// The SVG element.
    pub fn render(&self) -> String {
        let max = self.top();
        let (w, h) = (self.width, self.height);
        let mut s = String::new();
        let _ = write!(s, r#"<svg class="chart" viewBox="0 0 {w:.0} {h:.0}" role="img" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#, esc(&self.title));
        let (x0, x1, y0, y1) = (LEFT, w - RIGHT, TOP, h - BOTTOM);
        // Y grid and ticks.
        let step = nice_step(max - self.y_min, 4.0);
        let mut v = self.y_min;
        while v <= max + step * 1e-6 {
            let y = self.y(v, max);
            let _ = write!(s, r##"<line x1="{x0:.1}" x2="{x1:.1}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="yt">{}</text>"##, x0 - 5.0, y + 3.5, fmt_tick(v, self.percent));
            v += step;
        }
        let _ = write!(s, r#"<text class="axis" transform="translate(12 {:.1}) rotate(-90)">{}</text>"#, (y0 + y1) / 2.0, esc(&self.y_title));
        self.x_axis(&mut s, y1);
        for (i, a) in self.stacked.iter().enumerate() {
            self.area(&mut s, i, a, max);
        }
        for b in &self.bands {
            let (a, z) = (self.x(b.from.max(self.from) as f64), self.x(b.to.min(self.to) as f64));
            let _ = write!(s, r##"<rect x="{a:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="#D55E00" fill-opacity="0.16" stroke="#D55E00" stroke-opacity="0.5" stroke-width="0.6"/>"##, (z - a).max(1.5), y1 - y0);
            let _ = write!(s, r##"<text x="{:.1}" y="{:.1}" class="band">{}</text>"##, a + 2.0, y0 + 10.0, esc(&b.label));
        }
        for hl in &self.hlines {
            let y = self.y(hl.y, max);
            let _ = write!(s, r#"<line x1="{x0:.1}" x2="{x1:.1}" y1="{y:.1}" y2="{y:.1}" class="thr"/><text x="{:.1}" y="{:.1}" class="thrt">{}</text>"#, x1 - 2.0, y - 3.0, esc(&hl.label));
        }
        for l in &self.lines {
            self.line(&mut s, l, max);
        }
        self.marks(&mut s, y1);
        let _ = write!(s, r#"<rect x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" class="frame"/></svg>"#, x1 - x0, y1 - y0);
        s
    }

    fn x_axis(&self, s: &mut String, y1: f64) {
        let span_min = (self.to - self.from) as f64 / 60_000.0;
        let every = [5u64, 10, 15, 30, 60, 120, 180, 360, 720, 1440].into_iter().find(|m| span_min / *m as f64 <= 8.0).unwrap_or(1440);
        let every_ms = every * 60_000;
        let off = i64::from(self.offset_min) * 60_000;
        // First tick on a round local time.
        let local = self.from as i64 + off;
        let first = (local.div_euclid(every_ms as i64) + 1) * every_ms as i64 - off;
        let mut t = first.max(0) as Millis;
        if t - self.from >= every_ms {
            t -= every_ms;
        }
        while t <= self.to {
            let x = self.x(t as f64);
            let _ = write!(s, r#"<line x1="{x:.1}" x2="{x:.1}" y1="{y1:.1}" y2="{:.1}" class="tick"/><text x="{x:.1}" y="{:.1}" class="xt">{}</text>"#, y1 + 4.0, y1 + 15.0, calc::clock(t, self.offset_min, false));
            t += every_ms;
        }
        let _ = write!(s, r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="middle">Local time (UTC{})</text>"#, (LEFT + self.width - RIGHT) / 2.0, self.height - 4.0, calc::offset_text(self.offset_min));
    }

    fn line(&self, s: &mut String, l: &Line, max: f64) {
        let mut d = String::new();
        let mut pen = false;
        for (i, v) in l.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(d, "{}{:.1},{:.1}", if pen { " L" } else { " M" }, self.x(self.at(i)), self.y(*v, max));
                    pen = true;
                }
                None => pen = false,
            }
        }
        if d.is_empty() {
            return;
        }
        let dash = l.dash.map_or_else(String::new, |p| format!(r#" stroke-dasharray="{p}""#));
        let _ = write!(s, r#"<path d="{}" fill="none" stroke="{}" stroke-width="1.6" stroke-linejoin="round"{dash}/>"#, d.trim_start(), esc(&l.colour));
    }

    fn area(&self, s: &mut String, index: usize, a: &Line, max: f64) {
        // Stack on the areas below, over the steps where every area below is known.
        let base = |i: usize| -> f64 { self.stacked[..index].iter().filter_map(|b| b.values.get(i).copied().flatten()).sum() };
        let mut segments: Vec<Vec<(f64, f64, f64)>> = Vec::new();
        let mut current: Vec<(f64, f64, f64)> = Vec::new();
        for (i, v) in a.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let b = base(i);
                    current.push((self.x(self.at(i)), self.y(b, max), self.y(b + v, max)));
                }
                None if !current.is_empty() => segments.push(std::mem::take(&mut current)),
                None => {}
            }
        }
        if !current.is_empty() {
            segments.push(current);
        }
        for seg in segments {
            let mut d = String::new();
            for (k, (x, _, top)) in seg.iter().enumerate() {
                let _ = write!(d, "{}{x:.1},{top:.1}", if k == 0 { "M" } else { " L" });
            }
            for (x, bottom, _) in seg.iter().rev() {
                let _ = write!(d, " L{x:.1},{bottom:.1}");
            }
            let _ = write!(s, r#"<path d="{d} Z" fill="{}" fill-opacity="0.85" stroke="{}" stroke-width="0.6"/>"#, esc(&a.colour), esc(&a.colour));
        }
    }

    fn marks(&self, s: &mut String, y1: f64) {
        let mut last_x = f64::MIN;
        let mut row = 0;
        for (t, text) in &self.marks {
            if *t < self.from || *t > self.to {
                continue;
            }
            let x = self.x(*t as f64);
            // Labels closer than ~90 px go on alternate rows.
            row = if x - last_x < 90.0 { (row + 1) % 2 } else { 0 };
            last_x = x;
            let label: String = if text.chars().count() > 22 { format!("{}…", text.chars().take(21).collect::<String>()) } else { text.clone() };
            let anchor = if x > self.width - RIGHT - 80.0 { "end" } else { "start" };
            let dx = if anchor == "end" { -3.0 } else { 3.0 };
            let ty = 12.0 + 9.0 * row as f64;
            let _ = write!(s, r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{y1:.1}" class="mark"/><text x="{:.1}" y="{ty:.1}" class="markt" text-anchor="{anchor}">{}</text>"#, ty + 2.0, x + dx, esc(&label));
        }
    }
}

/// The CSS the charts' classes need (inlined in the HTML).
pub const CSS: &str = "svg.chart{width:100%;height:auto;display:block;font-family:inherit}\
svg.chart .grid{stroke:#e3e3e3;stroke-width:0.7}\
svg.chart .frame{fill:none;stroke:#9a9a9a;stroke-width:0.7}\
svg.chart .tick{stroke:#9a9a9a;stroke-width:0.7}\
svg.chart .yt{font-size:9.5px;fill:#444;text-anchor:end}\
svg.chart .xt{font-size:9.5px;fill:#444;text-anchor:middle}\
svg.chart .axis{font-size:9.5px;fill:#222;text-anchor:middle}\
svg.chart .thr{stroke:#444;stroke-width:0.9;stroke-dasharray:5 3}\
svg.chart .thrt{font-size:8.5px;fill:#333;text-anchor:end}\
svg.chart .mark{stroke:#666;stroke-width:0.8;stroke-dasharray:2 2}\
svg.chart .markt{font-size:8.5px;fill:#333}\
svg.chart .band{font-size:8.5px;fill:#A04000;font-weight:600}";

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart {
            width: 600.0,
            height: 180.0,
            from: 0,
            to: 3_600_000,
            step_ms: 60_000,
            offset_min: 540,
            y_min: 0.0,
            y_max: 1.0,
            y_fit: false,
            y_title: "Share (%)".into(),
            percent: true,
            lines: vec![Line { label: "a".into(), colour: "#0072B2".into(), dash: None, values: (0..60).map(|i| (i != 30).then_some(0.5)).collect() }],
            stacked: vec![],
            hlines: vec![HLine { y: 0.4, label: "down 40".into() }],
            bands: vec![Band { from: 600_000, to: 1_080_000, label: "I1".into() }],
            marks: vec![(1_800_000, "kickoff <KR>".into())],
            title: "t".into(),
        }
    }

    #[test]
    fn a_chart_has_axes_with_units_breaks_at_gaps_and_escapes_text() {
        let svg = chart().render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Share (%)") && svg.contains("Local time (UTC+09:00)"));
        assert!(svg.contains(">09:10<"), "local clock ticks: {svg}");
        assert_eq!(svg.matches(" M").count() + svg.matches("d=\"M").count(), 2, "the gap at step 30 starts a second run");
        assert!(svg.contains("kickoff &lt;KR&gt;") && svg.contains(">I1<") && svg.contains("down 40"));
        assert!(svg.contains(">50<"), "percent ticks");
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 4.0), 25.0);
        assert_eq!(nice_step(1.0, 4.0), 0.25);
        assert_eq!(nice_step(900.0, 4.0), 250.0);
    }
}
