//! `cdnsteer report`: the post-event report of a window, read from the history database in the
//! state directory (or from a recorded `ReportInput` JSON with `--input`), measured against the
//! zones' policies (with the event's share settings), written as HTML, JSON or CSV.
//!
//! The window: an event's (`--event`), or `--from`/`--to` (RFC 3339), or between two
//! annotations (`--from-annotation`/`--to-annotation`); given together, the later options
//! narrow the earlier (`--event final --from-annotation kickoff` runs from kickoff to the end of
//! the event).

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::operate::{CliError, Output};
use crate::history::HistoryReader;
use crate::history::read::Window;
use crate::report::{self, ReportInput, gather, input::Subject};
use crate::timestamp::{Millis, parse_duration, parse_rfc3339, rfc3339, utc_offset_minutes};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file (charts inline, prints on A4).
    Html,
    /// Everything: figures, findings, incidents, the charts' series.
    Json,
    /// The per-CDN x region summary table.
    Csv,
}

/// `cdnsteer report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Report on this event's window (events/*.yaml).
    #[arg(long)]
    pub event: Option<String>,
    /// Start of the window, RFC 3339 (narrows the event's).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the window, RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Start at the annotation with this text (e.g. "kickoff").
    #[arg(long, value_name = "TEXT")]
    pub from_annotation: Option<String>,
    /// End at the annotation with this text (the first after the start).
    #[arg(long, value_name = "TEXT")]
    pub to_annotation: Option<String>,
    /// Write here (default: standard output).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// Where `serve` keeps its history (STATE_DIR/history.sqlite).
    #[arg(long, default_value = "state", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// A history database file instead of STATE_DIR/history.sqlite (e.g. one written by
    /// `cdnsteer simulate --history FILE`).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Zone directory: the SLA targets, thresholds, weights, capacity and commits reported
    /// against.
    #[arg(long, default_value = "zones", value_name = "DIR")]
    pub zones: PathBuf,
    /// Event directory.
    #[arg(long, default_value = "events", value_name = "DIR")]
    pub events: PathBuf,
    /// Bucket length of the series read from the history: 10s, 1m.
    #[arg(long, default_value = "10s")]
    pub bucket: String,
    /// Local time shown in the report, `+09:00` (default: the event's, else UTC).
    #[arg(long, value_name = "+HH:MM", allow_hyphen_values = true)]
    pub utc_offset: Option<String>,
    /// Read a recorded report input (JSON) instead of the history; the window options clip it.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
}

fn usage(text: impl Into<String>) -> CliError {
    CliError::Usage(text.into())
}

fn load(text: impl Into<String>) -> CliError {
    CliError::Load(text.into())
}

fn time(text: &str, flag: &str) -> Result<Millis, CliError> {
    parse_rfc3339(text).map_err(|e| usage(format!("{flag} {e}")))
}

fn offset(text: &str) -> Result<i32, CliError> {
    utc_offset_minutes(&format!("2000-01-01T00:00:00{}", text.trim())).ok_or_else(|| usage(format!("--utc-offset `{text}`; expected +HH:MM or -HH:MM, e.g. +09:00")))
}

/// Make the report; the text (or, with `--out`, a one-line summary) to print.
pub fn run(args: &ReportArgs, now: Millis) -> Result<Output, CliError> {
    let started = Instant::now();
    let bucket_ms = parse_duration(&args.bucket).map_err(|e| usage(format!("--bucket {e}")))?;
    let recorded: Option<ReportInput> = match &args.input {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| load(format!("{}: {e}", path.display())))?;
            Some(serde_json::from_str(&text).map_err(|e| load(format!("{}: not a report input: {e}", path.display())))?)
        }
        None => None,
    };
    let mut zones = if args.zones.exists() { Some(crate::zone::load_dir(&args.zones).map_err(|e| load(e.to_string()))?) } else { None };
    let event = match &args.event {
        Some(name) => {
            let zones = zones.as_mut().ok_or_else(|| load(format!("{}: no zone directory to check the events against", args.zones.display())))?;
            let set = crate::event::load_dir(&args.events, zones).map_err(|e| load(e.to_string()))?;
            // The zones as served: the events' share settings apply inside their windows.
            set.attach(zones);
            let known: Vec<&str> = set.events.iter().map(|e| e.name.as_str()).collect();
            Some(set.get(name).cloned().ok_or_else(|| usage(format!("no event `{name}` in {}; known: {}", args.events.display(), if known.is_empty() { "none".to_string() } else { known.join(", ") })))?)
        }
        None => None,
    };
    let reader = match &recorded {
        Some(_) => None,
        None => Some(
            match &args.history {
                Some(file) => HistoryReader::open(file),
                None => HistoryReader::open_in(&args.state_dir),
            }
            .map_err(|e| load(format!("{e} (serve writes the history into --state-dir, simulate into --history FILE; or give --input)")))?,
        ),
    };

    // The window: the event's, narrowed by --from/--to, then by the annotations.
    let mut from = event.as_ref().map(|e| e.start).or(recorded.as_ref().map(|r| r.subject.from));
    let mut to = event.as_ref().map(|e| e.end).or(recorded.as_ref().map(|r| r.subject.to));
    let mut how: Vec<String> = event.as_ref().map(|e| vec![format!("event `{}`", e.name)]).unwrap_or_default();
    if let Some(t) = &args.from {
        from = Some(time(t, "--from")?);
        how.push(format!("from {t}"));
    }
    if let Some(t) = &args.to {
        to = Some(time(t, "--to")?);
        how.push(format!("to {t}"));
    }
    let search = Window { from: from.unwrap_or(0), to: to.unwrap_or(Millis::MAX / 2) };
    if let Some(text) = &args.from_annotation {
        from = Some(find_annotation(reader.as_ref(), recorded.as_ref(), text, search, search.from)?);
        how.push(format!("from the annotation `{text}`"));
    }
    if let Some(text) = &args.to_annotation {
        let after = from.unwrap_or(search.from);
        to = Some(find_annotation(reader.as_ref(), recorded.as_ref(), text, search, after + 1)?);
        how.push(format!("to the annotation `{text}`"));
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(usage("which window? give --event NAME, or --from and --to (RFC 3339), or --from-annotation and --to-annotation"));
    };
    if to <= from {
        return Err(usage(format!("the window ends ({}) before it starts ({})", rfc3339(to), rfc3339(from))));
    }
    let utc_offset_minutes = match &args.utc_offset {
        Some(o) => offset(o)?,
        None => event.as_ref().map(|e| e.utc_offset_minutes).or(recorded.as_ref().map(|r| r.subject.utc_offset_minutes)).unwrap_or(0),
    };
    let names = event.as_ref().map(|e| e.names.clone()).unwrap_or_default();
    let policies = zones.as_ref().map(|z| report::policies(z, &names, from)).unwrap_or_default();

    let input = match (recorded, &reader) {
        (Some(mut r), _) => {
            r.clip(from, to);
            if !how.is_empty() {
                r.subject.window = how.join(", ");
            }
            r.subject.utc_offset_minutes = utc_offset_minutes;
            if r.zones.is_empty() {
                r.zones = policies;
            }
            r
        }
        (None, Some(reader)) => {
            let subject = Subject {
                event: event.as_ref().map(|e| e.name.clone()),
                customer: event.as_ref().and_then(|e| e.customer.clone()),
                from,
                to,
                names,
                window: how.join(", "),
                utc_offset_minutes,
            };
            gather::from_history(reader, subject, policies, bucket_ms, now).map_err(|e| load(e.to_string()))?
        }
        (None, None) => return Err(load("no history and no --input")),
    };
    let read_ms = started.elapsed().as_millis();
    let built = report::build(&input).map_err(|e| load(e.to_string()))?;
    let text = match args.format {
        ReportFormat::Html => report::html::render(&built),
        ReportFormat::Json => report::to_json(&built).map_err(|e| load(e.to_string()))?,
        ReportFormat::Csv => report::csv::render(&built),
    };
    match &args.out {
        None => Ok(Output { ok: true, text }),
        Some(path) => {
            write(path, &text)?;
            let s = &built.summary;
            let summary = format!(
                "wrote {} ({} KB): {} to {}, {} incident{}, {} finding{}, {} recommendation{} (read {read_ms} ms, total {} ms)\n",
                path.display(),
                text.len() / 1024,
                built.subject.from,
                built.subject.to,
                s.incidents,
                if s.incidents == 1 { "" } else { "s" },
                built.findings.len(),
                if built.findings.len() == 1 { "" } else { "s" },
                built.recommendations.len(),
                if built.recommendations.len() == 1 { "" } else { "s" },
                started.elapsed().as_millis()
            );
            Ok(Output { ok: true, text: summary })
        }
    }
}

fn find_annotation(reader: Option<&HistoryReader>, recorded: Option<&ReportInput>, text: &str, within: Window, after: Millis) -> Result<Millis, CliError> {
    if let Some(reader) = reader {
        return gather::annotation(reader, text, within, after).map_err(|e| usage(e.to_string()));
    }
    let want = text.trim().to_lowercase();
    let events = recorded.map(|r| r.events.as_slice()).unwrap_or_default();
    events
        .iter()
        .filter(|e| e.kind == report::input::EventKind::Annotation)
        .find(|e| e.at >= after && e.at >= within.from && e.at < within.to && e.text.trim().to_lowercase() == want)
        .map(|e| e.at)
        .ok_or_else(|| usage(format!("no annotation `{text}` in the input")))
}

/// Write through a temporary file and a rename, so a reader never sees half a report.
fn write(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| load(format!("{}: {e}", path.display())))
}
