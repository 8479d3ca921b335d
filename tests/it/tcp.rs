//! TCP transport: several queries on one connection, idle timeout, connection cap.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cdnsteer::config::{AdminListen, Config, Flags};
use cdnsteer::daemon;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Ask, bundled_geoip, repo};

async fn start_with(idle: Duration, max_connections: usize) -> daemon::Running {
    let overrides = Flags {
        zones: Some(repo().join("zones")),
        geoip: Some(bundled_geoip()),
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        log_format: None,
        admin_listen: Some(AdminListen::At(SocketAddr::from(([127, 0, 0, 1], 0)))),
        ..Flags::default()
    };
    let mut config = Config::load(None, &overrides).expect("config");
    config.listen.tcp.idle = idle;
    config.listen.tcp.max_connections = max_connections;
    // State (the generated admin token) in a directory of its own, kept while the server runs.
    let state = tempfile::tempdir().expect("state dir");
    config.state_dir = state.keep();
    daemon::start(config).await.expect("start")
}

async fn send(s: &mut TcpStream, ask: &Ask) {
    let bytes = ask.bytes();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    s.write_all(&framed).await.expect("write");
}

async fn recv(s: &mut TcpStream) -> Option<Message> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body).await.ok()?;
    Message::from_vec(&body).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_queries_then_idle_close() {
    let running = start_with(Duration::from_millis(800), 16).await;
    let mut s = TcpStream::connect(running.tcp[0]).await.expect("connect");
    let names = ["example.com.", "www.example.com.", "live.example.com."];
    for (i, name) in names.iter().enumerate() {
        let mut ask = Ask::new(name, RecordType::A);
        ask.id = 100 + i as u16;
        send(&mut s, &ask).await;
    }
    for i in 0..names.len() {
        let m = tokio::time::timeout(Duration::from_secs(2), recv(&mut s)).await.expect("in time").expect("reply");
        assert_eq!(m.metadata.id, 100 + i as u16, "answers in order");
    }
    // Idle: the server closes the connection after the idle timeout.
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte)).await.expect("closed in time").unwrap_or(0);
    assert_eq!(n, 0, "EOF");
    assert!(started.elapsed() >= Duration::from_millis(700), "closed too early: {:?}", started.elapsed());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_holds_extra_clients_until_a_slot_frees() {
    let running = start_with(Duration::from_millis(1500), 2).await;
    let addr = running.tcp[0];
    let mut a = TcpStream::connect(addr).await.expect("a");
    let mut b = TcpStream::connect(addr).await.expect("b");
    send(&mut a, &Ask::new("example.com.", RecordType::A)).await;
    send(&mut b, &Ask::new("example.com.", RecordType::A)).await;
    assert!(recv(&mut a).await.is_some() && recv(&mut b).await.is_some());
    // A third connection is accepted by the kernel but not served while two are open.
    let mut c = TcpStream::connect(addr).await.expect("c");
    send(&mut c, &Ask::new("example.com.", RecordType::A)).await;
    assert!(tokio::time::timeout(Duration::from_millis(400), recv(&mut c)).await.is_err(), "served beyond the cap");
    drop(a);
    let m = tokio::time::timeout(Duration::from_secs(3), recv(&mut c)).await.expect("served once a slot frees");
    assert!(m.is_some());
    drop(b);
    running.shutdown().await;
}
