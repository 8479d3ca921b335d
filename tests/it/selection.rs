//! Sticky weighted selection through real DNS: stability, split, minimal movement on a weight
//! change, and atomic snapshot swaps under load.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::{Ask, bundled_cdn, bundled_geoip, cname, start, start_bundled, udp};

/// A zone whose default region splits `weights` between two CDNs, with a steered TTL.
fn two_cdn_zone(a: u32, b: u32, ttl: u32, suffix: &str) -> String {
    format!(
        r#"version: 1
zone: split.test
soa: {{primary: ns1.split.test., contact: hostmaster.split.test., serial: 1}}
records:
  - {{name: "@", type: NS, value: ns1.split.test.}}
  - {{name: ns1, type: A, value: 192.0.2.1}}
steered:
  www:
    ttl: {ttl}
    last_resort: a
    cdns:
      a: {{target: a{suffix}.cdn.test}}
      b: {{target: b{suffix}.cdn.test}}
    regions:
      default: {{a: {a}, b: {b}}}
"#
    )
}

fn write_zone(dir: &Path, text: &str) {
    std::fs::write(dir.join("split.test.yaml"), text).expect("write zone");
}

/// 5,000 distinct /24s in 10.0.0.0/8 (no GeoIP data there: default region).
fn cells() -> impl Iterator<Item = String> {
    (0..5000u32).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
}

async fn answers(server: std::net::SocketAddr) -> Vec<String> {
    let mut out = Vec::with_capacity(5000);
    for subnet in cells() {
        let m = udp(server, &Ask::new("www.split.test.", RecordType::A).ecs(&subnet)).await;
        out.push(cname(&m).expect("CNAME"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_subnet_same_answer_100_times() {
    let s = start_bundled().await;
    for subnet in ["211.234.77.0/24", "2001:2d8:1:2300::/56", "8.8.8.0/24"] {
        let first = cname(&udp(s.udp, &Ask::new("live.example.com.", RecordType::A).ecs(subnet)).await);
        assert!(first.is_some());
        for _ in 0..100 {
            let again = cname(&udp(s.udp, &Ask::new("live.example.com.", RecordType::A).ecs(subnet)).await);
            assert_eq!(again, first, "{subnet}");
        }
    }
    // Hosts within one /24 cell share the answer too.
    let base = cname(&udp(s.udp, &Ask::new("live.example.com.", RecordType::A).ecs("211.234.77.0/24")).await);
    let other_host = cname(&udp(s.udp, &Ask::new("live.example.com.", RecordType::A).ecs("211.234.77.128/25")).await);
    assert_eq!(base, other_host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_follows_weights_and_weight_change_moves_few_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_zone(dir.path(), &two_cdn_zone(60, 40, 20, ""));
    let s = start(dir.path(), &bundled_geoip()).await;

    let before = answers(s.udp).await;
    let a_share = before.iter().filter(|t| t.starts_with("a.")).count() as f64 / before.len() as f64;
    assert!((a_share - 0.60).abs() <= 0.03, "60/40 split observed as {:.3}", a_share);

    write_zone(dir.path(), &two_cdn_zone(50, 50, 20, ""));
    let generation = s.running.reload().await.expect("reload");
    assert_eq!(generation, 2);
    let after = answers(s.udp).await;
    let a_share = after.iter().filter(|t| t.starts_with("a.")).count() as f64 / after.len() as f64;
    assert!((a_share - 0.50).abs() <= 0.03, "50/50 split observed as {:.3}", a_share);

    let moved = before.iter().zip(&after).filter(|(x, y)| x != y).count() as f64 / before.len() as f64;
    // The minimum possible is 10%; rendezvous hashing should be close to it.
    assert!(moved <= 0.12, "{:.1}% of cells changed CDN", moved * 100.0);
    assert!(moved >= 0.05, "{:.1}% moved: weights did not take effect?", moved * 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_kr_split_roughly_follows_weights() {
    // 211.234.0.0/16 is one KR network: 256 cells, a coarse check of the configured 40/35/25.
    let s = start_bundled().await;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for i in 0..256 {
        let m = udp(s.udp, &Ask::new("live.example.com.", RecordType::A).ecs(&format!("211.234.{i}.0/24"))).await;
        *counts.entry(bundled_cdn(&cname(&m).expect("CNAME"))).or_default() += 1;
    }
    assert_eq!(counts.keys().filter(|k| !["akamai", "cloudfront", "fastly"].contains(k)).count(), 0, "{counts:?}");
    for (cdn, weight) in [("akamai", 0.40), ("cloudfront", 0.35), ("fastly", 0.25)] {
        let share = counts.get(cdn).copied().unwrap_or(0) as f64 / 256.0;
        assert!((share - weight).abs() < 0.10, "{cdn}: {share:.2} vs {weight}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_swaps_under_load_are_atomic() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Generation parity tells the two configurations apart: TTL 20 with targets *-old,
    // TTL 30 with targets *-new. A mixed answer would be a torn read.
    let old = two_cdn_zone(50, 50, 20, "-old");
    let new = two_cdn_zone(50, 50, 30, "-new");
    write_zone(dir.path(), &old);
    let s = start(dir.path(), &bundled_geoip()).await;

    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let (done, answered, server) = (Arc::clone(&done), Arc::clone(&answered), s.udp);
        tasks.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut i = 0u32;
            let mut errors = Vec::new();
            while !done.load(Ordering::Relaxed) && Instant::now() < deadline && i < 50_000 {
                let subnet = format!("10.{}.{}.0/24", t, i % 256);
                let m = udp(server, &Ask::new("www.split.test.", RecordType::A).ecs(&subnet)).await;
                let target = cname(&m).unwrap_or_default();
                let ttl = m.answers.first().map(|r| r.ttl).unwrap_or(0);
                let consistent = (ttl == 20 && target.ends_with("-old.cdn.test")) || (ttl == 30 && target.ends_with("-new.cdn.test"));
                if m.metadata.response_code != ResponseCode::NoError || !consistent {
                    errors.push(format!("{:?} ttl {ttl} target {target}", m.metadata.response_code));
                }
                answered.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            errors
        }));
    }
    let mut generation = 1;
    for swap in 0..30 {
        write_zone(dir.path(), if swap % 2 == 0 { &new } else { &old });
        generation = s.running.reload().await.expect("reload");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for t in tasks {
        errors.extend(t.await.expect("task"));
    }
    assert_eq!(generation, 31);
    assert!(errors.is_empty(), "{} bad answers, first: {:?}", errors.len(), errors.first());
    assert!(answered.load(Ordering::Relaxed) > 500, "load too light to mean anything");
}
