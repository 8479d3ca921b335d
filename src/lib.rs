//! cdnsteer: an authoritative GSLB DNS server that steers live-video audiences across CDNs.
//!
//! # Pipeline
//!
//! ```text
//! zones/*.yaml --zone::spec (strict YAML)--> zone::check (all problems, file:line:col) --> ZoneSet
//! geoip/*.mmdb --geo::GeoDb::open (in memory, every record decoded and checked)  --> GeoDb
//! state/overrides.json --overrides::store (all or nothing, audit.jsonl beside it) --> OverrideSet
//!
//! probe (HTTP per CDN x vantage) ---+
//! admin /api/v1/telemetry (RUM) ----+--> health::Observation --> health::Engine::tick(zones, overrides, now)
//!                                        signal (per CDN x region x vantage, staleness)
//!                                        -> score (SLA bounds, weights, quorum, EWMA, reasons)
//!                                        -> share (hysteresis, dwell, slew, caps, drains, fail-open)
//!                                        = health::HealthView
//!
//! reload (SIGHUP | POST /api/v1/reload | a saved zone or GeoIP file, `daemon::watch`): the
//! same load and check, all or nothing, one at a time; the engine then ticks on the new zones.
//!
//! ZoneSet + HealthView + OverrideSet + now --steer::plan--> DecisionTable + PlanExplain
//!     --publish::Publisher (the single writer)--> Snapshot{generation, zones, geo,
//!                                                  wire table, decisions, explain} (one swap)
//!
//! packet --dns::listener--> dns::Handler::handle_into: snapshot = load() (no lock, no clock)
//!        --> dns::wire::parse --> dns::handler::respond (EDNS/ECS rules, steer::client_addr)
//!        --> dns::answer::answer: steered name -> geo::locate -> steer::NameDecisions::steer
//!            (region, rendezvous pick over the client cell, ECS scope, TTL) -> CNAME
//!        --> dns::wire::write_reply within the UDP size limit (TC=1 beyond it)
//!        --> dns::counters: the worker's own block (no shared write), summed at GET /metrics
//!
//! control plane (after each publish, observations ingested, decision events, reloads,
//! override audit entries, answer counts every 10 s: `daemon::history_feed`) and telemetry QoE
//!     --history::HistoryHandle (try_send, bounded)--> history writer thread --> SQLite (WAL)
//!     --history::HistoryReader (read-only, chunked)--> dashboard, report, GET /api/v1/annotations
//!
//! GET /dashboard (embedded page, vendored uPlot) --> GET /api/v1/dashboard (backfill: the
//!     served plan now + the window bucketed per CDN) --> GET /api/v1/stream (server-sent
//!     events): admin::dashboard::hub, one task per admin server, follows the snapshot (plan
//!     per generation), the status (event clock, freeze, overrides) and the rows after the
//!     last id of admin::dashboard::source::DashboardSource (the history; in memory without one)
//!
//! cdnsteer report (event window | --from/--to | two annotations)
//!     --report::gather (HistoryReader -> ReportInput, + zone policies)--> report::build (pure)
//!     --> Report (the JSON twin) --report::html (inline SVG, A4 print) | report::csv
//!
//! cdnsteer simulate (scenarios/*.yaml: audience, CDN truth, incidents; simulated time)
//!     --sim::observe (simulated probes, telemetry)--> steer::drive::round (the daemon's own
//!     round: Engine + steer::plan) --> viewers follow the plan (sim::audience cohorts)
//!     --> sim::summary | history writer (same records as serve) --> cdnsteer report
//! cdnsteer forecast: the engine settled at the peak, N-1 by drains --> need vs capacity, commit
//!
//! GET /api/v1/explain --steer::explain over the same snapshot, with the DNS path's functions
//! GET /metrics --metrics::steering (the snapshot's PlanExplain), metrics::signals (the engine's
//!              SignalStore), metrics::events (engine tick reports), probe::stats (probe
//!              tasks), dns::counters, metrics::process (process-wide) --> Prometheus text
//! ```
//!
//! # Modules, lowest room first (a room imports only rooms above it in this list)
//!
//! - Ground floor, leaves: [`region`] (country/continent codes, `RegionKey`), [`timestamp`]
//!   (Unix ms, RFC 3339, durations), [`clock`] (the daemon's only wall clock, never backwards),
//!   [`metrics`] (the Prometheus catalogue and text writer), [`diag`] (located diagnostics),
//!   [`qoe`] (viewer experience samples from telemetry, plain data).
//! - [`zone`] (schema `spec`, checks `check`, model `model`, the `health:` block in
//!   `zone::health`, capacity and `commit_gbps` included) and [`geo`] (the only maxminddb
//!   user); [`event`] (`events/*.yaml`: windows, share policy, change freeze; checked against
//!   the zones).
//! - [`overrides`]: operator drains, pins and weights: model, resolution, validation (pure),
//!   and `overrides::store`, the one boundary a replicated store would replace. Below
//!   `health`, which takes the overrides in force as an input.
//! - [`health`]: pure health pipeline with time passed in (signal, score, share, engine,
//!   view, events).
//! - [`steer`]: pure steering: `plan` (the one planning function), `drive` (one round of the
//!   control loop: ingest, expire overrides, tick the engine, plan; the daemon's engine task
//!   and the simulator both run it), `decide` (query-time region, pick, ECS scope), `select`
//!   (rendezvous hashing), `explain`.
//! - [`snapshot`]: the immutable served state and its read handle (generic over the wire
//!   table, so it sits below `dns`).
//! - [`dns`]: the only hickory user: record table, pure answer, handler, wire fast path,
//!   listeners (`dns::udp`: OS threads with a `SO_REUSEPORT` socket each and batched
//!   `recvmmsg`/`sendmmsg`; `dns::tcp`: a thread with its own runtime), `dns::sys` (the
//!   crate's only `unsafe` code: the batched system calls and socket options), per-thread DNS
//!   counters (`dns::counters`), the packet fuzz body.
//! - [`publish`]: the single writer of the snapshot (builds the wire table with `dns`).
//! - [`probe`]: active HTTP(S) probes of CDN edges -> Observation, and their duration
//!   histograms and failure counters (`probe::stats`).
//! - [`history`]: the only SQLite user: the history database (`STATE_DIR/history.sqlite`):
//!   its writer thread (fed by a bounded channel, never waited on), change detection of
//!   shares, retention and downsampling, and the read API the dashboard and the report use.
//!   Imports `health`, `steer`, `overrides`, `qoe`, `metrics`; never `admin` or `daemon`.
//! - [`report`]: the post-event report: `gather` (the adapter from `history`'s reader to a
//!   plain `ReportInput`), `build` (pure: figures, SLA adherence, incidents, findings and
//!   recommendations, charts' series -> `Report`, the JSON twin), `html` + `svg` (one
//!   self-contained page), `csv`. Imports `history`, `zone`, `steer`; never `admin` or
//!   `daemon`.
//! - [`sim`]: the simulator: scenario files (`scenarios/*.yaml`: schema, checks, the
//!   cross-check against the zones and events they name), the audience and CDN models,
//!   simulated probes and telemetry, the night run through `steer::drive::round` with
//!   simulated time (optionally into a history), its summary, `forecast` and `sweep`.
//!   Imports `steer`, `health`, `overrides`, `zone`, `event`, `qoe`, `diag`, `history` (the
//!   writer, as `serve` uses it); never `admin`, `daemon` or `dns`.
//! - [`config`]: daemon settings (above `dns`, `steer` and `history`, whose settings it holds).
//! - [`admin`]: the admin HTTP API (health, status, explain, overrides, reload, decisions,
//!   telemetry, metrics, annotations) over `admin::ops::Operations`, its client for the CLI,
//!   and `admin::dashboard`: the live dashboard (embedded page and assets, backfill, event
//!   stream, the hub task, the `DashboardSource` boundary over the history or memory).
//! - [`daemon`]: `serve`: the control plane (writer + engine + overrides behind one lock),
//!   the engine task, signals, readiness, reload triggers (SIGHUP, `POST /api/v1/reload`, the
//!   zones/GeoIP file watcher).
//! - [`cli`]: the binary's commands (`report` among them); [`fuzz`]: fuzz target bodies replayed by `cargo test`.

#![deny(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod diag;
pub mod event;
pub mod dns;
pub mod fuzz;
pub mod geo;
pub mod health;
pub mod history;
pub mod metrics;
pub mod overrides;
pub mod probe;
pub mod publish;
pub mod qoe;
pub mod region;
pub mod report;
pub mod sim;
pub mod snapshot;
pub mod steer;
pub mod timestamp;
pub mod zone;
