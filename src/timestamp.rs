//! Wall-clock instants as Unix milliseconds (UTC), and their text forms: RFC 3339 for JSON,
//! logs and files, and short durations (`90s`, `10m`, `1h30m`, `2d`) for the command line and
//! the API. A leaf: pure functions, no clock (the daemon's one clock is `clock`).

/// Milliseconds since the Unix epoch, UTC. The daemon passes wall-clock time, the simulator
/// simulated time; the health engine and the planner never read a clock themselves.
pub type Millis = u64;

/// Days since 1970-01-01 -> (year, month, day) (proleptic Gregorian; H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) -> days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-12-01T20:03:15.250Z` (milliseconds shown only when not zero).
pub fn rfc3339(ms: Millis) -> String {
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let frac = ms % 1000;
    if frac == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    }
}

/// Parse RFC 3339 (`2026-12-01T20:00:00Z`, `2026-12-01T21:00:00+09:00`, fractional seconds
/// allowed, `t`/`z` accepted); the error says what was expected.
pub fn parse_rfc3339(text: &str) -> Result<Millis, String> {
    let bad = || format!("`{text}`; expected an RFC 3339 time such as 2026-12-01T20:00:00Z or 2026-12-01T21:00:00+09:00");
    let t = text.trim().as_bytes();
    if t.len() < 20 || t[4] != b'-' || t[7] != b'-' || !matches!(t[10], b'T' | b't' | b' ') || t[13] != b':' || t[16] != b':' {
        return Err(bad());
    }
    let num = |a: usize, b: usize| -> Result<i64, String> {
        let s = std::str::from_utf8(&t[a..b]).map_err(|_| bad())?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (y, mo, d, h, mi, s) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let month_days = [31, if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > month_days[(mo - 1) as usize] || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if t.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while t.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        let digits = &t[start..i.min(start + 3)];
        let mut v = 0i64;
        for (k, c) in digits.iter().enumerate() {
            v += i64::from(c - b'0') * [100, 10, 1][k];
        }
        frac_ms = v;
    }
    let offset_secs = match &t[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            let oh = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let om = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return Err(bad()),
    };
    let secs = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s.min(59) - offset_secs;
    if secs < 0 {
        return Err(format!("`{text}` is before 1970"));
    }
    Ok(secs as u64 * 1000 + frac_ms as u64)
}

/// The UTC offset an RFC 3339 time is written in, minutes east (`+09:00` -> 540, `Z` -> 0);
/// `None` when the text is not RFC 3339.
pub fn utc_offset_minutes(text: &str) -> Option<i32> {
    parse_rfc3339(text).ok()?;
    let t = text.trim();
    if t.ends_with(['Z', 'z']) {
        return Some(0);
    }
    let tail = t.get(t.len().checked_sub(6)?..)?;
    let sign = match tail.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = tail[1..].split_once(':')?;
    Some(sign * (h.parse::<i32>().ok()? * 60 + m.parse::<i32>().ok()?))
}

/// Parse a duration such as `90s`, `10m`, `1h30m`, `2d` (units s, m, h, d; at least one).
pub fn parse_duration(text: &str) -> Result<Millis, String> {
    let bad = || format!("`{text}`; expected a duration such as 90s, 10m, 1h30m or 2d");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

/// `1h30m`, `10m`, `45s`: the shortest way to say a duration to an operator.
pub fn human_duration(ms: Millis) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    for (v, u) in [(d, "d"), (h, "h"), (m, "m"), (sec, "s")] {
        if v > 0 {
            out.push_str(&format!("{v}{u}"));
        }
    }
    if out.is_empty() { "0s".to_string() } else { out }
}

/// Serde helper: a `Millis` field written as RFC 3339 text.
pub mod as_rfc3339 {
    use super::Millis;

    /// Serialize as RFC 3339.
    pub fn serialize<S: serde::Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*ms))
    }

    /// Deserialize from RFC 3339.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        super::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let t = parse_rfc3339("2026-12-01T20:03:15Z").unwrap();
        assert_eq!(t, 1_796_155_395_000);
        assert_eq!(rfc3339(t), "2026-12-01T20:03:15Z");
        assert_eq!(rfc3339(t + 250), "2026-12-01T20:03:15.250Z");
        assert_eq!(parse_rfc3339("2026-12-02T05:03:15+09:00").unwrap(), t);
        assert_eq!(parse_rfc3339("2026-12-01T20:03:15.25Z").unwrap(), t + 250);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!((utc_offset_minutes("2026-12-18T19:30:00+09:00"), utc_offset_minutes("2026-12-18T10:30:00Z"), utc_offset_minutes("2026-12-18T05:30:00-05:30")), (Some(540), Some(0), Some(-330)));
        assert_eq!(utc_offset_minutes("tomorrow"), None);
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z").map(rfc3339).unwrap(), "2024-02-29T00:00:00Z");
        for bad in ["2026-02-30T00:00:00Z", "2026-12-01 20:03", "2026-12-01T20:03:15", "tomorrow", "2026-12-01T25:00:00Z"] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(600_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("2d"), Ok(172_800_000));
        for bad in ["", "10", "m", "5x", "0s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(human_duration(5_400_000), "1h30m");
        assert_eq!(human_duration(500), "0s");
    }
}
