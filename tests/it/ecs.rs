//! EDNS Client Subnet over real UDP and TCP: which region answers, and the echoed option
//! (same family, address and source prefix; the scope from the rule in `decide.rs`).
//!
//! Expected scopes are computed here from the GeoIP prefix the database gives and an
//! independent, brute-force statement of the rule:
//! region scope = the longest override network holding the client, else the database network;
//! then widened bit by bit until the client's block holds no override network that does not
//! hold the client; one usable candidate -> that, more -> max(cell, that) with cells /24, /56.

use std::net::IpAddr;
use std::path::Path;

use cdnsteer::geo::{GeoDb, normalize};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use ipnet::IpNet;

use crate::geo::TempDir;
use crate::harness::{self, Ask, TestServer, bundled_cdn, bundled_geoip, start, start_bundled, tcp, udp};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn net(s: &str) -> IpNet {
    s.parse().expect("CIDR")
}

/// "addr/prefix" -> (addr, prefix).
fn split(subnet: &str) -> (IpAddr, u8) {
    let (a, p) = subnet.split_once('/').expect("addr/prefix");
    (ip(a), p.parse().expect("prefix"))
}

/// The scope rule, written independently of `decide.rs`. `client` is the ECS address as sent;
/// a v4-mapped one is located as IPv4 and its scope is echoed 96 bits longer.
fn rule_scope(geo: &GeoDb, client: IpAddr, usable: usize, overrides: &[IpNet]) -> u8 {
    let mapped = client.is_ipv6() && normalize(client).is_ipv4();
    let client = normalize(client);
    let (max, cell) = if client.is_ipv4() { (32u8, 24u8) } else { (128, 56) };
    let mut scope = overrides
        .iter()
        .filter(|n| n.contains(&client))
        .map(IpNet::prefix_len)
        .max()
        .unwrap_or_else(|| geo.locate(client).prefix_len);
    let holds_foreign_override = |p: u8| {
        let block = IpNet::new(client, p).expect("prefix").trunc();
        overrides.iter().any(|n| !n.contains(&client) && block.contains(n))
    };
    while scope < max && holds_foreign_override(scope) {
        scope += 1;
    }
    let scope = if usable == 1 { scope } else { scope.max(cell) };
    if mapped { scope + 96 } else { scope }
}

/// Other subnets of the same source length inside the echoed scope block (its first and last),
/// which must get the same answer: that is what the scope promises a resolver's cache.
fn probes(addr: IpAddr, source: u8, scope: u8) -> Vec<String> {
    if scope >= source || normalize(addr) != addr {
        return Vec::new();
    }
    let block = IpNet::new(addr, scope).expect("prefix").trunc();
    let mut out = Vec::new();
    for a in [block.network(), block.broadcast()] {
        let a = IpNet::new(a, source).expect("prefix").trunc().network();
        if a != addr {
            out.push(format!("{a}/{source}"));
        }
    }
    out
}

/// Query a steered name with ECS and return the reply after checking the echo's family,
/// address and source prefix.
async fn ask(server: std::net::SocketAddr, over_tcp: bool, qname: &str, subnet: &str) -> Message {
    let q = Ask::new(qname, RecordType::A).ecs(subnet);
    let m = if over_tcp { tcp(server, &q).await } else { udp(server, &q).await };
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{qname} {subnet}");
    let (source, _, addr) = harness::ecs(&m).unwrap_or_else(|| panic!("{qname} {subnet}: no ECS echoed"));
    let (sent, sent_source) = split(subnet);
    assert_eq!(addr, sent, "{subnet}: echoed address (and family) must be the query's");
    assert_eq!(addr.is_ipv4(), sent.is_ipv4(), "{subnet}: family");
    assert_eq!(source, sent_source, "{subnet}: echoed source prefix");
    m
}

fn scope_of(m: &Message) -> u8 {
    harness::ecs(m).expect("ECS").1
}

/// live.example.com's override networks (kt-resolvers, noc-lab).
fn bundled_overrides() -> Vec<IpNet> {
    ["168.126.63.0/24", "2001:e60:1::/48", "198.51.100.0/24"].map(net).to_vec()
}

const KR: &[&str] = &["akamai", "cloudfront", "fastly"];
const JP: &[&str] = &["akamai", "fastly"];
const ASIA: &[&str] = &["cloudfront", "akamai"];
const DEFAULT: &[&str] = &["fastly", "cloudfront", "akamai", "edgio"];
const KT: &[&str] = &["akamai"];
const NOC: &[&str] = &["edgio"];

/// One steered query against the bundled zone.
struct Case {
    subnet: &'static str,
    /// The region's candidates (its usable count drives the rule).
    region: &'static [&'static str],
    /// The scope spelled out, cross-checked against the computed one.
    scope: u8,
    tcp: bool,
}

const fn c(subnet: &'static str, region: &'static [&'static str], scope: u8) -> Case {
    Case { subnet, region, scope, tcp: false }
}

const fn t(subnet: &'static str, region: &'static [&'static str], scope: u8) -> Case {
    Case { subnet, region, scope, tcp: true }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steered_answers_follow_region_and_scope_rule() {
    let s = start_bundled().await;
    let geo = GeoDb::open(&bundled_geoip()).expect("bundled database");
    let overrides = bundled_overrides();
    let cases = [
        // KR /16 in the database, three candidates: the /24 cell.
        c("211.234.5.0/24", KR, 24),
        c("211.234.200.0/24", KR, 24),
        c("211.234.5.6/32", KR, 24),
        t("211.234.6.0/24", KR, 24),
        // A source shorter than the cell: the answer is for the cell of the address.
        c("211.234.0.0/16", KR, 24),
        // JP: two candidates.
        c("133.242.0.0/24", JP, 24),
        c("210.130.0.0/24", JP, 24),
        c("126.0.0.0/24", JP, 24),
        // CN and SG: continent AS.
        c("223.5.5.0/24", ASIA, 24),
        c("165.21.0.0/24", ASIA, 24),
        // US, DE, BR, AU: default.
        c("8.8.8.0/24", DEFAULT, 24),
        c("194.25.0.0/24", DEFAULT, 24),
        c("200.160.0.0/24", DEFAULT, 24),
        c("180.150.0.0/24", DEFAULT, 24),
        // No data (203.0.113.0/22, 10/8): default.
        c("203.0.113.0/24", DEFAULT, 24),
        c("10.1.2.0/24", DEFAULT, 24),
        // IPv6: the /56 cell.
        c("2001:2d8:1:2300::/56", KR, 56),
        t("2001:2d8:1:2300::/56", KR, 56),
        c("2406:5900:1::/48", KR, 56),
        c("2001:4860:4860::/56", DEFAULT, 56),
        // v4-mapped: located as IPv4, scope 96 + 24.
        c("::ffff:211.234.5.0/120", KR, 120),
        t("::ffff:211.234.5.0/120", KR, 120),
        c("::ffff:133.242.0.0/120", JP, 120),
        c("::ffff:8.8.8.0/120", DEFAULT, 120),
        // CIDR overrides: one candidate, scope = the override network.
        c("168.126.63.0/24", KT, 24),
        c("168.126.63.128/25", KT, 24),
        c("168.126.63.53/32", KT, 24),
        t("168.126.63.0/24", KT, 24),
        c("2001:e60:1::/48", KT, 48),
        c("2001:e60:1:100::/56", KT, 48),
        c("::ffff:168.126.63.0/120", KT, 120),
        c("198.51.100.0/24", NOC, 24),
        c("198.51.100.128/25", NOC, 24),
        // Beside an override, in the same KR database network: KR, and the scope never
        // covers the override (168.126.62.0/23 would).
        c("168.126.62.0/24", KR, 24),
        c("2001:e60::/56", KR, 56),
        c("198.51.101.0/24", DEFAULT, 24),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let server = if case.tcp { s.tcp } else { s.udp };
        let m = ask(server, case.tcp, "live.example.com.", case.subnet).await;
        let target = harness::cname(&m).expect("CNAME");
        let cdn = bundled_cdn(&target);
        let (addr, source) = split(case.subnet);
        let scope = scope_of(&m);
        let computed = rule_scope(&geo, addr, case.region.len(), &overrides);
        let tag = format!("{}{}", case.subnet, if case.tcp { " (tcp)" } else { "" });
        if !case.region.contains(&cdn) {
            failures.push(format!("{tag}: {cdn} is not a candidate of {:?}", case.region));
        }
        if computed != case.scope {
            failures.push(format!("{tag}: rule gives {computed} from the database, table says {}", case.scope));
        }
        if scope != computed {
            failures.push(format!("{tag}: echoed scope {scope}, rule gives {computed}"));
        }
        for other in probes(addr, source, scope) {
            let m = ask(s.udp, false, "live.example.com.", &other).await;
            let again = harness::cname(&m).expect("CNAME");
            if again != target {
                failures.push(format!("{tag}: scope /{scope} promises {target}, but {other} gets {again}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_zero_static_negative_and_absent_ecs() {
    let s = start_bundled().await;
    let geo = GeoDb::open(&bundled_geoip()).expect("bundled database");
    // The packet source is 127.0.0.1: no data in the database -> default region.
    assert_eq!(geo.locate(ip("127.0.0.1")).place, Default::default());

    // Source prefix 0 (either family): located by the packet source, scope 0.
    for subnet in ["0.0.0.0/0", "::/0"] {
        for over_tcp in [false, true] {
            let server = if over_tcp { s.tcp } else { s.udp };
            let m = ask(server, over_tcp, "live.example.com.", subnet).await;
            let cdn = bundled_cdn(&harness::cname(&m).expect("CNAME"));
            assert!(DEFAULT.contains(&cdn), "{subnet}: {cdn}");
            assert_eq!(scope_of(&m), 0, "{subnet}: source 0 is answered with scope 0");
        }
    }

    // Static answers do not depend on the client: scope 0, whatever the subnet.
    for (qname, qtype, rcode) in [
        ("example.com.", RecordType::A, ResponseCode::NoError),
        ("www.example.com.", RecordType::A, ResponseCode::NoError),
        ("example.com.", RecordType::MX, ResponseCode::NoError),
        ("ns2.example.com.", RecordType::AAAA, ResponseCode::NoError),
        ("nope.example.com.", RecordType::A, ResponseCode::NXDomain),
        ("deeper.nope.example.com.", RecordType::AAAA, ResponseCode::NXDomain),
    ] {
        for subnet in ["211.234.5.0/24", "168.126.63.0/24", "2001:2d8:1:2300::/56", "::ffff:211.234.5.0/120"] {
            let m = udp(s.udp, &Ask::new(qname, qtype).ecs(subnet)).await;
            assert_eq!(m.metadata.response_code, rcode, "{qname} {qtype} {subnet}");
            let (source, scope, addr) = harness::ecs(&m).unwrap_or_else(|| panic!("{qname} {subnet}: no ECS"));
            assert_eq!((addr, source), split(subnet), "{qname} {subnet}");
            assert_eq!(scope, 0, "{qname} {qtype} {subnet}: static/negative answers have scope 0");
        }
    }
    let m = tcp(s.tcp, &Ask::new("nope.example.com.", RecordType::A).ecs("211.234.5.0/24")).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(harness::ecs(&m).map(|e| e.1), Some(0), "NXDOMAIN over TCP: scope 0");

    // No ECS in the query: none in the reply, even for a steered name (the OPT is still there).
    for qname in ["live.example.com.", "example.com.", "nope.example.com."] {
        let m = udp(s.udp, &Ask::new(qname, RecordType::A)).await;
        assert!(m.edns.is_some(), "{qname}: OPT answered");
        assert!(harness::ecs(&m).is_none(), "{qname}: no ECS asked, none echoed");
        let m = tcp(s.tcp, &Ask::new(qname, RecordType::A)).await;
        assert!(harness::ecs(&m).is_none(), "{qname} over TCP: none echoed");
    }
    let m = udp(s.udp, &Ask::new("live.example.com.", RecordType::A)).await;
    assert!(DEFAULT.contains(&bundled_cdn(&harness::cname(&m).expect("CNAME"))), "127.0.0.1 is in no region");
    s.running.shutdown().await;
}

/// A zone whose US region has ONE candidate, so the scope is the whole database network
/// around the client; `edge` also has an override inside that network.
const SOLO_ZONE: &str = r#"
version: 1
zone: solo.test
soa:
  primary: ns1.solo.test.
  contact: hostmaster.solo.test.
  serial: 1
networks:
  lab:
    - 8.8.4.0/24
records:
  - name: "@"
    type: NS
    value: ns1.solo.test.
  - name: ns1
    type: A
    value: 192.0.2.53
steered:
  live:
    last_resort: other
    cdns:
      us: {target: us.cdn.test.}
      kr1: {target: kr1.cdn.test.}
      kr2: {target: kr2.cdn.test.}
      other: {target: other.cdn.test.}
    regions:
      countries:
        US: {us: 1}
        KR: {kr1: 1, kr2: 1}
      default: {other: 1}
  edge:
    last_resort: other
    cdns:
      us: {target: us.cdn.test.}
      lab: {target: lab.cdn.test.}
      other: {target: other.cdn.test.}
    regions:
      networks:
        lab: {lab: 1}
      countries:
        US: {us: 1}
      default: {other: 1}
"#;

async fn start_solo(dir: &TempDir) -> TestServer {
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(&zones).expect("zones dir");
    std::fs::write(zones.join("solo.test.yaml"), SOLO_ZONE).expect("zone");
    start(Path::new(&zones), &bundled_geoip()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_candidate_region_scope_is_the_database_network() {
    let dir = TempDir::new("ecs-solo");
    let s = start_solo(&dir).await;
    let geo = GeoDb::open(&bundled_geoip()).expect("bundled database");
    assert_eq!(geo.locate(ip("8.8.8.8")).prefix_len, 15, "bundled: 8.8.8.8 is in US 8.8.0.0/15");
    let lab = [net("8.8.4.0/24")];

    // (name, ECS, target, usable candidates, overrides of that name, scope spelled out)
    type SoloCase<'a> = (&'a str, &'a str, &'a str, usize, &'a [IpNet], u8);
    let cases: &[SoloCase<'_>] = &[
        ("live", "8.8.8.0/24", "us", 1, &[], 15),
        ("live", "8.9.255.0/24", "us", 1, &[], 15),
        ("live", "8.8.8.8/32", "us", 1, &[], 15),
        ("live", "2001:4860:4860::/56", "us", 1, &[], 42),
        ("live", "::ffff:8.8.8.0/120", "us", 1, &[], 111),
        ("live", "1.1.1.0/24", "us", 1, &[], 24),
        // No data: the default region's one candidate over the empty database network.
        ("live", "203.0.113.0/24", "other", 1, &[], 22),
        ("live", "10.1.0.0/24", "other", 1, &[], 8),
        // Two candidates: back to the cell.
        ("live", "211.234.5.0/24", "kr", 2, &[], 24),
        // `edge` has lab = 8.8.4.0/24 inside 8.8.0.0/15: the US scope shrinks to exclude it
        // (8.8.8.0/21 is the widest block around 8.8.8.0 without 8.8.4.0/24); `live` has no
        // overrides, so lab does not narrow it (above: 15).
        ("edge", "8.8.8.0/24", "us", 1, &lab, 21),
        ("edge", "8.8.15.0/24", "us", 1, &lab, 21),
        ("edge", "8.9.0.0/24", "us", 1, &lab, 16),
        ("edge", "8.8.5.0/24", "us", 1, &lab, 24),
        ("edge", "8.8.0.0/24", "us", 1, &lab, 22),
        ("edge", "::ffff:8.8.8.0/120", "us", 1, &lab, 117),
        ("edge", "8.8.4.0/24", "lab", 1, &lab, 24),
        ("edge", "8.8.4.128/25", "lab", 1, &lab, 24),
        ("edge", "2001:4860:4860::/56", "us", 1, &lab, 42),
    ];
    let mut failures = Vec::new();
    for (name, subnet, want, usable, overrides, literal) in cases {
        let qname = format!("{name}.solo.test.");
        let m = ask(s.udp, false, &qname, subnet).await;
        let target = harness::cname(&m).expect("CNAME");
        let (addr, source) = split(subnet);
        let scope = scope_of(&m);
        let computed = rule_scope(&geo, addr, *usable, overrides);
        let tag = format!("{name} {subnet}");
        if !target.starts_with(want) {
            failures.push(format!("{tag}: got {target}, want {want}"));
        }
        if computed != *literal {
            failures.push(format!("{tag}: rule gives {computed} from the database, table says {literal}"));
        }
        if scope != computed {
            failures.push(format!("{tag}: echoed scope {scope}, rule gives {computed}"));
        }
        for other in probes(addr, source, scope) {
            let again = harness::cname(&ask(s.udp, false, &qname, &other).await).expect("CNAME");
            if again != target {
                failures.push(format!("{tag}: scope /{scope} promises {target}, but {other} gets {again}"));
            }
        }
    }
    // Over TCP too.
    let m = ask(s.tcp, true, "live.solo.test.", "8.8.8.0/24").await;
    if scope_of(&m) != 15 {
        failures.push(format!("live 8.8.8.0/24 over TCP: scope {}", scope_of(&m)));
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    s.running.shutdown().await;
}
