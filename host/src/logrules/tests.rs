//! Tests of naming, limits and diffs.

use super::*;
use std::net::IpAddr;

fn listener(proto: Proto, addr: &str, port: u16, process: &str) -> Listener {
    Listener {
        proto,
        address: addr.parse::<IpAddr>().unwrap(),
        port,
        pid: Some(1),
        process: Some(process.into()),
        inode: 1,
    }
}

fn limit() -> Limit {
    Limit::parse("20/second", 50).unwrap()
}

#[test]
fn one_service_per_port_named_by_port_or_process() {
    let ls = [
        listener(Proto::Tcp, "0.0.0.0", 443, "nginx"),
        listener(Proto::Tcp, "::", 443, "nginx"),
        listener(Proto::Tcp, "0.0.0.0", 9100, "node_exporter"),
        listener(Proto::Udp, "0.0.0.0", 53, "unbound"),
        listener(Proto::Tcp, "127.0.0.1", 5432, "postgres"),
    ];
    let s = services(&ls);
    let prefixes: Vec<String> = s.iter().map(prefix_for).collect();
    assert_eq!(
        prefixes,
        [
            "HTTPS-443 inbound: ",
            "NODE_EXPORTER-9100 inbound: ",
            "DNS-53 inbound: "
        ]
    );
    assert!(prefixes.iter().all(|p| p.len() <= MAX_PREFIX));
}

#[test]
fn long_names_are_cut_to_the_kernels_limit() {
    let s = Service {
        proto: Proto::Tcp,
        port: 65535,
        name: "a-very-long-process-name-indeed".into(),
    };
    let p = prefix_for(&s);
    assert_eq!(p, "A-VERY-LONG-P-65535 inbound: ");
    assert_eq!(p.len(), MAX_PREFIX);
    let odd = Service {
        proto: Proto::Udp,
        port: 9,
        name: "\"; drop".into(),
    };
    assert_eq!(prefix_for(&odd), "DROP-9 inbound: ");
}

#[test]
fn ports_and_limits_parse_and_refuse() {
    assert_eq!(parse_port("22").unwrap().name, "SSH");
    assert_eq!(parse_port("53/udp").unwrap().proto, Proto::Udp);
    assert!(parse_port("0").is_err());
    assert!(parse_port("70000").is_err());
    assert!(parse_port("22/icmp").is_err());
    assert!(parse_port("22; rm").is_err());
    assert_eq!(Limit::parse("5/min", 10).unwrap().per, Per::Minute);
    assert!(Limit::parse("0/second", 10).is_err());
    assert!(Limit::parse("20", 10).is_err());
    assert!(Limit::parse("20/day", 10).is_err());
    assert!(Limit::parse("20/second", 0).is_err());
}

#[test]
fn diff_adds_what_is_missing_and_removes_what_is_not_wanted() {
    let ssh = Rule::new(parse_port("22").unwrap(), limit());
    let dns = Rule::new(parse_port("53/udp").unwrap(), limit());
    let stale = "pc tcp/80 HTTP-80 inbound: 20/second 50".to_string();
    let d = diff(
        &[ssh.clone(), dns.clone()],
        &[dns.fingerprint(), stale.clone()],
    );
    assert_eq!(d.add, std::slice::from_ref(&ssh));
    assert_eq!(d.remove, [stale]);
    assert!(diff(std::slice::from_ref(&ssh), &[ssh.fingerprint()]).is_empty());
    // A changed limit is a different rule.
    let slower = Rule::new(
        parse_port("22").unwrap(),
        Limit::parse("5/second", 10).unwrap(),
    );
    let d = diff(&[slower], &[ssh.fingerprint()]);
    assert_eq!((d.add.len(), d.remove.len()), (1, 1));
}
