//! DNS: the only place hickory types are used. `table` turns zones into wire records, `answer`
//! is the pure question -> records step, `handler` applies protocol rules, `wire` parses
//! queries and writes responses on the fast path, `listener` owns the sockets.

pub mod answer;
pub mod handler;
pub mod listener;
pub mod table;
pub mod wire;

pub use handler::Handler;
pub use table::ZoneTable;
