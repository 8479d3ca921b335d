//! One probe fetch: a fresh TCP connection (to `probe.connect`, or the URL's host), TLS for
//! https, one HTTP/1.1 `GET` driven by hand so connect, TLS, first byte and body are timed
//! separately, and the body drained frame by frame. Owns the failure classification (which
//! `FailureReason` a network error is), the TLS client settings and the cache-status reading
//! of response headers. Everything is bounded by the probe's timeout.

use std::error::Error as StdError;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{AGE, CONNECTION, HOST, HeaderMap, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{FetchResult, ProbeTiming};
use crate::health::signal::FailureReason;
use crate::zone::health::Probe;

/// A failure and its detail.
type Failure = (FailureReason, String);

/// Body durations below this count as this, so a body that arrived with the head does not
/// report an absurd throughput.
const MIN_BODY_SECS: f64 = 0.001;

/// The `User-Agent` of every probe request.
const AGENT: &str = "cdnsteer-probe";

/// Fetch the probe object once, within `probe.timeout_ms`, trusting the Mozilla root set for
/// https.
pub async fn fetch(probe: &Probe) -> FetchResult {
    bounded(probe, None).await
}

/// [`fetch`] with the given TLS client settings (see [`tls_config`]) instead of the default
/// ones; plain http ignores them.
pub async fn fetch_with_tls(probe: &Probe, tls: Arc<ClientConfig>) -> FetchResult {
    bounded(probe, Some(tls)).await
}

/// TLS client settings: the Mozilla root set (webpki-roots) plus `extra_roots`, the ring
/// provider, TLS 1.2 and 1.3, ALPN `http/1.1`.
pub fn tls_config(extra_roots: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in extra_roots {
        roots.add(root.clone())?;
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The default TLS settings, built once per process.
fn default_tls() -> Result<Arc<ClientConfig>, Failure> {
    static DEFAULT: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| tls_config(&[]).map_err(|e| format!("TLS client settings: {e}")))
        .clone()
        .map_err(|e| (FailureReason::Tls, e))
}

/// Whether the response was a cache hit, from the headers named in `names` (lower case): any
/// value containing `HIT` is a hit; else any containing `MISS`, `EXPIRED`, `BYPASS` or
/// `DYNAMIC` is a miss; else an `Age` above 0 is a hit; else unknown.
pub fn cache_status(headers: &HeaderMap, names: &[String]) -> Option<bool> {
    let values: Vec<String> = names
        .iter()
        .flat_map(|name| headers.get_all(name.as_str()).iter())
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_uppercase())
        .collect();
    if values.iter().any(|v| v.contains("HIT")) {
        return Some(true);
    }
    if values.iter().any(|v| ["MISS", "EXPIRED", "BYPASS", "DYNAMIC"].iter().any(|m| v.contains(m))) {
        return Some(false);
    }
    let age = headers.get(AGE).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if age.is_some_and(|a| a > 0) { Some(true) } else { None }
}

/// The whole fetch under the probe's timeout.
async fn bounded(probe: &Probe, tls: Option<Arc<ClientConfig>>) -> FetchResult {
    let limit = Duration::from_millis(probe.timeout_ms.max(1));
    match tokio::time::timeout(limit, run(probe, tls)).await {
        Ok(result) => result,
        Err(_) => Err((FailureReason::Timeout, format!("no complete response within {} ms", probe.timeout_ms))),
    }
}

/// Where a probe URL points.
#[derive(Debug, PartialEq)]
struct Target {
    /// `https`?
    https: bool,
    /// Host, without IPv6 brackets.
    host: String,
    /// Port (scheme default when absent).
    port: u16,
    /// `host[:port]` as written, for the `Host` header.
    authority: String,
    /// Path and query, origin form.
    path: String,
}

fn target(url: &str) -> Result<Target, Failure> {
    let bad = |why: String| (FailureReason::Protocol, format!("url `{url}`: {why}"));
    let uri: Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        other => return Err(bad(format!("scheme {other:?}; expected http or https"))),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host".to_string()))?;
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
    if host.is_empty() {
        return Err(bad("no host".to_string()));
    }
    Ok(Target {
        https,
        host,
        port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
        authority: authority.as_str().rsplit('@').next().unwrap_or_default().to_string(),
        path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
    })
}

/// A `Host` value without its port and IPv6 brackets, for SNI.
fn strip_port(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(probe: &Probe, tls: Option<Arc<ClientConfig>>) -> FetchResult {
    let t = target(&probe.url)?;
    let host_header = probe.host.clone().unwrap_or_else(|| t.authority.clone());

    let started = Instant::now();
    let dialled = match probe.connect {
        Some(addr) => TcpStream::connect(addr).await.map_err(|e| (addr.to_string(), e)),
        None => TcpStream::connect((t.host.as_str(), t.port)).await.map_err(|e| (format!("{}:{}", t.host, t.port), e)),
    };
    let tcp = dialled.map_err(|(to, e)| (FailureReason::Connect, format!("connect to {to}: {e}")))?;
    let connect_ms = millis(started.elapsed());
    // Best effort: the request is one small write either way.
    let _ = tcp.set_nodelay(true);

    if !t.https {
        return exchange(probe, &t, &host_header, tcp, connect_ms, None).await;
    }
    let config = match tls {
        Some(c) => c,
        None => default_tls()?,
    };
    let sni = strip_port(probe.host.as_deref().unwrap_or(&t.host)).to_string();
    let name = ServerName::try_from(sni.clone()).map_err(|e| (FailureReason::Tls, format!("SNI `{sni}`: {e}")))?;
    let tls_started = Instant::now();
    let stream = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| (FailureReason::Tls, format!("TLS handshake with `{sni}`: {e}")))?;
    let tls_ms = millis(tls_started.elapsed());
    exchange(probe, &t, &host_header, stream, connect_ms, Some(tls_ms)).await
}

/// Aborts the connection driver when the fetch ends (done, failed or timed out).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Which part of the exchange failed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    Head,
    Body,
}

/// The HTTP/1.1 exchange over an established (and, for https, encrypted) stream.
async fn exchange<S>(probe: &Probe, t: &Target, host: &str, stream: S, connect_ms: f64, tls_ms: Option<f64>) -> FetchResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| classify(&e, Stage::Head))?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        // Its errors surface through the response and body futures below.
        let _ = conn.await;
    }));
    let request = Request::builder()
        .method(Method::GET)
        .uri(t.path.as_str())
        .header(HOST, host)
        .header(USER_AGENT, AGENT)
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| (FailureReason::Protocol, format!("request for `{}` with Host `{host}`: {e}", t.path)))?;

    let sent = Instant::now();
    let response = sender.send_request(request).await.map_err(|e| classify(&e, Stage::Head))?;
    let ttfb_ms = millis(sent.elapsed());
    let status = response.status().as_u16();
    if status != probe.expect_status {
        return Err((FailureReason::Status, format!("status {status}, expected {}", probe.expect_status)));
    }
    let cache_hit = cache_status(response.headers(), &probe.cache_headers);

    let mut body = response.into_body();
    let body_started = Instant::now();
    let mut body_bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let (reason, detail) = classify(&e, Stage::Body);
            (reason, format!("{detail} (after {body_bytes} body bytes)"))
        })?;
        if let Some(data) = frame.data_ref() {
            body_bytes += data.len() as u64;
        }
    }
    let body_elapsed = body_started.elapsed();
    if let Some(want) = probe.expect_bytes
        && body_bytes != want
    {
        return Err((FailureReason::Size, format!("body of {body_bytes} bytes, expected {want}")));
    }
    let throughput_mbps =
        if body_bytes == 0 { 0.0 } else { body_bytes as f64 * 8.0 / body_elapsed.as_secs_f64().max(MIN_BODY_SECS) / 1e6 };
    Ok(ProbeTiming {
        connect_ms,
        tls_ms,
        ttfb_ms,
        body_bytes,
        body_ms: millis(body_elapsed),
        throughput_mbps,
        status,
        cache_hit,
    })
}

/// A hyper error as a failure, with the whole cause chain as detail.
fn classify(e: &hyper::Error, stage: Stage) -> Failure {
    let mut detail = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        detail.push_str(": ");
        detail.push_str(&c.to_string());
        cause = c.source();
    }
    (reason(e, stage), detail)
}

fn reason(e: &hyper::Error, stage: Stage) -> FailureReason {
    let mut cause: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(c) = cause {
        if c.is::<rustls::Error>() {
            return FailureReason::Tls;
        }
        if let Some(io) = c.downcast_ref::<io::Error>() {
            // `io::Error::source` skips the wrapped error itself, so look at it here.
            if io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                return FailureReason::Tls;
            }
            match io.kind() {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::NotConnected => return FailureReason::Reset,
                io::ErrorKind::TimedOut => return FailureReason::Timeout,
                io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => return FailureReason::Protocol,
                _ => {}
            }
        }
        cause = c.source();
    }
    if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
        FailureReason::Protocol
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        FailureReason::Reset
    } else if e.is_timeout() {
        FailureReason::Timeout
    } else {
        match stage {
            Stage::Head => FailureReason::Protocol,
            Stage::Body => FailureReason::Reset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cache_status_reads_the_named_headers_then_age() {
        let names = vec!["x-cache".to_string(), "cf-cache-status".to_string()];
        assert_eq!(cache_status(&headers(&[("x-cache", "TCP_HIT from edge")]), &names), Some(true));
        assert_eq!(cache_status(&headers(&[("x-cache", "MISS, hit")]), &names), Some(true), "any HIT wins");
        assert_eq!(cache_status(&headers(&[("cf-cache-status", "EXPIRED")]), &names), Some(false));
        assert_eq!(cache_status(&headers(&[("cf-cache-status", "dynamic")]), &names), Some(false));
        assert_eq!(cache_status(&headers(&[("x-cache", "BYPASS"), ("age", "30")]), &names), Some(false));
        assert_eq!(cache_status(&headers(&[("age", "30")]), &names), Some(true));
        assert_eq!(cache_status(&headers(&[("age", "0")]), &names), None);
        assert_eq!(cache_status(&headers(&[("x-other", "HIT")]), &names), None, "unnamed headers do not count");
    }

    #[test]
    fn urls_split_into_dial_target_host_header_and_path() {
        let t = target("https://user@[2001:db8::1]:8443/a/b.bin?x=1").unwrap();
        assert_eq!(
            t,
            Target { https: true, host: "2001:db8::1".into(), port: 8443, authority: "[2001:db8::1]:8443".into(), path: "/a/b.bin?x=1".into() }
        );
        let t = target("http://edge.example").unwrap();
        assert_eq!((t.port, t.authority.as_str(), t.path.as_str()), (80, "edge.example", "/"));
        assert_eq!(target("ftp://edge.example/x").unwrap_err().0, FailureReason::Protocol);
        assert_eq!(target("not a url").unwrap_err().0, FailureReason::Protocol);
    }

    #[test]
    fn sni_drops_port_and_brackets() {
        assert_eq!(strip_port("cdn.example:8443"), "cdn.example");
        assert_eq!(strip_port("cdn.example"), "cdn.example");
        assert_eq!(strip_port("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    }
}
