//! The UDP path on its own threads: wildcard binds answer from the address asked, a second
//! server on the same port fails to start and takes none of the first one's queries, every
//! thread's socket answers and counts, and a UDP flood starves neither the control plane nor
//! the probes.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::admin::{Body, request};
use crate::harness::{Ask, bundled_geoip, repo, start_in, start_with, udp};
use crate::standin::StandIn;

async fn scrape(admin: SocketAddr) -> HashMap<String, f64> {
    crate::metrics::samples(&crate::metrics::scrape(admin).await)
}

/// Sum of a family's samples whose labels contain every one of `with`.
fn sum(s: &HashMap<String, f64>, family: &str, with: &[&str]) -> f64 {
    s.iter().filter(|(k, _)| (k.as_str() == family || k.starts_with(&format!("{family}{{"))) && with.iter().all(|w| k.contains(w))).map(|(_, v)| v).sum()
}

/// Ask `to` from an unconnected socket bound to `from`, and return the reply and the address
/// it came from.
fn ask_from(from: SocketAddr, to: SocketAddr, ask: &Ask) -> (Message, SocketAddr) {
    let socket = UdpSocket::bind(from).expect("bind client");
    socket.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    socket.send_to(&ask.bytes(), to).expect("send");
    let mut buf = [0u8; 1500];
    let (len, source) = socket.recv_from(&mut buf).expect("a reply within 5 s");
    (Message::from_vec(&buf[..len]).expect("a DNS reply"), source)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_listener_answers_from_the_address_each_query_was_sent_to() {
    // IPv6 on loopback is optional on build machines: say so when it is missing.
    let ipv6 = UdpSocket::bind("[::1]:0").is_ok();
    if !ipv6 {
        eprintln!("NOTE: no IPv6 loopback here; the [::] half of this test is not run");
    }
    let state = tempfile::tempdir().expect("state");
    let server = start_in(&repo().join("zones"), &bundled_geoip(), state, |c| {
        c.listen.addrs = vec![SocketAddr::from(([0, 0, 0, 0], 0))];
        if ipv6 {
            c.listen.addrs.push("[::]:0".parse().expect("addr"));
        }
        c.listen.udp.workers = 2;
    }, Default::default())
    .await;
    let port = server.udp.port();
    let ask = Ask::new("www.example.com.", RecordType::A);
    for dst in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        let to = SocketAddr::new(dst.parse().expect("ip"), port);
        let (reply, source) = ask_from("127.0.0.1:0".parse().expect("addr"), to, &ask);
        assert_eq!(source, to, "the reply to a query sent to {to} must come from {to}");
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(!reply.answers.is_empty(), "{reply:?}");
    }
    if ipv6 {
        let v6_port = server.running.udp[1].port();
        let to: SocketAddr = format!("[::1]:{v6_port}").parse().expect("addr");
        let (reply, source) = ask_from("[::1]:0".parse().expect("addr"), to, &ask);
        assert_eq!(source, to);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    }
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_port_fails_to_start_and_takes_none_of_its_queries() {
    let server = start_with(&repo().join("zones"), &bundled_geoip(), |c| c.listen.udp.workers = 2).await;
    let addr = server.udp;
    let state = tempfile::tempdir().expect("state");
    let mut second = Command::new(env!("CARGO_BIN_EXE_cdnsteer"))
        .current_dir(repo())
        .args(["serve", "--listen", &addr.to_string(), "--admin-listen", "off", "--state-dir"])
        .arg(state.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Queries while the second process starts and fails: the first answers every one.
    let ask = Ask::new("live.example.com.", RecordType::A).ecs("211.234.0.0/24");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut asked = 0;
    let status = loop {
        let reply = udp(addr, &ask).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        asked += 1;
        if let Some(status) = second.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the second server neither failed nor exited in 30 s");
    };
    for _ in 0..200 {
        assert_eq!(udp(addr, &ask).await.metadata.response_code, ResponseCode::NoError);
    }
    // The second server wrote little (one error) before it exited: the pipe never filled.
    let mut stderr = String::new();
    if let Some(mut e) = second.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut stderr).expect("stderr");
    }
    assert!(!status.success(), "a second server on {addr} must not start: {stderr}");
    assert!(stderr.contains(&format!("TCP {addr}")) && stderr.contains("in use"), "the error names the address and the reason: {stderr}");
    eprintln!("first server answered {} queries while the second failed, then 200 more", asked);
    server.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_thread_has_its_own_socket_and_the_counts_add_up() {
    const WORKERS: usize = 4;
    let server = start_with(&repo().join("zones"), &bundled_geoip(), |c| c.listen.udp.workers = WORKERS).await;
    let port = server.udp.port();
    // One socket per thread, all on the port.
    let udp_table = std::fs::read_to_string("/proc/net/udp").expect("/proc/net/udp");
    // /proc/net/udp prints the address as the in-memory (network order) word, in hex.
    let local = format!("{:08X}:{port:04X}", u32::from_ne_bytes([127, 0, 0, 1]));
    let sockets = udp_table.lines().filter(|l| l.split_whitespace().nth(1) == Some(local.as_str())).count();
    assert_eq!(sockets, WORKERS, "{udp_table}");

    // 64 client sockets (64 source ports, spread over the group by the kernel's hash), 5
    // queries each, every one answered.
    let mut answered = 0;
    for i in 0..64u32 {
        let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
        client.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        for j in 0..5u32 {
            let ask = Ask::new("live.example.com.", RecordType::A).ecs(&format!("211.234.{}.0/24", (i * 5 + j) % 256));
            client.send_to(&ask.bytes(), server.udp).expect("send");
            let mut buf = [0u8; 1500];
            let (len, _) = client.recv_from(&mut buf).expect("reply");
            assert_eq!(Message::from_vec(&buf[..len]).expect("reply").metadata.response_code, ResponseCode::NoError);
            answered += 1;
        }
    }
    let admin = server.running.admin.expect("admin");
    let s = scrape(admin).await;
    assert_eq!(sum(&s, "cdnsteer_dns_queries_total", &["transport=\"udp\""]), f64::from(answered));
    assert_eq!(sum(&s, "cdnsteer_dns_steered_answers_total", &[]), f64::from(answered));
    server.running.shutdown().await;
}

/// The steering tests' zone (`live` over akamai and fastly, ticking every 100 ms), with both
/// CDNs probed at `stand_in` every 200 ms from KR.
fn probed_zone(stand_in: &StandIn) -> String {
    let url = stand_in.url();
    let probe = |cdn: &str| format!("    - {{cdn: {cdn}, region: KR, vantage: kr-{cdn}, url: \"{url}\", interval_secs: 0.2, timeout_ms: 1000, expect_bytes: 16384}}\n");
    crate::steering::zone(&(probe("akamai") + &probe("fastly")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_flood_starves_neither_the_control_plane_nor_the_probes() {
    const FLOOD: Duration = Duration::from_secs(3);
    const SENDERS: usize = 2;
    const MAX_PACKETS: u64 = 20_000_000;
    let _flood = crate::harness::CPU_HEAVY.write().await;
    let stand_in = StandIn::start("127.0.0.2");
    stand_in.set_body_len(16 * 1024);
    let zones = tempfile::tempdir().expect("zones");
    std::fs::write(zones.path().join("example.com.yaml"), probed_zone(&stand_in)).expect("write zone");
    let server = start_with(zones.path(), &bundled_geoip(), |c| c.listen.udp.workers = 1).await;
    let admin = server.running.admin.expect("admin");
    // Let the probes and the engine settle.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = scrape(admin).await;

    // One UDP thread, three senders that never wait for an answer: more than it can take.
    let sent = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let query = Ask::new("live.example.com.", RecordType::A).ecs("211.234.0.0/24").bytes();
    let to = server.udp;
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (sent, done, query) = (Arc::clone(&sent), Arc::clone(&done), query.clone());
            std::thread::spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
                let start = Instant::now();
                let mut n = 0u64;
                while !done.load(Ordering::Relaxed) && start.elapsed() < FLOOD && n < MAX_PACKETS / SENDERS as u64 {
                    // A full send buffer is the point of the exercise, not a failure.
                    let _ = socket.send_to(&query, to);
                    n += 1;
                }
                sent.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();

    // While it lasts: /ready answers, every time, within a generous bound.
    let start = Instant::now();
    let mut ready_checks = 0;
    let mut slowest = Duration::ZERO;
    while start.elapsed() < FLOOD {
        let asked = Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(3), request(admin, "GET", "/ready", &[], Body::Fixed(Vec::new()))).await.expect("/ready answers within 3 s during the flood");
        assert_eq!(reply.status, 200);
        slowest = slowest.max(asked.elapsed());
        ready_checks += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().expect("sender");
    }
    let flood = start.elapsed();
    let after = scrape(admin).await;

    let sent = sent.load(Ordering::Relaxed) as f64;
    let answered = sum(&after, "cdnsteer_dns_queries_total", &["transport=\"udp\""]) - sum(&before, "cdnsteer_dns_queries_total", &["transport=\"udp\""]);
    let ticks = sum(&after, "cdnsteer_engine_ticks_total", &[]) - sum(&before, "cdnsteer_engine_ticks_total", &[]);
    let lag_sum = sum(&after, "cdnsteer_engine_tick_lag_seconds_sum", &[]) - sum(&before, "cdnsteer_engine_tick_lag_seconds_sum", &[]);
    let slow_ticks = ticks - (sum(&after, "cdnsteer_engine_tick_lag_seconds_bucket", &["le=\"0.1\""]) - sum(&before, "cdnsteer_engine_tick_lag_seconds_bucket", &["le=\"0.1\""]));
    let probes_ok = sum(&after, "cdnsteer_probe_duration_seconds_count", &["phase=\"total\""]) - sum(&before, "cdnsteer_probe_duration_seconds_count", &["phase=\"total\""]);
    let timeouts = sum(&after, "cdnsteer_probe_failures_total", &["reason=\"timeout\""]) - sum(&before, "cdnsteer_probe_failures_total", &["reason=\"timeout\""]);
    let failures = sum(&after, "cdnsteer_probe_failures_total", &[]) - sum(&before, "cdnsteer_probe_failures_total", &[]);
    eprintln!(
        "flood {:.1} s: sent {sent:.0}, answered {answered:.0} ({:.0}/s); /ready {ready_checks} checks, slowest {:?}; engine ticks {ticks:.0} (mean lag {:.1} ms, {slow_ticks:.0} later than 100 ms); probes {probes_ok:.0} ok, {failures:.0} failed",
        flood.as_secs_f64(),
        answered / flood.as_secs_f64(),
        slowest,
        if ticks > 0.0 { lag_sum / ticks * 1000.0 } else { f64::NAN },
    );
    assert!(answered > 1000.0, "the UDP thread answered during the flood: {answered}");
    assert!(sent > answered * 1.1, "the flood must be more than one UDP thread answers: sent {sent}, answered {answered}");
    // The engine ticks every 100 ms: at least half of them ran.
    assert!(ticks >= flood.as_secs_f64() * 10.0 * 0.5, "engine ticks kept running: {ticks} in {flood:?}");
    // Two probes every 200 ms: at least half of them succeeded, none timed out.
    assert!(probes_ok >= flood.as_secs_f64() * 10.0 * 0.5, "probes kept running: {probes_ok} in {flood:?}");
    assert_eq!(timeouts, 0.0, "no probe of the healthy stand-in may time out");
    server.running.shutdown().await;
}

#[test]
fn tcp_is_bound_before_any_udp_socket_joins_the_port() {
    // A port whose TCP side and UDP side are both held by someone else (a UDP socket without
    // SO_REUSEPORT, which no group can join): binding must fail at TCP, before a UDP socket
    // of ours could have joined a group on the port.
    let (tcp, _udp, addr) = (0..20)
        .find_map(|_| {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
            let addr = tcp.local_addr().ok()?;
            let udp = UdpSocket::bind(addr).ok()?;
            Some((tcp, udp, addr))
        })
        .expect("a port free on both TCP and UDP");
    let config = cdnsteer::dns::listener::ListenConfig { addrs: vec![addr], ..Default::default() };
    let err = cdnsteer::dns::listener::bind(&config).expect_err("the port is taken");
    assert!(err.to_string().starts_with(&format!("TCP {addr}")), "{err}");
    // Only UDP taken: TCP binds, then the UDP group fails and says so.
    drop(tcp);
    let err = cdnsteer::dns::listener::bind(&config).expect_err("the UDP port is taken");
    assert!(err.to_string().starts_with(&format!("UDP {addr}")), "{err}");
}
