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
//! GET /api/v1/explain --steer::explain over the same snapshot, with the DNS path's functions
//! GET /metrics --metrics::steering (the snapshot's PlanExplain), metrics::signals (the engine's
//!              SignalStore), metrics::events (engine tick reports), probe::stats (probe
//!              tasks), dns::counters, the `metrics` recorder --> Prometheus text
//! ```
//!
//! # Modules (lower rooms never import higher ones)
//!
//! - Ground floor: [`region`] (country/continent codes, `RegionKey`), [`timestamp`] (Unix ms,
//!   RFC 3339, durations), [`diag`] (located diagnostics), [`zone`] (schema `spec`, checks
//!   `check`, model `model`, the `health:` block in `zone::health`), [`geo`] (the only
//!   maxminddb user).
//! - [`health`]: pure health pipeline with time passed in (signal, score, share, engine,
//!   view, events).
//! - [`overrides`]: operator drains, pins and weights: model, resolution, validation
//!   (pure), and `overrides::store`, the one boundary a replicated store would replace.
//! - [`steer`]: pure steering: `plan` (the one planning function), `decide` (query-time
//!   region, pick, ECS scope), `select` (rendezvous hashing), `explain`.
//! - [`snapshot`]: the immutable served state and its read handle; [`publish`]: its single
//!   writer.
//! - [`dns`]: the only hickory user: record table, pure answer, handler, wire fast path,
//!   listeners, per-worker DNS counters (`dns::counters`), the packet fuzz body.
//! - [`probe`]: active HTTP(S) probes of CDN edges -> Observation, and their duration
//!   histograms and failure counters (`probe::stats`).
//! - [`admin`]: the admin HTTP API (health, status, explain, overrides, reload, decisions,
//!   telemetry, metrics) over `admin::ops::Operations`, and its client for the CLI.
//! - [`daemon`]: `serve`: the control plane (writer + engine + overrides behind one lock),
//!   the engine task, signals, readiness. [`config`]: daemon settings; [`clock`]: the
//!   daemon's only clock; [`metrics`]: the Prometheus catalogue (names, types, HELP:
//!   `metrics::catalogue`), the text writer, and the steering families rendered at scrape
//!   time (`steering`: share/score/state from the plan; `signals`; `events`: the counters the
//!   engine task keeps).
//! - [`cli`]: the binary's commands; [`fuzz`]: fuzz target bodies replayed by `cargo test`.

pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod diag;
pub mod dns;
pub mod fuzz;
pub mod geo;
pub mod health;
pub mod metrics;
pub mod overrides;
pub mod probe;
pub mod publish;
pub mod region;
pub mod snapshot;
pub mod steer;
pub mod timestamp;
pub mod zone;
