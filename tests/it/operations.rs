//! Operating the real server: explain agrees with DNS for thousands of clients while health,
//! fail-open and an operator override are in play; overrides through the API (conflicts,
//! auth, field errors, storage failure, expiry, audit).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use cdnsteer::admin::client::call;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::harness::{Ask, TestServer, cname, ecs, start_bundled, udp_raw};

/// The generated admin token of a test server.
pub fn token(s: &TestServer) -> String {
    let text = std::fs::read_to_string(s._state.path().join("admin.token")).expect("generated token file");
    text.lines().find(|l| l.starts_with("local ")).and_then(|l| l.split_whitespace().nth(1)).expect("local token").to_string()
}

pub fn admin_url(s: &TestServer) -> String {
    format!("http://{}", s.running.admin.expect("admin listener"))
}

async fn get(url: &str, path: &str) -> Value {
    let (status, body) = call(url, "GET", path, None, None).await.expect("admin API");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

pub async fn post(url: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (status, text) = call(url, "POST", path, Some(token), Some(body.to_string())).await.expect("admin API");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn measurement(cdn: &str, region: &str, errors: u64) -> Value {
    json!({"cdn": cdn, "region": region, "requests": 10000, "errors": errors, "ttfb_ms": {"p50": 80}, "throughput_mbps": 30.0, "cache_hits": 9800})
}

/// Health data: cloudfront failing in KR (drained by health), akamai and fastly failing in JP
/// (JP fails open to the last resort), everything healthy elsewhere.
fn telemetry() -> Value {
    let mut m = Vec::new();
    for cdn in ["akamai", "fastly", "cloudfront", "edgio"] {
        m.push(measurement(cdn, "default", 0));
    }
    m.push(measurement("akamai", "KR", 0));
    m.push(measurement("fastly", "KR", 0));
    m.push(measurement("cloudfront", "KR", 3000));
    m.push(measurement("akamai", "JP", 3000));
    m.push(measurement("fastly", "JP", 3000));
    json!({"source": "rum-test", "measurements": m})
}

/// xorshift64*: deterministic random clients.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One random client: an ECS subnet (address, source prefix) or none (then the query comes
/// from a random 127/8 source).
fn client(rng: &mut Rng) -> (Option<(IpAddr, u8)>, IpAddr) {
    let v4 = |rng: &mut Rng| Ipv4Addr::from(rng.next() as u32);
    let ecs = match rng.below(12) {
        0 | 1 => Some((IpAddr::V4(v4(rng)), [16u8, 20, 24, 28, 32][rng.below(5) as usize])),
        2 => Some((IpAddr::V6(Ipv6Addr::from(((0x2001_0000u128 + u128::from(rng.below(0x2000))) << 96) | u128::from(rng.next()) << 32)), [32u8, 48, 56, 64][rng.below(4) as usize])),
        3 => Some((IpAddr::V6(Ipv4Addr::from(rng.next() as u32).to_ipv6_mapped()), [112u8, 120, 128][rng.below(3) as usize])),
        4 => Some((IpAddr::V4(Ipv4Addr::new(211, 234, rng.below(256) as u8, rng.below(256) as u8)), 24)),
        5 => Some((IpAddr::V4(Ipv4Addr::new(133, 242, rng.below(256) as u8, rng.below(256) as u8)), 24)),
        6 => Some((IpAddr::V4(Ipv4Addr::new(168, 126, 63, rng.below(256) as u8)), [24u8, 28, 32][rng.below(3) as usize])),
        7 => Some((IpAddr::V6(Ipv6Addr::from((0x2001_0e60_0001u128 << 80) | u128::from(rng.next()))), 56)),
        8 => Some((IpAddr::V4(Ipv4Addr::new(198, 51, 100, rng.below(256) as u8)), [24u8, 32][rng.below(2) as usize])),
        9 => Some((IpAddr::V4(v4(rng)), 0)),
        _ => None,
    };
    let src = IpAddr::V4(Ipv4Addr::new(127, rng.below(256) as u8, rng.below(256) as u8, 1 + rng.below(250) as u8));
    (ecs.map(|(a, p)| (ipnet::IpNet::new(a, p).expect("prefix").network(), p)), src)
}

async fn dig_from(server: SocketAddr, src: IpAddr, ecs_subnet: Option<(IpAddr, u8)>) -> Option<(String, u32, Option<u8>)> {
    let mut ask = Ask::new("live.example.com.", RecordType::A);
    if let Some((a, p)) = ecs_subnet {
        ask = ask.ecs(&format!("{a}/{p}"));
    }
    let sock = tokio::net::UdpSocket::bind(SocketAddr::new(src, 0)).await.expect("bind 127/8 source");
    sock.send_to(&ask.bytes(), server).await.expect("send");
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await.ok()?.ok()?;
    let m = hickory_proto::op::Message::from_vec(&buf[..n]).expect("reply parses");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    Some((cname(&m)?, m.answers.first()?.ttl, ecs(&m).map(|e| e.1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_agrees_with_dns_for_2000_random_clients() {
    let s = start_bundled().await;
    let url = admin_url(&s);
    let tok = token(&s);
    // An operator override: edgio drained in the default region.
    let (status, body) = post(&url, "/api/v1/overrides", &tok, json!({"kind": "drain", "name": "live.example.com", "region": "default", "cdn": "edgio", "expires_in": "1h", "author": "test", "reason": "differential test"})).await;
    assert_eq!(status, 201, "{body}");
    // Health data flowing until KR has cloudfront down and JP fails open.
    let settled = Instant::now();
    loop {
        assert_eq!(post(&url, "/api/v1/telemetry", &tok, telemetry()).await.0, 202);
        let kr = get(&url, "/api/v1/explain?name=live.example.com&ecs=211.234.10.0/24").await;
        let jp = get(&url, "/api/v1/explain?name=live.example.com&ecs=133.242.10.0/24").await;
        let cloudfront_down = kr["candidates"].as_array().expect("candidates").iter().any(|c| c["cdn"] == "cloudfront" && c["state"] == "down" && c["share"] == 0.0);
        if cloudfront_down && jp["fail_open"] == true {
            assert_eq!(jp["answer"]["cdn"], "akamai", "JP fails open to its last resort: {jp}");
            break;
        }
        assert!(settled.elapsed() < Duration::from_secs(20), "health never settled: {kr} {jp}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Keep telemetry flowing during the comparison.
    let feeder = {
        let (url, tok) = (url.clone(), tok.clone());
        tokio::spawn(async move {
            for _ in 0..200 {
                let _ = call(&url, "POST", "/api/v1/telemetry", Some(&tok), Some(telemetry().to_string())).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let (mut compared, mut retries) = (0, 0);
    while compared < 2000 {
        let (ecs_subnet, src) = client(&mut rng);
        let mut done = false;
        for _ in 0..5 {
            let before = get(&url, "/api/v1/status").await["generation"].as_u64().expect("generation");
            let Some((target, ttl, scope)) = dig_from(s.udp, src, ecs_subnet).await else { continue };
            let mut path = format!("/api/v1/explain?name=live.example.com&client={src}");
            if let Some((a, p)) = ecs_subnet {
                path.push_str(&format!("&ecs={a}/{p}"));
            }
            let e = get(&url, &path).await;
            if e["generation"].as_u64() != Some(before) {
                retries += 1;
                continue;
            }
            let answer = &e["answer"];
            assert_eq!(answer["target"].as_str().map(|t| t.trim_end_matches('.')), Some(target.as_str()), "CDN differs for {src} {ecs_subnet:?}: {e}");
            assert_eq!(answer["ttl"].as_u64(), Some(u64::from(ttl)), "TTL differs for {src} {ecs_subnet:?}: {e}");
            assert_eq!(answer["ecs_scope"].as_u64().map(|v| v as u8), scope, "ECS scope differs for {src} {ecs_subnet:?}: {e}");
            *kinds.entry(e["region"]["kind"].as_str().unwrap_or("?").to_string()).or_default() += 1;
            done = true;
            break;
        }
        assert!(done, "no stable generation for {src} {ecs_subnet:?} after 5 tries");
        compared += 1;
    }
    feeder.abort();
    eprintln!("explain == dig for {compared} clients ({retries} retried across a publish); regions by kind: {kinds:?}");
    for kind in ["network", "country", "continent", "default"] {
        assert!(kinds.get(kind).copied().unwrap_or(0) > 10, "too few {kind} clients: {kinds:?}");
    }
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_through_the_api() {
    let s = start_bundled().await;
    let url = admin_url(&s);
    let tok = token(&s);
    let kr_answers = || async {
        let mut cdns = std::collections::BTreeSet::new();
        for i in 0..64 {
            let raw = udp_raw(s.udp, &Ask::new("live.example.com.", RecordType::A).ecs(&format!("211.234.{i}.0/24")).bytes(), Duration::from_secs(2)).await.expect("reply");
            cdns.insert(cname(&hickory_proto::op::Message::from_vec(&raw).expect("parse")).expect("CNAME"));
        }
        cdns
    };
    assert!(kr_answers().await.contains("live-example.akamaized.net"));

    // Mutations need a token; reads do not.
    let body = json!({"kind": "drain", "name": "live.example.com", "region": "KR", "cdn": "akamai", "expires_in": "10m", "author": "noc-kim", "reason": "customer request"});
    let (status, _) = call(&url, "POST", "/api/v1/overrides", None, Some(body.to_string())).await.expect("call");
    assert_eq!(status, 401);
    assert_eq!(post(&url, "/api/v1/overrides", "wrong-token-123", body.clone()).await.0, 401);
    // A bad body names the field.
    let (status, reply) = post(&url, "/api/v1/overrides", &tok, json!({"kind": "drain", "cdn": "akamai", "author": "a", "reason": "r", "expires_in": "soon"})).await;
    assert_eq!((status, reply["field"].as_str()), (400, Some("expires_in")), "{reply}");
    let (status, reply) = post(&url, "/api/v1/overrides", &tok, json!({"kind": "drain", "cdn": "akamai", "colour": "red"})).await;
    assert_eq!((status, reply["field"].as_str()), (400, Some("colour")), "{reply}");

    // The drain: within one tick no KR answer is akamai.
    let (status, added) = post(&url, "/api/v1/overrides", &tok, body.clone()).await;
    assert_eq!(status, 201, "{added}");
    let id = added["id"].as_str().expect("id").to_string();
    assert_eq!((added["who"].as_str(), added["author"].as_str()), (Some("local"), Some("noc-kim")));
    let started = Instant::now();
    while kr_answers().await.contains("live-example.akamaized.net") {
        assert!(started.elapsed() < Duration::from_secs(2), "drain not applied within 2 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listed = get(&url, "/api/v1/overrides").await;
    assert_eq!(listed[0]["id"], id.as_str());
    let status = get(&url, "/api/v1/status").await;
    assert_eq!((&status["overrides"]["active"], &status["overrides"]["dormant"]), (&json!([id]), &json!([])), "{status}");
    assert_eq!(listed[0]["dormant"], false);
    let e = get(&url, "/api/v1/explain?name=live.example.com&ecs=211.234.10.0/24").await;
    assert_eq!(e["overrides"], json!([id]));
    let akamai = e["candidates"].as_array().expect("candidates").iter().find(|c| c["cdn"] == "akamai").expect("akamai").clone();
    assert_eq!((akamai["state"].as_str(), akamai["share"].as_f64()), (Some("drained"), Some(0.0)), "{e}");
    let events = get(&url, "/api/v1/decisions").await;
    assert!(events.as_array().expect("events").iter().any(|ev| ev["overrides"] == json!([id]) && ev["reason"].as_str().is_some_and(|r| r.contains("customer request"))), "{events}");

    // A pin of akamai over the same scope conflicts, naming both ids.
    let (status, reply) = post(&url, "/api/v1/overrides", &tok, json!({"kind": "pin", "region": "KR", "cdn": "akamai", "expires_in": "10m", "author": "x", "reason": "y"})).await;
    assert_eq!(status, 409, "{reply}");
    assert!(reply["ids"].as_array().expect("ids").contains(&json!(id)), "{reply}");
    // Draining the last candidate of KR is refused: the region would fall to its last resort,
    // akamai, which is drained.
    let drain = |region: &str, cdn: &str, force: bool| json!({"kind": "drain", "name": "live.example.com", "region": region, "cdn": cdn, "expires_in": "10m", "author": "x", "reason": "y", "force": force});
    assert_eq!(post(&url, "/api/v1/overrides", &tok, drain("KR", "cloudfront", false)).await.0, 201);
    let (status, reply) = post(&url, "/api/v1/overrides", &tok, drain("KR", "fastly", true)).await;
    assert_eq!(status, 409, "{reply}");
    assert!(reply["error"].as_str().is_some_and(|m| m.contains("last_resort")), "{reply}");
    // noc-lab has edgio alone: draining it needs force, then the lab answers the last resort.
    let (status, reply) = post(&url, "/api/v1/overrides", &tok, drain("network:noc-lab", "edgio", false)).await;
    assert_eq!(status, 409, "{reply}");
    assert!(reply["error"].as_str().is_some_and(|m| m.contains("force")), "{reply}");
    assert_eq!(post(&url, "/api/v1/overrides", &tok, drain("network:noc-lab", "edgio", true)).await.0, 201);
    let lab = get(&url, "/api/v1/explain?name=live.example.com&ecs=198.51.100.0/24").await;
    assert_eq!((lab["fail_open"].as_bool(), lab["answer"]["cdn"].as_str()), (Some(true), Some("akamai")), "{lab}");

    // Remove: akamai comes back to KR answers.
    let (status, _) = call(&url, "DELETE", &format!("/api/v1/overrides/{id}"), Some(&tok), None).await.expect("delete");
    assert_eq!(status, 200);
    let (status, _) = call(&url, "DELETE", &format!("/api/v1/overrides/{id}"), Some(&tok), None).await.expect("delete");
    assert_eq!(status, 404);
    let audit = std::fs::read_to_string(s._state.path().join("audit.jsonl")).expect("audit log");
    let lines: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert!(lines.iter().any(|l| l["what"] == "override.add" && l["who"] == "local" && l["author"] == "noc-kim" && l["after"]["id"] == id.as_str()), "{audit}");
    assert!(lines.iter().any(|l| l["what"] == "override.remove" && l["before"]["id"] == id.as_str() && l["after"].is_null()), "{audit}");

    // A write that cannot be made durable: 507, and nothing changes in memory either.
    let before = get(&url, "/api/v1/overrides").await;
    std::fs::create_dir(s._state.path().join(".overrides.json.tmp")).expect("block the state file");
    let (status, reply) = post(&url, "/api/v1/overrides", &tok, json!({"kind": "weight", "cdn": "edgio", "weight": 3, "expires_in": "10m", "author": "x", "reason": "y"})).await;
    assert_eq!(status, 507, "{reply}");
    assert_eq!(get(&url, "/api/v1/overrides").await, before);
    std::fs::remove_dir(s._state.path().join(".overrides.json.tmp")).expect("unblock");

    // Expiry: a 1 s override disappears by itself, audited, with an event.
    let (status, short) = post(&url, "/api/v1/overrides", &tok, json!({"kind": "weight", "cdn": "edgio", "weight": 3, "expires_in": "1s", "author": "x", "reason": "short"})).await;
    assert_eq!(status, 201, "{short}");
    let started = Instant::now();
    loop {
        let audit = std::fs::read_to_string(s._state.path().join("audit.jsonl")).expect("audit log");
        if audit.lines().any(|l| l.contains("override.expire") && l.contains(short["id"].as_str().expect("id"))) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never expired: {audit}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(get(&url, "/api/v1/overrides").await.as_array().expect("list").iter().all(|o| o["id"] != short["id"]));
    s.running.shutdown().await;
}
