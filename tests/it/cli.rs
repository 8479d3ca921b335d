//! The operator commands against the real binary: `explain` (online and offline), `override
//! add|list|remove` with the generated token, overrides surviving a restart, a corrupt state
//! file refusing the start (and `check --state-dir` saying why), no colour codes in logs.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::harness::{Ask, cname, repo, udp_raw};

struct Server {
    child: crate::harness::Child,
    dns: SocketAddr,
    admin: String,
}

impl Server {
    /// `cdnsteer serve` on the bundled zones with its state in `state`, on ports the OS
    /// chose; returns once `/ready` says 200.
    async fn start(state: &Path) -> Server {
        let child = crate::harness::Child::serve(&["--state-dir".as_ref(), state.as_os_str()]);
        let admin = format!("http://{}", child.admin.expect("admin API"));
        let mut server = Server { dns: child.dns, admin, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = server.child.process.try_wait().expect("try_wait") {
                panic!("server exited early: {status}: {}", server.child.log());
            }
            let ready = cdnsteer::admin::client::call(&server.admin, "GET", "/ready", None, None).await.is_ok_and(|(s, _)| s == 200);
            if ready {
                return server;
            }
            assert!(Instant::now() < deadline, "not ready within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, wait, and the log.
    fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.process.id().to_string()]).status();
        self.child.wait_exit();
        self.child.log()
    }
}

fn cli(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cdnsteer")).current_dir(repo()).args(args).arg("--state-dir").arg(state).env_remove("CDNSTEER_TOKEN").output().expect("run cli")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

async fn kr_cdns(dns: SocketAddr) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for i in 0..64 {
        let raw = udp_raw(dns, &Ask::new("live.example.com.", RecordType::A).ecs(&format!("211.234.{i}.0/24")).bytes(), Duration::from_secs(2)).await.expect("reply");
        out.insert(cname(&hickory_proto::op::Message::from_vec(&raw).expect("parse")).expect("CNAME"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_overrides_from_the_command_line_survive_a_restart() {
    let state = tempfile::tempdir().expect("state dir");
    let server = Server::start(state.path()).await;
    let admin = server.admin.clone();

    // explain matches dig.
    let out = Command::new(env!("CARGO_BIN_EXE_cdnsteer"))
        .args(["explain", "live.example.com", "--client", "211.234.10.7", "--ecs", "211.234.10.0/24", "--admin", &admin])
        .output()
        .expect("explain");
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    let raw = udp_raw(server.dns, &Ask::new("live.example.com.", RecordType::A).ecs("211.234.10.0/24").bytes(), Duration::from_secs(2)).await.expect("reply");
    let dug = cname(&hickory_proto::op::Message::from_vec(&raw).expect("parse")).expect("CNAME");
    assert!(shown.contains(&format!("-> {dug}.")), "explain says otherwise than dig ({dug}):\n{shown}");
    assert!(shown.contains("country:KR") && shown.contains("akamai") && shown.contains("cloudfront") && shown.contains("fastly"), "{shown}");
    let json_out = Command::new(env!("CARGO_BIN_EXE_cdnsteer")).args(["explain", "live.example.com", "--ecs", "211.234.10.0/24", "--json", "--admin", &admin]).output().expect("explain");
    let v: serde_json::Value = serde_json::from_slice(&json_out.stdout).expect("JSON");
    assert_eq!(v["region"]["key"], "country:KR");
    // Offline: the files alone agree with a cold server.
    let offline = Command::new(env!("CARGO_BIN_EXE_cdnsteer")).current_dir(repo()).args(["explain", "live.example.com", "--ecs", "211.234.10.0/24", "--offline"]).output().expect("offline");
    assert!(offline.status.success() && text(&offline).contains(&format!("-> {dug}.")), "{}", text(&offline));

    // override add with the generated token (found in the state directory).
    let out = cli(&["override", "add", "--drain", "akamai", "--region", "KR", "--name", "live.example.com", "--expires", "10m", "--reason", "customer request", "--admin", &admin], state.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ovr-1 added"), "{}", text(&out));
    let started = Instant::now();
    while kr_cdns(server.dns).await.contains("live-example.akamaized.net") {
        assert!(started.elapsed() < Duration::from_secs(2), "akamai still in KR answers after 2 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listed = cli(&["override", "list", "--admin", &admin], state.path());
    assert!(text(&listed).contains("ovr-1") && text(&listed).contains("customer request"), "{}", text(&listed));
    let refused = cli(&["override", "add", "--pin", "akamai", "--region", "KR", "--expires", "10m", "--reason", "x", "--admin", &admin], state.path());
    assert!(!refused.status.success() && text(&refused).contains("409") && text(&refused).contains("ovr-1"), "{}", text(&refused));

    // Restart: the drain is still applied.
    let log = server.stop();
    assert!(!log.contains('\u{1b}'), "no ANSI colour codes when stderr is not a terminal");
    let server = Server::start(state.path()).await;
    assert!(!kr_cdns(server.dns).await.contains("live-example.akamaized.net"), "drain lost across a restart");
    let out = cli(&["override", "remove", "ovr-1", "--admin", &server.admin], state.path());
    assert!(out.status.success(), "{}", text(&out));
    let started = Instant::now();
    while !kr_cdns(server.dns).await.contains("live-example.akamaized.net") {
        assert!(started.elapsed() < Duration::from_secs(2), "akamai not back after removal");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop();

    // A corrupt state file stops the start with a clear error; `check` says the same.
    std::fs::write(state.path().join("overrides.json"), "{\"next_id\": 3, \"items\": [{\"id\": 1}]}").expect("corrupt");
    let out = Command::new(env!("CARGO_BIN_EXE_cdnsteer"))
        .current_dir(repo())
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--state-dir"])
        .arg(state.path())
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("overrides.json") && text(&out).contains("not a valid override state file"), "{}", text(&out));
    let out = cli(&["check", "zones"], state.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("overrides.json"), "{}", text(&out));
}
