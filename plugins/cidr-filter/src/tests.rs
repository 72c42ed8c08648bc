//! Unit tests of the filter: every condition kind, how sides combine, and refused values.

use super::*;
use portcullis_abi::record::{NO_STRING, RECORD_SIZE, RecordFields, encode};
use portcullis_sdk::testing::{BatchBuilder, TestEvent};
use std::net::IpAddr;

fn filter(json: &str) -> CidrFilter {
    CidrFilter::init(Config::from_json(json)).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn refused(json: &str) -> ConfigError {
    match CidrFilter::init(Config::from_json(json)) {
        Ok(_) => panic!("{json} was accepted"),
        Err(e) => e,
    }
}

/// An event with every field the filter looks at under the test's control.
#[derive(Clone)]
struct Ev {
    src: &'static str,
    dst: &'static str,
    proto: u8,
    dpt: Option<u16>,
    prefix: &'static str,
    in_iface: &'static str,
    out_iface: &'static str,
}

/// An inbound TCP event from `src` to port 22 on eth0, prefix `DROP `.
fn ev(src: &'static str) -> Ev {
    Ev {
        src,
        dst: "192.0.2.1",
        proto: 6,
        dpt: Some(22),
        prefix: "DROP ",
        in_iface: "eth0",
        out_iface: "",
    }
}

/// Runs `f` on the events and returns which were dropped.
fn dropped(f: &mut CidrFilter, evs: &[Ev]) -> Vec<bool> {
    let mut bytes = Vec::new();
    let mut strings: Vec<String> = Vec::new();
    let mut intern = |s: &str| -> u32 {
        if s.is_empty() {
            return NO_STRING;
        }
        strings.push(s.to_string());
        (strings.len() - 1) as u32
    };
    for e in evs {
        let ip = |s: &str| (!s.is_empty()).then(|| s.parse::<IpAddr>().unwrap());
        let fields = RecordFields {
            src: ip(e.src),
            dst: ip(e.dst),
            proto: e.proto,
            ports: e.dpt.map(|d| (40_000, d)),
            icmp: (e.proto == 1).then_some((8, 0)),
            prefix: intern(e.prefix),
            in_iface: intern(e.in_iface),
            out_iface: intern(e.out_iface),
            ..RecordFields::default()
        };
        let mut rec = [0u8; RECORD_SIZE];
        encode(&fields, &mut rec);
        bytes.extend_from_slice(&rec);
    }
    let batch = Batch::new(&bytes, RECORD_SIZE, evs.len(), &strings, &[], 0);
    let mut out = Output::for_batch(&batch);
    f.process(&batch, &mut out);
    batch.events().map(|e| out.is_dropped(&e)).collect()
}

#[test]
fn default_drops_private_sources_only() {
    let mut f = filter("{}");
    let mut b = BatchBuilder::new();
    for src in [
        "10.1.2.3",
        "192.168.0.9",
        "172.20.0.1",
        "203.0.113.5",
        "fe80::1",
        "2001:db8::7",
        "100.64.1.1",
        "127.0.0.1",
        "fd00::5",
        "224.0.0.251",
        "0.0.0.0",
        "::",
    ] {
        b.push(TestEvent::tcp(src, "192.0.2.1", 22));
    }
    let batch = b.batch();
    let mut out = Output::for_batch(&batch);
    f.process(&batch, &mut out);
    let kept: Vec<String> = batch
        .events()
        .filter(|e| !out.is_dropped(e))
        .map(|e| e.src().unwrap().to_string())
        .collect();
    assert_eq!(kept, ["203.0.113.5", "2001:db8::7"]);
}

#[test]
fn drops_by_destination_and_custom_sources() {
    let mut f =
        filter(r#"{"drop_sources": ["198.51.100.0/24"], "drop_destinations": ["192.0.2.99"]}"#);
    let to_99 = Ev {
        dst: "192.0.2.99",
        ..ev("203.0.113.5")
    };
    assert_eq!(
        dropped(&mut f, &[ev("198.51.100.20"), to_99, ev("10.0.0.1")]),
        [true, true, false]
    );
}

#[test]
fn drops_by_prefix_exact_or_glob() {
    let mut f = filter(r#"{"drop_sources": [], "drop_prefixes": ["[UFW ALLOW]", "ACCEPT*"]}"#);
    let with = |prefix| Ev {
        prefix,
        ..ev("203.0.113.5")
    };
    assert_eq!(
        dropped(
            &mut f,
            &[
                with("[UFW ALLOW] "),
                with("[UFW ALLOW] x "),
                with("ACCEPT-22: "),
                with("DROP "),
                with(""),
            ]
        ),
        [true, false, true, false, false]
    );
    // `""` matches events logged without a prefix.
    let mut f = filter(r#"{"drop_sources": [], "drop_prefixes": [""]}"#);
    assert_eq!(dropped(&mut f, &[with(""), with("DROP ")]), [true, false]);
}

#[test]
fn drops_by_interface_and_direction() {
    let inbound = ev("203.0.113.5");
    let outbound = Ev {
        in_iface: "",
        out_iface: "eth0",
        ..inbound.clone()
    };
    let forward = Ev {
        in_iface: "wg0",
        out_iface: "eth1",
        ..inbound.clone()
    };
    let all = [inbound.clone(), outbound.clone(), forward.clone()];
    for (json, expect) in [
        (r#"{"drop_directions": ["outbound"]}"#, [false, true, false]),
        (
            r#"{"drop_directions": ["inbound", "Forward"]}"#,
            [true, false, true],
        ),
        (r#"{"drop_in_interfaces": ["wg*"]}"#, [false, false, true]),
        (r#"{"drop_in_interfaces": ["eth+"]}"#, [true, false, false]),
        (r#"{"drop_out_interfaces": ["eth0"]}"#, [false, true, false]),
        // A glob matching everything still needs an interface to be there.
        (r#"{"drop_out_interfaces": ["*"]}"#, [false, true, true]),
    ] {
        let json = json.replace('{', r#"{"drop_sources": [], "#);
        assert_eq!(dropped(&mut filter(&json), &all), expect, "{json}");
    }
}

#[test]
fn drops_by_protocol_and_port() {
    let tcp = |dpt| Ev {
        dpt: Some(dpt),
        ..ev("203.0.113.5")
    };
    let udp = |dpt| Ev {
        proto: 17,
        ..tcp(dpt)
    };
    let icmp = Ev {
        proto: 1,
        dpt: None,
        ..ev("203.0.113.5")
    };
    let mut f = filter(r#"{"drop_protocols": ["icmp", 47]}"#);
    let gre = Ev {
        proto: 47,
        dpt: None,
        ..ev("203.0.113.5")
    };
    assert_eq!(
        dropped(&mut f, &[icmp.clone(), gre, tcp(22), udp(53)]),
        [true, true, false, false]
    );
    let mut f = filter(r#"{"drop_ports": [23, "6000-6063", "53/udp"]}"#);
    assert_eq!(
        dropped(
            &mut f,
            &[
                tcp(23),
                udp(23),
                tcp(6000),
                tcp(6063),
                tcp(6064),
                udp(53),
                tcp(53),
                icmp
            ]
        ),
        [true, true, true, true, false, true, false, false]
    );
}

#[test]
fn records_without_an_ip_layer_match_no_network_or_protocol() {
    let arp = Ev {
        src: "",
        dst: "",
        proto: 0,
        dpt: None,
        ..ev("")
    };
    let mut f = filter(r#"{"drop_sources": ["0.0.0.0/0", "::/0"], "drop_protocols": [0]}"#);
    assert_eq!(dropped(&mut f, std::slice::from_ref(&arp)), [false]);
    let mut f = filter(r#"{"drop_prefixes": ["DROP"]}"#);
    assert_eq!(dropped(&mut f, &[arp]), [true]);
}

#[test]
fn keep_rules_are_exceptions_to_every_drop_rule() {
    let mut f = filter(
        r#"{"drop_sources": ["private"], "drop_ports": ["1-1023"],
            "keep_sources": ["10.9.0.0/16"], "keep_prefixes": ["AUDIT*"]}"#,
    );
    let audited = Ev {
        prefix: "AUDIT: ",
        ..ev("203.0.113.5")
    };
    let high = Ev {
        dpt: Some(8080),
        ..ev("203.0.113.5")
    };
    assert_eq!(
        dropped(
            &mut f,
            &[
                ev("10.1.0.1"),    // private: dropped
                ev("10.9.3.4"),    // private but kept
                ev("203.0.113.5"), // port 22: dropped
                audited,           // port 22 but kept
                high,              // nothing matches
            ]
        ),
        [true, false, true, false, false]
    );
    assert_eq!(
        portcullis_sdk::host::test_metric("kept_by_exception"),
        Some(2.0)
    );
    // Keep rules alone drop nothing.
    let mut f = filter(r#"{"drop_sources": [], "keep_sources": ["0.0.0.0/0"]}"#);
    assert_eq!(dropped(&mut f, &[ev("10.0.0.1")]), [false]);
}

#[test]
fn thousands_of_networks_load_and_match() {
    let nets: Vec<String> = (0..4096)
        .map(|i| format!("{}.{}.0.0/16", 20 + i / 256, i % 256))
        .collect();
    let json = format!(r#"{{"drop_sources": {}}}"#, serde_json_list(&nets));
    let mut f = filter(&json);
    assert_eq!(
        dropped(
            &mut f,
            &[ev("20.0.1.1"), ev("35.255.255.255"), ev("36.0.0.1")]
        ),
        [true, true, false]
    );
}

fn serde_json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(","))
}

#[test]
fn names_the_key_and_index_of_every_bad_value() {
    for (json, key, needle) in [
        (
            r#"{"drop_sources": ["private", "10.0.0.0/40"]}"#,
            "drop_sources[1]",
            "/40",
        ),
        (
            r#"{"keep_destinations": ["example.com"]}"#,
            "keep_destinations[0]",
            "example.com",
        ),
        (
            r#"{"drop_ports": [22, 80, "70000"]}"#,
            "drop_ports[2]",
            "\"70000\" is not a port",
        ),
        (
            r#"{"drop_ports": [70000]}"#,
            "drop_ports[0]",
            "70000 is not a port",
        ),
        (r#"{"keep_ports": ["9-1"]}"#, "keep_ports[0]", "backwards"),
        (r#"{"drop_ports": ["53/icmp"]}"#, "drop_ports[0]", "icmp"),
        (
            r#"{"drop_protocols": ["tcp", "tpc"]}"#,
            "drop_protocols[1]",
            "\"tpc\" is not a protocol",
        ),
        (r#"{"drop_protocols": [300]}"#, "drop_protocols[0]", "300"),
        (
            r#"{"drop_directions": ["in"]}"#,
            "drop_directions[0]",
            "\"in\" is not a direction",
        ),
        (
            r#"{"drop_prefixes": ["*UFW"]}"#,
            "drop_prefixes[0]",
            "only allowed at the end",
        ),
        (
            r#"{"keep_in_interfaces": [""]}"#,
            "keep_in_interfaces[0]",
            "not an interface",
        ),
        (
            r#"{"drop_out_interfaces": ["eth 0"]}"#,
            "drop_out_interfaces[0]",
            "not an interface",
        ),
        (
            r#"{"drop_ports": [true]}"#,
            "drop_ports[0]",
            "a number or a string",
        ),
        (r#"{"drop_ports": [-1]}"#, "drop_ports[0]", "negative"),
        (r#"{"drop_ports": "22"}"#, "drop_ports", "sequence"),
    ] {
        let e = refused(json);
        assert_eq!(e.key.as_deref(), Some(key), "{json}: {e}");
        assert!(e.to_string().contains(needle), "{json}: {e}");
    }
    let e = refused(r#"{"drop_source": []}"#);
    assert!(e.to_string().contains("drop_source"), "{e}");
}

#[test]
fn describe_lists_every_key_with_its_default() {
    let d = CidrFilter::describe();
    let names: Vec<&str> = d.config.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names.len(), 16);
    for side in ["drop", "keep"] {
        for (k, _, _) in KEYS {
            let name = format!("{side}_{k}");
            assert!(names.contains(&name.as_str()), "{name}");
            // Every described key is accepted by init.
            filter(&format!(r#"{{"{name}": []}}"#));
        }
    }
    assert_eq!(d.config[0].default.as_deref(), Some(r#"["private"]"#));
}
