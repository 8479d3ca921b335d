//! The report as data: [`Report`] is what `--format json` writes, and what the HTML and CSV
//! renderings read (the JSON twin of the HTML). Every figure is computed once, in `build`;
//! renderers only format. Field order is fixed and lists are sorted, so the same input gives
//! byte-identical JSON.

use serde::Serialize;

/// Format tag of the JSON, bumped on incompatible changes.
pub const FORMAT: &str = "cdnsteer-report/1";

/// A post-event report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// [`FORMAT`].
    pub format: &'static str,
    /// What it covers.
    pub subject: SubjectOut,
    /// When it was made (RFC 3339).
    pub generated_at: String,
    /// The headline figures.
    pub summary: Summary,
    /// What the data says, most serious first, each pointing at its evidence.
    pub findings: Vec<Finding>,
    /// What to change for the next event, each derived from findings and figures.
    pub recommendations: Vec<Recommendation>,
    /// Stretches where a CDN missed an SLA target in a region, and what cdnsteer did.
    pub incidents: Vec<Incident>,
    /// SLA adherence: the targets, time in breach, the worst windows.
    pub sla: SlaAdherence,
    /// Per CDN: overall and per region figures, capacity and commit.
    pub cdns: Vec<CdnReport>,
    /// Per region: audience and traffic.
    pub regions: Vec<RegionReport>,
    /// Operator actions, reloads, freezes and annotations, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// The series behind the charts.
    pub charts: Charts,
    /// The zone policies the figures were measured against (SLA, thresholds, weights,
    /// capacity and commits).
    pub policy: Vec<super::input::ZonePolicy>,
    /// How each figure was derived.
    pub methods: Vec<Method>,
    /// What the data did not have (no telemetry, no answers, ...).
    pub notes: Vec<String>,
    /// Set when the window held more events than a report reads: events from then on are
    /// missing from the timeline, the incidents' actions and the findings.
    pub events_cut: Option<EventsCutOut>,
}

/// Events left out because the window held more than a report reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventsCutOut {
    /// Most events read.
    pub limit: u64,
    /// Time of the first event left out (RFC 3339): it and every later one are missing.
    pub from: String,
}

/// What the report covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectOut {
    /// Event name.
    pub event: Option<String>,
    /// Customer.
    pub customer: Option<String>,
    /// Start (RFC 3339, UTC).
    pub from: String,
    /// End (RFC 3339, UTC).
    pub to: String,
    /// Length, s.
    pub duration_secs: u64,
    /// Steered names covered.
    pub names: Vec<String>,
    /// How the window was chosen.
    pub window: String,
    /// The local time shown in the report (`+09:00`).
    pub utc_offset: String,
}

/// Headline figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// One sentence for the cover.
    pub headline: String,
    /// Steered answers given.
    pub answers: u64,
    /// Traffic delivered, TB (when telemetry reported it).
    pub delivered_tb: Option<f64>,
    /// Highest total delivered rate, Gbps.
    pub peak_gbps: Option<f64>,
    /// Highest concurrent viewers (sum over CDNs and regions of one bucket).
    pub peak_viewers: Option<f64>,
    /// Incidents.
    pub incidents: usize,
    /// Regions that failed open (count of fail-open decisions).
    pub fail_opens: usize,
    /// Operator overrides added.
    pub overrides: usize,
    /// One line per CDN.
    pub cdns: Vec<CdnLine>,
}

/// A CDN's headline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CdnLine {
    /// CDN.
    pub cdn: String,
    /// Chart colour.
    pub colour: &'static str,
    /// Share of answers, 0..1.
    pub answer_share: Option<f64>,
    /// Share of delivered traffic, 0..1.
    pub delivered_share: Option<f64>,
    /// Availability as the SLAs define it, %.
    pub availability_pct: Option<f64>,
    /// Time any SLA target was missed in any region, % of its measured region-time.
    pub sla_breach_pct: Option<f64>,
    /// Incidents.
    pub incidents: usize,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Viewers were hurt or a region failed open.
    Critical,
    /// A target was missed or a limit neared.
    Warning,
    /// Worth knowing.
    Info,
    /// Went well.
    Good,
}

impl Severity {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Good => "good",
        }
    }
}

/// Where a statement's evidence is: a label and the HTML anchor of the table, chart or row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    /// What it is ("incident I1", "capacity table").
    pub label: String,
    /// The HTML anchor (`incident-I1`).
    pub anchor: String,
}

/// A finding computed from the data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `F1`, `F2`, ...
    pub id: String,
    /// How serious.
    pub severity: Severity,
    /// The statement.
    pub text: String,
    /// Where to look.
    pub evidence: Vec<Evidence>,
}

/// A recommendation for the next event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// `R1`, `R2`, ...
    pub id: String,
    /// `capacity`, `commit`, `weights`, `thresholds`.
    pub area: &'static str,
    /// What to do and why.
    pub text: String,
    /// The zone-file setting it changes (`health.capacity.akamai.commit_gbps`).
    pub setting: Option<String>,
    /// Its value now.
    pub current: Option<String>,
    /// The value suggested.
    pub suggested: Option<String>,
    /// Findings and tables it rests on.
    pub evidence: Vec<Evidence>,
}

/// One SLA target missed during an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    /// `ttfb`, `throughput`, `cache_hit`, `error_rate`.
    pub signal: &'static str,
    /// Unit of the values (`ms`, `Mbit/s`, `ratio`).
    pub unit: &'static str,
    /// The worst bucket's value.
    pub worst: f64,
    /// The SLA target (the zone's `good` bound).
    pub target: f64,
    /// The zone's `bad` bound (scores 0 there).
    pub bad: f64,
    /// Time this signal missed its target, s.
    pub secs: u64,
}

/// Something cdnsteer or an operator did about an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// When (RFC 3339).
    pub at: String,
    /// `cdnsteer` or `operator`.
    pub by: &'static str,
    /// What.
    pub text: String,
}

/// An incident: a CDN missing an SLA target in a region for a while.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// `I1`, `I2`, ... in start order.
    pub id: String,
    /// CDN.
    pub cdn: String,
    /// Region key.
    pub region: String,
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
    /// Length, s.
    pub duration_secs: u64,
    /// Targets missed, worst first.
    pub breaches: Vec<Breach>,
    /// The CDN's share of the region's answers when it began.
    pub share_before: Option<f64>,
    /// Its lowest share during the incident.
    pub share_lowest: Option<f64>,
    /// Its lowest score during the incident.
    pub score_lowest: Option<f64>,
    /// Seconds from the start until half its traffic had moved away.
    pub half_moved_after_secs: Option<u64>,
    /// Seconds from the start until it was down to its warm share (or none).
    pub drained_after_secs: Option<u64>,
    /// Seconds from the start until the viewers on it had halved (end of the first bucket
    /// below half; players follow answers with the DNS TTL).
    pub viewers_halved_after_secs: Option<u64>,
    /// What happened, in one sentence.
    pub response: String,
    /// Decisions and operator actions around it.
    pub actions: Vec<Action>,
    /// Concurrent viewers on the CDN in the region when it began.
    pub viewers_at_start: Option<f64>,
    /// Viewer-minutes spent on the CDN in the region while it was in breach.
    pub viewer_minutes: Option<f64>,
    /// Playbacks that failed on it during the incident.
    pub playback_failures: Option<u64>,
    /// Viewers who gave up before playback started.
    pub exits_before_start: Option<u64>,
}

/// An SLA target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// Zone.
    pub zone: String,
    /// Signal.
    pub signal: &'static str,
    /// What is compared ("TTFB median of each 10 s bucket").
    pub measured: String,
    /// Unit.
    pub unit: &'static str,
    /// Target (`good` bound).
    pub target: f64,
    /// `bad` bound.
    pub bad: f64,
}

/// Time one signal missed its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalBreach {
    /// Signal.
    pub signal: &'static str,
    /// Seconds.
    pub secs: u64,
    /// Of the window, %.
    pub pct: f64,
}

/// SLA adherence of a CDN in a region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaRow {
    /// CDN.
    pub cdn: String,
    /// Region key.
    pub region: String,
    /// Time with measurements, s.
    pub measured_secs: u64,
    /// Per signal.
    pub signals: Vec<SignalBreach>,
    /// Any target missed, s.
    pub any_secs: u64,
    /// Any target missed, % of the window.
    pub any_pct: f64,
    /// Score below the `down` threshold, s.
    pub below_down_secs: u64,
}

/// One of the worst 5-minute windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorstWindow {
    /// CDN.
    pub cdn: String,
    /// Region key.
    pub region: String,
    /// Signal.
    pub signal: &'static str,
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
    /// The window's value (mean of its buckets; error rate: errors / requests).
    pub value: f64,
    /// The target.
    pub target: f64,
    /// Unit.
    pub unit: &'static str,
}

/// SLA adherence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaAdherence {
    /// The targets per zone and signal.
    pub targets: Vec<Target>,
    /// Per CDN x region, every pair with measurements.
    pub rows: Vec<SlaRow>,
    /// The worst 5-minute windows past a target, worst first.
    pub worst_windows: Vec<WorstWindow>,
}

/// Time in one state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateTime {
    /// State word.
    pub state: &'static str,
    /// Seconds (summed over steered names).
    pub secs: u64,
    /// Of the time the CDN was a candidate, %.
    pub pct: f64,
}

/// Viewer experience figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QoeStats {
    /// Highest concurrent viewers.
    pub viewers_peak: Option<f64>,
    /// Mean concurrent viewers.
    pub viewers_mean: Option<f64>,
    /// Startup time median, ms.
    pub startup_p50_ms: Option<f64>,
    /// Startup time p95, ms.
    pub startup_p95_ms: Option<f64>,
    /// Rebuffering ratio.
    pub rebuffer_ratio: Option<f64>,
    /// Playbacks failed.
    pub playback_failures: u64,
    /// Exits before start.
    pub exits_before_start: u64,
}

/// The worst 5-minute availability period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodOut {
    /// Start (RFC 3339).
    pub start: String,
    /// Error rate of the period.
    pub error_rate: f64,
}

/// Figures of a CDN overall or in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Time with signal measurements, s.
    pub measured_secs: u64,
    /// TTFB median, ms.
    pub ttfb_p50_ms: Option<f64>,
    /// TTFB p95, ms.
    pub ttfb_p95_ms: Option<f64>,
    /// TTFB p95 as players measured it, ms.
    pub ttfb_players_p95_ms: Option<f64>,
    /// Mean throughput, Mbit/s.
    pub throughput_mbps: Option<f64>,
    /// Low tail of throughput (5th percentile of buckets), Mbit/s.
    pub throughput_p5_mbps: Option<f64>,
    /// Cache hit ratio.
    pub cache_hit_ratio: Option<f64>,
    /// Error rate.
    pub error_rate: Option<f64>,
    /// Requests measured.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Availability as the CDN SLAs define it, %.
    pub availability_pct: Option<f64>,
    /// 5-minute periods with requests.
    pub availability_periods: usize,
    /// The worst of them.
    pub worst_period: Option<PeriodOut>,
    /// Time in each state (states never held are left out).
    pub time_in_state: Vec<StateTime>,
    /// Steered answers.
    pub answers: u64,
    /// Share of answers (of the region's, or of all for overall), 0..1.
    pub answer_share: Option<f64>,
    /// Traffic delivered, TB.
    pub delivered_tb: Option<f64>,
    /// Share of delivered traffic, 0..1.
    pub delivered_share: Option<f64>,
    /// Highest delivered rate (one bucket), Gbps.
    pub peak_gbps: Option<f64>,
    /// 95th percentile of the 5-minute mean rates, Gbps.
    pub p95_gbps: Option<f64>,
    /// Share changes (decisions that moved this CDN's share).
    pub share_changes: u64,
    /// Fail-opens of the region(s).
    pub fail_opens: u64,
    /// Times health drained it (entered `down`).
    pub health_drains: u64,
    /// Times an operator drained it.
    pub operator_drains: u64,
    /// Time with a target missed (in any of the scope's regions), % of the time measured.
    pub sla_breach_pct: Option<f64>,
    /// Viewer experience, when telemetry had it.
    pub qoe: Option<QoeStats>,
}

/// A CDN in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionStats {
    /// Region key.
    pub region: String,
    /// Display name.
    pub label: String,
    /// Configured weight (first steered name that has the region).
    pub weight: Option<f64>,
    /// Figures.
    pub stats: Stats,
}

/// A capacity sub-limit of a region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionCapacity {
    /// Region key.
    pub region: String,
    /// The sub-limit, Gbps.
    pub gbps: f64,
    /// Peak delivered there, Gbps.
    pub peak_gbps: Option<f64>,
    /// Peak / sub-limit, %.
    pub peak_pct: Option<f64>,
}

/// Delivered traffic against capacity and commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityReport {
    /// What it can carry, Gbps (summed over zones).
    pub gbps: Option<f64>,
    /// Billing commitment, Gbps.
    pub commit_gbps: Option<f64>,
    /// Fraction of capacity steering aims to use.
    pub target_utilisation: Option<f64>,
    /// Highest delivered rate, Gbps.
    pub peak_gbps: Option<f64>,
    /// When (RFC 3339).
    pub peak_at: Option<String>,
    /// 95th percentile of the 5-minute means, Gbps.
    pub p95_gbps: Option<f64>,
    /// Peak / capacity, %.
    pub peak_of_capacity_pct: Option<f64>,
    /// 95th percentile / commit, %.
    pub p95_of_commit_pct: Option<f64>,
    /// 95th percentile above the commit, Gbps (overage).
    pub over_commit_gbps: Option<f64>,
    /// Regional sub-limits.
    pub regions: Vec<RegionCapacity>,
}

/// One CDN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CdnReport {
    /// CDN.
    pub cdn: String,
    /// Chart colour (the same in every chart).
    pub colour: &'static str,
    /// Over every region.
    pub overall: Stats,
    /// Per region, most answers first.
    pub regions: Vec<RegionStats>,
    /// Capacity and commit.
    pub capacity: CapacityReport,
}

/// One region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionReport {
    /// Region key.
    pub region: String,
    /// Display name.
    pub label: String,
    /// Steered answers.
    pub answers: u64,
    /// Of all answers, 0..1.
    pub answer_share: Option<f64>,
    /// Highest concurrent viewers.
    pub viewers_peak: Option<f64>,
    /// Highest delivered rate, Gbps.
    pub peak_gbps: Option<f64>,
    /// Fail-opens.
    pub fail_opens: u64,
    /// Candidate CDNs seen.
    pub cdns: Vec<String>,
}

/// An operator action, reload, freeze step or annotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When (RFC 3339).
    pub at: String,
    /// `override`, `reload`, `freeze`, `annotation`, `fail_open`.
    pub kind: &'static str,
    /// Who.
    pub who: Option<String>,
    /// What.
    pub text: String,
}

/// One CDN's values over the chart steps (`null` where unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CdnSeries {
    /// CDN.
    pub cdn: String,
    /// One value per step.
    pub values: Vec<Option<f64>>,
}

/// The series of one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionChart {
    /// Region key.
    pub region: String,
    /// Display name.
    pub label: String,
    /// Share of the region's answers as planned (time-weighted mean per step; several names
    /// averaged), 0..1.
    pub share: Vec<CdnSeries>,
    /// Score (time-weighted mean per step).
    pub score: Vec<CdnSeries>,
    /// TTFB p95 (highest bucket p95 in the step), ms.
    pub ttfb_p95_ms: Vec<CdnSeries>,
}

/// A mark on every timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    /// When (Unix ms).
    pub at: u64,
    /// Label.
    pub text: String,
}

/// The series behind the charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Charts {
    /// Start of the first step (Unix ms).
    pub from: u64,
    /// Step, s.
    pub step_secs: u64,
    /// Steps.
    pub steps: usize,
    /// Annotations.
    pub annotations: Vec<Mark>,
    /// Share of all answers per CDN, 0..1.
    pub answer_share: Vec<CdnSeries>,
    /// Delivered Gbps per CDN.
    pub delivered_gbps: Vec<CdnSeries>,
    /// Per region, most answers first.
    pub regions: Vec<RegionChart>,
}

/// How a figure was derived.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Method {
    /// The figure.
    pub figure: String,
    /// How.
    pub how: String,
}
