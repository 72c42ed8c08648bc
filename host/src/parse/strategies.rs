//! Test-only proptest strategies: records the kernel's `nf_log_syslog` can print (IPv4 and
//! IPv6; TCP, UDP, ICMP with quoted packets, AH/ESP, fragments, options; ARP; MAC, MAC
//! decode; UID/MARK only where the kernel prints them) and the wrappers they arrive in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::sample::select;

use super::event::{
    Arp, ArpPayload, Icmp, IpInfo, Ipv4Info, Ipv6Frag, Ipv6Info, L3, L4, Link, MacDecode, Packet,
    Proto, Record, Tcp, Udp,
};

const PREFIXES: &[&str] = &[
    "",
    "DROP: ",
    "[UFW BLOCK] ",
    "HTTPS-443 inbound: ",
    "test nft",
    "[wan-lan-default-D]",
    "TRACE: raw:PREROUTING:policy:3 ",
    "IN= foo IN=bar ININ: ",
    "nf_ct_proto_6: invalid packet ignored in state ESTABLISHED ",
];
const IFACES: &[&str] = &[
    "",
    "eth0",
    "bond0",
    "eth0.90",
    "br-4ee3e112b251",
    "wgsts1000",
];
const MACS: &[&str] = &[
    "",
    "1a:95:8d:9a:88:a3:96:12:6a:f7:8a:da:08:00",
    "00:00:00:00:00:00:00:00:00:00:00:00:86:dd",
    "00:15:17:1f:93:5c:00:1b:21:0d:2a:3e:08:00:45:fc:02:1c",
];
const OPTS: &[&str] = &[
    "020405B4",
    "020405B40402080A3B9C2A1E0000000001030307",
    "94040000",
];
/// Wrappers the record arrives in (all with a host and a tag, so no prefix is taken for
/// a host name).
pub(super) const ENVELOPES: &[&str] = &[
    "",
    "Aug 30 16:28:09 ncc1701 kernel: ",
    "Aug  3 01:02:03 fw kernel: [ 1234.567890] ",
    "2026-08-30T16:28:09.017688+02:00 ncc1701 kernel: ",
    "<4>Aug 30 16:28:09 host kernel: ",
    "<174>1 2026-08-24T05:14:15+00:00 host kernel - - - ",
    "4,1234,5678901,-;",
    "[  203.842973] ",
    "kernel: ",
    "MESSAGE=",
];

/// What the transport part of a packet may be, by where it sits.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    v6: bool,
    depth: u8,
}

fn addr(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        any::<u128>()
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
            .boxed()
    } else {
        any::<u32>()
            .prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .boxed()
    }
}

fn tcp() -> impl Strategy<Value = L4<'static>> {
    (
        (any::<u16>(), any::<u16>(), any::<Option<(u32, u32)>>()),
        (any::<u16>(), 0u8..16, any::<u16>(), any::<u16>()),
        (
            proptest::option::of(select(OPTS)),
            prop::bool::weighted(0.05),
        ),
    )
        .prop_map(
            |((spt, dpt, seq), (window, res, flags, urgp), (opt, trunc))| {
                L4::Tcp(Tcp {
                    spt,
                    dpt,
                    seq: seq.map(|s| s.0),
                    ack: seq.map(|s| s.1),
                    window: Some(window),
                    res: Some(res),
                    flags: flags & 0x1FF,
                    urgp: Some(urgp),
                    opt: if trunc { None } else { opt },
                    opt_truncated: trunc,
                })
            },
        )
}

fn udp() -> impl Strategy<Value = L4<'static>> {
    (any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(spt, dpt, len)| {
        L4::Udp(Udp {
            spt,
            dpt,
            len: Some(len),
        })
    })
}

/// `TYPE= CODE=` and what the kernel prints for that type; a quoted packet only at depth 0.
fn icmp(cx: Ctx) -> BoxedStrategy<L4<'static>> {
    let (echo, perr, errs): (&[u8], u8, &[u8]) = if cx.v6 {
        (&[128, 129], 4, &[1, 2, 3])
    } else {
        (&[0, 8], 12, &[3, 4, 5, 11])
    };
    let inner = if cx.depth == 0 {
        prop_oneof![
            9 => packet(Ctx { v6: cx.v6, depth: 1 }).prop_map(|p| Some(Box::new(p))),
            1 => Just(None),
        ]
        .boxed()
    } else {
        Just(None).boxed()
    };
    let v6 = cx.v6;
    prop_oneof![
        (select(echo), any::<u8>(), any::<u16>(), any::<u16>()).prop_map(|(ty, code, id, seq)| {
            Icmp {
                ty,
                code,
                echo_id: Some(id),
                echo_seq: Some(seq),
                ..Icmp::default()
            }
        }),
        (any::<u8>(), any::<u32>(), any::<u8>(), inner.clone()).prop_map(
            move |(code, x, param, inner)| {
                let mut i = Icmp {
                    ty: perr,
                    code,
                    ..Icmp::default()
                };
                if v6 {
                    i.pointer = Some(x);
                    i.inner_truncated = inner.is_none() && cx.depth == 0;
                    i.inner = inner;
                } else {
                    i.parameter = Some(u32::from(param));
                }
                i
            }
        ),
        (select(errs), any::<u8>(), any::<u32>(), any::<u16>(), inner).prop_map(
            move |(ty, code, gw, mtu, inner)| {
                let mut i = Icmp {
                    ty,
                    code,
                    ..Icmp::default()
                };
                i.inner_truncated = inner.is_none() && cx.depth == 0;
                i.inner = inner;
                if !v6 && ty == 5 {
                    i.gateway = Some(Ipv4Addr::from(gw));
                }
                if (v6 && ty == 2) || (!v6 && ty == 3 && code == 4) {
                    i.mtu = Some(if v6 { gw } else { u32::from(mtu) });
                }
                i
            }
        ),
        (
            select(&[13u8, 14, 17, 130, 133, 135, 143, 200][..]),
            any::<u8>()
        )
            .prop_map(|(ty, code)| Icmp {
                ty,
                code,
                ..Icmp::default()
            }),
        (any::<u8>(), any::<u8>(), 0u32..64).prop_map(|(ty, code, n)| Icmp {
            ty,
            code,
            incomplete: Some(n),
            ..Icmp::default()
        }),
    ]
    // ICMPv6 prints `INCOMPLETE` only where the header itself is short (`L4::Incomplete`).
    .prop_map(move |i| {
        L4::Icmp(if v6 {
            Icmp {
                incomplete: None,
                ..i
            }
        } else {
            i
        })
    })
    .boxed()
}

/// Protocol and transport part of a packet that is not a non-first fragment.
fn transport(cx: Ctx) -> BoxedStrategy<(Option<Proto>, L4<'static>)> {
    let icmp_proto = if cx.v6 { Proto::Icmpv6 } else { Proto::Icmp };
    let other = select(&[0u8, 2, 4, 41, 47, 89, 103, 112, 132, 255][..])
        .prop_map(|n| (Some(Proto::Other(n)), L4::None));
    let incomplete = (select(vec![Proto::Tcp, Proto::Udp, icmp_proto]), 0u32..64)
        .prop_map(|(p, n)| (Some(p), L4::Incomplete(Some(n))));
    let mut s = prop_oneof![
        4 => tcp().prop_map(|l| (Some(Proto::Tcp), l)),
        2 => (select(&[Proto::Udp, Proto::UdpLite][..]), udp()).prop_map(|(p, l)| (Some(p), l)),
        3 => icmp(cx).prop_map(move |l| (Some(icmp_proto), l)),
        1 => incomplete,
        1 => other,
    ]
    .boxed();
    if !cx.v6 {
        let ipsec = (select(&[Proto::Ah, Proto::Esp][..]), any::<u32>())
            .prop_map(|(p, spi)| (Some(p), L4::Spi(spi)));
        s = prop_oneof![9 => s, 1 => ipsec].boxed();
    }
    s
}

/// A non-first fragment: `PROTO=` and nothing after it (an IPv4 AH fragment has no PROTO).
fn fragment_proto(v6: bool) -> impl Strategy<Value = Option<Proto>> {
    let icmp = if v6 { Proto::Icmpv6 } else { Proto::Icmp };
    let ah = if v6 { Proto::Udp } else { Proto::Ah };
    select(vec![Proto::Tcp, Proto::Udp, icmp, Proto::Other(47), ah]).prop_map(move |p| {
        // The kernel checks the fragment offset before printing `PROTO=AH`.
        (p != Proto::Ah).then_some(p)
    })
}

fn packet(cx: Ctx) -> BoxedStrategy<Packet<'static>> {
    let addrs = (addr(cx.v6), addr(cx.v6), any::<u16>());
    if cx.v6 {
        let frag = proptest::option::weighted(
            0.2,
            (any::<u16>(), any::<bool>(), any::<u32>()).prop_map(|(o, more, id)| Ipv6Frag {
                offset: o & 0xFFF8,
                more,
                id,
            }),
        );
        let head = (
            any::<u8>(),
            any::<u8>(),
            0u32..(1 << 20),
            any::<bool>(),
            0u8..3,
            frag,
        );
        (addrs, head)
            .prop_flat_map(move |((src, dst, len), (tc, hl, fl, ipopt, empty, frag))| {
                let h = Ipv6Info {
                    tc: Some(tc),
                    hoplimit: Some(hl),
                    flowlbl: Some(fl),
                    frag,
                    opt_headers: if ipopt {
                        empty + u8::from(frag.is_some())
                    } else {
                        0
                    },
                    ..Ipv6Info::default()
                };
                let rest = if frag.is_some_and(|f| f.offset != 0) {
                    fragment_proto(true).prop_map(|p| (p, L4::None)).boxed()
                } else {
                    transport(cx)
                };
                rest.prop_map(move |(proto, l4)| Packet {
                    src,
                    dst,
                    len: Some(u32::from(len)),
                    ip: IpInfo::V6(h),
                    proto,
                    l4,
                    ip_opt: None,
                    truncated: false,
                })
            })
            .boxed()
    } else {
        let head = (
            (any::<u8>(), any::<u8>(), any::<u16>()),
            (
                any::<[bool; 3]>(),
                proptest::option::weighted(0.1, 1u16..8192),
            ),
            proptest::option::weighted(0.1, select(OPTS)),
            prop::bool::weighted(0.03),
        );
        (addrs, head)
            .prop_flat_map(
                move |((src, dst, len), ((tos, ttl, id), (bits, frag), opt, trunc))| {
                    let h = Ipv4Info {
                        tos: Some(tos & 0x1E),
                        prec: Some(tos & 0xE0),
                        ttl: Some(ttl),
                        id: Some(id),
                        ce: bits[0],
                        df: bits[1],
                        mf: bits[2],
                        frag,
                    };
                    let rest = if trunc {
                        Just((None, L4::None)).boxed()
                    } else if frag.is_some() {
                        fragment_proto(false).prop_map(|p| (p, L4::None)).boxed()
                    } else {
                        transport(cx)
                    };
                    rest.prop_map(move |(proto, l4)| Packet {
                        src,
                        dst,
                        len: Some(u32::from(len)),
                        ip: IpInfo::V4(h),
                        proto,
                        l4,
                        // Options the kernel cannot read print `TRUNCATED` instead of `OPT (…)`.
                        ip_opt: if trunc { None } else { opt },
                        truncated: trunc,
                    })
                },
            )
            .boxed()
    }
}

fn link() -> impl Strategy<Value = Link<'static>> {
    let decoded = (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        any::<Option<(u16, u16)>>(),
    )
        .prop_map(|(src, dst, vlan)| MacDecode {
            src,
            dst,
            vproto: vlan.map(|v| v.0),
            vid: vlan.map(|v| v.1),
            proto: 0x0800,
        });
    prop_oneof![
        2 => Just(Link::Absent),
        5 => (select(MACS), proptest::option::weighted(0.1, any::<(u32, u32)>())).prop_map(
            |(hex, t)| Link::Mac {
                hex,
                tunnel: t
                    .filter(|_| !hex.is_empty())
                    .map(|(a, b)| (Ipv4Addr::from(a), Ipv4Addr::from(b))),
            }
        ),
        2 => decoded.prop_map(Link::Decoded),
    ]
}

fn arp() -> impl Strategy<Value = Arp> {
    let payload = (
        any::<[u8; 6]>(),
        any::<u32>(),
        any::<[u8; 6]>(),
        any::<u32>(),
    )
        .prop_map(|(ms, is, md, id)| ArpPayload {
            mac_src: ms,
            ip_src: Ipv4Addr::from(is),
            mac_dst: md,
            ip_dst: Ipv4Addr::from(id),
        });
    (
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<Option<bool>>(),
        payload,
        0u32..64,
    )
        .prop_map(|(htype, ptype, opcode, which, p, n)| Arp {
            htype,
            ptype,
            opcode,
            payload: (which == Some(true)).then_some(p),
            incomplete: (which == Some(false)).then_some(n),
        })
}

/// Whether the kernel prints `UID=`/`MARK=` after this packet: not after a transport
/// header it could not read (TCP/UDP/ICMPv6 `INCOMPLETE`), `OPT (TRUNCATED)` or `TRUNCATED`.
fn tail_allowed(p: &Packet<'_>) -> bool {
    let stopped = match &p.l4 {
        L4::Incomplete(_) => p.proto != Some(Proto::Icmp),
        L4::Tcp(t) => t.opt_truncated,
        _ => false,
    };
    !(p.truncated || stopped)
}

pub(super) fn record() -> impl Strategy<Value = Record<'static>> {
    let names = (select(PREFIXES), select(IFACES), select(IFACES));
    let phys = (
        proptest::option::weighted(0.1, select(&IFACES[1..])),
        proptest::option::weighted(0.1, select(&IFACES[1..])),
    );
    let l3 = prop_oneof![
        8 => any::<bool>().prop_flat_map(|v6| packet(Ctx { v6, depth: 0 })).prop_map(L3::Ip),
        1 => arp().prop_map(L3::Arp),
        1 => Just(L3::Truncated),
    ];
    let tail = (any::<Option<(u32, u32)>>(), proptest::option::of(1u32..));
    (names, phys, link(), l3, tail).prop_map(
        |((prefix, in_iface, out_iface), (phys_in, phys_out), link, l3, (ids, mark))| {
            let tail = matches!(&l3, L3::Ip(p) if tail_allowed(p));
            Record {
                prefix,
                in_iface,
                out_iface,
                phys_in,
                phys_out,
                link,
                l3,
                uid: ids.filter(|_| tail).map(|i| i.0),
                gid: ids.filter(|_| tail).map(|i| i.1),
                mark: mark.filter(|_| tail),
                ..Record::default()
            }
        },
    )
}
