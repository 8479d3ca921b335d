//! Test harness: the real server on 127.0.0.1:0 and a small DNS client over real UDP and TCP.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use cdnsteer::config::{AdminListen, Config, Flags};
use cdnsteer::daemon::{self, Running};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The repository root.
/// Tests that load the machine on purpose (the UDP flood) hold this for writing; tests whose
/// probes have sub-second timeouts hold it for reading, so they never run during a flood.
pub static CPU_HEAVY: std::sync::LazyLock<tokio::sync::RwLock<()>> = std::sync::LazyLock::new(|| tokio::sync::RwLock::new(()));

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled GeoIP database.
pub fn bundled_geoip() -> PathBuf {
    repo().join("geoip/iptoasn-country.mmdb")
}

/// A running server and where it listens.
pub struct TestServer {
    /// UDP address.
    pub udp: SocketAddr,
    /// TCP address.
    pub tcp: SocketAddr,
    /// The server.
    pub running: Running,
    /// Its state directory, removed when the test ends.
    pub _state: tempfile::TempDir,
}

/// Start the real server on 127.0.0.1 with an OS-chosen port.
pub async fn start(zones: &Path, geoip: &Path) -> TestServer {
    let state = tempfile::tempdir().expect("state dir");
    start_in(zones, geoip, state, |_| {}, daemon::StartOptions::default()).await
}

/// `start`, with the config adjusted by `adjust` before the server starts.
pub async fn start_with(zones: &Path, geoip: &Path, adjust: impl FnOnce(&mut Config)) -> TestServer {
    let state = tempfile::tempdir().expect("state dir");
    start_in(zones, geoip, state, adjust, daemon::StartOptions::default()).await
}

/// Start the real server with `state` as its state directory (a restart on the same state
/// passes the `TempDir` of the server before), `tweak` applied to the configuration and
/// `options` given to `daemon::start_with`.
pub async fn start_in(zones: &Path, geoip: &Path, state: tempfile::TempDir, tweak: impl FnOnce(&mut Config), options: daemon::StartOptions) -> TestServer {
    let flags = Flags {
        zones: Some(zones.to_path_buf()),
        geoip: Some(geoip.to_path_buf()),
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        log_format: None,
        admin_listen: Some(AdminListen::At(SocketAddr::from(([127, 0, 0, 1], 0)))),
        ..Flags::default()
    };
    let mut config = Config::load(None, &flags).expect("config");
    // Durable state in a directory of its own (kept for the test's lifetime), never in the
    // repository.
    config.state_dir = state.path().to_path_buf();
    // No events unless a test writes them (the repository's events/ names the bundled zone).
    config.events = state.path().join("events");
    // These tests reload explicitly and count generations; the file watcher is tested on the
    // real binary (`reload.rs`).
    config.watch = false;
    tweak(&mut config);
    let running = daemon::start_with(config, options).await.expect("server starts");
    TestServer { udp: running.udp[0], tcp: running.tcp[0], running, _state: state }
}

/// Start on the bundled zones and GeoIP database.
pub async fn start_bundled() -> TestServer {
    start(&repo().join("zones"), &bundled_geoip()).await
}

/// How to build a query.
#[derive(Clone, Debug)]
pub struct Ask {
    /// Name as asked (case preserved).
    pub name: String,
    /// Type.
    pub qtype: RecordType,
    /// EDNS payload size; `None` for no OPT.
    pub edns: Option<u16>,
    /// ECS as "address/prefix".
    pub ecs: Option<String>,
    /// Query id.
    pub id: u16,
}

impl Ask {
    /// A plain query with EDNS 1232.
    pub fn new(name: &str, qtype: RecordType) -> Ask {
        Ask { name: name.to_string(), qtype, edns: Some(1232), ecs: None, id: 0x4242 }
    }

    /// With an ECS option.
    pub fn ecs(mut self, subnet: &str) -> Ask {
        self.ecs = Some(subnet.to_string());
        self
    }

    /// Without EDNS.
    pub fn no_edns(mut self) -> Ask {
        self.edns = None;
        self
    }

    /// With this EDNS payload size.
    pub fn payload(mut self, size: u16) -> Ask {
        self.edns = Some(size);
        self
    }

    /// The wire bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut m = Message::new(self.id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = false;
        m.add_query(Query::query(Name::from_str(&self.name).expect("name"), self.qtype));
        if let Some(size) = self.edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            if let Some(subnet) = &self.ecs {
                let (addr, prefix) = subnet.split_once('/').expect("addr/prefix");
                let addr: IpAddr = addr.parse().expect("addr");
                let prefix: u8 = prefix.parse().expect("prefix");
                e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
            }
            m.set_edns(e);
        }
        let mut bytes = m.to_vec().expect("encode");
        // hickory's encoder lower-cases names; put the name back exactly as asked.
        let mut wire = Vec::new();
        for label in self.name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label.as_bytes());
        }
        wire.push(0);
        bytes[12..12 + wire.len()].copy_from_slice(&wire);
        bytes
    }
}

/// Send raw bytes over UDP; `None` if nothing comes back within `wait`.
pub async fn udp_raw(server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.send_to(bytes, server).await.expect("send");
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// Send raw bytes over TCP (length-prefixed) and read one reply; `None` on close or timeout.
pub async fn tcp_raw(server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(server).await.expect("connect");
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.expect("write");
    let read = async {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.ok()?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut body).await.ok()?;
        Some(body)
    };
    tokio::time::timeout(wait, read).await.ok().flatten()
}

/// Ask over UDP and parse the reply (panics if none).
pub async fn udp(server: SocketAddr, ask: &Ask) -> Message {
    let raw = udp_raw(server, &ask.bytes(), Duration::from_secs(3)).await.expect("UDP reply");
    Message::from_vec(&raw).expect("reply parses")
}

/// Ask over TCP and parse the reply.
pub async fn tcp(server: SocketAddr, ask: &Ask) -> Message {
    let raw = tcp_raw(server, &ask.bytes(), Duration::from_secs(3)).await.expect("TCP reply");
    Message::from_vec(&raw).expect("reply parses")
}

/// The CNAME target of the first answer, without the trailing dot.
pub fn cname(m: &Message) -> Option<String> {
    m.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(c) => Some(c.0.to_string().trim_end_matches('.').to_string()),
        _ => None,
    })
}

/// The echoed ECS option: (source prefix, scope prefix, address).
pub fn ecs(m: &Message) -> Option<(u8, u8, IpAddr)> {
    let edns = m.edns.as_ref()?;
    match edns.option(hickory_proto::rr::rdata::opt::EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some((s.source_prefix(), s.scope_prefix(), s.addr())),
        _ => None,
    }
}

/// The CNAME target -> CDN name map of the bundled live.example.com.
pub fn bundled_cdn(target: &str) -> &'static str {
    match target {
        "live-example.akamaized.net" => "akamai",
        "live-example.global.ssl.fastly.net" => "fastly",
        "d1live3example.cloudfront.net" => "cloudfront",
        "live-example.edgecastcdn.net" => "edgio",
        other => panic!("unexpected target {other}"),
    }
}

/// A `cdnsteer serve` child process on ports the OS chose (`--listen 127.0.0.1:0`, admin
/// API on `127.0.0.1:0`), with the addresses read from its "serving" log line: no port is
/// picked ahead and raced for by the tests running beside it.
pub struct Child {
    /// The process.
    pub process: std::process::Child,
    /// Its DNS address (UDP and TCP).
    pub dns: SocketAddr,
    /// Its admin API, when it runs one.
    pub admin: Option<SocketAddr>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Child {
    /// Start `cdnsteer serve` with `args` after `--listen 127.0.0.1:0 --admin-listen
    /// 127.0.0.1:0` (pass `--admin-listen off` in `args` to override), in the repository,
    /// logging at info; waits (at most 30 s) until it serves.
    pub fn serve(args: &[&std::ffi::OsStr]) -> Child {
        use std::io::BufRead;
        let mut process = std::process::Command::new(env!("CARGO_BIN_EXE_cdnsteer"))
            .current_dir(repo())
            .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn cdnsteer serve");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = process.stderr.take().expect("stderr piped");
        let sink = std::sync::Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut child = Child { process, dns: SocketAddr::from(([127, 0, 0, 1], 0)), admin: None, log, reader: Some(reader) };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let text = child.log();
            if let Some(line) = text.lines().find(|l| l.contains(" serving ") && l.contains("udp=[")) {
                let field = |name: &str| line.split(name).nth(1).and_then(|rest| rest.split([']', ')', ' ', ',']).next()).and_then(|a| a.parse::<SocketAddr>().ok());
                child.dns = field("udp=[").expect("the serving line names the UDP address");
                child.admin = field("admin=Some(");
                return child;
            }
            if let Some(status) = child.process.try_wait().expect("try_wait") {
                panic!("cdnsteer serve exited early: {status}\n{text}");
            }
            assert!(std::time::Instant::now() < deadline, "cdnsteer serve did not start within 30 s:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Wait (at most 15 s) for the process to exit, then the whole log.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.process.try_wait().expect("try_wait") {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "cdnsteer serve did not exit within 15 s:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
