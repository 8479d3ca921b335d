//! The real `cdnsteer` binary: serve on the bundled data, reload on SIGHUP as a transaction,
//! refuse to start on bad zones, stop on SIGTERM.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::harness::{Ask, cname, repo, udp};

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reload_keeps_old_config_on_error_and_stops_cleanly() {
    let zones = tempfile::tempdir().expect("tempdir");
    let zone_file = zones.path().join("example.com.yaml");
    let original = std::fs::read_to_string(repo().join("zones/example.com.yaml")).expect("bundled zone");
    std::fs::write(&zone_file, &original).expect("write");
    let state = zones.path().join("state");
    let mut server = crate::harness::Child::serve(&["--zones".as_ref(), zones.path().as_os_str(), "--state-dir".as_ref(), state.as_os_str()]);
    let addr = server.dns;

    let ask = Ask::new("live.example.com.", RecordType::A).ecs("211.234.0.0/24");
    let before = cname(&udp(addr, &ask).await).expect("CNAME");
    assert!(["live-example.akamaized.net", "d1live3example.cloudfront.net", "live-example.global.ssl.fastly.net"].contains(&before.as_str()));

    // A broken edit: unknown CDN on line N. The reload must fail and the old zone keep serving.
    let broken = original.replace("KR: {akamai: 40, cloudfront: 35, fastly: 25}", "KR: {akamai: 40, limelight: 35}");
    assert_ne!(broken, original);
    std::fs::write(&zone_file, &broken).expect("write");
    signal(&server.process, "-HUP");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(cname(&udp(addr, &ask).await).as_deref(), Some(before.as_str()), "old configuration keeps serving");

    // A good edit: every KR client now goes to edgio.
    let edited = original.replace("KR: {akamai: 40, cloudfront: 35, fastly: 25}", "KR: {edgio: 1}");
    std::fs::write(&zone_file, &edited).expect("write");
    signal(&server.process, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if cname(&udp(addr, &ask).await).as_deref() == Some("live-example.edgecastcdn.net") {
            break;
        }
        assert!(Instant::now() < deadline, "reload never took effect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    signal(&server.process, "-TERM");
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status}");
    let log = server.log();
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
