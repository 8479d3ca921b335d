//! UDP and TCP listeners. Own loops rather than hickory's `Server`: a UDP packet is answered
//! inline by a fixed pool of workers (no task spawn per packet), QR=1 packets are dropped
//! before decoding, and TCP has a connection cap, an idle timeout and a back-off when the
//! process runs out of descriptors. Each UDP worker owns its counters; TCP connections count
//! in the counters of the thread they run on.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::counters::DnsCounters;
use super::handler::{Handler, Transport};
use super::wire::DropReason;

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Addresses to serve on, UDP and TCP on each.
    pub addrs: Vec<SocketAddr>,
    /// TCP connections idle longer than this are closed.
    pub tcp_idle: Duration,
    /// Most TCP connections open at once; more wait in the kernel backlog.
    pub tcp_max_connections: usize,
    /// UDP worker tasks per socket.
    pub udp_workers: usize,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            addrs: vec![SocketAddr::from(([127, 0, 0, 1], 5353))],
            tcp_idle: Duration::from_secs(10),
            tcp_max_connections: 1024,
            udp_workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Sockets bound and ready to serve.
#[derive(Debug)]
pub struct Bound {
    udp: Vec<Arc<UdpSocket>>,
    tcp: Vec<TcpListener>,
}

impl Bound {
    /// The UDP addresses actually bound (ports resolved).
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().filter_map(|s| s.local_addr().ok()).collect()
    }

    /// The TCP addresses actually bound.
    pub fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.tcp.iter().filter_map(|s| s.local_addr().ok()).collect()
    }
}

/// A socket for `addr`; IPv6 sockets are IPv6-only (Linux would otherwise let `[::]:53` take
/// IPv4 too and refuse a separate `0.0.0.0:53`).
fn socket(addr: SocketAddr, kind: socket2::Type, protocol: socket2::Protocol) -> io::Result<socket2::Socket> {
    let sock = socket2::Socket::new(socket2::Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    Ok(sock)
}

fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = socket(addr, socket2::Type::DGRAM, socket2::Protocol::UDP)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = socket(addr, socket2::Type::STREAM, socket2::Protocol::TCP)?;
    // Restarts must not wait out TIME_WAIT connections of the previous process.
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    TcpListener::from_std(sock.into())
}

/// Bind UDP and TCP on every address. With port 0 the UDP port is chosen by the OS and TCP is
/// bound to the same port (retrying a few times if that TCP port is taken).
pub async fn bind(addrs: &[SocketAddr]) -> io::Result<Bound> {
    let mut bound = Bound { udp: Vec::new(), tcp: Vec::new() };
    for addr in addrs {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let udp = bind_udp(*addr).map_err(|e| io::Error::new(e.kind(), format!("UDP {addr}: {e}")))?;
            let actual = udp.local_addr()?;
            match bind_tcp(actual) {
                Ok(tcp) => {
                    bound.udp.push(Arc::new(udp));
                    bound.tcp.push(tcp);
                    break;
                }
                Err(e) if addr.port() == 0 && attempts < 20 && e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(io::Error::new(e.kind(), format!("TCP {actual}: {e}"))),
            }
        }
    }
    Ok(bound)
}

/// Start serving on `bound` until `stop` is cancelled, counting in `counters`.
pub fn spawn(bound: Bound, handler: Handler, counters: &DnsCounters, config: &ListenConfig, stop: CancellationToken, tasks: &mut JoinSet<()>) {
    for socket in bound.udp {
        for _ in 0..config.udp_workers.max(1) {
            tasks.spawn(udp_worker(Arc::clone(&socket), handler.clone(), counters.clone(), stop.clone()));
        }
    }
    let permits = Arc::new(Semaphore::new(config.tcp_max_connections.max(1)));
    for listener in bound.tcp {
        let tcp = Tcp { handler: handler.clone(), counters: counters.clone(), idle: config.tcp_idle };
        tasks.spawn(tcp_acceptor(listener, tcp, Arc::clone(&permits), stop.clone()));
    }
}

/// Drain the socket with non-blocking receives and park on readiness only when it is empty:
/// under load a worker never goes back to the reactor, so a query costs two syscalls.
async fn udp_worker(socket: Arc<UdpSocket>, handler: Handler, counters: DnsCounters, stop: CancellationToken) {
    let mut counts = counters.worker();
    let mut buf = vec![0u8; 65_535];
    let mut reply = Vec::with_capacity(1232);
    loop {
        let (len, src) = match socket.try_recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tokio::select! {
                    r = socket.readable() => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "udp socket failed");
                            return;
                        }
                    }
                    _ = stop.cancelled() => return,
                }
                continue;
            }
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems; keep serving.
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        if stop.is_cancelled() {
            return;
        }
        if src.port() == 0 {
            counts.dropped(DropReason::SourcePortZero);
            continue;
        }
        if !handler.handle_counted(&buf[..len], src, Transport::Udp, &mut reply, &mut counts) {
            continue;
        }
        let sent = match socket.try_send_to(&reply, src) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.send_to(&reply, src).await,
            other => other,
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, %src, "udp send error");
        }
    }
}

/// What every TCP connection needs.
#[derive(Clone)]
struct Tcp {
    handler: Handler,
    counters: DnsCounters,
    idle: Duration,
}

async fn tcp_acceptor(listener: TcpListener, tcp: Tcp, permits: Arc<Semaphore>, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        let Ok(permit) = (tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => p,
            _ = stop.cancelled() => break,
        }) else {
            break;
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.cancelled() => break,
        };
        match accepted {
            Ok((stream, src)) => {
                let tcp = tcp.clone();
                let stop = stop.clone();
                conns.spawn(async move {
                    let _permit = permit;
                    tokio::select! {
                        r = tcp_connection(stream, src, &tcp) => {
                            if let Err(e) = r { tracing::debug!(error = %e, %src, "tcp connection closed"); }
                        }
                        _ = stop.cancelled() => {}
                    }
                });
            }
            Err(e) => {
                // EMFILE/ENFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "tcp accept failed; backing off");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        while conns.try_join_next().is_some() {}
    }
    conns.shutdown().await;
}

/// Serve length-prefixed queries on one connection until the client closes it, goes idle, or
/// sends something that is not DNS.
async fn tcp_connection(mut stream: TcpStream, src: SocketAddr, tcp: &Tcp) -> io::Result<()> {
    let idle = tcp.idle;
    stream.set_nodelay(true)?;
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Err(_) => return Ok(()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(r) => r?,
        };
        let len = usize::from(u16::from_be_bytes(len));
        let mut msg = vec![0u8; len];
        tokio::time::timeout(idle, stream.read_exact(&mut msg))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle in the middle of a message"))??;
        let mut reply = Vec::with_capacity(512);
        let answered = tcp
            .counters
            .with_thread_counters(|c| tcp.handler.handle_counted(&msg, src, Transport::Tcp, &mut reply, c))
            .unwrap_or_else(|| tcp.handler.handle_into(&msg, src, Transport::Tcp, &mut reply));
        if !answered {
            // Junk on a stream: nothing sensible to answer, and framing may be lost.
            return Ok(());
        }
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        stream.write_all(&framed).await?;
    }
}
