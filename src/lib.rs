//! cdnsteer: an authoritative GSLB DNS server that steers live-video audiences across CDNs.
//!
//! # Pipeline
//!
//! ```text
//! zones/*.yaml --zone::spec (strict YAML)--> zone::check (all problems, file:line:col) --> ZoneSet
//! geoip/*.mmdb --geo::GeoDb::open (in memory, every record decoded and checked)  --> GeoDb
//!
//! reload (SIGHUP | POST /api/v1/reload | a saved zone or GeoIP file): the same load and
//! check, all or nothing, one at a time; on success the engine follows the new zones, then:
//!
//! ZoneSet + GeoDb --publish::Publisher (the single writer)--> Snapshot{generation}
//!                    dns::ZoneTable::build   (wire records)
//!                    decide::DecisionTable   (shares per steered name x region)
//!                 --> one ArcSwap::store
//!
//! probe (HTTP per CDN x vantage) --+
//! admin /api/v1/telemetry (RUM) ----+--> signal::Observation --> engine (every tick, now injected):
//!                                        signal (per CDN x region x vantage, staleness)
//!                                        -> score (SLA bounds, weights, quorum, EWMA, reasons)
//!                                        -> share (hysteresis, dwell, slew, caps, fail-open)
//!                                        -> DecisionTable + events --> Publisher (same swap)
//!
//! packet --dns::listener--> dns::Handler::handle_into: snapshot = load() (no lock, no clock)
//!        --> dns::wire::parse --> handler::decide (EDNS/ECS rules)
//!        --> dns::answer::answer(snapshot, qname, qtype, client)
//!            steered name: geo::locate -> decide::NameDecisions::steer (region, rendezvous pick
//!            over the client cell, ECS scope, dynamic TTL) -> CNAME
//!        --> dns::wire::write_reply within the UDP size limit (TC=1 beyond it)
//! ```
//!
//! # Modules
//!
//! - [`cli`], [`daemon`], [`config`]: the binary's commands, the serve loop and its reload
//!   triggers (SIGHUP, `POST /api/v1/reload`, the zones/GeoIP file watcher), daemon settings.
//! - [`diag`]: located, named diagnostics for everything an operator edits.
//! - [`zone`]: zone schema (`spec`), semantic checks (`check`), validated model (`model`),
//!   the `health:` block (`health`).
//! - [`geo`]: the only maxminddb user; address -> country/continent + matched prefix.
//! - [`select`]: pure weighted rendezvous hashing over client cells.
//! - [`decide`]: pure (zones, shares) -> decision table; region index and ECS scope rule.
//! - [`snapshot`], [`publish`]: the immutable served state and its single writer.
//! - [`dns`]: the only hickory user: record table, pure answer, handler, wire fast path,
//!   listeners.
//! - [`signal`], [`score`], [`share`], [`engine`]: pure health pipeline, time passed in.
//! - [`probe`]: active HTTP(S) probes of CDN edges -> Observation.
//! - [`admin`]: the admin HTTP API (health, status, decisions, telemetry intake).
//! - [`events`]: the bounded log of decision events; [`clock`]: the daemon's only clock.
//! - [`metrics`]: the Prometheus series and their HELP texts.
//! - [`fuzz`]: fuzz target bodies, replayed by `cargo test` from a committed corpus.

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
