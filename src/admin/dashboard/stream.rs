//! `GET /api/v1/stream?name=NAME&after=ID`: the dashboard's live updates as server-sent
//! events (`text/event-stream`), one stream per page.
//!
//! | event | id | data |
//! |---|---|---|
//! | `hello` | - | `{"source": {...}, "last_id": N, "now": ms}`: first, always |
//! | `status` | - | event clock, freeze, overrides in force (as `GET /api/v1/dashboard` has it); on connect and on change |
//! | `plan` | - | the name's answer split now; on connect and on every new generation |
//! | `share`, `signal`, `answers`, `qoe`, `log` | last row's id | a JSON array of rows of that kind, in id order |
//! | `reset` | - | the stream cannot continue from the page's id (too old, another process, too far behind): load the backfill again |
//!
//! Row events carry the id of their last row, so the browser's `Last-Event-ID` (sent by
//! `EventSource` when it reconnects; `?after=` does the same for the first connection) is
//! exactly where the stream resumes: every row after it, in order, once. A comment line is
//! sent every [`KEEP_ALIVE`] so proxies and the browser know the stream is alive, and
//! `retry:` asks the browser to reconnect within [`RETRY_MS`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body_util::channel::{Channel, Sender};

use super::hub::{Channels, READ_LIMIT, read_after};
use super::source::{After, DashboardSource, Row, RowId};

/// A comment line this often when nothing else is sent.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The browser's reconnection delay, ms.
pub const RETRY_MS: u64 = 1500;
/// Most rows a reconnecting page is sent to catch up; beyond, it is told to reset.
pub const MAX_CATCH_UP: usize = 20_000;

/// Which rows one page follows.
#[derive(Debug, Clone)]
pub struct Follow {
    /// The steered name.
    pub name: String,
    /// Its CDNs.
    pub cdns: Vec<String>,
}

impl Follow {
    /// Whether `row` concerns the followed name.
    pub fn wants(&self, row: &Row) -> bool {
        match row {
            Row::Share(r) => r.name == self.name,
            Row::Answers(r) => r.name == self.name,
            Row::Signal(r) => self.cdns.contains(&r.cdn),
            Row::Qoe(r) => self.cdns.contains(&r.cdn),
            Row::Event(r) => r.name.as_deref().is_none_or(|n| n == self.name || n == "*"),
        }
    }
}

/// One SSE message.
pub fn message(event: &str, id: Option<RowId>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 40);
    if let Some(id) = id {
        out.push_str(&format!("id: {id}\n"));
    }
    out.push_str("event: ");
    out.push_str(event);
    out.push('\n');
    // JSON from serde_json has no raw newlines; split anyway so a message can never end early.
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// Rows as messages: one per run of the same kind, each with its last row's id.
pub fn messages(rows: &[Row], follow: &Follow) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut run: Vec<&Row> = Vec::new();
    let flush = |run: &mut Vec<&Row>, out: &mut Vec<Bytes>| {
        if let Some(last) = run.last() {
            let json = serde_json::to_string(&*run).unwrap_or_else(|_| "[]".to_string());
            out.push(message(last.event_name(), Some(last.id()), &json));
        }
        run.clear();
    };
    for row in rows.iter().filter(|r| follow.wants(r)) {
        if run.last().is_some_and(|l| l.event_name() != row.event_name()) {
            flush(&mut run, &mut out);
        }
        run.push(row);
    }
    flush(&mut run, &mut out);
    out
}

/// The response: headers that keep proxies from buffering, and the body the task feeds.
pub fn response(body: Channel<Bytes, Infallible>) -> Response {
    let mut r = Body::new(body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// A new body and the sender the stream task writes to.
pub fn channel() -> (Sender<Bytes, Infallible>, Channel<Bytes, Infallible>) {
    Channel::new(64)
}

/// What the stream task needs.
pub struct StreamTask {
    /// Where the rows come from.
    pub source: Arc<dyn DashboardSource>,
    /// The hub's channels.
    pub channels: Arc<Channels>,
    /// The page's name.
    pub follow: Follow,
    /// Where the page was (`Last-Event-ID` or `?after=`).
    pub resume: Option<RowId>,
    /// The `hello` payload.
    pub hello: String,
    /// Ends the stream (the admin server stopping).
    pub stop: tokio_util::sync::CancellationToken,
}

/// Feed one page until it goes away, the server stops, or the stream must reset.
pub async fn run(task: StreamTask, mut tx: Sender<Bytes, Infallible>) {
    let StreamTask { source, channels, follow, resume, hello, stop } = task;
    let mut rows_rx = channels.rows.subscribe();
    let mut plans_rx = channels.plans.subscribe();
    let mut status_rx = channels.status.subscribe();
    let first = format!("retry: {RETRY_MS}\n\n");
    if tx.send_data(Bytes::from(first)).await.is_err() || tx.send_data(message("hello", None, &hello)).await.is_err() {
        return;
    }
    let status = status_rx.borrow_and_update().clone();
    if let Some(json) = status
        && tx.send_data(message("status", None, &json)).await.is_err()
    {
        return;
    }
    let plan = plans_rx.borrow_and_update().of(&follow.name);
    if let Some(json) = plan
        && tx.send_data(message("plan", None, &json)).await.is_err()
    {
        return;
    }
    // Catch up from the page's id (subscribed first, so nothing falls between).
    let mut sent: RowId = match resume {
        Some(id) => match catch_up(&source, id, &follow, &mut tx).await {
            Some(Ok(last)) => last,
            Some(Err(())) => return,
            None => {
                let _ = tx.send_data(message("reset", None, "{\"reason\": \"the stream cannot resume from that id\"}")).await;
                return;
            }
        },
        None => 0,
    };
    // The keep-alive is due KEEP_ALIVE after the last bytes sent, however often the task
    // wakes up for nothing (batches of other names' rows send nothing).
    let mut keep_alive_at = tokio::time::Instant::now() + KEEP_ALIVE;
    loop {
        let out: Vec<Bytes> = tokio::select! {
            batch = rows_rx.recv() => match batch {
                Ok(rows) => {
                    let fresh: Vec<Row> = rows.iter().filter(|r| r.id() > sent).cloned().collect();
                    if let Some(last) = fresh.last() {
                        sent = last.id();
                    }
                    messages(&fresh, &follow)
                }
                Err(broadcast_error) => {
                    let reason = match broadcast_error {
                        tokio::sync::broadcast::error::RecvError::Lagged(_) => "this page fell behind the stream",
                        tokio::sync::broadcast::error::RecvError::Closed => "the server is stopping",
                    };
                    let _ = tx.send_data(message("reset", None, &format!("{{\"reason\": \"{reason}\"}}"))).await;
                    return;
                }
            },
            changed = plans_rx.changed() => {
                if changed.is_err() {
                    return;
                }
                let plan = plans_rx.borrow_and_update().of(&follow.name);
                plan.map(|json| message("plan", None, &json)).into_iter().collect()
            }
            changed = status_rx.changed() => {
                if changed.is_err() {
                    return;
                }
                let status = status_rx.borrow_and_update().clone();
                status.map(|json| message("status", None, &json)).into_iter().collect()
            }
            () = tokio::time::sleep_until(keep_alive_at) => vec![Bytes::from_static(b": keep-alive\n\n")],
            _ = stop.cancelled() => return,
        };
        if out.is_empty() {
            continue;
        }
        for m in out {
            if tx.send_data(m).await.is_err() {
                return;
            }
        }
        keep_alive_at = tokio::time::Instant::now() + KEEP_ALIVE;
    }
}

/// Send every row after `id`. `Some(Ok(last id sent))`; `Some(Err(()))` when the page went
/// away; `None` when the stream cannot resume from `id`.
async fn catch_up(source: &Arc<dyn DashboardSource>, id: RowId, follow: &Follow, tx: &mut Sender<Bytes, Infallible>) -> Option<Result<RowId, ()>> {
    let mut last = id;
    let mut total = 0;
    loop {
        let rows = match read_after(source, last, READ_LIMIT).await {
            Ok(After::Rows(rows)) => rows,
            Ok(After::Gone) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "dashboard stream could not catch up");
                return None;
            }
        };
        let Some(newest) = rows.last() else { return Some(Ok(last)) };
        last = newest.id();
        total += rows.len();
        if total > MAX_CATCH_UP {
            return None;
        }
        for m in messages(&rows, follow) {
            if tx.send_data(m).await.is_err() {
                return Some(Err(()));
            }
        }
        if rows.len() < READ_LIMIT {
            return Some(Ok(last));
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::admin::dashboard::memory::Recorder;
    use crate::admin::dashboard::source::AnswersRow;

    fn other_name(id: RowId) -> Row {
        Row::Answers(AnswersRow { id, at: 0, span_ms: 1000, name: "other.example.com.".into(), region: "default".into(), cdn: "a".into(), answers: 1 })
    }

    /// Everything the body holds now.
    async fn drain(body: &mut Channel<Bytes, Infallible>) -> String {
        let mut text = String::new();
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_millis(1), body.frame()).await {
            if let Ok(data) = frame.into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
        }
        text
    }

    #[tokio::test(start_paused = true)]
    async fn the_keep_alive_comes_on_time_while_only_other_names_rows_arrive() {
        let channels = Arc::new(Channels::default());
        let (tx, mut body) = channel();
        let stop = tokio_util::sync::CancellationToken::new();
        let task = StreamTask {
            source: Arc::new(Recorder::new(0)),
            channels: Arc::clone(&channels),
            follow: Follow { name: "live.example.com.".into(), cdns: vec!["b".into()] },
            resume: None,
            hello: "{}".into(),
            stop: stop.clone(),
        };
        let stream = tokio::spawn(run(task, tx));
        assert!(drain(&mut body).await.contains("event: hello"));
        // A batch every second for 20 s, none of it for this page.
        for id in 1..=20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = channels.rows.send(Arc::from(vec![other_name(id)]));
        }
        let text = drain(&mut body).await;
        assert_eq!(text.matches(": keep-alive").count(), 1, "{text:?}");
        assert!(!text.contains("event: answers"), "{text:?}");
        stop.cancel();
        let _ = stream.await;
    }
}
