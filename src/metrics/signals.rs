//! The health engine's signals per CDN x region x vantage, read at scrape time: TTFB,
//! throughput, cache hit ratio and error ratio in base units, and the age of the newest
//! sample. The daemon hands over the engine's `SignalStore` as an `Arc` taken under the
//! control lock (the engine copies the store on its next write only if a scrape still holds
//! it), so rendering never holds the lock.
//!
//! Values are shown while some zone still trusts them (age within the largest
//! `staleness_secs` of the zones served); past that they are unknown, as the engine treats
//! them, and only their age remains. Cardinality is bounded by the engine: at most
//! `signal::MAX_VANTAGES` vantages per (CDN, region), regions limited to those served.

use super::steering::rounded;
use super::{SIGNAL_AGE, SIGNAL_CACHE_HIT, SIGNAL_ERRORS, SIGNAL_THROUGHPUT, SIGNAL_TTFB};
use super::{Family, write_family, write_gauge};
use crate::health::signal::{SignalStore, SignalValues};
use crate::timestamp::Millis;
use crate::zone::ZoneSet;

/// One value family: how to read it from the signal values, in base units.
struct ValueFamily {
    family: Family,
    read: fn(&SignalValues) -> Option<f64>,
}

const VALUES: [ValueFamily; 4] = [
    ValueFamily { family: SIGNAL_TTFB, read: |v| v.ttfb_ms.map(|ms| rounded(ms / 1000.0, 6)) },
    ValueFamily { family: SIGNAL_THROUGHPUT, read: |v| v.throughput_mbps.map(|mbps| (mbps * 1e6 / 8.0).round()) },
    ValueFamily { family: SIGNAL_CACHE_HIT, read: |v| v.cache_hit_ratio.map(|r| rounded(r, 6)) },
    ValueFamily { family: SIGNAL_ERRORS, read: |v| v.error_rate.map(|r| rounded(r, 6)) },
];

/// Append the signal families for `signals` as of `now`.
pub fn render_signals(signals: &SignalStore, zones: &ZoneSet, now: Millis, out: &mut String) {
    let trusted_for = zones.zones.iter().map(|z| z.health.staleness_ms).max().unwrap_or(0);
    let mut rows: Vec<(String, &str, &str, Millis, SignalValues)> =
        signals.iter().map(|(region, cdn, vantage, s)| (region.to_string(), cdn, vantage, s.age(now), s.values())).collect();
    rows.sort_unstable_by(|a, b| (a.1, &a.0, a.2).cmp(&(b.1, &b.0, b.2)));
    for f in &VALUES {
        write_family(out, &f.family);
        for (region, cdn, vantage, age, values) in &rows {
            if *age > trusted_for {
                continue;
            }
            if let Some(v) = (f.read)(values).filter(|v| v.is_finite()) {
                write_gauge(out, f.family.name, &[("cdn", cdn), ("region", region), ("vantage", vantage)], v);
            }
        }
    }
    write_family(out, &SIGNAL_AGE);
    for (region, cdn, vantage, age, _) in &rows {
        write_gauge(out, SIGNAL_AGE.name, &[("cdn", cdn), ("region", region), ("vantage", vantage)], *age as f64 / 1000.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::health::signal::Observation;
    use crate::region::RegionKey;

    #[test]
    fn values_in_base_units_hidden_once_stale_with_their_age() {
        let zone = "version: 1\nzone: t.test\nsoa: {primary: ns1.t.test., contact: h.t.test., serial: 1}\nrecords:\n  - {name: \"@\", type: NS, value: ns1.t.test.}\nhealth:\n  staleness_secs: 30\n";
        let zones = crate::zone::load_texts(&[(std::path::PathBuf::from("t.yaml"), zone.to_string())], Diagnostics::new()).expect("zone");
        let mut store = SignalStore::new();
        let o = |vantage: &str, at| Observation {
            cdn: "akamai".into(),
            region: RegionKey::Country(*b"KR"),
            vantage: vantage.into(),
            at,
            requests: 100,
            errors: 5,
            cache_hits: Some(90),
            ttfb_ms: Some(85.0),
            throughput_mbps: Some(16.0),
            delivered_gbps: None,
            failure: None,
        };
        store.ingest(&o("seoul-1", 100_000));
        store.ingest(&Observation { cache_hits: None, ..o("busan-1", 60_000) });
        let mut out = String::new();
        render_signals(&store, &zones, 100_500, &mut out);
        let seoul = "{cdn=\"akamai\",region=\"country:KR\",vantage=\"seoul-1\"}";
        let busan = "{cdn=\"akamai\",region=\"country:KR\",vantage=\"busan-1\"}";
        for line in [
            format!("cdnsteer_signal_ttfb_seconds{seoul} 0.085\n"),
            format!("cdnsteer_signal_throughput_bytes_per_second{seoul} 2000000\n"),
            format!("cdnsteer_signal_cache_hit_ratio{seoul} 0.9\n"),
            format!("cdnsteer_signal_error_ratio{seoul} 0.05\n"),
            format!("cdnsteer_signal_age_seconds{seoul} 0.5\n"),
            format!("cdnsteer_signal_age_seconds{busan} 40.5\n"),
        ] {
            assert!(out.contains(&line), "{line}{out}");
        }
        assert!(!out.contains(&format!("ttfb_seconds{busan}")), "stale values are unknown:\n{out}");
        assert_eq!(out.matches("# TYPE ").count(), 5, "{out}");
    }
}
