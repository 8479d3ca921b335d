//! The TCP path: length-prefixed queries (RFC 7766) on one OS thread with its own
//! single-threaded runtime, so a flood of connections competes with nothing but itself: the
//! control plane runs on another runtime, UDP on its own threads. A connection cap, an idle
//! timeout and a back-off when the process runs out of descriptors, as before; each connection
//! allocates its buffers once and reuses them for every message.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::cell::RefCell;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::counters::{DnsCounters, WorkerCounters};
use super::handler::{Handler, Transport};

/// TCP settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfig {
    /// Connections idle longer than this are closed.
    pub idle: Duration,
    /// Most connections open at once; more wait in the kernel backlog.
    pub max_connections: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig { idle: Duration::from_secs(10), max_connections: 1024 }
    }
}

/// A listening socket for `addr`, without `SO_REUSEPORT`: a second server on the same port
/// fails here, before it binds any UDP socket (which would share the port).
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let sock = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    // Restarts must not wait out TIME_WAIT connections of the previous process.
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// Serve `listeners` on a thread of their own until `stop` is cancelled; the thread's
/// connections count in one `WorkerCounters`. The runtime is built on that thread, and an
/// error building it is returned here.
pub fn spawn(listeners: Vec<std::net::TcpListener>, handler: Handler, counters: &DnsCounters, config: TcpConfig, stop: CancellationToken) -> io::Result<JoinHandle<()>> {
    let counts = counters.worker();
    let (started, outcome) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
    let thread = std::thread::Builder::new().name("dns-tcp".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(r) => {
                let _ = started.send(Ok(()));
                r
            }
            Err(e) => {
                let _ = started.send(Err(e));
                return;
            }
        };
        let shared = Tcp { handler, counts: Rc::new(RefCell::new(counts)), idle: config.idle };
        let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let mut acceptors = JoinSet::new();
            for listener in listeners {
                match TcpListener::from_std(listener) {
                    Ok(l) => {
                        acceptors.spawn_local(acceptor(l, shared.clone(), Arc::clone(&permits), stop.clone()));
                    }
                    Err(e) => tracing::error!(error = %e, "tcp listener unusable"),
                }
            }
            while acceptors.join_next().await.is_some() {}
        });
    })?;
    match outcome.recv() {
        Ok(Ok(())) => Ok(thread),
        Ok(Err(e)) => Err(io::Error::new(e.kind(), format!("TCP runtime: {e}"))),
        Err(_) => Err(io::Error::other("the TCP thread stopped before its runtime started")),
    }
}

/// What every connection needs. The counters are shared by the connections of this one
/// thread: a connection holds the borrow only while it counts, never across an await.
#[derive(Clone)]
struct Tcp {
    handler: Handler,
    counts: Rc<RefCell<WorkerCounters>>,
    idle: Duration,
}

async fn acceptor(listener: TcpListener, tcp: Tcp, permits: Arc<Semaphore>, stop: CancellationToken) {
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
                conns.spawn_local(async move {
                    let _permit = permit;
                    tokio::select! {
                        r = connection(stream, src, &tcp) => {
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
/// sends something that is not DNS. The query, reply and framed buffers live as long as the
/// connection; a message only grows them past the largest seen so far.
async fn connection(mut stream: TcpStream, src: SocketAddr, tcp: &Tcp) -> io::Result<()> {
    let idle = tcp.idle;
    stream.set_nodelay(true)?;
    let mut msg = Vec::with_capacity(512);
    let mut reply = Vec::with_capacity(512);
    let mut framed = Vec::with_capacity(514);
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Err(_) => return Ok(()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(r) => r?,
        };
        msg.resize(usize::from(u16::from_be_bytes(len)), 0);
        tokio::time::timeout(idle, stream.read_exact(&mut msg))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle in the middle of a message"))??;
        let answered = match tcp.counts.try_borrow_mut() {
            Ok(mut counts) => tcp.handler.handle_counted(&msg, src, Transport::Tcp, &mut reply, &mut counts),
            Err(_) => tcp.handler.handle_into(&msg, src, Transport::Tcp, &mut reply),
        };
        if !answered {
            // Junk on a stream: nothing sensible to answer, and framing may be lost.
            return Ok(());
        }
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        // One write, so the length and the message leave in one segment; a client that
        // stops reading is dropped after the idle timeout rather than holding its slot.
        framed.clear();
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        tokio::time::timeout(idle, stream.write_all(&framed))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client not reading its answers"))??;
    }
}
