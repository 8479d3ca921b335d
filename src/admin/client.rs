//! The client side of the admin API, for the `cdnsteer explain|override|reload` commands: one
//! HTTP/1.1 request to `http://HOST:PORT` with an optional bearer token, the status and the
//! body back. Plain HTTP only: the admin listener is loopback (or behind a TLS proxy whose
//! own client the operator uses).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use tokio::net::TcpStream;

use crate::config::read_admin_tokens;

/// Default admin API address.
pub const DEFAULT_ADMIN_URL: &str = "http://127.0.0.1:8053";
/// Environment variable holding a token, when no `--token-file` is given.
pub const TOKEN_ENV: &str = "CDNSTEER_TOKEN";
/// Whole-request timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The admin URL is not `http://host:port`.
    #[error("admin URL `{0}`; expected http://HOST:PORT such as http://127.0.0.1:8053")]
    Url(String),
    /// Connecting or talking failed.
    #[error("admin API at {url}: {message} (is `cdnsteer serve` running with its admin listener there?)")]
    Io {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// No token anywhere.
    #[error("no admin token: pass --token-file FILE, set {TOKEN_ENV}, or run from the directory where `cdnsteer serve` keeps state/admin.token")]
    NoToken,
    /// The token file is unusable.
    #[error("{0}")]
    TokenFile(String),
}

/// The token for mutating requests: `--token-file`, then `$CDNSTEER_TOKEN`, then the first
/// token of the file `serve` generates (`STATE_DIR/admin.token`).
pub fn find_token(token_file: Option<&Path>, state_dir: &Path) -> Result<String, ClientError> {
    if let Some(path) = token_file {
        return first_token(path);
    }
    if let Ok(t) = std::env::var(TOKEN_ENV) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let default: PathBuf = state_dir.join("admin.token");
    if default.exists() {
        return first_token(&default);
    }
    Err(ClientError::NoToken)
}

fn first_token(path: &Path) -> Result<String, ClientError> {
    let tokens = read_admin_tokens(path).map_err(ClientError::TokenFile)?;
    tokens.into_iter().next().map(|t| t.token).ok_or(ClientError::NoToken)
}

/// One request; returns the status and the body text.
pub async fn call(url: &str, method: &str, path: &str, token: Option<&str>, body: Option<String>) -> Result<(u16, String), ClientError> {
    let authority = url.trim_end_matches('/').strip_prefix("http://").filter(|a| !a.is_empty() && !a.contains('/')).ok_or_else(|| ClientError::Url(url.to_string()))?;
    let io = |message: String| ClientError::Io { url: url.to_string(), message };
    let exchange = async {
        let stream = TcpStream::connect(authority).await.map_err(|e| io(format!("cannot connect: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(|e| io(e.to_string()))?;
        let driver = tokio::spawn(conn);
        let mut builder = Request::builder().method(method).uri(path).header("host", authority);
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default()))).map_err(|e| io(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(|e| io(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.map_err(|e| io(e.to_string()))?.to_bytes();
        driver.abort();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| io(format!("no answer within {} s", TIMEOUT.as_secs())))?
}
