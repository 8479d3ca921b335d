//! Query-time steering and the planning step that feeds it, all pure:
//!
//! - `select`: weighted rendezvous hashing over client cells (sticky, minimal movement).
//! - `decide`: the `DecisionTable` the query path reads: region index (CIDR lists > country >
//!   continent > default), the weighted pick, ECS scope and TTL for one client.
//! - `plan`: zones + the health engine's view + operator overrides + `now` -> a
//!   `DecisionTable` and the explain data beside it. The daemon, explain, the simulator and
//!   tests all call this one function.
//! - `drive`: one round of the control loop (ingest, expire overrides, tick, plan), run by
//!   the daemon's engine task and by the simulator alike.
//! - `explain`: one answer explained from a snapshot's parts, with the DNS path's functions.

pub mod decide;
pub mod drive;
pub mod explain;
pub mod plan;
pub mod select;

pub use decide::{CellPrefixes, ClientAddr, client_addr, ecs_scope, DecisionTable, NameDecisions, RegionDecision, Share, Steering};
pub use plan::{CandidateExplain, CandidateState, Plan, PlanExplain, RegionExplain, plan};
