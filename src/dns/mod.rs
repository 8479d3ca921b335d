//! DNS: the only place hickory types are used. `table` turns zones into wire records, `answer`
//! is the pure question -> records step, `handler` applies protocol rules, `wire` parses
//! queries and writes responses on the fast path, `listener` binds the sockets and starts the
//! threads of `udp` (OS threads, batched system calls through `sys`, the crate's only unsafe
//! code) and `tcp` (a thread with its own runtime), `counters` counts what they answer and
//! drop (per thread, summed at scrape time).

pub mod answer;
pub mod counters;
pub mod fuzz;
pub mod handler;
pub mod listener;
pub mod sys;
pub mod table;
pub mod tcp;
pub mod udp;
pub mod wire;

pub use counters::{DnsCounters, WorkerCounters};
pub use handler::{Handler, Transport};
pub use table::ZoneTable;

/// The snapshot the DNS path serves from: the shared `Snapshot` with this room's wire table.
pub type Served = crate::snapshot::Snapshot<ZoneTable>;
/// The read handle on it.
pub type ServedReader = crate::snapshot::SnapshotReader<ZoneTable>;
