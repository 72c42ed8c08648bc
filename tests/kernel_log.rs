//! The parser against lines the running kernel writes: two network namespaces joined by
//! veth, LOG rules with every option (iptables `--log-tcp-sequence --log-tcp-options
//! --log-ip-options --log-uid --log-macdecode`, nftables `log flags all`), real TCP, UDP,
//! ICMP echo, an ICMP port unreachable (a quoted packet), IPv6 TCP and ICMPv6, and
//! fragments; the records are read from `/dev/kmsg` and every field is checked against
//! what was sent. Needs root (see `system.rs`).

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use portcullis::parse::{
    EnvelopeKind, Event, IpInfo, L3, L4, Link, ParseOptions, Parser, Proto, Record,
};
use portcullis_abi::tcp_flags::{ACK, FIN, RST, SYN};

use crate::system::{Netns, Side, log_all_netns, require_root, require_tools, unique_id};

/// `O_NONBLOCK` on Linux (x86, arm, riscv): `/dev/kmsg` then answers EAGAIN at the end.
const O_NONBLOCK: i32 = 0o4000;

/// `/dev/kmsg` opened at its end: reads return only records logged afterwards.
struct Kmsg(File);

impl Kmsg {
    fn open_at_end() -> Self {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open("/dev/kmsg")
            .expect("open /dev/kmsg");
        f.seek(SeekFrom::End(0)).expect("seek /dev/kmsg to its end");
        Kmsg(f)
    }

    /// Every record available now, first line only (`pri,seq,usec,flags;text`).
    fn drain(&mut self, into: &mut Vec<String>) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    let rec = &buf[..n];
                    let first = rec.split(|&b| b == b'\n').next().unwrap_or_default();
                    into.push(String::from_utf8_lossy(first).into_owned());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                // EPIPE: records were overwritten while we read; go on with the next.
                Err(e) if e.kind() == ErrorKind::BrokenPipe => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("read /dev/kmsg: {e}"),
            }
        }
    }
}

/// An nftables `inet` chain on `hook` at `priority` that logs everything with `flags all`.
fn nft_log_all(side: &Side, hook: &str, priority: &str, prefix: &str) {
    side.run_ok(&["nft", "add", "table", "inet", "pc"]);
    let spec = [
        "{", "type", "filter", "hook", hook, "priority", priority, ";", "}",
    ];
    let mut chain = vec!["nft", "add", "chain", "inet", "pc", hook];
    chain.extend(spec);
    side.run_ok(&chain);
    let quoted = format!("\"{prefix}\"");
    side.run_ok(&[
        "nft", "add", "rule", "inet", "pc", hook, "log", "prefix", &quoted, "flags", "all",
    ]);
}

/// Sends the test traffic from `a` to `b`.
fn traffic(net: &Netns) {
    let (a, b) = (&net.a, &net.b);
    let (b4, b6) = (b.v4.to_string(), b.v6.to_string());
    a.run_ok(&["ping", "-c1", "-W1", &b4]);
    a.run_ok(&["ping", "-6", "-c1", "-W1", &b6]);
    // Above the 1280-byte MTU: fragments.
    a.run_ok(&["ping", "-c1", "-W1", "-s", "3000", &b4]);
    a.run_ok(&["ping", "-6", "-c1", "-W1", "-s", "3000", &b6]);
    // Closed TCP port: SYN answered by RST.
    assert!(!a.run(&["nc", "-z", "-w1", &b4, "9"]).status.success());
    assert!(!a.run(&["nc", "-6", "-z", "-w1", &b6, "9"]).status.success());
    // Open TCP port: a full handshake and close.
    let mut listener = b
        .cmd(&["nc", "-l", "8080"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nc -l");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !a.run(&["nc", "-z", "-w1", &b4, "8080"]).status.success() {
        // Bounded wait for the listener to bind, not a sleep for correctness.
        assert!(Instant::now() < deadline, "listener on 8080 never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = listener.kill();
    let _ = listener.wait();
    // Closed UDP port: answered by ICMP port unreachable quoting the datagram.
    let mut udp = a
        .cmd(&["nc", "-u", "-w1", &b4, "9999"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nc -u");
    udp.stdin
        .take()
        .expect("stdin")
        .write_all(b"hello\n")
        .expect("write datagram");
    let _ = udp.wait();
}

/// The records carrying `prefix`, parsed; every one must be a kernel-format event.
fn events<'a>(lines: &'a [String], prefix: &str) -> Vec<Event<'a>> {
    let mut p = Parser::new(ParseOptions {
        reference_unix_secs: 0,
        utc_offset_secs: 0,
    });
    lines
        .iter()
        .filter(|l| l.contains(prefix))
        .map(|l| match p.parse(l.as_bytes()) {
            Ok(Some(ev)) => {
                assert_eq!(ev.envelope.kind, EnvelopeKind::Kmsg, "{l}");
                assert_eq!(ev.record.prefix, prefix, "{l}");
                assert!(!ev.truncated(), "{l}");
                ev
            }
            other => panic!("kernel line did not parse: {other:?}\n{l}"),
        })
        .collect()
}

fn find<'e, 'a>(evs: &'e [Event<'a>], what: &str, f: impl Fn(&Event<'a>) -> bool) -> &'e Event<'a> {
    evs.iter().find(|e| f(e)).unwrap_or_else(|| {
        let all: Vec<String> = evs.iter().map(|e| format!("{:?}", e.record.l3)).collect();
        panic!(
            "no record for {what} among {} records:\n{}",
            evs.len(),
            all.join("\n")
        )
    })
}

fn l4<'e, 'a>(e: &'e Event<'a>) -> &'e L4<'a> {
    &e.packet().expect("an IP packet").l4
}

fn tcp_flags(e: &Event<'_>) -> u16 {
    e.tcp_flag_bits()
}

fn icmp_type(e: &Event<'_>) -> Option<u8> {
    e.icmp_type_code().map(|t| t.0)
}

/// MAC decode of a packet `from` → `to` (`--log-macdecode`, nft `flags all`).
fn assert_macdecode(rec: &Record<'_>, from: &Side, to: &Side, ethertype: u16) {
    match &rec.link {
        Link::Decoded(m) => {
            assert_eq!(
                (m.src, m.dst, m.proto),
                (from.mac, to.mac, ethertype),
                "{rec:?}"
            );
        }
        other => panic!("expected MACSRC/MACDST, got {other:?}"),
    }
}

#[test]
fn kernel_log_lines_parse_field_by_field() {
    if !require_root("kernel_log") {
        return;
    }
    require_tools(&[
        ("ip", "iproute2"),
        ("iptables", "iptables"),
        ("ip6tables", "iptables"),
        ("nft", "nftables"),
        ("ping", "iputils-ping"),
        ("nc", "netcat-openbsd"),
    ]);
    let _log_in_netns = log_all_netns();
    let mut kmsg = Kmsg::open_at_end();
    let net = Netns::pair(1280);
    let (a, b) = (&net.a, &net.b);
    let id = unique_id();
    let [v4_in, v6_in, pre, a_in, a_out] = ['T', 'S', 'F', 'N', 'U'].map(|c| format!("pc{c}{id} "));
    let every_option = [
        "--log-tcp-sequence",
        "--log-tcp-options",
        "--log-ip-options",
        "--log-uid",
        "--log-macdecode",
    ];
    for (tool, prefix) in [("iptables", &v4_in), ("ip6tables", &v6_in)] {
        let mut argv = vec![tool, "-A", "INPUT", "-j", "LOG", "--log-prefix", prefix];
        argv.extend(every_option);
        b.run_ok(&argv);
    }
    // Before defragmentation (-400), so fragments are logged as they arrive.
    nft_log_all(b, "prerouting", "-450", &pre);
    nft_log_all(a, "input", "0", &a_in);
    a.run_ok(&[
        "iptables",
        "-A",
        "OUTPUT",
        "-p",
        "tcp",
        "-j",
        "LOG",
        "--log-prefix",
        &a_out,
        "--log-uid",
    ]);

    traffic(&net);

    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        kmsg.drain(&mut lines);
        let seen = |p: &str| lines.iter().any(|l| l.contains(p));
        let all = [&v4_in, &v6_in, &pre, &a_in, &a_out]
            .iter()
            .all(|p| seen(p));
        if all && seen("TYPE=3 CODE=3") || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (a4, b4) = (IpAddr::V4(a.v4), IpAddr::V4(b.v4));
    let (a6, b6) = (IpAddr::V6(a.v6), IpAddr::V6(b.v6));

    // iptables INPUT in b, every option.
    let evs = events(&lines, &v4_in);
    for e in &evs {
        assert_eq!((e.in_iface(), e.out_iface()), (b.dev.as_str(), ""));
        assert_macdecode(&e.record, a, b, 0x0800);
        assert_eq!((e.src(), e.dst(), e.ttl()), (Some(a4), Some(b4), Some(64)));
    }
    let echo = find(&evs, "ICMP echo request", |e| {
        icmp_type(e) == Some(8) && e.ip_len() == Some(84)
    });
    let L4::Icmp(i) = l4(echo) else {
        unreachable!()
    };
    assert_eq!((i.code, i.echo_seq), (0, Some(1)));
    assert!(i.echo_id.is_some());
    find(&evs, "reassembled 3000-byte echo", |e| {
        e.ip_len() == Some(3028)
    });
    let syn = find(&evs, "SYN to closed 9", |e| e.dpt() == Some(9));
    let L4::Tcp(t) = l4(syn) else { unreachable!() };
    assert_eq!((t.flags, t.ack, t.res), (SYN, Some(0), Some(0)));
    assert!(t.seq.is_some() && t.window.is_some_and(|w| w > 0), "{t:?}");
    assert!(
        t.opt.is_some_and(|o| o.starts_with("0204")),
        "MSS option: {t:?}"
    );
    find(&evs, "SYN to open 8080", |e| {
        e.dpt() == Some(8080) && tcp_flags(e) == SYN
    });
    find(&evs, "ACK to 8080", |e| {
        e.dpt() == Some(8080) && tcp_flags(e) == ACK
    });
    find(&evs, "FIN to 8080", |e| {
        e.dpt() == Some(8080) && tcp_flags(e) & FIN != 0
    });
    let udp = find(&evs, "UDP to 9999", |e| e.dpt() == Some(9999));
    assert_eq!(e_udp_len(udp), Some(14), "8-byte header + `hello\\n`");
    assert_eq!(udp.ip_len(), Some(34));

    // ip6tables INPUT in b, every option. Neighbour discovery and MLD use link-local and
    // multicast addresses: only the traffic we sent is checked for addresses.
    let evs = events(&lines, &v6_in);
    for e in evs
        .iter()
        .filter(|e| !icmp_type(e).is_some_and(|t| (130..=143).contains(&t)))
    {
        assert_macdecode(&e.record, a, b, 0x86dd);
        assert_eq!((e.src(), e.dst(), e.ttl()), (Some(a6), Some(b6), Some(64)));
    }
    let echo = find(&evs, "ICMPv6 echo request", |e| {
        icmp_type(e) == Some(128) && e.ip_len() == Some(104)
    });
    let L4::Icmp(i) = l4(echo) else {
        unreachable!()
    };
    assert_eq!(i.echo_seq, Some(1));
    let syn = find(&evs, "IPv6 SYN to 9", |e| {
        e.dpt() == Some(9) && tcp_flags(e) == SYN
    });
    assert!(matches!(l4(syn), L4::Tcp(t) if t.opt.is_some() && t.seq.is_some()));
    let frag_v6 = |e: &Event<'_>| match e.packet().map(|p| &p.ip) {
        Some(IpInfo::V6(h)) => h.frag.map(|f| (f, h.opt_headers)),
        _ => None,
    };
    let first = find(&evs, "first IPv6 fragment", |e| {
        frag_v6(e).is_some_and(|(f, _)| f.offset == 0)
    });
    let (f0, opts) = frag_v6(first).unwrap();
    assert!(
        f0.more && opts >= 1,
        "{f0:?}, --log-ip-options wraps it in OPT ( )"
    );
    assert_eq!(icmp_type(first), Some(128));
    let later = find(&evs, "later IPv6 fragment", |e| {
        frag_v6(e).is_some_and(|(f, _)| f.offset > 0)
    });
    let (f1, _) = frag_v6(later).unwrap();
    assert_eq!(f1.id, f0.id);
    assert_eq!(f1.offset % 8, 0);
    assert!(matches!(l4(later), L4::None));
    assert_eq!(later.packet().unwrap().proto, Some(Proto::Icmpv6));

    // nftables prerouting in b (before defragmentation): IPv4 fragments.
    let evs = events(&lines, &pre);
    let frag_v4 = |e: &Event<'_>| match e.packet().map(|p| &p.ip) {
        Some(IpInfo::V4(h)) => Some((h.mf, h.frag, h.id)),
        _ => None,
    };
    let first = find(&evs, "first IPv4 fragment", |e| {
        frag_v4(e).is_some_and(|(mf, off, _)| mf && off.is_none())
    });
    assert_eq!(icmp_type(first), Some(8));
    assert_macdecode(&first.record, a, b, 0x0800);
    let id0 = frag_v4(first).unwrap().2;
    let later = find(&evs, "later IPv4 fragment", |e| {
        frag_v4(e).is_some_and(|(_, off, id)| off.is_some() && id == id0)
    });
    assert!(matches!(l4(later), L4::None));
    assert_eq!(later.packet().unwrap().proto, Some(Proto::Icmp));

    // nftables input in a: the answers.
    let evs = events(&lines, &a_in);
    let reply = find(&evs, "echo reply", |e| icmp_type(e) == Some(0));
    assert_eq!((reply.src(), reply.dst()), (Some(b4), Some(a4)));
    assert_macdecode(&reply.record, b, a, 0x0800);
    let rst = find(&evs, "RST from 9", |e| {
        e.spt() == Some(9) && e.src() == Some(b4)
    });
    assert_eq!(tcp_flags(rst), RST | ACK);
    find(&evs, "IPv6 RST from 9", |e| {
        e.spt() == Some(9) && e.src() == Some(b6)
    });
    find(&evs, "ICMPv6 echo reply", |e| {
        icmp_type(e) == Some(129) && e.src() == Some(b6)
    });
    let unreach = find(&evs, "port unreachable", |e| {
        e.icmp_type_code() == Some((3, 3))
    });
    let L4::Icmp(i) = l4(unreach) else {
        unreachable!()
    };
    let inner = i.inner.as_ref().expect("quoted packet");
    assert_eq!(
        (inner.src, inner.dst, inner.proto),
        (a4, b4, Some(Proto::Udp))
    );
    assert!(
        matches!(inner.l4, L4::Udp(u) if u.dpt == 9999 && u.len == Some(14)),
        "{inner:?}"
    );

    // iptables OUTPUT in a with --log-uid: the connecting socket's owner.
    let evs = events(&lines, &a_out);
    let syn = find(&evs, "outgoing SYN", |e| {
        e.dpt() == Some(9) && tcp_flags(e) == SYN
    });
    assert_eq!((syn.record.uid, syn.record.gid), (Some(0), Some(0)));
    assert_eq!((syn.in_iface(), syn.out_iface()), ("", a.dev.as_str()));
    assert!(matches!(syn.record.link, Link::Absent));
    assert!(matches!(syn.record.l3, L3::Ip(_)));
}

fn e_udp_len(e: &Event<'_>) -> Option<u16> {
    match l4(e) {
        L4::Udp(u) => u.len,
        _ => None,
    }
}
