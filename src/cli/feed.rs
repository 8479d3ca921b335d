//! `cdnsteer feed`: play a generated stream of player telemetry into a running server, for
//! demos and rehearsals: every CDN of every region of the served steered names reports a
//! window every `--every` seconds (requests, errors, TTFB percentiles, throughput, cache hits,
//! delivered traffic, and the viewer experience: viewers, startup time, rebuffering), and one
//! CDN degrades in one region for a while (`--degrade cloudfront:KR --at 60s --for 90s`).
//! Beside it, resolvers ask the DNS listener for the steered name at `--qps`, each query
//! carrying an ECS /24 of one region in proportion to its audience, so the answers served per
//! CDN (the dashboard's answers per second, the report's share of answers) have data too.
//! Deterministic: the same arguments give the same telemetry stream.

use std::time::Duration;

use serde_json::{Value, json};

use super::operate::{CliError, Output};
use crate::admin::client;

/// What to play.
#[derive(Debug, Clone)]
pub struct FeedPlan {
    /// Admin API.
    pub admin: String,
    /// Bearer token.
    pub token: String,
    /// How long, seconds.
    pub duration_secs: u64,
    /// Window length, seconds.
    pub every_secs: u64,
    /// The CDN and region that degrade.
    pub degrade: Option<(String, String)>,
    /// When the degradation starts, seconds into the feed.
    pub at_secs: u64,
    /// How long it lasts, seconds.
    pub for_secs: u64,
    /// Concurrent viewers across all regions.
    pub viewers: u64,
    /// The DNS listener the resolvers' queries go to.
    pub dns: std::net::SocketAddr,
    /// DNS queries per second (0: none).
    pub qps: u32,
}

/// A region of the served zones, its candidates and its part of the audience.
#[derive(Debug, Clone)]
struct Audience {
    region: String,
    cdns: Vec<String>,
    part: f64,
    /// The first two octets of an IPv4 /18 (x.y.0.0/18) the bundled GeoIP database places in
    /// the region.
    prefix: [u8; 2],
}

/// The steered name and its regions.
struct Served {
    name: String,
    regions: Vec<Audience>,
}

/// The audience of the bundled final: two thirds in South Korea, then Japan, the rest of Asia
/// and elsewhere; regions the zones hold and this table does not get the remainder evenly.
fn part_of(region: &str) -> f64 {
    match region {
        "country:KR" => 0.66,
        "country:JP" => 0.14,
        "continent:AS" => 0.08,
        "default" => 0.10,
        _ => 0.02,
    }
}

/// xorshift64*: the stream's noise, reproducible.
struct Noise(u64);

impl Noise {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `v` within +-`spread` (a fraction).
    fn around(&mut self, v: f64, spread: f64) -> f64 {
        v * (1.0 + spread * (2.0 * self.unit() - 1.0))
    }
}

/// One window's measurement for a CDN in a region. `bad` degrades it: errors, slow first
/// bytes, poor throughput, and the players feel it.
fn measurement(n: &mut Noise, cdn: &str, region: &str, viewers: f64, bad: bool, every: u64) -> Value {
    let requests = (viewers * every as f64 / 4.0).max(1.0).round() as u64;
    let (err, ttfb, thr, hit, rebuf, startup) = if bad { (0.08, 950.0, 3.5, 0.80, 0.06, 4200.0) } else { (0.001, 95.0, 22.0, 0.97, 0.003, 950.0) };
    let errors = ((requests as f64) * n.around(err, 0.3)).round() as u64;
    let p50 = n.around(ttfb, 0.15);
    json!({
        "cdn": cdn, "region": region, "window_secs": every,
        "requests": requests, "errors": errors.min(requests),
        "ttfb_ms": {"p50": p50.round(), "p95": (p50 * 2.4).round(), "p99": (p50 * 4.0).round()},
        "throughput_mbps": (n.around(thr, 0.1) * 10.0).round() / 10.0,
        "cache_hits": ((requests as f64) * n.around(hit, 0.01).min(1.0)).round() as u64,
        "delivered_gbps": (viewers * 3.5 / 1000.0 * 100.0).round() / 100.0,
        "viewers": viewers.round() as u64,
        "startup_ms": {"p50": n.around(startup, 0.1).round(), "p95": n.around(startup * 2.5, 0.1).round()},
        "rebuffer_ratio": (n.around(rebuf, 0.3) * 10_000.0).round() / 10_000.0,
        "playback_failures": ((viewers / 1000.0) * if bad { 4.0 } else { 0.1 }).round() as u64,
        "exits_before_start": ((viewers / 1000.0) * if bad { 9.0 } else { 0.5 }).round() as u64
    })
}

/// The served steered names' regions and candidates, from `GET /api/v1/status` and explain.
async fn audience(admin: &str) -> Result<Served, CliError> {
    let (status, body) = client::call(admin, "GET", "/api/v1/status", None, None).await?;
    if status != 200 {
        return Err(CliError::Load(format!("status: {status} {body}")));
    }
    let v: Value = serde_json::from_str(&body).map_err(|e| CliError::Load(e.to_string()))?;
    let name = v["steered"][0]["name"].as_str().ok_or_else(|| CliError::Load("no steered name served".into()))?.to_string();
    // One client per region kind is enough to learn each region's candidates from explain.
    let probes = [[211, 234], [133, 242], [203, 116], [8, 8]];
    let mut out: Vec<Audience> = Vec::new();
    for prefix in probes {
        let ecs = format!("{}.{}.10.0/24", prefix[0], prefix[1]);
        let (code, body) = client::call(admin, "GET", &format!("/api/v1/explain?name={name}&ecs={ecs}"), None, None).await?;
        if code != 200 {
            continue;
        }
        let e: Value = serde_json::from_str(&body).map_err(|e| CliError::Load(e.to_string()))?;
        let region = e["region"]["key"].as_str().unwrap_or("default").to_string();
        if out.iter().any(|a| a.region == region) {
            continue;
        }
        let cdns = e["candidates"].as_array().map(|c| c.iter().filter_map(|c| c["cdn"].as_str().map(str::to_string)).collect()).unwrap_or_default();
        out.push(Audience { part: part_of(&region), region, cdns, prefix });
    }
    Ok(Served { name, regions: out })
}

/// Play the stream; returns a summary.
pub async fn feed(plan: &FeedPlan) -> Result<Output, CliError> {
    let Served { name, regions } = audience(&plan.admin).await?;
    let resolvers = (plan.qps > 0).then(|| {
        let targets: Vec<([u8; 2], f64)> = regions.iter().map(|r| (r.prefix, r.part)).collect();
        tokio::spawn(resolvers(plan.dns, name.clone(), targets, plan.qps, Duration::from_secs(plan.duration_secs.max(1))))
    });
    let total: f64 = regions.iter().map(|r| r.part).sum::<f64>().max(f64::MIN_POSITIVE);
    let mut noise = Noise(0x5eed_f00d_cafe_babe);
    let every = plan.every_secs.max(1);
    let windows = plan.duration_secs / every;
    let (mut sent, mut refused) = (0u64, 0u64);
    for w in 0..windows.max(1) {
        let t = w * every;
        // The audience ramps up over the first minute.
        let ramp = ((t as f64 + every as f64) / 60.0).min(1.0);
        let mut measurements = Vec::new();
        for r in &regions {
            let viewers = plan.viewers as f64 * r.part / total * ramp / r.cdns.len().max(1) as f64;
            for cdn in &r.cdns {
                let bad = plan.degrade.as_ref().is_some_and(|(c, reg)| c == cdn && region_matches(reg, &r.region)) && t >= plan.at_secs && t < plan.at_secs + plan.for_secs;
                let jittered = noise.around(viewers, 0.05);
                measurements.push(measurement(&mut noise, cdn, &r.region, jittered, bad, every));
            }
        }
        let body = json!({"source": "demo-players", "measurements": measurements}).to_string();
        let (status, reply) = client::call(&plan.admin, "POST", "/api/v1/telemetry", Some(&plan.token), Some(body)).await?;
        if status == 202 {
            sent += 1;
        } else {
            refused += 1;
            eprintln!("telemetry refused ({status}): {reply}");
        }
        tokio::time::sleep(Duration::from_secs(every)).await;
    }
    let mut text = format!("fed {sent} windows of telemetry ({refused} refused) for {} regions of {name}\n", regions.len());
    if let Some(task) = resolvers {
        match task.await {
            Ok(Ok((asked, answered))) => text.push_str(&format!("asked {} for {name} {asked} times, {answered} answered\n", plan.dns)),
            Ok(Err(e)) => text.push_str(&format!("DNS queries to {} stopped: {e}\n", plan.dns)),
            Err(e) => text.push_str(&format!("DNS queries stopped: {e}\n")),
        }
    }
    Ok(if refused == 0 { Output { ok: true, text } } else { Output { ok: false, text } })
}

/// Resolvers asking `name` at `qps` for `duration`, each query with an ECS /24 inside one of
/// `targets` (an x.y.0.0/18 and its part of the audience). Returns (asked, answered).
async fn resolvers(dns: std::net::SocketAddr, name: String, targets: Vec<([u8; 2], f64)>, qps: u32, duration: Duration) -> std::io::Result<(u64, u64)> {
    let bind: std::net::SocketAddr = if dns.is_ipv4() { ([127, 0, 0, 1], 0).into() } else { (std::net::Ipv6Addr::LOCALHOST, 0).into() };
    let socket = tokio::net::UdpSocket::bind(bind).await?;
    socket.connect(dns).await?;
    let total: f64 = targets.iter().map(|t| t.1).sum::<f64>().max(f64::MIN_POSITIVE);
    let mut noise = Noise(0x0dd5_eed5_0fd0_0d00);
    let (mut asked, mut answered) = (0u64, 0u64);
    let per_tick = (qps as f64 / 10.0).max(0.1);
    let mut owed = 0.0;
    let mut reply = [0u8; 1232];
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let end = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < end {
        tick.tick().await;
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            let mut pick = noise.unit() * total;
            let prefix = targets.iter().find(|t| {
                pick -= t.1;
                pick < 0.0
            });
            let Some((prefix, _)) = prefix.or(targets.last()) else { break };
            let subnet = [prefix[0], prefix[1], (noise.unit() * 64.0) as u8];
            socket.send(&query(asked as u16, &name, subnet)).await?;
            asked += 1;
        }
        while let Ok(n) = socket.try_recv(&mut reply) {
            // QR set and RCODE NOERROR.
            if n >= 12 && reply[2] & 0x80 != 0 && reply[3] & 0x0f == 0 {
                answered += 1;
            }
        }
    }
    // Late replies, briefly.
    let grace = tokio::time::Instant::now() + Duration::from_millis(300);
    while answered < asked {
        match tokio::time::timeout_at(grace, socket.recv(&mut reply)).await {
            Ok(Ok(n)) if n >= 12 && reply[2] & 0x80 != 0 && reply[3] & 0x0f == 0 => answered += 1,
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    Ok((asked, answered))
}

/// An A query for `name` with EDNS (1232 bytes) and an ECS option for the /24 `subnet`.
fn query(id: u16, name: &str, subnet: [u8; 3]) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend_from_slice(&[0, 1, 0, 1]);
    // OPT: root owner, type 41, payload 1232, no extended flags, one ECS option (code 8):
    // family 1 (IPv4), source prefix 24, scope 0, three address bytes.
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0]);
    q.extend_from_slice(&subnet);
    q
}

/// `KR` or `country:KR` against `country:KR`.
fn region_matches(asked: &str, key: &str) -> bool {
    crate::region::parse_region(asked).is_ok_and(|r| r.to_string() == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degraded_window_is_worse_in_every_way_and_the_stream_is_reproducible() {
        let (mut a, mut b) = (Noise(7), Noise(7));
        let good = measurement(&mut a, "akamai", "country:KR", 10_000.0, false, 2);
        assert_eq!(good, measurement(&mut b, "akamai", "country:KR", 10_000.0, false, 2));
        let bad = measurement(&mut a, "akamai", "country:KR", 10_000.0, true, 2);
        assert!(bad["errors"].as_u64() > good["errors"].as_u64());
        assert!(bad["ttfb_ms"]["p50"].as_f64() > good["ttfb_ms"]["p50"].as_f64());
        assert!(bad["rebuffer_ratio"].as_f64() > good["rebuffer_ratio"].as_f64());
        assert!(region_matches("KR", "country:KR") && !region_matches("JP", "country:KR"));
    }
}
