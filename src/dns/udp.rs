//! The UDP path: for each listen address, a group of OS threads, each with its own
//! `SO_REUSEPORT` socket (the kernel spreads datagrams over the group by flow hash), blocking
//! in `recvmmsg` when idle and answering a whole batch with one `sendmmsg`. No async runtime,
//! no allocation per packet, no lock: each thread owns its buffers and its counters, and reads
//! the published snapshot through the handler.
//!
//! A thread wakes at least every `WAKE_EVERY` (the socket's receive timeout) to see whether
//! the server is stopping; it answers what it already received before it exits.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::counters::WorkerCounters;
use super::handler::{Handler, Transport};
use super::sys::{self, Batch, Buffer, BufferSet};
use super::wire::DropReason;

/// How long a thread blocks in the kernel before it looks at the stop flag.
const WAKE_EVERY: Duration = Duration::from_millis(100);

/// UDP settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpConfig {
    /// Threads (and sockets) per listen address.
    pub workers: usize,
    /// Datagrams taken and answered per system call.
    pub batch: usize,
    /// Receive buffer asked for each socket, bytes.
    pub receive_buffer: usize,
    /// Send buffer asked for each socket, bytes.
    pub send_buffer: usize,
}

/// Default socket buffers: 4 MiB absorbs about 10 ms of a million queries per second.
pub const DEFAULT_BUFFER: usize = 4 << 20;
/// Default batch: enough to amortise the system call, small enough to stay in cache.
pub const DEFAULT_BATCH: usize = 32;

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig { workers: std::thread::available_parallelism().map_or(2, |n| n.get()), batch: DEFAULT_BATCH, receive_buffer: DEFAULT_BUFFER, send_buffer: DEFAULT_BUFFER }
    }
}

/// The sockets of one listen address, bound and sized, not yet served.
#[derive(Debug)]
pub struct UdpGroup {
    /// The address bound (port resolved).
    pub addr: SocketAddr,
    sockets: Vec<std::net::UdpSocket>,
    /// Bound to a wildcard address: replies need the query's destination as their source.
    pktinfo: bool,
}

/// One `SO_REUSEPORT` socket on `addr`.
fn reuseport_socket(addr: SocketAddr) -> io::Result<socket2::Socket> {
    let sock = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        // `[::]:53` must not take IPv4 too: `0.0.0.0:53` is bound separately.
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_port(true)?;
    sock.bind(&addr.into())?;
    Ok(sock)
}

impl UdpGroup {
    /// Bind `config.workers` sockets on `addr` (whose port must already be chosen), sized and
    /// set up for the worker threads. Logs the buffer sizes the kernel granted.
    pub fn bind(addr: SocketAddr, config: &UdpConfig) -> io::Result<UdpGroup> {
        let pktinfo = addr.ip().is_unspecified();
        let mut sockets = Vec::with_capacity(config.workers.max(1));
        let mut granted = (0, 0, BufferSet::Forced);
        for _ in 0..config.workers.max(1) {
            let sock = reuseport_socket(addr)?;
            sock.set_read_timeout(Some(WAKE_EVERY))?;
            let rcv = sys::set_buffer(sock.as_fd(), Buffer::Receive, config.receive_buffer)?;
            let snd = sys::set_buffer(sock.as_fd(), Buffer::Send, config.send_buffer)?;
            if pktinfo {
                sys::enable_pktinfo(sock.as_fd(), addr.is_ipv6())?;
            }
            sys::never_fragment(sock.as_fd(), addr.is_ipv6())?;
            let how = if rcv == BufferSet::Forced && snd == BufferSet::Forced { BufferSet::Forced } else { BufferSet::Capped };
            granted = (sock.recv_buffer_size()?, sock.send_buffer_size()?, how);
            sockets.push(std::net::UdpSocket::from(sock));
        }
        let (rcv, snd, how) = granted;
        // getsockopt reports twice what was set (the kernel's bookkeeping); halve it so the
        // log compares with the setting.
        let (rcv, snd) = (rcv / 2, snd / 2);
        if how == BufferSet::Capped && (rcv < config.receive_buffer || snd < config.send_buffer) {
            tracing::warn!(%addr, receive_buffer = rcv, send_buffer = snd, asked = config.receive_buffer, "UDP socket buffers capped by net.core.rmem_max/wmem_max (no CAP_NET_ADMIN to force them): raise the sysctls, see README");
        } else {
            tracing::info!(%addr, sockets = sockets.len(), receive_buffer = rcv, send_buffer = snd, forced = how == BufferSet::Forced, pktinfo, "UDP sockets bound");
        }
        Ok(UdpGroup { addr, sockets, pktinfo })
    }
}

/// Start one thread per socket of `group`. Each counts in its own `WorkerCounters` (from
/// `counters`, called once per thread) and stops when `stopping` is set.
pub fn spawn(group: UdpGroup, handler: &Handler, counters: &super::DnsCounters, batch: usize, stopping: &Arc<AtomicBool>) -> io::Result<Vec<JoinHandle<()>>> {
    let mut threads = Vec::with_capacity(group.sockets.len());
    for (i, socket) in group.sockets.into_iter().enumerate() {
        let worker = Worker { socket, handler: handler.clone(), counts: counters.worker(), stopping: Arc::clone(stopping), batch: Batch::new(batch, group.pktinfo) };
        // `udp53.0`: port and index (thread names are cut at 15 bytes).
        let thread = std::thread::Builder::new().name(format!("udp{}.{i}", group.addr.port())).spawn(move || worker.run())?;
        threads.push(thread);
    }
    Ok(threads)
}

/// One UDP thread's state.
struct Worker {
    socket: std::net::UdpSocket,
    handler: Handler,
    counts: WorkerCounters,
    stopping: Arc<AtomicBool>,
    batch: Batch,
}

impl Worker {
    /// Serve until the server stops. A panic while answering (a bug: the handler is fuzzed
    /// not to) is logged and the loop starts again with the next batch, so the group never
    /// silently loses a socket's share of the queries.
    fn run(mut self) {
        loop {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.serve())) {
                Ok(()) => return,
                Err(_) => tracing::error!("a UDP thread panicked while answering; it goes on with the next batch"),
            }
        }
    }

    fn serve(&mut self) {
        let mut last_error: Option<io::ErrorKind> = None;
        while !self.stopping.load(Ordering::Relaxed) {
            let n = match self.batch.recv(self.socket.as_fd()) {
                Ok(n) => {
                    last_error = None;
                    n
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => continue,
                Err(e) => {
                    // Out of memory and the like: keep serving, log once per kind, and do not
                    // spin on an error that repeats.
                    if last_error != Some(e.kind()) {
                        tracing::warn!(error = %e, "udp receive error");
                        last_error = Some(e.kind());
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            };
            // One snapshot load per batch, released before the thread blocks again.
            let snap = self.handler.snapshot();
            for i in 0..n {
                let Some((packet, reply)) = self.batch.slot(i) else { break };
                if packet.truncated {
                    self.counts.dropped(DropReason::Oversized);
                    continue;
                }
                let Some(src) = packet.src.filter(|s| s.port() != 0) else {
                    self.counts.dropped(DropReason::SourcePortZero);
                    continue;
                };
                if self.handler.handle_from(&snap, packet.data, src, Transport::Udp, reply, &mut self.counts) {
                    self.batch.queue(i);
                }
            }
            drop(snap);
            let sent = self.batch.send(self.socket.as_fd());
            if let Some(kind) = sent.error {
                for _ in 0..sent.failed {
                    self.counts.dropped(DropReason::SendFailed);
                }
                tracing::debug!(error = %io::Error::from(kind), failed = sent.failed, "udp send error");
            }
        }
    }
}
