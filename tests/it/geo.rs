//! GeoIP: fixtures built here with `mmdb-writer` in both record layouts (GeoIP2 and flat),
//! lookups against the bundled database, the databases `GeoDb::open` must refuse, and the
//! GeoIP2 layout end to end through the real server.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cdnsteer::geo::{GeoDb, GeoError, MAX_DB_BYTES};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use ipnet::IpNet;
use mmdb_writer::{IpVersion, Ipv4Aliasing, Value, Writer};

use crate::harness::{self, Ask, bundled_geoip, udp};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh empty directory; `tag` names the test in the path.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("cdnsteer-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write a file inside it and return the file's path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn net(s: &str) -> IpNet {
    s.parse().expect("CIDR")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

// ---------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------

/// `names` as GeoIP2 has it (several languages; the reader must skip it).
fn names(en: &str) -> Value {
    Value::map([("en", Value::from(en)), ("de", Value::from(en)), ("ja", Value::from(en))])
}

/// A GeoIP2 `country` / `registered_country` map.
fn geo_country(iso: &str, geoname_id: u32) -> Value {
    Value::map([
        ("geoname_id", Value::from(geoname_id)),
        ("iso_code", Value::from(iso)),
        ("names", names(iso)),
    ])
}

/// A GeoIP2-Country record. Any of the three parts may be missing, as in real databases
/// (anonymous/satellite networks carry only `registered_country` or only `continent`).
fn geoip2_record(country: Option<&str>, continent: Option<&str>, registered: Option<&str>) -> Value {
    let mut fields: Vec<(&str, Value)> = Vec::new();
    if let Some(c) = country {
        fields.push(("country", geo_country(c, 1_835_841)));
    }
    if let Some(c) = continent {
        fields.push((
            "continent",
            Value::map([("code", Value::from(c)), ("geoname_id", Value::from(6_255_147_u32)), ("names", names(c))]),
        ));
    }
    if let Some(c) = registered {
        fields.push(("registered_country", geo_country(c, 1_835_841)));
    }
    fields.push(("traits", Value::map([("is_anycast", Value::from(false))])));
    Value::map(fields)
}

/// The GeoIP2-layout networks: (network, country.iso_code, continent.code, registered_country).
/// 203.0.113.0/24 is JP here but has no data in the bundled database, so an answer that
/// follows it proves the fixture is the database in use.
type Geoip2Net = (&'static str, Option<&'static str>, Option<&'static str>, Option<&'static str>);

const GEOIP2_NETS: &[Geoip2Net] = &[
    ("211.234.0.0/16", Some("KR"), Some("AS"), Some("KR")),
    ("8.8.0.0/15", Some("US"), Some("NA"), Some("US")),
    ("194.25.0.0/17", Some("DE"), Some("EU"), Some("DE")),
    // Only registered_country: the country comes from it, the continent from the table.
    ("194.25.128.0/17", None, None, Some("FR")),
    // Only a continent (MaxMind's "EU" networks).
    ("185.0.0.0/16", None, Some("EU"), None),
    // The database's continent wins over the built-in table (which says TR is AS).
    ("31.13.64.0/18", Some("TR"), Some("EU"), Some("TR")),
    ("203.0.113.0/24", Some("JP"), Some("AS"), Some("JP")),
    // The regional-registry pseudo-code: continent AS, no country.
    ("202.12.28.0/24", Some("AP"), None, None),
    ("2001:2d8::/32", Some("KR"), Some("AS"), Some("KR")),
    ("2001:4860::/32", Some("US"), Some("NA"), Some("US")),
    ("2a00:1450:4000::/37", Some("IE"), Some("EU"), Some("IE")),
    ("2400:cb00::/32", None, None, Some("AU")),
];

/// GeoIP2-Country layout, IPv6 tree with the usual IPv4 aliases (as MaxMind ships it).
fn geoip2_fixture() -> Vec<u8> {
    let mut w = Writer::builder("GeoIP2-Country").ip_version(IpVersion::V6).build();
    for (n, country, continent, registered) in GEOIP2_NETS {
        w.insert_value(net(n), geoip2_record(*country, *continent, *registered)).expect("insert");
    }
    w.to_bytes().expect("GeoIP2 fixture")
}

/// The flat-layout networks: (network, record fields).
const FLAT_NETS: &[(&str, &[(&str, &str)])] = &[
    ("211.234.0.0/16", &[("country_code", "KR")]),
    ("133.242.0.0/15", &[("country_code", "JP")]),
    // Lower case is accepted.
    ("223.5.0.0/16", &[("country_code", "cn")]),
    ("203.0.113.0/24", &[("country_code", "AP")]),
    ("192.0.2.0/24", &[("country_code", "EU")]),
    // Not an assigned code: an empty place, but still the matched network's prefix.
    ("198.51.100.0/24", &[("country_code", "ZZ")]),
    ("200.160.0.0/17", &[("country_code", "BR")]),
    // A flat record's own continent_code wins over the table.
    ("31.13.64.0/18", &[("country_code", "TR"), ("continent_code", "EU")]),
    ("2001:2d8::/32", &[("country_code", "KR")]),
    ("2a02:2e0::/32", &[("country_code", "DE")]),
    ("2400:cb00::/32", &[("country_code", "AP")]),
    ("2800:3f0::/32", &[("country_code", "AR")]),
];

/// Flat layout like the bundled iptoasn file: IPv6 tree, IPv4 under ::/96, and NO IPv4
/// aliases, so `::ffff:a.b.c.d` only finds IPv4 data if the reader converts it first.
fn flat_fixture() -> Vec<u8> {
    let mut w = Writer::builder("country ipvAll")
        .ip_version(IpVersion::V6)
        .ipv4_aliasing(Ipv4Aliasing::Disabled)
        .build();
    for (n, fields) in FLAT_NETS {
        w.insert_value(net(n), Value::map(fields.iter().map(|(k, v)| (*k, Value::from(*v))))).expect("insert");
    }
    w.to_bytes().expect("flat fixture")
}

/// Prefix length of the empty network the tree gives an address that lies in none of `nets`:
/// one more than the longest prefix it shares with any of them (the writer only splits nodes
/// along inserted paths).
fn empty_prefix(addr: IpAddr, nets: &[IpNet]) -> u8 {
    nets.iter()
        .filter_map(|n| match (addr, n.addr()) {
            (IpAddr::V4(a), IpAddr::V4(b)) => Some((u32::from(a) ^ u32::from(b)).leading_zeros() as u8),
            (IpAddr::V6(a), IpAddr::V6(b)) => Some((u128::from(a) ^ u128::from(b)).leading_zeros() as u8),
            _ => None,
        })
        .map(|common| common + 1)
        .max()
        .unwrap_or(0)
}

/// One lookup and what it must give.
struct Case {
    ip: &'static str,
    country: Option<&'static str>,
    continent: Option<&'static str>,
    prefix: u8,
}

const fn case(ip: &'static str, country: Option<&'static str>, continent: Option<&'static str>, prefix: u8) -> Case {
    Case { ip, country, continent, prefix }
}

fn text(code: Option<[u8; 2]>) -> Option<String> {
    code.map(|c| String::from_utf8_lossy(&c).into_owned())
}

fn check_table(label: &str, db: &GeoDb, cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let got = db.locate(ip(c.ip));
        let got = (text(got.place.country), text(got.place.continent), got.prefix_len);
        let want = (c.country.map(String::from), c.continent.map(String::from), c.prefix);
        if got != want {
            failures.push(format!("{label} {}: got {got:?}, want {want:?}", c.ip));
        }
    }
    assert!(failures.is_empty(), "{} lookups wrong:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Lookups.
// ---------------------------------------------------------------------------------------------

#[test]
fn geoip2_layout_lookups() {
    let dir = TempDir::new("geoip2");
    let path = dir.write("GeoIP2-Country.mmdb", &geoip2_fixture());
    let db = GeoDb::open(&path).expect("GeoIP2 fixture opens");
    assert_eq!(db.info().database_type, "GeoIP2-Country");
    assert_eq!(db.info().path, path);
    assert!(db.info().networks >= GEOIP2_NETS.len(), "{:?}", db.info());

    let v4: Vec<IpNet> = GEOIP2_NETS.iter().map(|n| net(n.0)).filter(|n| matches!(n, IpNet::V4(_))).collect();
    // The v6 tree also holds the IPv4 subtree and its aliases (::ffff:0:0/96, 2001::/32, 2002::/16).
    let mut v6: Vec<IpNet> = GEOIP2_NETS.iter().map(|n| net(n.0)).filter(|n| matches!(n, IpNet::V6(_))).collect();
    v6.extend(["::/96", "::ffff:0:0/96", "2001::/32", "2002::/16"].map(net));
    let unknown_v4 = |a: &'static str| case(a, None, None, empty_prefix(ip(a), &v4));
    let unknown_v6 = |a: &'static str| case(a, None, None, empty_prefix(ip(a), &v6));

    let cases = [
        case("211.234.0.1", Some("KR"), Some("AS"), 16),
        case("211.234.255.254", Some("KR"), Some("AS"), 16),
        case("8.8.8.8", Some("US"), Some("NA"), 15),
        case("8.9.255.255", Some("US"), Some("NA"), 15),
        // The /16 is split in two /17s: the prefix is the matched one.
        case("194.25.0.1", Some("DE"), Some("EU"), 17),
        case("194.25.200.1", Some("FR"), Some("EU"), 17),
        case("185.0.3.4", None, Some("EU"), 16),
        case("31.13.70.1", Some("TR"), Some("EU"), 18),
        case("203.0.113.7", Some("JP"), Some("AS"), 24),
        case("202.12.28.5", None, Some("AS"), 24),
        case("2001:2d8::1", Some("KR"), Some("AS"), 32),
        case("2001:2d8:ffff:ffff::1", Some("KR"), Some("AS"), 32),
        case("2001:4860:4860::8888", Some("US"), Some("NA"), 32),
        case("2a00:1450:4001:80b::200e", Some("IE"), Some("EU"), 37),
        case("2400:cb00::1", Some("AU"), Some("OC"), 32),
        // IPv4-mapped: the IPv4 answer and the IPv4 prefix (not 96 + prefix).
        case("::ffff:211.234.0.1", Some("KR"), Some("AS"), 16),
        case("::ffff:8.8.8.8", Some("US"), Some("NA"), 15),
        case("::ffff:194.25.200.1", Some("FR"), Some("EU"), 17),
        case("::ffff:202.12.28.5", None, Some("AS"), 24),
        // Unknown: empty place, prefix of the empty network that matched.
        unknown_v4("10.0.0.1"),
        unknown_v4("127.0.0.1"),
        unknown_v4("198.51.100.1"),
        unknown_v6("2001:db8::1"),
        unknown_v6("3fff::1"),
        // Looked up as 10.0.0.1, not in the ::ffff:0:0/96 alias.
        case("::ffff:10.0.0.1", None, None, empty_prefix(ip("10.0.0.1"), &v4)),
    ];
    // Two computed prefixes spelled out, so a change in the helper or the fixture shows.
    assert_eq!(empty_prefix(ip("10.0.0.1"), &v4), 7, "10/8 sits beside 8.8/15: 10.0.0.0/7 is empty");
    assert_eq!(empty_prefix(ip("3fff::1"), &v6), 4, "3000::/4 holds nothing");
    check_table("GeoIP2", &db, &cases);
}

#[test]
fn flat_layout_lookups() {
    let dir = TempDir::new("flat");
    let path = dir.write("flat.mmdb", &flat_fixture());
    let db = GeoDb::open(&path).expect("flat fixture opens");
    assert_eq!(db.info().database_type, "country ipvAll");
    let v4: Vec<IpNet> = FLAT_NETS.iter().map(|n| net(n.0)).filter(|n| matches!(n, IpNet::V4(_))).collect();
    let mut v6: Vec<IpNet> = FLAT_NETS.iter().map(|n| net(n.0)).filter(|n| matches!(n, IpNet::V6(_))).collect();
    v6.push(net("::/96"));
    let unknown_v4 = |a: &'static str| case(a, None, None, empty_prefix(ip(a), &v4));

    let cases = [
        // Continents come from the built-in table.
        case("211.234.0.1", Some("KR"), Some("AS"), 16),
        case("133.243.255.1", Some("JP"), Some("AS"), 15),
        case("223.5.5.5", Some("CN"), Some("AS"), 16),
        case("200.160.0.1", Some("BR"), Some("SA"), 17),
        case("31.13.70.1", Some("TR"), Some("EU"), 18),
        case("203.0.113.1", None, Some("AS"), 24),
        case("192.0.2.1", None, Some("EU"), 24),
        case("198.51.100.1", None, None, 24),
        case("2001:2d8::1", Some("KR"), Some("AS"), 32),
        case("2a02:2e0:3fe:1001::1", Some("DE"), Some("EU"), 32),
        case("2400:cb00::1", None, Some("AS"), 32),
        case("2800:3f0:4001::1", Some("AR"), Some("SA"), 32),
        // No aliases in this tree: only the reader's own conversion finds these.
        case("::ffff:211.234.0.1", Some("KR"), Some("AS"), 16),
        case("::ffff:133.242.0.1", Some("JP"), Some("AS"), 15),
        case("::ffff:203.0.113.1", None, Some("AS"), 24),
        unknown_v4("10.0.0.1"),
        unknown_v4("8.8.8.8"),
        case("3fff::1", None, None, empty_prefix(ip("3fff::1"), &v6)),
        case("::ffff:10.0.0.1", None, None, empty_prefix(ip("10.0.0.1"), &v4)),
    ];
    check_table("flat", &db, &cases);
}

#[test]
fn ipv4_only_database() {
    let mut w = Writer::builder("country ipv4").ip_version(IpVersion::V4).build();
    w.insert_value(net("211.234.0.0/16"), Value::map([("country_code", Value::from("KR"))])).expect("insert");
    w.insert_value(net("8.8.0.0/15"), Value::map([("country_code", Value::from("US"))])).expect("insert");
    let dir = TempDir::new("v4only");
    let path = dir.write("v4.mmdb", &w.to_bytes().expect("bytes"));
    let db = GeoDb::open(&path).expect("opens");
    check_table(
        "ipv4-only",
        &db,
        &[
            case("211.234.9.9", Some("KR"), Some("AS"), 16),
            case("::ffff:211.234.9.9", Some("KR"), Some("AS"), 16),
            case("8.8.4.4", Some("US"), Some("NA"), 15),
            // IPv6 in an IPv4 database: nothing known, over nothing narrower than /0.
            case("2001:2d8::1", None, None, 0),
        ],
    );
}

/// Facts about the bundled iptoasn database (flat layout, no IPv4 aliases).
#[test]
fn bundled_database_lookups() {
    let db = GeoDb::open(&bundled_geoip()).expect("bundled database opens");
    assert_eq!(db.info().database_type, "country ipvAll");
    assert!(db.info().networks > 100_000, "{:?}", db.info());
    check_table(
        "bundled",
        &db,
        &[
            case("211.234.0.1", Some("KR"), Some("AS"), 16),
            case("133.242.0.1", Some("JP"), Some("AS"), 15),
            case("210.130.0.1", Some("JP"), Some("AS"), 17),
            case("126.0.0.1", Some("JP"), Some("AS"), 12),
            case("8.8.8.8", Some("US"), Some("NA"), 15),
            case("1.1.1.1", Some("US"), Some("NA"), 24),
            case("2001:4860:4860::8888", Some("US"), Some("NA"), 42),
            case("2001:2d8::1", Some("KR"), Some("AS"), 32),
            case("2406:5900::1", Some("KR"), Some("AS"), 32),
            case("223.5.5.5", Some("CN"), Some("AS"), 14),
            case("165.21.0.1", Some("SG"), Some("AS"), 16),
            case("194.25.0.1", Some("DE"), Some("EU"), 16),
            case("200.160.0.1", Some("BR"), Some("SA"), 17),
            case("180.150.0.1", Some("AU"), Some("OC"), 17),
            case("203.0.113.1", None, None, 22),
            case("10.0.0.1", None, None, 8),
            case("127.0.0.1", None, None, 8),
            // The file has no ::ffff:0:0/96 alias: these work only through the conversion.
            case("::ffff:211.234.0.1", Some("KR"), Some("AS"), 16),
            case("::ffff:8.8.8.8", Some("US"), Some("NA"), 15),
            case("::ffff:10.0.0.1", None, None, 8),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Refused databases.
// ---------------------------------------------------------------------------------------------

fn names_path(e: &GeoError, path: &Path) {
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "message does not name {}: {msg}", path.display());
}

fn corrupt(path: &Path) -> GeoError {
    let e = GeoDb::open(path).expect_err("must be refused");
    assert!(matches!(e, GeoError::Corrupt { .. }), "{}: want Corrupt, got {e:?}", path.display());
    assert!(e.to_string().contains("not a valid MaxMind DB"), "{e}");
    names_path(&e, path);
    e
}

#[test]
fn missing_file_is_io_error() {
    let dir = TempDir::new("missing");
    let path = dir.path().join("GeoLite2-Country.mmdb");
    let e = GeoDb::open(&path).expect_err("missing file");
    match &e {
        GeoError::Io { path: p, source } => {
            assert_eq!(p, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("want Io, got {other:?}"),
    }
    names_path(&e, &path);
    // A directory is not a database either.
    let e = GeoDb::open(dir.path()).expect_err("a directory");
    assert!(matches!(e, GeoError::Io { .. } | GeoError::Corrupt { .. }), "{e:?}");
    names_path(&e, dir.path());
}

#[test]
fn corrupt_files_are_refused() {
    let dir = TempDir::new("corrupt");
    // Empty, and random bytes (deterministic xorshift).
    corrupt(&dir.write("empty.mmdb", b""));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let random: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    corrupt(&dir.write("random.mmdb", &random));

    // A real database cut in half (the metadata at the end is gone), and the same for a fixture.
    let bundled = std::fs::read(bundled_geoip()).expect("read bundled");
    corrupt(&dir.write("bundled-half.mmdb", &bundled[..bundled.len() / 2]));
    let fixture = geoip2_fixture();
    corrupt(&dir.write("fixture-half.mmdb", &fixture[..fixture.len() / 2]));

    // Metadata intact but the search tree overwritten: pointers beyond the data section.
    let reader = maxminddb::Reader::from_source(fixture.clone()).expect("fixture parses");
    let meta = reader.metadata();
    let tree_len = meta.node_count as usize * usize::from(meta.record_size) / 4;
    let mut smashed = fixture.clone();
    for b in &mut smashed[..tree_len] {
        *b = 0xFF;
    }
    corrupt(&dir.write("tree-smashed.mmdb", &smashed));

    // Data section overwritten (tree and metadata intact): records do not decode.
    let data_start = tree_len + 16;
    let meta_start = fixture
        .windows(14)
        .rposition(|w| w == b"\xAB\xCD\xEFMaxMind.com")
        .expect("metadata marker");
    let mut smashed = fixture.clone();
    for b in &mut smashed[data_start..meta_start] {
        *b = 0xFF;
    }
    corrupt(&dir.write("data-smashed.mmdb", &smashed));
}

#[test]
fn databases_without_country_data_are_refused() {
    let dir = TempDir::new("nocountry");
    // A valid ASN database: records, but no country anywhere.
    let mut w = Writer::new("GeoLite2-ASN");
    w.insert_value(
        net("211.234.0.0/16"),
        Value::map([
            ("autonomous_system_number", Value::from(9644_u32)),
            ("autonomous_system_organization", Value::from("SK Telecom")),
        ]),
    )
    .expect("insert");
    w.insert_value(net("2001:2d8::/32"), Value::map([("autonomous_system_number", Value::from(9644_u32))]))
        .expect("insert");
    let path = dir.write("GeoLite2-ASN.mmdb", &w.to_bytes().expect("bytes"));
    let e = GeoDb::open(&path).expect_err("no country data");
    assert!(matches!(&e, GeoError::NoCountryData { path: p, .. } if p == &path), "{e:?}");
    names_path(&e, &path);
    let msg = e.to_string();
    assert!(msg.contains("GeoLite2-ASN") && msg.contains("country.iso_code"), "{msg}");

    // Only unassigned codes: readable, but nothing usable.
    let mut w = Writer::new("country ipvAll");
    w.insert_value(net("10.0.0.0/8"), Value::map([("country_code", Value::from("ZZ"))])).expect("insert");
    let path = dir.write("zz.mmdb", &w.to_bytes().expect("bytes"));
    let e = GeoDb::open(&path).expect_err("no usable country");
    assert!(matches!(e, GeoError::NoCountryData { .. }), "{e:?}");
    names_path(&e, &path);

    // No networks at all.
    let path = dir.write("empty-tree.mmdb", &Writer::new("GeoIP2-Country").to_bytes().expect("bytes"));
    let e = GeoDb::open(&path).expect_err("empty database");
    assert!(matches!(e, GeoError::NoCountryData { .. }), "{e:?}");
    assert!(e.to_string().contains("0 networks"), "{e}");
    names_path(&e, &path);
}

#[test]
fn oversized_file_is_refused_before_reading() {
    let dir = TempDir::new("large");
    let path = dir.path().join("huge.mmdb");
    // Sparse: no space is used, and the size check comes before any read.
    std::fs::File::create(&path).expect("create").set_len(MAX_DB_BYTES + 1).expect("set_len");
    let e = GeoDb::open(&path).expect_err("too large");
    assert!(matches!(e, GeoError::TooLarge { size, .. } if size == MAX_DB_BYTES + 1), "{e:?}");
    names_path(&e, &path);
}

// ---------------------------------------------------------------------------------------------
// End to end: the GeoIP2 layout through the real server.
// ---------------------------------------------------------------------------------------------

const FIXTURE_ZONE: &str = r#"
version: 1
zone: fixture.test
ttl: 300
soa:
  primary: ns1.fixture.test.
  contact: hostmaster.fixture.test.
  serial: 1
records:
  - name: "@"
    type: NS
    value: ns1.fixture.test.
  - name: ns1
    type: A
    value: 192.0.2.53
steered:
  live:
    ttl: 20
    last_resort: other
    cdns:
      kr: {target: kr.cdn.test.}
      jp: {target: jp.cdn.test.}
      us: {target: us.cdn.test.}
      eu: {target: eu.cdn.test.}
      other: {target: other.cdn.test.}
    regions:
      countries:
        KR: {kr: 1}
        JP: {jp: 1}
        US: {us: 1}
      continents:
        EU: {eu: 1}
      default: {other: 1}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geoip2_layout_steers_through_dns() {
    let dir = TempDir::new("e2e-geoip2");
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(&zones).expect("zones dir");
    std::fs::write(zones.join("fixture.test.yaml"), FIXTURE_ZONE).expect("zone");
    let geoip = dir.write("GeoIP2-Country.mmdb", &geoip2_fixture());
    let db = GeoDb::open(&geoip).expect("fixture opens");
    let s = harness::start(&zones, &geoip).await;

    // (ECS, expected CDN target, address the scope is looked up by, scope offset).
    // Every region has one candidate, so the scope is the fixture's network prefix.
    let cases: &[(&str, &str, &str, u8)] = &[
        ("211.234.7.0/24", "kr.cdn.test", "211.234.7.0", 0),
        // JP only in the fixture: the bundled database has nothing for 203.0.113.0/22.
        ("203.0.113.0/24", "jp.cdn.test", "203.0.113.0", 0),
        ("8.8.8.0/24", "us.cdn.test", "8.8.8.0", 0),
        // registered_country FR only -> no FR region -> continent EU from the table.
        ("194.25.200.0/24", "eu.cdn.test", "194.25.200.0", 0),
        // continent.code only.
        ("185.0.0.0/24", "eu.cdn.test", "185.0.0.0", 0),
        // TR with the database's continent EU (the table would say AS -> default).
        ("31.13.70.0/24", "eu.cdn.test", "31.13.70.0", 0),
        // AP pseudo-code: continent AS, no AS region here -> default.
        ("202.12.28.0/24", "other.cdn.test", "202.12.28.0", 0),
        ("2001:2d8:1:2300::/56", "kr.cdn.test", "2001:2d8:1:2300::", 0),
        ("2001:4860:4860::/48", "us.cdn.test", "2001:4860:4860::", 0),
        ("2a00:1450:4001::/48", "eu.cdn.test", "2a00:1450:4001::", 0),
        // IPv4-mapped: located as IPv4, scope echoed as 96 + the IPv4 scope.
        ("::ffff:211.234.5.0/120", "kr.cdn.test", "211.234.5.0", 96),
        ("10.1.2.0/24", "other.cdn.test", "10.1.2.0", 0),
    ];
    for (subnet, target, at, offset) in cases {
        let m = udp(s.udp, &Ask::new("live.fixture.test.", RecordType::A).ecs(subnet)).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{subnet}");
        assert_eq!(harness::cname(&m).as_deref(), Some(*target), "{subnet}");
        let (source, scope, addr) = harness::ecs(&m).expect("ECS echoed");
        let (sent_addr, sent_source) = subnet.split_once('/').expect("subnet");
        assert_eq!((addr, source), (ip(sent_addr), sent_source.parse::<u8>().expect("prefix")), "{subnet}");
        let want = db.locate(ip(at)).prefix_len + offset;
        assert_eq!(scope, want, "{subnet}: scope must be the fixture's network prefix");
    }
    // Spot-check the prefixes the loop compared against, so a fixture change shows.
    assert_eq!(db.locate(ip("8.8.8.0")).prefix_len, 15);
    assert_eq!(db.locate(ip("194.25.200.0")).prefix_len, 17);
    assert_eq!(db.locate(ip("2001:2d8:1:2300::")).prefix_len, 32);
    s.running.shutdown().await;
}
