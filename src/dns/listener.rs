//! The DNS listeners: binds every address (TCP first, then a group of UDP sockets on the same
//! port) and starts the threads that serve them, off the control plane's runtime:
//!
//! - UDP (`udp`): `udp.workers` OS threads per address, each with its own `SO_REUSEPORT`
//!   socket, batched `recvmmsg`/`sendmmsg`, no runtime.
//! - TCP (`tcp`): one OS thread with a single-threaded runtime for every address.
//!
//! The control plane (engine ticks, probes, admin API, reloads) keeps the runtime that called
//! `start`; the kernel schedules all of them, so a flood on one path cannot starve the others.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use tokio_util::sync::CancellationToken;

use super::counters::DnsCounters;
use super::handler::Handler;
use super::tcp::{self, TcpConfig};
use super::udp::{self, UdpConfig, UdpGroup};

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Addresses to serve on, UDP and TCP on each.
    pub addrs: Vec<SocketAddr>,
    /// TCP limits.
    pub tcp: TcpConfig,
    /// UDP threads, batches and socket buffers.
    pub udp: UdpConfig,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig { addrs: vec![SocketAddr::from(([127, 0, 0, 1], 5353))], tcp: TcpConfig::default(), udp: UdpConfig::default() }
    }
}

/// Sockets bound and ready to serve.
#[derive(Debug)]
pub struct Bound {
    udp: Vec<UdpGroup>,
    tcp: Vec<std::net::TcpListener>,
}

impl Bound {
    /// The UDP addresses actually bound (ports resolved).
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().map(|g| g.addr).collect()
    }

    /// The TCP addresses actually bound.
    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.tcp.iter().filter_map(|s| s.local_addr().ok()).collect()
    }
}

/// Bind TCP and a UDP socket group on every address. TCP comes first and without
/// `SO_REUSEPORT`, so a second server on the same port fails before it could take a share of
/// the port's UDP traffic. With port 0 the OS picks the TCP port and UDP binds the same one
/// (retried a few times when that UDP port is taken).
pub fn bind(config: &ListenConfig) -> io::Result<Bound> {
    let mut bound = Bound { udp: Vec::new(), tcp: Vec::new() };
    for addr in &config.addrs {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let tcp = tcp::bind(*addr).map_err(|e| io::Error::new(e.kind(), format!("TCP {addr}: {e}")))?;
            let actual = tcp.local_addr()?;
            match UdpGroup::bind(actual, &config.udp) {
                Ok(group) => {
                    bound.udp.push(group);
                    bound.tcp.push(tcp);
                    break;
                }
                Err(e) if addr.port() == 0 && attempts < 20 && e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(io::Error::new(e.kind(), format!("UDP {actual}: {e}"))),
            }
        }
    }
    Ok(bound)
}

/// The DNS threads. Dropping this stops them (without waiting); `join` waits.
#[derive(Debug)]
pub struct DnsThreads {
    udp: Vec<JoinHandle<()>>,
    tcp: Option<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
    tcp_stop: CancellationToken,
}

impl DnsThreads {
    /// Tell the UDP threads to stop: each finishes the batch in hand (within its 100 ms
    /// receive timeout when idle). TCP keeps serving until `join`, so the port stays ours
    /// until the last UDP socket is closed: a server started meanwhile on the same port fails
    /// at its TCP bind instead of joining a UDP group that is going away.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// A task that calls `stop` when `stop` is cancelled.
    pub fn stop_on(&self, stop: CancellationToken) -> impl Future<Output = ()> + Send + 'static {
        let stopping = Arc::clone(&self.stopping);
        async move {
            stop.cancelled().await;
            stopping.store(true, Ordering::Relaxed);
        }
    }

    /// Stop and wait for every thread to finish (blocking): UDP first, then TCP.
    pub fn join(mut self) {
        self.stop();
        for thread in std::mem::take(&mut self.udp) {
            if thread.join().is_err() {
                tracing::error!("a UDP thread panicked");
            }
        }
        self.tcp_stop.cancel();
        if let Some(thread) = self.tcp.take()
            && thread.join().is_err()
        {
            tracing::error!("the TCP thread panicked");
        }
    }
}

impl Drop for DnsThreads {
    fn drop(&mut self) {
        // Not joined (dropped without `Running::shutdown`): stop everything now.
        self.stopping.store(true, Ordering::Relaxed);
        self.tcp_stop.cancel();
    }
}

/// Start serving `bound`, counting in `counters`.
pub fn spawn(bound: Bound, handler: &Handler, counters: &DnsCounters, config: &ListenConfig) -> io::Result<DnsThreads> {
    let mut threads = DnsThreads { udp: Vec::new(), tcp: None, stopping: Arc::new(AtomicBool::new(false)), tcp_stop: CancellationToken::new() };
    for group in bound.udp {
        threads.udp.extend(udp::spawn(group, handler, counters, config.udp.batch, &threads.stopping)?);
    }
    threads.tcp = Some(tcp::spawn(bound.tcp, handler.clone(), counters, config.tcp, threads.tcp_stop.clone())?);
    Ok(threads)
}
