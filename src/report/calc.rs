//! Small numeric helpers of the report: quantiles, rounding, step functions over share rows,
//! region display names and CDN colours. Pure.

use super::input::SharePoint;
use crate::timestamp::Millis;

/// Nearest-rank quantile of `values` (sorted here), `q` in 0..=1.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values.get(rank.clamp(1, values.len()) - 1).copied()
}

/// Mean of `values`.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// `x` rounded to `digits` decimals (non-finite values become 0, so JSON never holds NaN).
pub fn round(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let f = 10f64.powi(digits);
    let r = (x * f).round() / f;
    // -0.0 and 0.0 print differently.
    if r == 0.0 { 0.0 } else { r }
}

/// [`round`] through an option.
pub fn round_opt(x: Option<f64>, digits: i32) -> Option<f64> {
    x.map(|v| round(v, digits))
}

/// The point in force at `t` (the last one at or before it).
pub fn point_at(points: &[SharePoint], t: Millis) -> Option<&SharePoint> {
    let i = points.partition_point(|p| p.at <= t);
    i.checked_sub(1).and_then(|i| points.get(i))
}

/// Time-weighted mean of `f` over `[from, to)` for a step function given by `points` (time
/// order), over the part where it is known and `f` gives a value.
pub fn step_mean(points: &[SharePoint], from: Millis, to: Millis, f: impl Fn(&SharePoint) -> Option<f64>) -> Option<f64> {
    if to <= from {
        return None;
    }
    let mut i = points.partition_point(|p| p.at <= from).saturating_sub(1);
    let (mut sum, mut known) = (0.0, 0u64);
    while let Some(p) = points.get(i) {
        if p.at >= to {
            break;
        }
        let start = p.at.max(from);
        let end = points.get(i + 1).map_or(to, |n| n.at.min(to));
        if end > start && p.at <= start
            && let Some(v) = f(p) {
                sum += v * (end - start) as f64;
                known += end - start;
            }
        i += 1;
    }
    (known > 0).then(|| sum / known as f64)
}

/// A region key as a customer reads it: `KR`, `Asia (rest)`, `Rest of world`, `kt-resolvers`.
pub fn region_label(key: &str) -> String {
    if let Some(cc) = key.strip_prefix("country:") {
        return cc.to_string();
    }
    if let Some(c) = key.strip_prefix("continent:") {
        let name = match c {
            "AF" => "Africa",
            "AN" => "Antarctica",
            "AS" => "Asia",
            "EU" => "Europe",
            "NA" => "North America",
            "OC" => "Oceania",
            "SA" => "South America",
            other => other,
        };
        return format!("{name} (rest)");
    }
    if let Some(n) = key.strip_prefix("network:") {
        return format!("{n} (network)");
    }
    if key == "default" {
        return "Rest of world".to_string();
    }
    key.to_string()
}

/// Colour-blind-safe palette (Okabe-Ito, yellow darkened for print), given to CDNs in name
/// order so that a CDN keeps its colour in every chart of a report.
pub const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#8C7B00", "#555555"];

/// The colour of the `i`-th CDN in name order.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// `+09:00` for 540.
pub fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Local wall-clock `HH:MM` (or `HH:MM:SS` when `secs`) of `ms` at `offset` minutes.
pub fn clock(ms: Millis, offset: i32, secs: bool) -> String {
    let local = ms as i64 / 1000 + i64::from(offset) * 60;
    let day = local.rem_euclid(86_400);
    if secs {
        format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
    } else {
        format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
    }
}

/// Local date `YYYY-MM-DD` of `ms` at `offset` minutes.
pub fn date(ms: Millis, offset: i32) -> String {
    let local = (ms as i64 + i64::from(offset) * 60_000).max(0) as u64;
    crate::timestamp::rfc3339(local).chars().take(10).collect()
}

/// `8 min`, `45 s`, `1 h 12 min`.
pub fn span_text(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => {
            let (m, s) = (secs / 60, secs % 60);
            if s == 0 || m >= 10 { format!("{} min", (secs + 30) / 60) } else { format!("{m} min {s} s") }
        }
        _ => {
            let (h, m) = (secs / 3600, (secs % 3600 + 30) / 60);
            if m == 0 { format!("{h} h") } else { format!("{h} h {m} min") }
        }
    }
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1.8 M`, `412 k`, `4,000`.
pub fn compact(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0} k", x / 1e3)
    } else {
        thousands(x.max(0.0).round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::input::StateWord;

    fn p(at: Millis, share: f64) -> SharePoint {
        SharePoint { at, share, score: None, state: StateWord::Healthy }
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.95), Some(95.0));
        assert_eq!(quantile(&mut v, 0.5), Some(50.0));
        assert_eq!(quantile(&mut [3.0], 0.95), Some(3.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn step_means_weigh_by_time_and_skip_the_unknown() {
        let pts = [p(100, 1.0), p(150, 0.0)];
        assert_eq!(step_mean(&pts, 100, 200, |p| Some(p.share)), Some(0.5));
        assert_eq!(step_mean(&pts, 0, 200, |p| Some(p.share)), Some(0.5), "before the first point is unknown");
        assert_eq!(step_mean(&pts, 160, 200, |p| Some(p.share)), Some(0.0));
        assert_eq!(step_mean(&pts, 0, 100, |p| Some(p.share)), None);
        assert_eq!(point_at(&pts, 149).map(|p| p.share), Some(1.0));
    }

    #[test]
    fn words_for_customers() {
        assert_eq!(region_label("country:KR"), "KR");
        assert_eq!(region_label("continent:AS"), "Asia (rest)");
        assert_eq!(region_label("default"), "Rest of world");
        assert_eq!(offset_text(540), "+09:00");
        assert_eq!(offset_text(-330), "-05:30");
        assert_eq!(clock(1_796_155_395_000, 540, false), "05:03");
        assert_eq!(span_text(480), "8 min");
        assert_eq!(span_text(90), "1 min 30 s");
        assert_eq!(span_text(10_800), "3 h");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(round(-0.0001, 2).to_string(), "0");
    }
}
