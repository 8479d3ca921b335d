//! `cdnsteer simulate` and `cdnsteer forecast`: load a scenario with the zones and events it
//! names, run it (or its sweep, or its forecast), and say what happened in text or JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::event::EventSet;
use crate::history::{HistorySettings, HistoryWriter};
use crate::sim::forecast::{Forecast, forecast};
use crate::sim::run::{Night, RunOptions, run};
use crate::sim::scenario::{self, model::SweepAxis, model::SweepParam};
use crate::sim::summary::Summary;
use crate::sim::sweep::{Sweep, sweep};

/// Why a simulation could not run (the binary turns this into exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum SimCliError {
    /// Files could not be loaded or do not fit together.
    #[error("{0}")]
    Load(String),
    /// An argument is wrong.
    #[error("{0}")]
    Usage(String),
}

/// What a run printed and whether the scenario's limits held.
#[derive(Debug)]
pub struct SimOutput {
    /// For stdout.
    pub text: String,
    /// Every limit held (exit 0), or not (exit 2).
    pub passed: bool,
}

/// The scenario, its zones and events, resolved.
pub fn prepare(path: &Path) -> Result<Night, SimCliError> {
    let load = |e: String| SimCliError::Load(e);
    let s = scenario::load(path).map_err(|e| load(e.to_string()))?;
    let zones = crate::zone::load_dir(&s.zones).map_err(|e| load(e.to_string()))?;
    let events = match &s.events {
        Some(dir) => crate::event::load_dir(dir, &zones).map_err(|e| load(e.to_string()))?,
        None => EventSet::default(),
    };
    let problems = scenario::cross_check(&s, &zones, &events);
    if !problems.is_empty() {
        let mut text = String::new();
        for p in &problems {
            let _ = writeln!(text, "{p}");
        }
        return Err(load(format!("{text}{} problem(s) in {}", problems.len(), path.display())));
    }
    Night::prepare(s, zones, &events).map_err(|e| load(e.to_string()))
}

/// `cdnsteer simulate FILE [--history FILE] [--json]`.
pub fn simulate(path: &Path, history: Option<&PathBuf>, json: bool) -> Result<SimOutput, SimCliError> {
    simulate_at(path, history, json, None)
}

/// `simulate` with the tick given on the command line (`--tick 500ms`), else the scenario's.
pub fn simulate_at(path: &Path, history: Option<&PathBuf>, json: bool, tick: Option<&str>) -> Result<SimOutput, SimCliError> {
    let mut night = prepare(path)?;
    if let Some(text) = tick {
        let ms = crate::timestamp::parse_duration(text).map_err(|e| SimCliError::Usage(format!("--tick {text}: {e}")))?;
        if ms == 0 {
            return Err(SimCliError::Usage(format!("--tick {text}: must be at least 1 ms")));
        }
        night.tick_ms = ms;
    }
    let started = std::time::Instant::now();
    let writer = match history {
        Some(file) => {
            if file.exists() {
                return Err(SimCliError::Usage(format!("{}: exists; the simulated night goes into a new history file", file.display())));
            }
            let storage = crate::history::store::SqliteStorage::open(file).map_err(|e| SimCliError::Load(e.to_string()))?;
            Some(HistoryWriter::start(Box::new(storage), HistorySettings::default(), Some(file.clone())))
        }
        None => None,
    };
    let options = RunOptions { history: writer.as_ref().map(HistoryWriter::handle), ..RunOptions::default() };
    let outcome = run(&night, &options);
    if let Some(w) = writer {
        w.stop();
    }
    let took = started.elapsed();
    let s = outcome.summary;
    let text = if json {
        serde_json::to_string_pretty(&s).map_err(|e| SimCliError::Load(e.to_string()))? + "\n"
    } else {
        let mut t = render(&s);
        if let Some(file) = history {
            let _ = writeln!(t, "\nhistory written to {} (`cdnsteer report --history {} --event {} --zones {}`)", file.display(), file.display(), night.event.as_deref().unwrap_or("NAME"), night.scenario.zones.display());
        }
        let _ = writeln!(t, "simulated in {:.2} s", took.as_secs_f64());
        t
    };
    Ok(SimOutput { text, passed: s.passed })
}

/// `cdnsteer simulate FILE --sweep [--param NAME=V1,V2,...]... [--json]`.
pub fn simulate_sweep(path: &Path, params: &[String], threads: usize, json: bool, top: usize) -> Result<SimOutput, SimCliError> {
    let night = prepare(path)?;
    let axes = if params.is_empty() { night.scenario.sweep.clone() } else { params.iter().map(|p| parse_axis(p)).collect::<Result<Vec<_>, _>>()? };
    if axes.is_empty() {
        return Err(SimCliError::Usage("nothing to sweep: give --param NAME=V1,V2 or a `sweep:` block in the scenario".into()));
    }
    let started = std::time::Instant::now();
    let out = sweep(&night, &axes, threads);
    let took = started.elapsed();
    let passed = out.ranked.first().is_some_and(|p| p.passed);
    let text = if json { serde_json::to_string_pretty(&out).map_err(|e| SimCliError::Load(e.to_string()))? + "\n" } else { render_sweep(&out, top, took.as_secs_f64()) };
    Ok(SimOutput { text, passed })
}

/// `cdnsteer forecast FILE [--headroom X] [--json]`.
pub fn forecast_cmd(path: &Path, headroom: Option<f64>, json: bool) -> Result<SimOutput, SimCliError> {
    let mut night = prepare(path)?;
    if let Some(h) = headroom {
        if !(h.is_finite() && h >= 1.0) {
            return Err(SimCliError::Usage(format!("--headroom {h}: expected a factor of at least 1 (1.2 = 20% above the peak)")));
        }
        night.scenario.headroom = h;
    }
    let f = forecast(&night);
    let text = if json { serde_json::to_string_pretty(&f).map_err(|e| SimCliError::Load(e.to_string()))? + "\n" } else { render_forecast(&f) };
    Ok(SimOutput { text, passed: f.holds })
}

fn parse_axis(text: &str) -> Result<SweepAxis, SimCliError> {
    let known = || SweepParam::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ");
    let (name, values) = text.split_once('=').ok_or_else(|| SimCliError::Usage(format!("--param `{text}`: expected NAME=V1,V2,... (names: {})", known())))?;
    let param = SweepParam::parse(name.trim()).ok_or_else(|| SimCliError::Usage(format!("--param `{name}`: unknown setting (known: {})", known())))?;
    let values = values
        .split(',')
        .map(|v| v.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| SimCliError::Usage(format!("--param {name}: `{v}` is not a number"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SweepAxis { param, values })
}

fn gbps(v: f64) -> String {
    let s = format!("{:.0}", v);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}")
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), gbps)
}

fn ok(b: bool) -> &'static str {
    if b { "ok" } else { "BROKEN" }
}

/// The summary as text.
pub fn render(s: &Summary) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "scenario {}: {} to {} at {} ms ticks", s.scenario, s.start, s.end, s.tick_ms);
    let _ = writeln!(t, "peak audience {} viewers at {}; {:.1} M viewer-minutes, {:.3}% of them on a degraded CDN", gbps(s.peak_viewers), s.peak_viewers_at, s.viewer_minutes / 1e6, s.viewer_minutes_degraded_pct);
    let _ = writeln!(t, "\n{:<12} {:>10} {:>11} {:>11} {:>14} {:>16} {:>6}  first saturation", "cdn", "peak Gbps", "at", "p95 5-min", "commit (peak)", "capacity (peak)", "flaps");
    let pct = |v: Option<f64>| v.map_or_else(String::new, |p| format!(" ({p:.0}%)"));
    for c in &s.cdns {
        let sat = c.first_saturation.as_ref().map_or_else(|| "-".to_string(), |f| format!("{} in {} ({:.0}% of true capacity)", f.at, f.region, f.utilisation_pct));
        let commit = format!("{}{}", opt(c.commit_gbps), pct(c.peak_of_commit_pct));
        let capacity = format!("{}{}", opt(c.capacity_gbps), pct(c.peak_of_capacity_pct));
        let _ = writeln!(t, "{:<12} {:>10} {:>11} {:>11} {:>14} {:>16} {:>6}  {sat}", c.cdn, gbps(c.peak_gbps), c.peak_at, gbps(c.p95_gbps), commit, capacity, c.flaps);
    }
    let _ = writeln!(t, "\n{:<12} {:<14} {:>10} {:>9} {:>13} {:>7} {:>10} {:>6}", "cdn", "region", "peak Gbps", "at", "true capacity", "peak %", "max share", "flaps");
    for c in &s.cdns {
        for r in &c.regions {
            let _ = writeln!(
                t,
                "{:<12} {:<14} {:>10} {:>9} {:>13} {:>7} {:>9.1}% {:>6}",
                c.cdn,
                r.region,
                gbps(r.peak_gbps),
                r.peak_at,
                opt(r.true_capacity_gbps),
                r.peak_utilisation_pct.map_or_else(|| "-".to_string(), |p| format!("{p:.0}%")),
                r.max_share * 100.0,
                r.flaps
            );
        }
    }
    if !s.incidents.is_empty() {
        let _ = writeln!(t, "\nincidents");
    }
    for i in &s.incidents {
        let secs = |v: Option<f64>| v.map_or_else(|| "never".to_string(), |v| format!("{v:.0} s"));
        if i.kind == "degrade" || i.kind == "dark" {
            let _ = writeln!(
                t,
                "  {} ({}, {} for {}): {} viewers on it; first answer change after {}, 90% of them moved after {}; {} viewer-minutes on a degraded CDN meanwhile",
                i.label,
                i.kind,
                i.at,
                i.lasted,
                gbps(i.viewers_at_onset),
                secs(i.first_answer_change_secs),
                secs(i.moved_90pct_secs),
                gbps(i.viewer_minutes_degraded)
            );
        } else {
            let _ = writeln!(t, "  {} ({}, {} for {}): largest share change meanwhile {:.1} points", i.label, i.kind, i.at, i.lasted, i.max_share_change * 100.0);
        }
    }
    let _ = writeln!(t, "\nflaps: at most {:.2} per hour{}", s.max_flaps_per_hour, s.max_flaps_at.as_ref().map_or_else(String::new, |w| format!(" ({w})")));
    if let Some(m) = &s.max_share {
        let _ = writeln!(t, "largest share: {} in {} {:.1}% at {} (max_share then {:.0}%)", m.cdn, m.region, m.share * 100.0, m.at, m.limit * 100.0);
    }
    let _ = writeln!(t, "SLA breaches (targets missed for a minute or more by a CDN carrying viewers): {}", s.sla_breaches.len());
    for b in &s.sla_breaches {
        let _ = writeln!(t, "  {} in {} {}-{}: {} (worst TTFB {} ms, errors {:.2}%), up to {} viewers", b.cdn, b.region, b.from, b.to, b.signals.join(", "), b.worst_ttfb_ms, b.worst_error_rate * 100.0, gbps(b.viewers));
    }
    let _ = writeln!(t, "commit breaches: {}", if s.commit_breaches.is_empty() { "none".to_string() } else { s.commit_breaches.len().to_string() });
    for b in &s.commit_breaches {
        let _ = writeln!(t, "  {} {}: {} ({} Gbps against {} Gbps)", b.cdn, b.region, b.what, gbps(b.gbps), gbps(b.limit_gbps));
    }
    if !s.limits.is_empty() {
        let _ = writeln!(t, "\nlimits");
    }
    for l in &s.limits {
        let _ = writeln!(t, "  {:<34} {:>10} (bound {}) {}", l.limit, l.value, l.bound, ok(l.ok));
    }
    let _ = writeln!(t, "{}", if s.passed { "PASSED" } else { "FAILED: a limit was broken" });
    t
}

fn render_sweep(s: &Sweep, top: usize, secs: f64) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{} points on {} threads in {:.1} s; best first (commit breaches, then degraded viewer-minutes, then flaps)\n", s.points, s.threads, secs);
    let _ = writeln!(t, "{:>4}  {:<58} {:>7} {:>10} {:>8} {:>9} {:>10}  limits", "rank", "settings", "commit", "degraded", "flaps/h", "max share", "90% moved");
    for p in s.ranked.iter().take(top.max(1)) {
        let settings = p.settings.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(" ");
        let moved = p.slowest_shift_secs.map_or_else(|| "-".to_string(), |v| if v < 0.0 { "never".to_string() } else { format!("{v:.0} s") });
        let _ = writeln!(t, "{:>4}  {:<58} {:>7} {:>9.3}% {:>8.2} {:>8.1}% {:>10}  {}", p.rank, settings, p.commit_breaches, p.degraded_pct, p.max_flaps_per_hour, p.max_share * 100.0, moved, if p.passed { "held" } else { "broken" });
    }
    if s.ranked.len() > top {
        let _ = writeln!(t, "... {} more (--top N, or --json for all)", s.ranked.len() - top);
    }
    t
}

fn render_forecast(f: &Forecast) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "forecast {}: peak {} viewers at {}, {:.2} Mbit/s mean bitrate, headroom x{}", f.scenario, gbps(f.peak_viewers), f.peak_at, f.bitrate_mbps, f.headroom);
    let _ = writeln!(t, "\nall CDNs healthy (needed = share x demand x headroom):");
    let _ = writeln!(t, "{:<14} {:>10} {:>12}  {:<12} {:>7} {:>12} {:>12}", "region", "viewers", "demand Gbps", "cdn", "share", "needed Gbps", "capacity");
    for r in &f.regions {
        for (i, c) in r.cdns.iter().enumerate() {
            let (region, viewers, demand) = if i == 0 { (r.region.clone(), gbps(r.viewers), gbps(r.demand_gbps)) } else { (String::new(), String::new(), String::new()) };
            let short = c.short_gbps.map_or_else(String::new, |s| format!("  SHORT by {}", gbps(s)));
            let _ = writeln!(t, "{:<14} {:>10} {:>12}  {:<12} {:>6.1}% {:>12} {:>12}{short}", region, viewers, demand, c.cdn, c.share * 100.0, gbps(c.needed_gbps), opt(c.capacity_gbps));
        }
    }
    let _ = writeln!(t, "\nN-1 in {} (each CDN lost in turn):", f.biggest_region);
    for l in &f.n_minus_1 {
        let parts = l.cdns.iter().map(|c| format!("{} {:.1}% {} Gbps{}", c.cdn, c.share * 100.0, gbps(c.needed_gbps), c.short_gbps.map_or_else(String::new, |s| format!(" (SHORT by {} of {})", gbps(s), opt(c.capacity_gbps))))).collect::<Vec<_>>().join(", ");
        let _ = writeln!(t, "  without {:<11} {parts}", l.lost);
    }
    let _ = writeln!(t, "\n{:<12} {:>10} {:>9} {:>12} {:>10}  {:<32} verdict", "cdn", "peak Gbps", "commit", "needed Gbps", "capacity", "worst case");
    for c in &f.cdns {
        let mut verdict = Vec::new();
        if let Some(s) = c.commit_short_gbps {
            verdict.push(format!("commit short by {}", gbps(s)));
        }
        if let Some(s) = c.capacity_short_gbps {
            verdict.push(format!("capacity short by {}", gbps(s)));
        }
        let verdict = if verdict.is_empty() { "holds".to_string() } else { verdict.join(", ") };
        let _ = writeln!(t, "{:<12} {:>10} {:>9} {:>12} {:>10}  {:<32} {verdict}", c.cdn, gbps(c.peak_gbps), opt(c.commit_gbps), gbps(c.needed_gbps), opt(c.capacity_gbps), c.worst_case);
    }
    let _ = writeln!(t, "{}", if f.holds { "the plan holds at the peak and with any one CDN lost in the biggest region" } else { "SHORT: raise the capacity or commit shown, or change the policy" });
    t
}
