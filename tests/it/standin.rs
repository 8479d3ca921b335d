//! A CDN stand-in: a real HTTP/1.1 server (hand-written on tokio, so it can misbehave on
//! purpose) on a loopback address, serving `GET /probe.bin` as an N-byte object (256 KiB by
//! default) with `X-Cache: HIT`. Tests switch its behaviour at run time with [`Mode`].
//!
//! ```ignore
//! let edge = StandIn::start("127.0.0.2");      // any 127/8 address; port chosen by the OS
//! let probe_url = edge.url();                   // http://127.0.0.2:PORT/probe.bin
//! edge.set(Mode::Status(503));                  // from now on every request gets a 503
//! let control = edge.control();                 // clonable handle for other tasks
//! ```
//!
//! Must be started inside a tokio runtime. Dropping the [`StandIn`] stops it: the listener
//! closes and every open connection (hung ones included) is dropped. Other paths answer 404;
//! `HEAD` is answered with headers only; keep-alive is honoured unless the client sends
//! `Connection: close`.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Size of the probe object unless changed with [`Control::set_body_len`].
pub const DEFAULT_BODY_LEN: usize = 256 * 1024;

/// Path of the probe object.
pub const PATH: &str = "/probe.bin";

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// How the stand-in answers requests for [`PATH`] (read when each request arrives).
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// 200, the whole object, `X-Cache: HIT`.
    Healthy,
    /// As `Healthy`, after waiting this long before the response head.
    SlowFirstByte(Duration),
    /// As `Healthy`, with the body paced so its last byte leaves no earlier than
    /// `len / bytes_per_sec` after the head.
    SlowBody {
        /// Body rate, bytes per second (0 counts as 1).
        bytes_per_sec: u64,
    },
    /// This status with a short text body.
    Status(u16),
    /// Head (with the full `Content-Length`) and half the body, then an abortive close
    /// (SO_LINGER 0: the client sees a reset).
    Reset,
    /// Read the request, never answer (until the stand-in is dropped).
    Hang,
    /// As `Healthy` with `X-Cache: MISS`.
    CacheMiss,
}

/// State shared by the server and its handles.
#[derive(Debug)]
struct Shared {
    mode: Mutex<Mode>,
    body_len: AtomicUsize,
    requests: AtomicU64,
    last_host: Mutex<Option<String>>,
}

/// A cheap clonable handle on a running stand-in: switch its mode, read what it saw. Does not
/// keep the server alive.
#[derive(Debug, Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Control {
    /// Answer requests from now on as `mode` says.
    pub fn set(&self, mode: Mode) {
        *lock(&self.shared.mode) = mode;
    }

    /// Serve an object of `len` bytes from now on.
    pub fn set_body_len(&self, len: usize) {
        self.shared.body_len.store(len, Ordering::SeqCst);
    }

    /// The object size served now.
    pub fn body_len(&self) -> usize {
        self.shared.body_len.load(Ordering::SeqCst)
    }

    /// Requests received so far (heads parsed, whatever the mode or path).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The `Host` header of the last request, if it had one.
    pub fn last_host(&self) -> Option<String> {
        lock(&self.shared.last_host).clone()
    }
}

/// A running stand-in; stops when dropped. Derefs to its [`Control`].
#[derive(Debug)]
pub struct StandIn {
    addr: SocketAddr,
    https: bool,
    control: Control,
    _stop: DropGuard,
}

impl Deref for StandIn {
    type Target = Control;

    fn deref(&self) -> &Control {
        &self.control
    }
}

impl StandIn {
    /// Plain HTTP on `ip` (e.g. "127.0.0.2") and an OS-chosen port, `Mode::Healthy`.
    pub fn start(ip: &str) -> StandIn {
        StandIn::launch(ip, None)
    }

    /// HTTPS on `ip` with the given PEM certificate chain (leaf first) and PKCS#8 key.
    pub fn start_tls(ip: &str, cert_chain_pem: &str, key_pem: &str) -> StandIn {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes()).collect::<Result<_, _>>().expect("stand-in certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("stand-in key PEM");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("stand-in certificate and key");
        StandIn::launch(ip, Some(TlsAcceptor::from(Arc::new(config))))
    }

    fn launch(ip: &str, tls: Option<TlsAcceptor>) -> StandIn {
        let listener = std::net::TcpListener::bind((ip, 0)).expect("bind stand-in");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let listener = TcpListener::from_std(listener).expect("stand-in needs a tokio runtime");
        let addr = listener.local_addr().expect("stand-in address");
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Healthy),
            body_len: AtomicUsize::new(DEFAULT_BODY_LEN),
            requests: AtomicU64::new(0),
            last_host: Mutex::new(None),
        });
        let stop = CancellationToken::new();
        let https = tls.is_some();
        tokio::spawn(accept_loop(listener, tls, shared.clone(), stop.clone()));
        StandIn { addr, https, control: Control { shared }, _stop: stop.drop_guard() }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/probe.bin` (`https://` for [`StandIn::start_tls`]).
    pub fn url(&self) -> String {
        format!("{}://{}{PATH}", if self.https { "https" } else { "http" }, self.addr)
    }

    /// A clonable handle that outlives borrows of the stand-in (not the stand-in itself).
    pub fn control(&self) -> Control {
        self.control.clone()
    }
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let tcp = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        let (tls, shared, stop) = (tls.clone(), shared.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = connection(tcp, tls, &shared) => {}
            }
        });
    }
}

/// How a connection ends.
#[derive(Debug, PartialEq)]
enum End {
    /// Orderly close (FIN, or TLS close_notify then FIN).
    Close,
    /// Abortive close (RST).
    Abort,
}

async fn connection(tcp: TcpStream, tls: Option<TlsAcceptor>, shared: &Shared) {
    let _ = tcp.set_nodelay(true);
    match tls {
        None => {
            let mut s = tcp;
            if serve(&mut s, shared).await == End::Abort {
                let _ = s.set_zero_linger();
            }
        }
        Some(acceptor) => {
            let Ok(mut s) = acceptor.accept(tcp).await else { return };
            if serve(&mut s, shared).await == End::Abort {
                let _ = s.get_ref().0.set_zero_linger();
            }
        }
    }
}

/// A parsed request head.
struct Head {
    method: String,
    path: String,
    host: Option<String>,
    keep_alive: bool,
}

fn parse_head(text: &str) -> Option<Head> {
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    let (mut host, mut connection) = (None, None);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("host") {
                host = Some(value.trim().to_string());
            } else if name.trim().eq_ignore_ascii_case("connection") {
                connection = Some(value.trim().to_ascii_lowercase());
            }
        }
    }
    let keep_alive = match connection.as_deref() {
        Some(c) if c.contains("close") => false,
        Some(c) if c.contains("keep-alive") => true,
        _ => version == "HTTP/1.1",
    };
    Some(Head {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or(target).to_string(),
        host,
        keep_alive,
    })
}

/// Read one request head from `s`, keeping any bytes after it in `buf`.
async fn read_head<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<Head> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_head(&String::from_utf8_lossy(&buf[..end]));
            buf.drain(..end + 4);
            return head;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// What to do after a response.
enum Next {
    /// Response complete; keep-alive allowed.
    Done,
    /// Close abortively.
    Abort,
    /// Never answer.
    Hang,
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, shared: &Shared) -> End {
    let mut buf = Vec::new();
    loop {
        let Some(head) = read_head(s, &mut buf).await else { return End::Close };
        *lock(&shared.last_host) = head.host.clone();
        shared.requests.fetch_add(1, Ordering::SeqCst);
        let mode = lock(&shared.mode).clone();
        match respond(s, shared, &head, mode).await {
            Ok(Next::Done) if head.keep_alive => continue,
            Ok(Next::Done) | Err(_) => {
                let _ = s.shutdown().await;
                return End::Close;
            }
            Ok(Next::Abort) => return End::Abort,
            Ok(Next::Hang) => std::future::pending::<()>().await,
        }
    }
}

/// The object's bytes `from..to`: a fixed pattern, so any prefix of it is checkable.
fn object_bytes(from: usize, to: usize) -> Vec<u8> {
    (from..to).map(|i| (i % 251) as u8).collect()
}

fn head_text(status: u16, reason: &str, len: usize, x_cache: Option<&str>, keep_alive: bool) -> String {
    let mut h = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n");
    if let Some(x) = x_cache {
        h.push_str(&format!("X-Cache: {x}\r\n"));
    }
    h.push_str(if keep_alive { "Connection: keep-alive\r\n\r\n" } else { "Connection: close\r\n\r\n" });
    h
}

async fn respond<S: AsyncWrite + Unpin>(s: &mut S, shared: &Shared, head: &Head, mode: Mode) -> std::io::Result<Next> {
    let with_body = head.method != "HEAD";
    if head.method != "GET" && head.method != "HEAD" {
        return simple(s, 405, "Method Not Allowed", true, head.keep_alive).await;
    }
    if head.path != PATH {
        return simple(s, 404, "Not Found", with_body, head.keep_alive).await;
    }
    let len = shared.body_len.load(Ordering::SeqCst);
    let mut x_cache = "HIT";
    match mode {
        Mode::Hang => return Ok(Next::Hang),
        Mode::Status(code) => return simple(s, code, "Stand-in Status", with_body, head.keep_alive).await,
        Mode::SlowFirstByte(d) => tokio::time::sleep(d).await,
        Mode::CacheMiss => x_cache = "MISS",
        Mode::Reset => {
            s.write_all(head_text(200, "OK", len, Some(x_cache), false).as_bytes()).await?;
            s.write_all(&object_bytes(0, len / 2)).await?;
            s.flush().await?;
            // Let the head and part of the body reach the client, so the reset is mid-body.
            tokio::time::sleep(Duration::from_millis(20)).await;
            return Ok(Next::Abort);
        }
        Mode::Healthy | Mode::SlowBody { .. } => {}
    }
    s.write_all(head_text(200, "OK", len, Some(x_cache), head.keep_alive).as_bytes()).await?;
    s.flush().await?;
    if !with_body {
        return Ok(Next::Done);
    }
    let rate = match mode {
        Mode::SlowBody { bytes_per_sec } => Some(bytes_per_sec.max(1)),
        _ => None,
    };
    let chunk = rate.map_or(64 * 1024, |r| (r / 20).clamp(1, 64 * 1024) as usize);
    let started = Instant::now();
    let mut sent = 0;
    while sent < len {
        let end = (sent + chunk).min(len);
        if let Some(r) = rate {
            tokio::time::sleep_until(started + Duration::from_secs_f64(end as f64 / r as f64)).await;
        }
        s.write_all(&object_bytes(sent, end)).await?;
        s.flush().await?;
        sent = end;
    }
    Ok(Next::Done)
}

async fn simple<S: AsyncWrite + Unpin>(s: &mut S, status: u16, reason: &str, with_body: bool, keep_alive: bool) -> std::io::Result<Next> {
    let body = format!("stand-in: {status} {reason}\n");
    s.write_all(head_text(status, reason, body.len(), None, keep_alive).as_bytes()).await?;
    if with_body {
        s.write_all(body.as_bytes()).await?;
    }
    s.flush().await?;
    Ok(Next::Done)
}
