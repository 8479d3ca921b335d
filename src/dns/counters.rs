//! DNS counters without a shared write per query: every UDP worker (and, for TCP, every
//! runtime thread) owns a `Block` of relaxed atomics that only it writes (load + store, no
//! read-modify-write instruction), and the admin API sums all blocks at scrape time.
//!
//! Steered answers are counted in a dense array indexed through a `Layout` derived from the
//! snapshot's zones (steered name x region x CDN; names past `max_names` share `_other`
//! series). A worker that answers from a table with another layout (a zone reload) folds its
//! block into the registry's label-keyed totals under the registry's mutex and starts a new
//! block: allocation and locking happen at reload, never per query. A scrape takes the list of
//! blocks and the folded totals together under the same mutex, so no count is ever seen twice
//! or lost, and every counter only goes up.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Served;
use super::answer::SteeredHit;
use super::handler::Transport;
use super::wire::DropReason;
use crate::metrics::{self, write_family, write_sample};
use crate::zone::ZoneSet;

/// Steered names counted under their own name label unless configured otherwise.
pub const DEFAULT_MAX_NAMES: usize = 50;
/// The name label of steered answers for names past the limit.
pub const OTHER_NAME: &str = "_other";

/// Question types with their own label value; everything else is `other`.
pub const QTYPES: [(u16, &str); 13] = [
    (1, "A"),
    (28, "AAAA"),
    (5, "CNAME"),
    (2, "NS"),
    (6, "SOA"),
    (15, "MX"),
    (16, "TXT"),
    (257, "CAA"),
    (255, "ANY"),
    (65, "HTTPS"),
    (64, "SVCB"),
    (12, "PTR"),
    (33, "SRV"),
];
const N_QTYPES: usize = QTYPES.len() + 1;
const QTYPE_OTHER: usize = QTYPES.len();

/// Response codes with their own label value (all the handler sends); anything else is
/// `other`.
pub const RCODES: [(u16, &str); 7] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (16, "BADVERS"),
];
const N_RCODES: usize = RCODES.len() + 1;
const RCODE_OTHER: usize = RCODES.len();

const TRANSPORTS: [&str; 2] = ["udp", "tcp"];
const N_QUERIES: usize = TRANSPORTS.len() * N_QTYPES * N_RCODES;
const ECS: [&str; 2] = ["present", "absent"];
const DROP_REASONS: [(DropReason, &str); 5] = [
    (DropReason::Short, "short"),
    (DropReason::Response, "response"),
    (DropReason::SourcePortZero, "source_port_zero"),
    (DropReason::Oversized, "oversized"),
    (DropReason::SendFailed, "send_failed"),
];

/// QTYPE -> label index, a table lookup (QTYPE 257 is CAA, the largest listed).
const QTYPE_INDEX: [u8; 258] = {
    let mut t = [QTYPE_OTHER as u8; 258];
    let mut i = 0;
    while i < QTYPES.len() {
        t[QTYPES[i].0 as usize] = i as u8;
        i += 1;
    }
    t
};

const RCODE_INDEX: [u8; 17] = {
    let mut t = [RCODE_OTHER as u8; 17];
    let mut i = 0;
    while i < RCODES.len() {
        t[RCODES[i].0 as usize] = i as u8;
        i += 1;
    }
    t
};

#[inline]
fn qtype_index(qtype: u16) -> usize {
    QTYPE_INDEX.get(usize::from(qtype)).map_or(QTYPE_OTHER, |&i| usize::from(i))
}

#[inline]
fn rcode_index(rcode: u16) -> usize {
    RCODE_INDEX.get(usize::from(rcode)).map_or(RCODE_OTHER, |&i| usize::from(i))
}

#[inline]
fn query_index(transport: Transport, qtype: u16, rcode: u16) -> usize {
    let t = match transport {
        Transport::Udp => 0,
        Transport::Tcp => 1,
    };
    (t * N_QTYPES + qtype_index(qtype)) * N_RCODES + rcode_index(rcode)
}

#[inline]
fn drop_index(reason: DropReason) -> usize {
    match reason {
        DropReason::Short => 0,
        DropReason::Response => 1,
        DropReason::SourcePortZero => 2,
        DropReason::Oversized => 3,
        DropReason::SendFailed => 4,
    }
}

/// Add one to a counter only the calling worker writes: a plain load and store, so no locked
/// instruction and no cache line shared with another writer.
#[inline]
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

/// Label values of one steered series: (name, region, CDN).
pub type SeriesKey = (Arc<str>, Arc<str>, Arc<str>);

/// Where one steered name's (region, CDN) pairs live in `Layout::slots`.
#[derive(Debug, Clone, Copy)]
struct NameSlots {
    base: usize,
    regions: usize,
    cdns: usize,
}

/// The dense layout of the steered counters for one zone table: (name, region, CDN) -> series.
#[derive(Debug)]
struct Layout {
    /// `ZoneTable::id` this layout was derived for.
    table_id: u64,
    /// Per steered name, in `ZoneSet::steered()` order.
    names: Box<[NameSlots]>,
    /// `base + region * cdns + cdn` -> index into `series`.
    slots: Box<[u32]>,
    /// Label values per series.
    series: Box<[SeriesKey]>,
}

impl Layout {
    fn empty() -> Layout {
        Layout { table_id: 0, names: Box::default(), slots: Box::default(), series: Box::default() }
    }

    /// Every (name, region, CDN) of `zones`: its own series for the first `max_names` names,
    /// a shared `_other` series per (region, CDN) label pair after that.
    fn derive(table_id: u64, zones: &ZoneSet, max_names: usize) -> Layout {
        let mut names = Vec::new();
        let mut slots = Vec::new();
        let mut series: Vec<SeriesKey> = Vec::new();
        let mut interned: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |s: String| Arc::clone(interned.entry(s.clone()).or_insert_with(|| Arc::from(s)));
        let other: Arc<str> = Arc::from(OTHER_NAME);
        let mut other_series: HashMap<(Arc<str>, Arc<str>), u32> = HashMap::new();
        for (index, steered) in zones.steered().enumerate() {
            let name = intern(steered.name.to_string());
            let regions: Vec<Arc<str>> = steered.regions.iter().map(|r| intern(r.key.to_string())).collect();
            let cdns: Vec<Arc<str>> = steered.cdns.iter().map(|c| intern(c.name.clone())).collect();
            names.push(NameSlots { base: slots.len(), regions: regions.len(), cdns: cdns.len() });
            for region in &regions {
                for cdn in &cdns {
                    let slot = if index < max_names {
                        series.push((Arc::clone(&name), Arc::clone(region), Arc::clone(cdn)));
                        series.len() - 1
                    } else {
                        let next = series.len();
                        let at = *other_series.entry((Arc::clone(region), Arc::clone(cdn))).or_insert_with(|| {
                            series.push((Arc::clone(&other), Arc::clone(region), Arc::clone(cdn)));
                            next as u32
                        });
                        at as usize
                    };
                    slots.push(u32::try_from(slot).unwrap_or(u32::MAX));
                }
            }
        }
        Layout { table_id, names: names.into(), slots: slots.into(), series: series.into() }
    }

    /// The series index of a steered hit, if the hit fits this layout.
    #[inline]
    fn series_of(&self, hit: &SteeredHit) -> Option<usize> {
        let n = self.names.get(hit.index)?;
        let (region, cdn) = (hit.steering.region, hit.steering.cdn);
        if region >= n.regions || cdn >= n.cdns {
            return None;
        }
        self.slots.get(n.base + region * n.cdns + cdn).map(|&s| s as usize)
    }
}

/// One worker's counters. Written by its owner only; read by scrapes.
#[derive(Debug)]
struct Block {
    queries: [AtomicU64; N_QUERIES],
    ecs: [AtomicU64; 2],
    truncated: AtomicU64,
    dropped: [AtomicU64; DROP_REASONS.len()],
    layout: Arc<Layout>,
    /// One per `layout.series`.
    steered: Box<[AtomicU64]>,
}

impl Block {
    fn new(layout: Arc<Layout>) -> Block {
        let steered = layout.series.iter().map(|_| AtomicU64::new(0)).collect();
        Block {
            queries: std::array::from_fn(|_| AtomicU64::new(0)),
            ecs: std::array::from_fn(|_| AtomicU64::new(0)),
            truncated: AtomicU64::new(0),
            dropped: std::array::from_fn(|_| AtomicU64::new(0)),
            layout,
            steered,
        }
    }
}

/// Sums by label: the folded blocks of the past, and a scrape's result.
#[derive(Debug, Clone)]
struct Totals {
    queries: [u64; N_QUERIES],
    ecs: [u64; 2],
    truncated: u64,
    dropped: [u64; DROP_REASONS.len()],
    steered: BTreeMap<SeriesKey, u64>,
}

impl Default for Totals {
    fn default() -> Self {
        Totals { queries: [0; N_QUERIES], ecs: [0; 2], truncated: 0, dropped: [0; DROP_REASONS.len()], steered: BTreeMap::new() }
    }
}

impl Totals {
    fn add(&mut self, block: &Block) {
        for (sum, c) in self.queries.iter_mut().zip(&block.queries) {
            *sum += c.load(Relaxed);
        }
        for (sum, c) in self.ecs.iter_mut().zip(&block.ecs) {
            *sum += c.load(Relaxed);
        }
        self.truncated += block.truncated.load(Relaxed);
        for (sum, c) in self.dropped.iter_mut().zip(&block.dropped) {
            *sum += c.load(Relaxed);
        }
        for (key, c) in block.layout.series.iter().zip(block.steered.iter()) {
            let n = c.load(Relaxed);
            if n > 0 {
                *self.steered.entry(key.clone()).or_insert(0) += n;
            }
        }
    }
}

#[derive(Debug)]
struct State {
    next_id: u64,
    /// Every live worker's current block.
    blocks: Vec<(u64, Arc<Block>)>,
    /// Counts of blocks that were replaced or whose worker ended.
    folded: Totals,
    /// The newest layout derived (shared by the workers that move to it).
    layout: Arc<Layout>,
}

#[derive(Debug)]
struct Shared {
    max_names: usize,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// The layout for `snap`'s table, derived once per table.
    fn layout_for(&mut self, snap: &Served, max_names: usize) -> Arc<Layout> {
        if self.layout.table_id != snap.table.id {
            self.layout = Arc::new(Layout::derive(snap.table.id, &snap.zones, max_names));
        }
        Arc::clone(&self.layout)
    }
}

/// The registry of DNS counters: hands out per-worker counters and renders the sums. Cheap to
/// clone (one handle for the listeners and the admin API).
#[derive(Debug, Clone)]
pub struct DnsCounters {
    shared: Arc<Shared>,
}

impl DnsCounters {
    /// A registry that gives steered names past the first `max_names` the name `_other`.
    pub fn new(max_names: usize) -> DnsCounters {
        let state = State { next_id: 0, blocks: Vec::new(), folded: Totals::default(), layout: Arc::new(Layout::empty()) };
        DnsCounters { shared: Arc::new(Shared { max_names, state: Mutex::new(state) }) }
    }

    /// Counters for one worker that will own them (a UDP worker). Registers a block: call once
    /// per worker, not per query.
    pub fn worker(&self) -> WorkerCounters {
        let mut state = self.shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        let block = Arc::new(Block::new(Arc::clone(&state.layout)));
        state.blocks.push((id, Arc::clone(&block)));
        WorkerCounters { shared: Arc::clone(&self.shared), id, block }
    }

    /// Append every DNS series to `out` in the Prometheus text format: the sum of all workers
    /// and of the folded totals, with every series of `current`'s zones present (at 0 if
    /// nothing was counted yet).
    pub fn render(&self, current: &Served, out: &mut String) {
        // Take the folded totals and the live blocks together, then sum outside the lock (a
        // worker moving to a new layout waits for this lock). A block folded after this point
        // is not in our copy of the totals, and its counts are final: each is counted once.
        let (mut totals, blocks, layout) = {
            let mut state = self.shared.lock();
            let layout = state.layout_for(current, self.shared.max_names);
            let blocks: Vec<Arc<Block>> = state.blocks.iter().map(|(_, b)| Arc::clone(b)).collect();
            (state.folded.clone(), blocks, layout)
        };
        for block in &blocks {
            totals.add(block);
        }
        render_totals(&totals, &layout, out);
    }

    /// Steered answers so far per (name, region, CDN), names past `max_names` as `_other`,
    /// summed as a scrape sums them (the history takes deltas of these at an interval).
    /// Series with no answer yet are left out.
    pub fn steered_totals(&self) -> Vec<(SeriesKey, u64)> {
        let (mut totals, blocks) = {
            let state = self.shared.lock();
            let blocks: Vec<Arc<Block>> = state.blocks.iter().map(|(_, b)| Arc::clone(b)).collect();
            (state.folded.clone(), blocks)
        };
        for block in &blocks {
            totals.add(block);
        }
        totals.steered.into_iter().collect()
    }
}

fn render_totals(totals: &Totals, layout: &Layout, out: &mut String) {
    write_family(out, &metrics::DNS_QUERIES);
    for (t, transport) in TRANSPORTS.iter().enumerate() {
        for q in 0..N_QTYPES {
            let qtype = QTYPES.get(q).map_or("other", |(_, l)| l);
            for r in 0..N_RCODES {
                let rcode = RCODES.get(r).map_or("other", |(_, l)| l);
                let n = totals.queries[(t * N_QTYPES + q) * N_RCODES + r];
                write_sample(out, metrics::DNS_QUERIES.name, &[("transport", transport), ("qtype", qtype), ("rcode", rcode)], n);
            }
        }
    }
    write_family(out, &metrics::DNS_STEERED);
    let mut steered = totals.steered.clone();
    for key in layout.series.iter() {
        steered.entry(key.clone()).or_insert(0);
    }
    for ((name, region, cdn), n) in &steered {
        write_sample(out, metrics::DNS_STEERED.name, &[("name", name), ("region", region), ("cdn", cdn)], *n);
    }
    write_family(out, &metrics::DNS_TRUNCATED);
    write_sample(out, metrics::DNS_TRUNCATED.name, &[], totals.truncated);
    write_family(out, &metrics::DNS_ECS);
    for (ecs, n) in ECS.iter().zip(totals.ecs) {
        write_sample(out, metrics::DNS_ECS.name, &[("ecs", ecs)], n);
    }
    write_family(out, &metrics::DNS_DROPPED);
    for ((_, reason), n) in DROP_REASONS.iter().zip(totals.dropped) {
        write_sample(out, metrics::DNS_DROPPED.name, &[("reason", reason)], n);
    }
}

/// What one answered query contributes to the counters.
#[derive(Debug, Clone, Copy)]
pub struct Answered {
    /// How it arrived.
    pub transport: Transport,
    /// QTYPE (anything for an unreadable question: it is counted as `other`).
    pub qtype: u16,
    /// Response code sent (the 12-bit extended value).
    pub rcode: u16,
    /// Whether the query carried an ECS option; `None` when its question was unreadable.
    pub ecs: Option<bool>,
    /// Sent with TC=1.
    pub truncated: bool,
}

/// One worker's handle on its own block. Not `Clone`: one writer per block.
#[derive(Debug)]
pub struct WorkerCounters {
    shared: Arc<Shared>,
    id: u64,
    block: Arc<Block>,
}

impl WorkerCounters {
    /// Count an answered query.
    #[inline]
    pub fn answered(&mut self, a: &Answered) {
        let b = &*self.block;
        if let Some(c) = b.queries.get(query_index(a.transport, a.qtype, a.rcode)) {
            bump(c);
        }
        if let Some(present) = a.ecs {
            bump(&b.ecs[usize::from(!present)]);
        }
        if a.truncated {
            bump(&b.truncated);
        }
    }

    /// Count a steered answer given from `snap`.
    #[inline]
    pub fn steered(&mut self, snap: &Served, hit: &SteeredHit) {
        if self.block.layout.table_id != snap.table.id {
            self.relayout(snap);
        }
        let b = &*self.block;
        if let Some(c) = b.layout.series_of(hit).and_then(|s| b.steered.get(s)) {
            bump(c);
        }
    }

    /// Count a packet dropped without an answer.
    #[inline]
    pub fn dropped(&mut self, reason: DropReason) {
        bump(&self.block.dropped[drop_index(reason)]);
    }

    /// The zones changed: fold this block into the totals and continue in a new block with
    /// the new layout (one lock and one allocation per worker per reload).
    #[cold]
    #[inline(never)]
    fn relayout(&mut self, snap: &Served) {
        let mut state = self.shared.lock();
        let layout = state.layout_for(snap, self.shared.max_names);
        let fresh = Arc::new(Block::new(layout));
        state.folded.add(&self.block);
        let id = self.id;
        if let Some(entry) = state.blocks.iter_mut().find(|(i, _)| *i == id) {
            entry.1 = Arc::clone(&fresh);
        }
        self.block = fresh;
    }
}

impl Drop for WorkerCounters {
    /// A worker that ends leaves its counts in the totals.
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.folded.add(&self.block);
        let id = self.id;
        state.blocks.retain(|(i, _)| *i != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::Publisher;
    use crate::steer::decide::{CellPrefixes, Steering};

    /// Three steered names over two CDNs and two regions each.
    fn publisher() -> Publisher {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut zone = String::from(
            "version: 1\nzone: tv.test\nsoa: {primary: ns1.tv.test., contact: hostmaster.tv.test., serial: 1}\nrecords:\n  - {name: \"@\", type: NS, value: ns1.tv.test.}\nsteered:\n",
        );
        for name in ["live", "news", "sport"] {
            zone.push_str(&format!(
                "  {name}:\n    ttl: 20\n    last_resort: akamai\n    cdns: {{akamai: {{target: a.cdn.test}}, fastly: {{target: f.cdn.test}}}}\n    regions:\n      countries:\n        KR: {{akamai: 1}}\n      default: {{fastly: 1}}\n"
            ));
        }
        std::fs::write(dir.path().join("tv.test.yaml"), zone).expect("write");
        let zones = crate::zone::load_dir(dir.path()).expect("zones");
        let geo = crate::geo::GeoDb::open(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/iptoasn-country.mmdb")).expect("geo");
        Publisher::new(zones, geo, CellPrefixes::default())
    }

    fn reload(p: &mut Publisher) {
        let zones = std::sync::Arc::new((*p.current().zones).clone());
        p.publish_reload(zones, None, crate::steer::plan::configured);
    }

    fn hit(index: usize, region: usize, cdn: usize) -> SteeredHit {
        SteeredHit { index, steering: Steering { region, cdn, ttl: 20, scope: 24 } }
    }

    fn rendered(c: &DnsCounters, p: &Publisher) -> String {
        let mut out = String::new();
        c.render(&p.current(), &mut out);
        out
    }

    fn value(text: &str, series: &str) -> Option<u64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    const LIVE_KR_AKAMAI: &str = r#"cdnsteer_dns_steered_answers_total{name="live.tv.test.",region="country:KR",cdn="akamai"}"#;
    const OTHER_KR_AKAMAI: &str = r#"cdnsteer_dns_steered_answers_total{name="_other",region="country:KR",cdn="akamai"}"#;
    const UDP_A: &str = r#"cdnsteer_dns_queries_total{transport="udp",qtype="A",rcode="NOERROR"}"#;

    #[test]
    fn names_past_the_limit_share_other_series() {
        let p = publisher();
        let snap = p.current();
        let layout = Layout::derive(snap.table.id, &snap.zones, 1);
        // live: 2 regions x 2 CDNs of its own; news and sport share 4 `_other` series.
        assert_eq!(layout.series.len(), 8);
        assert_eq!(layout.series_of(&hit(1, 0, 0)), layout.series_of(&hit(2, 0, 0)));
        assert_ne!(layout.series_of(&hit(0, 0, 0)), layout.series_of(&hit(1, 0, 0)));
        let other = layout.series_of(&hit(2, 1, 1)).expect("in layout");
        assert_eq!(&*layout.series[other].0, OTHER_NAME);
        assert_eq!((&*layout.series[other].1, &*layout.series[other].2), ("default", "fastly"));
        assert_eq!(layout.series_of(&hit(3, 0, 0)), None);
        assert_eq!(layout.series_of(&hit(0, 2, 0)), None);
        assert_eq!(layout.series_of(&hit(0, 0, 2)), None);
        assert_eq!(Layout::derive(snap.table.id, &snap.zones, 0).series.len(), 4);
        assert_eq!(Layout::derive(snap.table.id, &snap.zones, 50).series.len(), 12);
    }

    #[test]
    fn counts_survive_reloads_and_worker_exits() {
        let mut p = publisher();
        let counters = DnsCounters::new(1);
        let start = rendered(&counters, &p);
        assert_eq!(value(&start, LIVE_KR_AKAMAI), Some(0), "{start}");
        assert_eq!(value(&start, OTHER_KR_AKAMAI), Some(0), "{start}");
        let mut w = counters.worker();
        let a = Answered { transport: Transport::Udp, qtype: 1, rcode: 0, ecs: Some(true), truncated: false };
        w.answered(&a);
        w.steered(&p.current(), &hit(0, 0, 0));
        w.steered(&p.current(), &hit(2, 0, 0));
        reload(&mut p);
        w.answered(&a);
        w.steered(&p.current(), &hit(0, 0, 0));
        w.steered(&p.current(), &hit(1, 0, 0));
        let text = rendered(&counters, &p);
        assert_eq!(value(&text, LIVE_KR_AKAMAI), Some(2), "{text}");
        assert_eq!(value(&text, OTHER_KR_AKAMAI), Some(2), "{text}");
        assert_eq!(value(&text, UDP_A), Some(2), "{text}");
        assert_eq!(value(&text, r#"cdnsteer_dns_ecs_queries_total{ecs="present"}"#), Some(2), "{text}");
        drop(w);
        let text = rendered(&counters, &p);
        assert_eq!(value(&text, LIVE_KR_AKAMAI), Some(2), "{text}");
        assert_eq!(value(&text, UDP_A), Some(2), "{text}");
        assert_eq!(counters.shared.lock().blocks.len(), 0);
        // Each series once, after its HELP and TYPE.
        assert_eq!(text.matches(LIVE_KR_AKAMAI).count(), 1);
        assert_eq!(text.matches("# TYPE cdnsteer_dns_").count(), 5);
    }

    /// Sum of every sample of the family named `name`.
    fn family_total(text: &str, name: &str) -> u64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
            .sum()
    }

    #[test]
    fn scrapes_never_go_down_while_workers_move_between_layouts() {
        /// Layouts the worker must have crossed; bounded by `MAX_QUERIES` in any case.
        const LAYOUTS: usize = 50;
        const MAX_QUERIES: u64 = 5_000_000;
        let mut p = publisher();
        let reader = p.reader();
        let counters = DnsCounters::new(1);
        let done = std::sync::atomic::AtomicBool::new(false);
        let (queries, layouts) = std::thread::scope(|s| {
            let worker = s.spawn(|| {
                let mut w = counters.worker();
                let a = Answered { transport: Transport::Tcp, qtype: 28, rcode: 0, ecs: None, truncated: false };
                let (mut n, mut tables, mut last_table) = (0u64, 0usize, 0u64);
                while tables < LAYOUTS && n < MAX_QUERIES {
                    let snap = reader.load();
                    if snap.table.id != last_table {
                        (tables, last_table) = (tables + 1, snap.table.id);
                    }
                    w.answered(&a);
                    w.steered(&snap, &hit((n % 3) as usize, 0, 0));
                    n += 1;
                }
                (n, tables)
            });
            let reloads = s.spawn(|| {
                while !done.load(Relaxed) {
                    reload(&mut p);
                    std::thread::yield_now();
                }
            });
            let mut last = (0, 0);
            while !worker.is_finished() {
                let mut text = String::new();
                counters.render(&reader.load(), &mut text);
                let now = (family_total(&text, metrics::DNS_QUERIES.name), family_total(&text, metrics::DNS_STEERED.name));
                assert!(now.0 >= last.0 && now.1 >= last.1, "went down: {last:?} -> {now:?}");
                last = now;
            }
            let counted = worker.join().expect("worker");
            done.store(true, Relaxed);
            reloads.join().expect("reloads");
            counted
        });
        assert!(layouts > 1, "no reload happened while counting");
        let mut text = String::new();
        counters.render(&reader.load(), &mut text);
        assert_eq!(family_total(&text, metrics::DNS_QUERIES.name), queries);
        assert_eq!(family_total(&text, metrics::DNS_STEERED.name), queries);
        assert_eq!(value(&text, LIVE_KR_AKAMAI), Some(queries.div_ceil(3)), "{text}");
        assert_eq!(value(&text, OTHER_KR_AKAMAI), Some(queries - queries.div_ceil(3)), "{text}");
    }

    #[test]
    fn each_worker_counts_in_its_own_block_and_leaves_its_counts_when_it_ends() {
        let p = publisher();
        let counters = DnsCounters::new(DEFAULT_MAX_NAMES);
        let snap = p.current();
        let count = |w: &mut WorkerCounters| {
            w.dropped(DropReason::Short);
            w.steered(&snap, &hit(0, 0, 0));
        };
        let mut first = counters.worker();
        count(&mut first);
        count(&mut first);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut own = counters.worker();
                count(&mut own);
            })
            .join()
            .expect("thread");
        });
        // Two workers, two blocks; the finished one's was folded when it was dropped.
        let text = rendered(&counters, &p);
        assert_eq!(value(&text, r#"cdnsteer_dns_dropped_packets_total{reason="short"}"#), Some(3), "{text}");
        assert_eq!(value(&text, LIVE_KR_AKAMAI), Some(3), "{text}");
        assert_eq!(counters.shared.lock().blocks.len(), 1);
        drop(first);
        assert_eq!(counters.shared.lock().blocks.len(), 0);
        assert_eq!(value(&rendered(&counters, &p), LIVE_KR_AKAMAI), Some(3));
    }

    #[test]
    fn label_tables_agree_with_the_lookups() {
        for (i, (code, _)) in QTYPES.iter().enumerate() {
            assert_eq!(qtype_index(*code), i);
        }
        for (i, (code, _)) in RCODES.iter().enumerate() {
            assert_eq!(rcode_index(*code), i);
        }
        for other in [0, 3, 41, 99, 252, 256, 258, 65535] {
            assert_eq!(qtype_index(other), QTYPE_OTHER, "{other}");
        }
        for other in [6, 15, 17, 4095] {
            assert_eq!(rcode_index(other), RCODE_OTHER, "{other}");
        }
        for (i, (reason, _)) in DROP_REASONS.iter().enumerate() {
            assert_eq!(drop_index(*reason), i);
        }
        assert_eq!(query_index(Transport::Tcp, 0xFFFF, 0xFFFF), N_QUERIES - 1);
    }
}
