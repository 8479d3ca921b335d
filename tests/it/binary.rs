//! The real `cdnsteer` binary: serve on the bundled data, reload on SIGHUP as a transaction,
//! refuse to start on bad zones, stop on SIGTERM.

use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::harness::{Ask, cname, repo, udp};

fn free_port() -> u16 {
    // UDP and TCP must both be free; try until one is.
    for _ in 0..50 {
        let Ok(u) = UdpSocket::bind("127.0.0.1:0") else { continue };
        let Ok(addr) = u.local_addr() else { continue };
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no free port");
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

async fn wait_answering(addr: SocketAddr, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("server exited early: {status}");
        }
        let ask = Ask::new("example.com.", RecordType::SOA);
        if crate::harness::udp_raw(addr, &ask.bytes(), Duration::from_millis(200)).await.is_some() {
            return;
        }
    }
    panic!("server did not answer within 20 s");
}

fn stderr_text(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reload_keeps_old_config_on_error_and_stops_cleanly() {
    let zones = tempfile::tempdir().expect("tempdir");
    let zone_file = zones.path().join("example.com.yaml");
    let original = std::fs::read_to_string(repo().join("zones/example.com.yaml")).expect("bundled zone");
    std::fs::write(&zone_file, &original).expect("write");
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdnsteer"))
        .current_dir(repo())
        .args(["serve", "--zones"])
        .arg(zones.path())
        .arg("--state-dir")
        .arg(zones.path().join("state"))
        .args(["--listen", &addr.to_string(), "--admin-listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_answering(addr, &mut child).await;

    let ask = Ask::new("live.example.com.", RecordType::A).ecs("211.234.0.0/24");
    let before = cname(&udp(addr, &ask).await).expect("CNAME");
    assert!(["live-example.akamaized.net", "d1live3example.cloudfront.net", "live-example.global.ssl.fastly.net"].contains(&before.as_str()));

    // A broken edit: unknown CDN on line N. The reload must fail and the old zone keep serving.
    let broken = original.replace("KR: {akamai: 40, cloudfront: 35, fastly: 25}", "KR: {akamai: 40, limelight: 35}");
    assert_ne!(broken, original);
    std::fs::write(&zone_file, &broken).expect("write");
    signal(&child, "-HUP");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(cname(&udp(addr, &ask).await).as_deref(), Some(before.as_str()), "old configuration keeps serving");

    // A good edit: every KR client now goes to edgio.
    let edited = original.replace("KR: {akamai: 40, cloudfront: 35, fastly: 25}", "KR: {edgio: 1}");
    std::fs::write(&zone_file, &edited).expect("write");
    signal(&child, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if cname(&udp(addr, &ask).await).as_deref() == Some("live-example.edgecastcdn.net") {
            break;
        }
        assert!(Instant::now() < deadline, "reload never took effect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    signal(&child, "-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let log = stderr_text(&mut child);
    let line = broken.lines().position(|l| l.contains("limelight")).expect("line") + 1;
    let located = format!("example.com.yaml:{line}:");
    assert!(log.contains(&located) && log.contains("unknown-cdn"), "log lacks {located}: {log}");
    assert!(log.contains("still serving the previous configuration"), "{log}");
}

#[test]
fn serve_refuses_bad_zones_with_located_errors() {
    let zones = tempfile::tempdir().expect("tempdir");
    std::fs::write(zones.path().join("bad.yaml"), "version: 1\nzone: bad.test\nsoa: {primary: ns1, contact: h, serial: 1}\nbogus: 1\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_cdnsteer"))
        .current_dir(repo())
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir", "/nonexistent/state", "--zones"])
        .arg(zones.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:4:1: error[unknown-key] at bogus"), "{err}");
    assert!(err.contains("1 error in 1 of 1 file"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_cdnsteer"))
        .current_dir(repo())
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir", "/nonexistent/state", "--geoip", "/nonexistent/db.mmdb"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/db.mmdb"));
}
