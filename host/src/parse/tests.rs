//! Whole-line tests of the parser over real corpus and generator lines.

use std::net::{IpAddr, Ipv4Addr};

use portcullis_abi::tcp_flags;

use super::*;

/// 2026-09-01T00:00:00Z.
const NOW: i64 = 1_788_220_800;

fn parser() -> Parser {
    Parser::new(ParseOptions {
        reference_unix_secs: NOW,
        utc_offset_secs: 0,
    })
}

fn ok(line: &str) -> Event<'_> {
    match parser().parse(line.as_bytes()) {
        Ok(Some(ev)) => ev,
        other => panic!("expected an event, got {other:?}\n{line}"),
    }
}

fn bad(line: &str) -> ErrorKind {
    match parser().parse(line.as_bytes()) {
        Err(e) => e.kind,
        other => panic!("expected an error, got {other:?}\n{line}"),
    }
}

fn skipped(line: &str) {
    match parser().parse(line.as_bytes()) {
        Ok(None) => {}
        other => panic!("expected a skip, got {other:?}\n{line}"),
    }
}

fn json(line: &str) -> String {
    let mut v = Vec::new();
    json::write_json(&ok(line), &mut v);
    String::from_utf8(v).unwrap()
}

fn v4(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn rfc3164_tcp_syn_with_uptime() {
    let l = "Aug 30 16:28:09 ncc1701 kernel: [8739423.237002] HTTPS-443 inbound: IN=bond0 OUT= MAC=1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:08:00 SRC=222.186.137.28 DST=185.71.151.169 LEN=60 TOS=0x00 PREC=0x00 TTL=238 ID=12330 DF PROTO=TCP SPT=34060 DPT=443 WINDOW=65535 RES=0x00 SYN URGP=0 ";
    let ev = ok(l);
    assert_eq!(ev.src(), v4("222.186.137.28"));
    assert_eq!(ev.dst(), v4("185.71.151.169"));
    assert_eq!(ev.proto_number(), Some(6));
    assert_eq!((ev.spt(), ev.dpt()), (Some(34060), Some(443)));
    assert_eq!(ev.tcp_flag_bits(), tcp_flags::SYN);
    assert_eq!(ev.prefix(), "HTTPS-443 inbound: ");
    assert_eq!((ev.in_iface(), ev.out_iface()), ("bond0", ""));
    assert_eq!(ev.ttl(), Some(238));
    assert_eq!(ev.ip_len(), Some(60));
    assert_eq!(ev.envelope.host, Some("ncc1701"));
    assert_eq!(
        ev.envelope.uptime,
        Some(Uptime {
            secs: 8_739_423,
            micros: 237_002
        })
    );
    // 2026-08-30T16:28:09Z
    assert_eq!(ev.time_unix_ms(), Some(1_788_107_289_000));
    assert_eq!(
        json(l),
        r#"{"ts":"2026-08-30T16:28:09Z","host":"ncc1701","uptime":8739423.237002,"prefix":"HTTPS-443 inbound: ","in":"bond0","out":"","mac":"1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:08:00","src":"222.186.137.28","dst":"185.71.151.169","len":60,"tos":0,"prec":0,"ttl":238,"id":12330,"df":true,"proto":"TCP","spt":34060,"dpt":443,"window":65535,"res":0,"tcp_flags":["SYN"],"urgp":0}"#
    );
}

#[test]
fn rfc3339_and_padding_variants() {
    let ev = ok(
        "2026-08-30T16:28:09.017688+00:00 ncc1701 kernel: [8739423.233996] nft-drop: IN=bond0 OUT= MAC=1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:08:00 SRC=80.82.77.161 DST=192.168.122.137 LEN=84 TOS=0x00 PREC=0x00 TTL=48 ID=61025 PROTO=ICMP TYPE=8 CODE=0 ID=5867 SEQ=27 ",
    );
    assert_eq!(ev.time_unix_ms(), Some(1_788_107_289_017));
    assert_eq!(ev.icmp_type_code(), Some((8, 0)));
    let L4::Icmp(i) = &ev.packet().unwrap().l4 else {
        panic!()
    };
    assert_eq!((i.echo_id, i.echo_seq), (Some(5867), Some(27)));
    // Zone offset kept in JSON.
    let j = json(
        "2015-03-07T05:09:30.045015+02:00 servername kernel: DROP: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=40 TOS=0x00 PREC=0x00 TTL=1 ID=1 PROTO=2 ",
    );
    assert!(
        j.starts_with(
            r#"{"ts":"2015-03-07T05:09:30.045015+02:00","host":"servername","prefix":"DROP: ""#
        ),
        "{j}"
    );
    // Space-padded, zero-padded and unpadded days; no host; no tag.
    for l in [
        "Jan  8 03:37:09 DENY: IN=eth0 OUT= SRC=192.168.2.71 DST=192.168.2.83 LEN=88 TOS=0x00 PREC=0x00 TTL=118 ID=21684 PROTO=UDP SPT=1 DPT=2 LEN=68",
        "Dec 05 14:37:47 kernel: DENY: IN=eth0 OUT= SRC=192.168.2.71 DST=192.168.2.83 LEN=88 TOS=0x00 PREC=0x00 TTL=118 ID=21684 PROTO=UDP SPT=1 DPT=2 LEN=68",
        "Mar 8 22:35:42 linux kernel: DENY: IN=eth0 OUT= SRC=192.168.2.71 DST=192.168.2.83 LEN=88 TOS=0x00 PREC=0x00 TTL=118 ID=21684 PROTO=UDP SPT=1 DPT=2 LEN=68",
    ] {
        let ev = ok(l);
        assert_eq!(ev.prefix(), "DENY: ", "{l}");
        assert!(ev.time_unix_ms().is_some());
    }
    let ev = ok(
        "Jun 28 04:35:30 Abc-A1 [SOMETHING-1234-A] IN=abc.123 OUT=abc.123 SRC=10.251.1.1 DST=10.251.1.1 LEN=32 TOS=0x00 PREC=0x00 TTL=63 ID=12345 PROTO=UDP SPT=9000 DPT=9000 LEN=12",
    );
    assert_eq!(
        (ev.envelope.host, ev.prefix()),
        (Some("Abc-A1"), "[SOMETHING-1234-A] ")
    );
}

#[test]
fn non_firewall_lines_are_skipped() {
    skipped(
        "Aug 30 16:28:09 ncc1701 sshd[3418490]: Invalid user user from 183.136.237.4 port 23580",
    );
    skipped(
        "Aug 30 16:28:09 ncc1701 CRON[1978566]: pam_unix(cron:session): session closed for user root",
    );
    skipped(
        "Aug 30 16:28:12 ncc1701 kernel: [8739426.775586] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.",
    );
    skipped("Oct 12 14:22:06 lamp-desktop -- MARK --");
    skipped("Jul  1 10:00:00 host sshd[1]: pam_unix(sshd:auth): user LOGIN=root");
    skipped("");
    // Look-alikes recognised and skipped: Proxmox pvefw-logger, ebtables --log.
    skipped(
        "101 1 tap101i0-IN 20/Jun/2022:13:12:46 +0200 REJECT: IN=fwbr101i0 OUT=fwbr101i0 PHYSIN=fwln101i0 PHYSOUT=tap101i0 MAC=a2:1b:bb:df:61:a5:6e:68:28:cc:2a:0c:08:00 SRC=10.3.95.34 DST=10.3.95.200 LEN=60 TOS=0x10 PREC=0x00 TTL=63 ID=37700 DF PROTO=TCP SPT=51604 DPT=22 SEQ=3673568222 ACK=0 WINDOW=64240 SYN ",
    );
    skipped(
        "Jan  1 00:00:00 h kernel: ebt: IN=eth0 OUT= MAC source = 00:11:22:33:44:55 MAC dest = 66:77:88:99:aa:bb proto = 0x0800 IP SRC=1.2.3.4 IP DST=5.6.7.8, IP tos=0x00, IP proto=6 SPT=1 DPT=2",
    );
}

#[test]
fn outbound_ipv6_and_compressed() {
    let ev = ok(
        "Aug 30 16:28:09 ncc1701 kernel: [8739423.341590] [UFW BLOCK] IN=bond0 OUT= MAC=1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:86:dd SRC=2600:3c07:3123:f84a:589d:3d31:5770:e130 DST=2a01:04f8:843f:f9b6:d7c6:1ef7:444b:93d7 LEN=104 TC=0 HOPLIMIT=57 FLOWLBL=495685 PROTO=ICMPv6 TYPE=128 CODE=0 ID=33267 SEQ=56 ",
    );
    assert_eq!(ev.proto_number(), Some(58));
    assert_eq!(ev.ttl(), Some(57));
    assert!(json_of(&ev).contains(r#""dst":"2a01:4f8:843f:f9b6:d7c6:1ef7:444b:93d7""#));
    let ev = ok(
        "[UFW BLOCK] IN= OUT=bond0 SRC=185.71.151.169 DST=14.139.82.156 LEN=60 TOS=0x00 PREC=0x00 TTL=101 ID=46807 DF PROTO=TCP SPT=21325 DPT=25 WINDOW=65535 RES=0x00 SYN URGP=0 ",
    );
    assert!(matches!(ev.record.link, Link::Absent));
    // ulogd / vendor kernels print compressed IPv6.
    let ev = ok(
        "(2)[22:ksoftirqd/2][FW] IPTABLES [Pkt_Illegal] IN=br-lan OUT=ccmni2 PHYSIN=ra2 MAC=ac:b6:87:32:c0:c0:e8:4c:4a:34:ad:57:86:dd SRC=2600:1003:a410:1af3:147a:4f62:18ba:d76e DST=2a0a:1580::17 LEN=72 TC=0 HOPLIMIT=63 FLOWLBL=567666 PROTO=TCP SPT=60268 DPT=80 WINDOW=1350 RES=0x00 ACK FIN URGP=0",
    );
    assert_eq!(ev.dst(), Some("2a0a:1580::17".parse().unwrap()));
    assert_eq!(ev.record.phys_in, Some("ra2"));
}

fn json_of(ev: &Event<'_>) -> String {
    let mut v = Vec::new();
    json::write_json(ev, &mut v);
    String::from_utf8(v).unwrap()
}

#[test]
fn icmp_errors_with_quoted_packets() {
    let ev = ok(
        "[156541.671494] Inbound IN=wlan0 OUT= MAC=00:0f:66:6f:78:a5:00:1f:33:db:cd:50:08:00 SRC=192.168.1.1 DST=192.168.1.2 LEN=576 TOS=0x00 PREC=0xC0 TTL=64 ID=44143 PROTO=ICMP TYPE=3 CODE=4 [SRC=192.168.1.2 DST=85.90.254.227 LEN=1500 TOS=0x00 PREC=0x00 TTL=63 ID=65519 DF PROTO=TCP SPT=34153 DPT=80 WINDOW=65535 RES=0x00 ACK URGP=0 ] MTU=1492 ",
    );
    assert_eq!(ev.src(), v4("192.168.1.1"));
    let L4::Icmp(i) = &ev.packet().unwrap().l4 else {
        panic!()
    };
    assert_eq!(i.mtu, Some(1492));
    let inner = i.inner.as_ref().unwrap();
    assert_eq!(inner.src, IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)));
    assert_eq!(inner.ports(), Some((34153, 80)));
    let j = json_of(&ev);
    assert!(
        j.contains(r#""inner":{"src":"192.168.1.2","dst":"85.90.254.227","len":1500,"#),
        "{j}"
    );
    assert!(
        j.contains(r#""tcp_flags":["ACK"],"urgp":0},"mtu":1492"#),
        "{j}"
    );
    // INCOMPLETE inside the quoted packet, nested echo reply, SIT tunnel + ICMPv6 error.
    let ev = ok(
        "Mar 10 06:57:18 josh-desktop kernel: [21506.490324] Inbound IN=eth0 OUT= MAC=00:1d:7d:d5:ff:5b:00:1d:5a:1c:67:e9:08:00 SRC=83.212.128.162 DST=192.168.1.74 LEN=56 TOS=0x00 PREC=0x00 TTL=235 ID=23962 PROTO=ICMP TYPE=11 CODE=0 [SRC=192.168.1.74 DST=83.212.135.158 LEN=44 TOS=0x00 PREC=0x00 TTL=0 ID=17711 DF PROTO=TCP INCOMPLETE [8 bytes] ] ",
    );
    let L4::Icmp(i) = &ev.packet().unwrap().l4 else {
        panic!()
    };
    assert_eq!(i.inner.as_ref().unwrap().l4, L4::Incomplete(Some(8)));
    ok(
        "Nov 21 10:12:04 k8s-node1 kernel: ## this is ping ##IN= OUT=ens33 SRC=192.168.1.224 DST=172.18.6.61 LEN=112 TOS=0x00 PREC=0xC0 TTL=64 ID=4976 PROTO=ICMP TYPE=11 CODE=0 [SRC=172.18.6.61 DST=172.17.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=1 ID=46531 PROTO=ICMP TYPE=0 CODE=0 ID=2560 SEQ=0 ] ",
    );
    let ev = ok(
        "Jan 27 20:42:37 gateway kernel: [ 1949.847386] [UFW BLOCK] IN=he-ipv6 OUT= MAC=70:71:bc:bc:72:e7:00:23:cd:b0:5a:6e:08:00:45:00:00:ec TUNNEL=216.66.80.26->192.168.10.15 SRC=fe80:0000:0000:0000:0000:0000:d842:501a DST=fe80:0000:0000:0000:0000:0000:c0a8:14fd LEN=216 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=ICMPv6 TYPE=1 CODE=2 [SRC=fe80:0000:0000:0000:0000:0000:c0a8:14fd DST=2a00:1450:8006:0000:0000:0000:0000:0093 LEN=168 TC=0 HOPLIMIT=255 FLOWLBL=0 PROTO=ICMPv6 TYPE=137 CODE=0 ] ",
    );
    let Link::Mac { tunnel, .. } = ev.record.link else {
        panic!()
    };
    assert_eq!(
        tunnel,
        Some((
            Ipv4Addr::new(216, 66, 80, 26),
            Ipv4Addr::new(192, 168, 10, 15)
        ))
    );
    // An ICMP error quoting an unreadable header.
    ok(
        "IN=eth0 OUT= SRC=1.1.1.1 DST=2.2.2.2 LEN=28 TOS=0x00 PREC=0x00 TTL=9 ID=1 PROTO=ICMP TYPE=3 CODE=1 [TRUNCATED] ",
    );
}

#[test]
fn prefixes_glued_and_adversarial() {
    let ev = ok(
        "Jun  6 08:24:14 matrix kernel: [ 2165.874443] test nftIN=ens38 OUT= ARP HTYPE=1 PTYPE=0x0800 OPCODE=1 MACSRC=00:50:79:66:68:00 IPSRC=192.168.1.2 MACDST=ff:ff:ff:ff:ff:ff IPDST=192.168.1.4  ",
    );
    assert_eq!((ev.prefix(), ev.in_iface()), ("test nft", "ens38"));
    assert_eq!(ev.src(), None);
    let L3::Arp(a) = ev.record.l3 else { panic!() };
    assert_eq!((a.htype, a.ptype, a.opcode), (1, 0x0800, 1));
    assert_eq!(a.payload.unwrap().ip_dst, Ipv4Addr::new(192, 168, 1, 4));
    let ev = ok(
        "May 28 17:31:07 server Shorewall:net2fw:DROP:IN=eth1 OUT= MAC=00:02:b3:c7:2f:77:38:72:c0:6e:92:9c:08:00 SRC=127.0.0.1 DST=1.2.3.4 LEN=60 TOS=0x00 PREC=0x00 TTL=49 ID=6480 DF PROTO=TCP SPT=59088 DPT=8080 WINDOW=2920 RES=0x00 SYN URGP=0",
    );
    assert_eq!(ev.prefix(), "Shorewall:net2fw:DROP:");
    let ev = ok(
        "IN= foo IN=bar ININ: IN=enp0s3 OUT= MAC=52:54:00:12:35:02:08:00:27:a0:a7:3f:08:00 SRC=10.0.2.2 DST=10.0.2.15 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 WINDOW=1 RES=0x00 ACK URGP=0 ",
    );
    assert_eq!(
        (ev.prefix(), ev.in_iface()),
        ("IN= foo IN=bar ININ: ", "enp0s3")
    );
    // Quotes, backslashes and control bytes in a prefix are escaped in JSON.
    let j = json(
        "pre \"q\" \\ \x07 IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=1 ID=1 PROTO=47",
    );
    assert!(j.contains(r#""prefix":"pre \"q\" \\ \u0007 ","#), "{j}");
    assert!(j.contains(r#""proto":47"#));
}

#[test]
fn bridge_macdecode_vlan_and_arp() {
    let ev = ok(
        "[12716.993704] test: IN=veth0 OUT= MACSRC=86:6c:92:ea:d6:73 MACDST=0e:3b:eb:86:73:76 VPROTO=8100 VID=10 MACPROTO=0800 SRC=192.168.10.2 DST=172.217.168.163 LEN=52 TOS=0x00 PREC=0x00 TTL=64 ID=2548 DF PROTO=TCP SPT=55848 DPT=80 WINDOW=501 RES=0x00 ACK FIN URGP=0",
    );
    let Link::Decoded(m) = ev.record.link else {
        panic!()
    };
    assert_eq!((m.vproto, m.vid, m.proto), (Some(0x8100), Some(10), 0x0800));
    assert_eq!(ev.tcp_flag_bits(), tcp_flags::ACK | tcp_flags::FIN);
    let ev = ok(
        "[12721.157643] test: IN=veth0 OUT= MACSRC=86:6c:92:ea:d6:73 MACDST=0e:3b:eb:86:73:76 VPROTO=8100 VID=10 MACPROTO=0806 ARP HTYPE=1 PTYPE=0x0800 OPCODE=2 MACSRC=86:6c:92:ea:d6:73 IPSRC=192.168.10.2 MACDST=0e:3b:eb:86:73:76 IPDST=192.168.10.1",
    );
    assert!(matches!(ev.record.l3, L3::Arp(_)));
    let ev = ok(
        "[26875.144760] After SNAT: IN= OUT=docker0 PHYSIN=veth926dffc PHYSOUT=vethb7031a1 SRC=172.17.0.14 DST=172.17.0.4 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=52799 DF PROTO=TCP SPT=46782 DPT=80 WINDOW=64240 RES=0x00 SYN URGP=0 ",
    );
    assert_eq!(
        (ev.record.phys_in, ev.record.phys_out),
        (Some("veth926dffc"), Some("vethb7031a1"))
    );
    // 2.4-era order `IN= PHYSIN= OUT=`.
    let ev = ok(
        "IN=br0 PHYSIN=eth0 OUT= SRC=192.168.0.4 DST=192.168.255.255 LEN=238 TOS=0x00 PREC=0x00 TTL=128 ID=23383 PROTO=UDP SPT=138 DPT=138 LEN=218",
    );
    assert_eq!((ev.in_iface(), ev.record.phys_in), ("br0", Some("eth0")));
    // Header-only record of an undecoded ethertype (netdev family).
    ok("IN=eth0 OUT= MAC=ff:ff:ff:ff:ff:ff:00:11:22:33:44:55:88:cc ");
}

#[test]
fn options_seq_uid_mark_and_flags() {
    let ev = ok(
        "Feb 07 18:42:35 morfikownia kernel: * IPTABLES:OUTPUT * IN= OUT=bond0 SRC=192.168.0.135 DST=104.81.106.31 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=2989 DF PROTO=TCP SPT=63798 DPT=443 SEQ=850951390 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 OPT (020405B40402080AA8F3EBDA0000000001030309) UID=1000 GID=1000",
    );
    let L4::Tcp(t) = &ev.packet().unwrap().l4 else {
        panic!()
    };
    assert_eq!((t.seq, t.ack), (Some(850_951_390), Some(0)));
    assert_eq!(t.opt, Some("020405B40402080AA8F3EBDA0000000001030309"));
    assert_eq!((ev.record.uid, ev.record.gid), (Some(1000), Some(1000)));
    let ev = ok(
        "Jan 13 07:35:10 exo kernel: [ 2235.495193] [UFW BLOCK] IN=br-4ee3e112b251 OUT=br-4ee3e112b251 PHYSIN=veth3d41a08 PHYSOUT=veth3302b95 MAC=33:33:00:00:00:16:7a:7f:34:6e:5c:b1:86:dd SRC=0000:0000:0000:0000:0000:0000:0000:0000 DST=ff02:0000:0000:0000:0000:0000:0000:0016 LEN=96 TC=0 HOPLIMIT=1 FLOWLBL=0 PROTO=ICMPv6 TYPE=143 CODE=0 MARK=0xd4",
    );
    assert_eq!(ev.record.mark, Some(0xd4));
    // Every flag incl. AE, IPv4 CE/DF/MF/FRAG/OPT, TOS/PREC values.
    let ev = ok(
        "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=52 TOS=0x1C PREC=0xE0 TTL=64 ID=7 CE DF MF OPT (94040000) PROTO=TCP SPT=1 DPT=2 WINDOW=3 RES=0x01 AE CWR ECE URG ACK PSH RST SYN FIN URGP=9 OPT (TRUNCATED)",
    );
    let p = ev.packet().unwrap();
    let IpInfo::V4(h) = p.ip else { panic!() };
    assert_eq!(
        (h.tos, h.prec, h.ce, h.df, h.mf),
        (Some(0x1c), Some(0xe0), true, true, true)
    );
    assert_eq!(p.ip_opt, Some("94040000"));
    assert_eq!(ev.tcp_flag_bits(), 0x1FF);
    assert!(ev.truncated());
    assert!(json_of(&ev).contains(r#""tcp_flags":["AE","CWR","ECE","URG","ACK","PSH","RST","SYN","FIN"],"urgp":9,"tcp_opt":"TRUNCATED""#));
    // Flags out of kernel order are not a kernel record.
    bad(
        "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=52 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=TCP SPT=1 DPT=2 WINDOW=3 RES=0x00 SYN ACK URGP=0",
    );
}

#[test]
fn fragments_numeric_protocols_ah_esp_incomplete() {
    // IPv4 AH non-first fragment: no PROTO at all.
    let ev = ok(
        "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=1500 TOS=0x00 PREC=0x00 TTL=64 ID=7 MF FRAG:185 ",
    );
    assert_eq!(ev.proto_number(), None);
    ok(
        "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=1500 TOS=0x00 PREC=0x00 TTL=64 ID=7 FRAG:185 PROTO=TCP ",
    );
    bad("IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=1500 TOS=0x00 PREC=0x00 TTL=64 ID=7 DF");
    let ev = ok(
        "Jan  5 20:17:01 firewall kernel: [4276041.728154] IN=eno1 OUT= MAC=0c:c4:7a:0f:51:0c:d4:66:24:80:d8:da:08:00 SRC=192.168.110.116 DST=192.168.2.25 LEN=120 TOS=0x00 PREC=0x00 TTL=55 ID=0 DF PROTO=ESP SPI=0xc8bd4d4b ",
    );
    assert_eq!(
        (ev.proto_number(), &ev.packet().unwrap().l4),
        (Some(50), &L4::Spi(0xc8bd_4d4b))
    );
    let ev = ok(
        "Jun  1 00:00:00 h kernel: [ 1.000000] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=UDPLITE INCOMPLETE [0 bytes] ",
    );
    assert_eq!(
        (ev.proto_number(), &ev.packet().unwrap().l4),
        (Some(136), &L4::Incomplete(Some(0)))
    );
    assert_eq!(ok("IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=AH INCOMPLETE [0 bytes] ").proto_number(), Some(51));
    // IPv6 fragment header without and with --log-ip-options, nine empty OPT ( ).
    let ev = ok(
        "[ 1817.287934] [UFW BLOCK] IN=eth0 OUT= MAC=01:00:5e:00:00:fb:00:1e:8c:e9:94:5d:86:dd SRC=fe80:0000:0000:0000:021e:8cff:fee9:945d DST=ff02:0000:0000:0000:0000:0000:0000:00fb LEN=1280 TC=0 HOPLIMIT=255 FLOWLBL=0 FRAG:1232 ID:2d4055e5 PROTO=UDP ",
    );
    let IpInfo::V6(h) = ev.packet().unwrap().ip else {
        panic!()
    };
    assert_eq!(
        h.frag,
        Some(Ipv6Frag {
            offset: 1232,
            more: false,
            id: 0x2d40_55e5
        })
    );
    assert_eq!(ev.spt(), None);
    let ev = ok(
        "IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 OPT ( ) OPT ( ) OPT ( FRAG:0 INCOMPLETE ID:12345678 ) OPT ( AH SPI=0x1 ) PROTO=TCP SPT=1 DPT=2 WINDOW=3 RES=0x00 SYN URGP=0 ",
    );
    let IpInfo::V6(h) = ev.packet().unwrap().ip else {
        panic!()
    };
    assert_eq!((h.opt_headers, h.spi), (4, Some(1)));
    assert!(h.frag.unwrap().more);
    let ev = ok(
        "IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 OPT ( ESP SPI=0xabc )",
    );
    assert_eq!(ev.proto_number(), Some(50));
    ok(
        "IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 Unknown Ext Hdr 139",
    );
    ok("IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 TRUNCATED");
    let ev = ok(
        "IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=ICMPv6 TYPE=4 CODE=0 POINTER=00000028 [SRC=2001:db8::2 DST=2001:db8::1 LEN=40 TC=0 HOPLIMIT=1 FLOWLBL=0 PROTO=58 ] ",
    );
    let L4::Icmp(i) = &ev.packet().unwrap().l4 else {
        panic!()
    };
    assert_eq!(i.pointer, Some(0x28));
    ok(
        "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=56 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=ICMP TYPE=5 CODE=1 GATEWAY=10.0.0.1 [SRC=5.6.7.8 DST=9.9.9.9 LEN=40 TOS=0x00 PREC=0x00 TTL=1 ID=0 PROTO=6 ] ",
    );
    ok(
        "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=56 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=ICMP TYPE=12 CODE=0 PARAMETER=20 ",
    );
    ok("IN=eth0 OUT= TRUNCATED");
}

#[test]
fn wrappers() {
    let rec = "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2 ";
    let ev = ok(
        "<6>[ 5739.482168] CMWRAP IN= OUT=ppp0 SRC=10.94.85.105 DST=121.14.125.26 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=49871 DF PROTO=TCP SPT=51454 DPT=8080 WINDOW=13600 RES=0x00 SYN URGP=0 UID=10126 GID=10126",
    );
    assert_eq!((ev.envelope.priority, ev.prefix()), (Some(6), "CMWRAP "));
    let ev = ok(
        "<174>1 2003-08-24T05:14:15+00:00 - - - - - IN=enx503f560021dc OUT= MAC=01:00:5e:00:00:01:88:f8:c7:8b:1a:b4:04:00 SRC=192.168.81.1 DST=224.0.0.1 LEN=32 TOS=0x00 PREC=0xC0 TTL=1 ID=0 PROTO=2",
    );
    assert_eq!((ev.envelope.kind, ev.prefix()), (EnvelopeKind::Rfc5424, ""));
    let ev = ok(
        "6,1234,5678000,-;DROP IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2 ",
    );
    assert_eq!(
        ev.envelope.uptime,
        Some(Uptime {
            secs: 5,
            micros: 678_000
        })
    );
    let line = format!(
        r#"{{ "__REALTIME_TIMESTAMP" : "1642033008518660", "_HOSTNAME" : "compute04", "MESSAGE" : "iptables DROP_INPUT: {rec}" }}"#
    );
    let ev = ok(&line);
    assert_eq!(
        (ev.time_unix_ms(), ev.envelope.host),
        (Some(1_642_033_008_518), Some("compute04"))
    );
    assert_eq!(ev.prefix(), "iptables DROP_INPUT: ");
    let line = format!("MESSAGE=iptables DROP_INPUT: {rec}");
    assert_eq!(ok(&line).envelope.kind, EnvelopeKind::JournalExport);
    assert_eq!(ok("[Sat Feb  9 12:34:56 2019] DROP IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2 ").time_unix_ms(), Some(1_549_715_696_000));
    assert_eq!(ok("ipv6_scan:Mar 17 13:39:13 linux kernel: [956932.522957] DROP IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2 ").prefix(), "DROP ");
    let ev = ok(
        "2024-10-07T02:35:01.477337 [1589215.675090] zzz accepted IN= OUT=lo SRC=127.0.0.1 DST=127.0.0.1 LEN=85 TOS=0x00 PREC=0x00 TTL=64 ID=50633 DF PROTO=TCP SPT=34534 DPT=29998 WINDOW=512 RES=0x00 ACK PSH URGP=0 ",
    );
    assert_eq!((ev.envelope.host, ev.prefix()), (None, "zzz accepted "));
    assert_eq!(
        ev.envelope.uptime,
        Some(Uptime {
            secs: 1_589_215,
            micros: 675_090
        })
    );
}

#[test]
fn year_rolls_over_across_a_file() {
    let mut p = Parser::new(ParseOptions {
        reference_unix_secs: NOW + 200 * 86_400,
        utc_offset_secs: 0,
    });
    let l1 = "Dec 31 23:59:59 h kernel: X IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2";
    let l2 = "Jan  1 00:00:01 h kernel: X IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2";
    let t1 = p
        .parse(l1.as_bytes())
        .unwrap()
        .unwrap()
        .time_unix_ms()
        .unwrap();
    let t2 = p
        .parse(l2.as_bytes())
        .unwrap()
        .unwrap()
        .time_unix_ms()
        .unwrap();
    assert_eq!(t2 - t1, 2000);
}

#[test]
fn ulogd_and_unifi_parse_as_ulogd() {
    let ev = ok(
        "Oct  7 04:42:16 fw fw-new  IN=eth0 OUT=eth1 MAC=aa:5c:27:7d:a1:33:f6:71:10:e6:3b:46:08:00 SRC=203.0.113.66 DST=198.51.100.22 LEN=60 TOS=10 PREC=0x00 TTL=63 ID=60875 DF PROTO=TCP SPT=32888 DPT=22 SEQ=2902218005 ACK=0 WINDOW=64240 SYN URGP=0 MARK=0x0 ",
    );
    assert_eq!(
        (ev.record.dialect, ev.prefix()),
        (Dialect::Ulogd, "fw-new  ")
    );
    let ev = ok(
        "Jun 13 23:29:15 UDMP-DTC [WAN_LOCAL-D-2147483647] DESCR=\"[WAN_LOCAL]Block All Traffic\" IN=eth8 OUT= MAC=74:ac:b9:1c:62:e5:00:17:10:2b:31:a9:08:00 SRC=192.168.1.1 DST=192.168.1.25 LEN=122 TOS=00 PREC=0x00 TTL=49 ID=45366 DF PROTO=UDP SPT=38451 DPT=54329 LEN=102 MARK=1a0000",
    );
    assert_eq!((ev.record.mark, ev.dpt()), (Some(0x1a_0000), Some(54329)));
}

#[test]
fn damaged_records_are_errors() {
    let head = "Aug 30 16:28:11 ncc1701 kernel: [8739426.140645] HTTPS-443 inbound: IN=bond0 OUT= MAC=1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:08:00 ";
    let tail = "DST=192.168.122.137 LEN=60 TOS=0x00 PREC=0x00 TTL=55 ID=24297 DF PROTO=TCP SPT=64545 DPT=443 WINDOW=5840 RES=0x00 SYN URGP=0 ";
    assert_eq!(
        bad(&format!("{head}SRC=::zz {tail}")),
        ErrorKind::BadIpv6("SRC")
    );
    assert_eq!(
        bad(&format!("{head}SRC=256.1.2.3 {tail}")),
        ErrorKind::BadIpv4("SRC")
    );
    assert_eq!(
        bad(&format!("{head}SRC=1.2.3 {tail}")),
        ErrorKind::BadIpv4("SRC")
    );
    assert!(matches!(
        bad(&format!("{head}SRC= {tail}")),
        ErrorKind::BadIpv4(_)
    ));
    assert!(matches!(
        bad(&format!("{head} {tail}")),
        ErrorKind::UnexpectedEnd(_) | ErrorKind::Expected(_)
    ));
    // Cut mid-record by a pipeline (not at the kernel's buffer length).
    assert!(matches!(
        bad(&format!("{head}SRC=218.92.35.187 DST=192.16")),
        ErrorKind::BadIpv4(_) | ErrorKind::UnexpectedEnd(_)
    ));
    assert!(matches!(
        bad("Aug 30 16:28:20 ncc1701 kernel: [8739434.394380] nft-drop: IN=bond0 OUT= MAC"),
        ErrorKind::UnexpectedEnd(_) | ErrorKind::BadMac(_)
    ));
    assert_eq!(
        bad(
            "Aug 30 16:28:20 ncc1701 kernel: [8739434.394380] nft-drop: IN=bond0 OUT= MAC=1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:08:00 "
        ),
        ErrorKind::UnexpectedEnd("SRC= or ARP")
    );
    assert_eq!(
        bad("Aug 30 16:28:20 ncc1701 kernel: [8739434.394380] nft-drop: IN=bo"),
        ErrorKind::UnexpectedEnd("OUT=")
    );
    // Two lines glued together (lost newline).
    let glued = "Aug 30 16:28:09 ncc1701 kernel: [8739423.2Aug 30 16:28:10 ncc1701 kernel: [8739424.713517] HTTPS-443 inbound: IN=bond0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2 ";
    assert!(matches!(
        bad(glued),
        ErrorKind::GluedLines | ErrorKind::BadTimestamp(_)
    ));
    assert_eq!(
        bad(
            "Aug 30 16:28:09 ncc1701 kernel: [8739423.2 HTTPS IN=bond0 OUT= MAC=1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:08:00 SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2 "
        ),
        ErrorKind::BadTimestamp("printk uptime")
    );
    assert_eq!(
        bad(
            "Aug 30 16:2 host kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2"
        ),
        ErrorKind::BadTimestamp("RFC 3164")
    );
    assert_eq!(
        bad(
            "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2 MARK=0xabcd PHYSIN=br0"
        ),
        ErrorKind::TrailingGarbage
    );
    assert_eq!(
        bad("IN=averyveryverylongname OUT= SRC=1.2.3.4"),
        ErrorKind::BadInterface("IN=")
    );
    assert_eq!(
        bad(
            "pre\u{fffd}\u{7f}\u{0}IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=70000 PROTO=2"
        ),
        ErrorKind::OutOfRange("ID")
    );
    assert_eq!(parser().parse(b"X\xff\xfe IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=2").unwrap_err().kind, ErrorKind::InvalidUtf8("prefix"));
    let line = r#"{"MESSAGE":"say \"hi\" IN=eth0 OUT= SRC=1.2.3.4"}"#;
    assert_eq!(bad(line), ErrorKind::JsonEscapes);
}

#[test]
fn records_cut_by_the_kernel_buffer_are_kept() {
    // A long prefix + long MAC + ICMP error, cut at 1016 bytes of record text.
    let mac = ["aa"; 250].join(":");
    let full = format!(
        "Jan  1 00:00:00 h kernel: IN=sit1 OUT= MAC={mac} SRC=1.2.3.4 DST=5.6.7.8 LEN=576 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=ICMP TYPE=3 CODE=4 [SRC=5.6.7.8 DST=9.9.9.9 LEN=1500 TOS=0x00 PREC=0x00 TTL=63 ID=2 DF PROTO=TCP SPT=34153 DPT=80 SEQ=1234567890 ACK=1234567890 WINDOW=65535 RES=0x00 ACK URGP=0 OPT (0101080A00000000000000000101080A0000000000000000) ] MTU=1492 "
    );
    let start = full.find("IN=").unwrap();
    let cut = &full[..start + 1016];
    let ev = ok(cut);
    assert!(ev.record.cut && ev.truncated());
    assert_eq!(ev.src(), v4("1.2.3.4"));
    assert!(json_of(&ev).ends_with(r#","truncated":true}"#));
    // The same cut at a length the kernel does not produce is damage.
    let short = &full[..start + 900];
    assert!(parser().parse(short.as_bytes()).is_err());
}

#[test]
fn no_panics_on_any_prefix_of_real_lines() {
    let lines = [
        "Mar 10 06:57:18 josh-desktop kernel: [21506.490324] Inbound IN=eth0 OUT= MAC=00:1d:7d:d5:ff:5b:00:1d:5a:1c:67:e9:08:00 SRC=83.212.128.162 DST=192.168.1.74 LEN=56 TOS=0x00 PREC=0x00 TTL=235 ID=23962 PROTO=ICMP TYPE=11 CODE=0 [SRC=192.168.1.74 DST=83.212.135.158 LEN=44 TOS=0x00 PREC=0x00 TTL=0 ID=17711 DF PROTO=TCP INCOMPLETE [8 bytes] ] ",
        "<174>1 2003-08-24T05:14:15+00:00 - - - [a b=\"]\"] - IN=enx OUT= MACSRC=86:6c:92:ea:d6:73 MACDST=0e:3b:eb:86:73:76 VPROTO=8100 VID=10 MACPROTO=0806 ARP HTYPE=1 PTYPE=0x0800 OPCODE=2 INCOMPLETE [8 bytes]",
        "{\"MESSAGE\":\"x IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 OPT ( FRAG:0 INCOMPLETE ID:12345678 ) OPT ( ESP INCOMPLETE [3 bytes] )\",\"__REALTIME_TIMESTAMP\":\"1\"}",
        "6,1,2,-;IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=56 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=ICMP TYPE=5 CODE=1 GATEWAY=10.0.0.1 [TRUNCATED] MTU=1 UID=1 GID=2 MARK=0x3",
    ];
    for l in lines {
        let b = l.as_bytes();
        for n in 0..=b.len() {
            let mut p = parser();
            let _ = p.parse(&b[..n]);
            let _ = p.parse(&b[n..]);
            if let Ok(Some(ev)) = p.parse(&b[..n]) {
                let mut v = Vec::new();
                json::write_json(&ev, &mut v);
                text::write_text(&ev, &mut v);
                assert!(std::str::from_utf8(&v).is_ok());
            }
        }
    }
}
