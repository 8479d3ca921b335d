//! Sticky weighted selection: a weighted rendezvous hash (highest random weight) of
//! (client cell, steered name, CDN). Pure and allocation-free.
//!
//! Each candidate gets the score `w / -ln(u)` where `u` in (0,1) is a hash of the cell, the name
//! and the CDN; the highest score wins. The winner is candidate `i` with probability
//! `w_i / sum(w)`, a cell keeps its CDN while weights are steady, and when weights change only
//! the cells whose winner changes move (the minimum possible). CDNs are salted by name, not by
//! position, so reordering a zone file moves nobody.

use std::net::IpAddr;

/// A client cell: the client address truncated to the cell prefix, as 128 bits (IPv4 in the
/// low 32 bits, tagged so v4 and v6 cells never collide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cell {
    /// Truncated address bits.
    pub bits: u128,
    /// Prefix length in the address's own family.
    pub prefix: u8,
    /// True for IPv6.
    pub v6: bool,
}

impl Cell {
    /// The cell of `ip` at `prefix` bits (clamped to the family's width).
    pub fn of(ip: IpAddr, prefix: u8) -> Cell {
        match ip {
            IpAddr::V4(v4) => {
                let prefix = prefix.min(32);
                let raw = u32::from(v4);
                let masked = if prefix == 0 { 0 } else { raw & (u32::MAX << (32 - u32::from(prefix))) };
                Cell { bits: u128::from(masked), prefix, v6: false }
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.min(128);
                let raw = u128::from(v6);
                let masked = if prefix == 0 { 0 } else { raw & (u128::MAX << (128 - u32::from(prefix))) };
                Cell { bits: masked, prefix, v6: true }
            }
        }
    }
}

/// SplitMix64 finaliser: a fast, well-mixed 64-bit permutation.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a string (FNV-1a, then mixed); used for name and CDN salts, which
/// are computed once per snapshot, not per query.
pub fn salt(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// Hash of a cell within a steered name; combine with each CDN's salt in `pick`.
#[inline]
pub fn cell_key(cell: Cell, name_salt: u64) -> u64 {
    let hi = (cell.bits >> 64) as u64;
    let lo = cell.bits as u64;
    let tag = u64::from(cell.prefix) | (u64::from(cell.v6) << 8);
    mix64(mix64(mix64(lo ^ name_salt) ^ hi) ^ tag)
}

/// Pick among `(cdn salt, weight)` candidates for a cell key; returns the position of the
/// winner, or `None` if no candidate has a positive weight.
#[inline]
pub fn pick<'a>(key: u64, candidates: impl Iterator<Item = (u64, f64)> + 'a) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, (cdn_salt, weight)) in candidates.enumerate() {
        if !(weight > 0.0) {
            continue;
        }
        let h = mix64(key ^ cdn_salt);
        // Top 53 bits as a uniform in (0, 1); never 0 or 1, so ln is finite and negative.
        let u = ((h >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
        let score = weight / -u.ln();
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((i, score));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn cell(i: u32) -> Cell {
        Cell::of(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + (i << 8))), 24)
    }

    #[test]
    fn cell_truncates() {
        let c = Cell::of("211.234.10.77".parse().unwrap(), 24);
        assert_eq!(c.bits, u128::from(u32::from(Ipv4Addr::new(211, 234, 10, 0))));
        let c6 = Cell::of("2001:db8:1:2:3::1".parse().unwrap(), 56);
        assert_eq!(c6.bits, u128::from("2001:db8:1::".parse::<std::net::Ipv6Addr>().unwrap()));
        assert_eq!(Cell::of("1.2.3.4".parse().unwrap(), 0).bits, 0);
    }

    #[test]
    fn split_follows_weights_and_changes_minimally() {
        let name = salt("live.example.com.");
        let cdns = [salt("akamai"), salt("fastly")];
        let n = 20_000;
        let mut first = 0;
        let mut moved = 0;
        for i in 0..n {
            let key = cell_key(cell(i), name);
            let a = pick(key, cdns.iter().copied().zip([60.0, 40.0])).unwrap();
            let b = pick(key, cdns.iter().copied().zip([50.0, 50.0])).unwrap();
            first += usize::from(a == 0);
            moved += usize::from(a != b);
        }
        let share = first as f64 / n as f64;
        assert!((share - 0.6).abs() < 0.02, "share {share}");
        let moved = moved as f64 / n as f64;
        assert!(moved < 0.12 && moved > 0.08, "moved {moved}");
    }

    #[test]
    fn zero_weights_never_win() {
        let key = cell_key(cell(1), 7);
        assert_eq!(pick(key, [(1, 0.0), (2, 0.0)].into_iter()), None);
        assert_eq!(pick(key, [(1, 0.0), (2, 3.0)].into_iter()), Some(1));
    }
}
