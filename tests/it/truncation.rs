//! UDP response size limits: never above min(client EDNS size, 1232), 512 without EDNS; TC=1
//! beyond, and the whole answer over TCP.

use hickory_proto::rr::RecordType;

use crate::harness::{Ask, bundled_geoip, start, tcp, tcp_raw, udp, udp_raw};

fn zone() -> String {
    let value = |c: char| format!("\"{}\"", c.to_string().repeat(180));
    let big: Vec<String> = "abcdefgh".chars().map(value).collect(); // ~1.5 kB
    let medium: Vec<String> = "abcd".chars().map(value).collect(); // ~0.8 kB
    format!(
        r#"version: 1
zone: big.test
soa: {{primary: ns1.big.test., contact: hostmaster.big.test., serial: 1}}
records:
  - {{name: "@", type: NS, value: ns1.big.test.}}
  - {{name: ns1, type: A, value: 192.0.2.1}}
  - {{name: big, type: TXT, values: [{}]}}
  - {{name: medium, type: TXT, values: [{}]}}
"#,
        big.join(", "),
        medium.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_and_tcp_fallback() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("big.test.yaml"), zone()).expect("write");
    let s = start(dir.path(), &bundled_geoip()).await;
    let wait = std::time::Duration::from_secs(2);

    // Cases: (name, EDNS payload, expect truncation, byte limit).
    let cases: [(&str, Option<u16>, bool, usize); 7] = [
        ("big.big.test.", None, true, 512),
        ("big.big.test.", Some(1232), true, 1232),
        ("big.big.test.", Some(4096), true, 1232),
        ("medium.big.test.", None, true, 512),
        ("medium.big.test.", Some(600), true, 600),
        ("medium.big.test.", Some(1232), false, 1232),
        ("medium.big.test.", Some(65000), false, 1232),
    ];
    for (name, payload, truncated, limit) in cases {
        let mut ask = Ask::new(name, RecordType::TXT);
        ask.edns = payload;
        let raw = udp_raw(s.udp, &ask.bytes(), wait).await.expect("reply");
        assert!(raw.len() <= limit, "{name} {payload:?}: {} bytes > {limit}", raw.len());
        let m = hickory_proto::op::Message::from_vec(&raw).expect("parse");
        assert_eq!(m.metadata.truncation, truncated, "{name} {payload:?}");
        if truncated {
            assert!(m.answers.is_empty(), "truncated replies carry no partial RRset");
            assert_eq!(m.queries.len(), 1, "question kept");
        } else {
            assert_eq!(m.answers.len(), 4);
        }
        // The OPT survives truncation, so the client learns our size.
        assert_eq!(m.edns.is_some(), payload.is_some(), "{name} {payload:?}");
    }

    // TCP: the whole RRset, even without EDNS.
    let m = tcp(s.tcp, &Ask::new("big.big.test.", RecordType::TXT).no_edns()).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 8);
    let raw = tcp_raw(s.tcp, &Ask::new("big.big.test.", RecordType::TXT).bytes(), wait).await.expect("reply");
    assert!(raw.len() > 1232);
    // Small answers are unaffected.
    let m = udp(s.udp, &Ask::new("ns1.big.test.", RecordType::A).no_edns()).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 1);
}
