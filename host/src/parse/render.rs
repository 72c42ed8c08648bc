//! Test-only: renders a [`Record`] as the kernel's `nf_log_syslog` would print it, field by
//! field after `nflog-format.md`, so property tests can check `parse(render(r)) == r`.
//!
//! It renders what the record says and nothing else: the caller builds records the kernel
//! can emit (e.g. no `UID=` after `INCOMPLETE`, no ports in a non-first fragment).

use std::fmt::Write as _;

use portcullis_abi::tcp_flags;

use super::addr::push_mac;
use super::event::{Arp, Icmp, IpInfo, L3, L4, Link, Packet, Record, Tcp};

/// The record text, with the kernel's trailing space where it prints one.
pub(crate) fn render(r: &Record<'_>) -> String {
    let mut s = String::new();
    let _ = write!(s, "{}IN={} OUT={} ", r.prefix, r.in_iface, r.out_iface);
    if let Some(p) = r.phys_in {
        let _ = write!(s, "PHYSIN={p} ");
    }
    if let Some(p) = r.phys_out {
        let _ = write!(s, "PHYSOUT={p} ");
    }
    match &r.link {
        Link::Absent => {}
        Link::Mac { hex, tunnel } => {
            let _ = write!(s, "MAC={hex}");
            if let Some((a, b)) = tunnel {
                let _ = write!(s, " TUNNEL={a}->{b}");
            }
            s.push(' ');
        }
        Link::Decoded(m) => {
            let _ = write!(s, "MACSRC={} MACDST={} ", mac(&m.src), mac(&m.dst));
            if let (Some(p), Some(v)) = (m.vproto, m.vid) {
                let _ = write!(s, "VPROTO={p:04x} VID={v} ");
            }
            let _ = write!(s, "MACPROTO={:04x} ", m.proto);
        }
    }
    match &r.l3 {
        L3::None => {}
        L3::Truncated => s.push_str("TRUNCATED"),
        L3::Arp(a) => arp(&mut s, a),
        L3::Ip(p) => {
            packet(&mut s, p, 0);
            if let (Some(u), Some(g)) = (r.uid, r.gid) {
                let _ = write!(s, "UID={u} GID={g} ");
            }
            if let Some(m) = r.mark {
                let _ = write!(s, "MARK=0x{m:x} ");
            }
        }
    }
    s
}

fn mac(m: &[u8; 6]) -> String {
    let mut v = Vec::new();
    push_mac(&mut v, m);
    String::from_utf8(v).unwrap_or_default()
}

fn arp(s: &mut String, a: &Arp) {
    let _ = write!(
        s,
        "ARP HTYPE={} PTYPE=0x{:04x} OPCODE={}",
        a.htype, a.ptype, a.opcode
    );
    if let Some(p) = &a.payload {
        let _ = write!(
            s,
            " MACSRC={} IPSRC={} MACDST={} IPDST={}",
            mac(&p.mac_src),
            p.ip_src,
            mac(&p.mac_dst),
            p.ip_dst
        );
    } else if let Some(n) = a.incomplete {
        let _ = write!(s, " INCOMPLETE [{n} bytes]");
    }
}

/// `%pI6`: eight groups of four lowercase hex digits.
fn full_v6(a: std::net::IpAddr) -> String {
    match a {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let g = v6.segments();
            g.iter()
                .map(|x| format!("{x:04x}"))
                .collect::<Vec<_>>()
                .join(":")
        }
    }
}

fn packet(s: &mut String, p: &Packet<'_>, depth: u8) {
    let _ = write!(s, "SRC={} DST={} ", full_v6(p.src), full_v6(p.dst));
    let len = p.len.unwrap_or_default();
    match &p.ip {
        IpInfo::V4(h) => {
            let _ = write!(
                s,
                "LEN={len} TOS=0x{:02X} PREC=0x{:02X} TTL={} ID={} ",
                h.tos.unwrap_or_default(),
                h.prec.unwrap_or_default(),
                h.ttl.unwrap_or_default(),
                h.id.unwrap_or_default()
            );
            for (on, w) in [(h.ce, "CE "), (h.df, "DF "), (h.mf, "MF ")] {
                if on {
                    s.push_str(w);
                }
            }
            if let Some(f) = h.frag {
                let _ = write!(s, "FRAG:{f} ");
            }
            if let Some(o) = p.ip_opt {
                let _ = write!(s, "OPT ({o}) ");
            }
            if p.truncated {
                s.push_str("TRUNCATED");
                return;
            }
        }
        IpInfo::V6(h) => {
            let _ = write!(
                s,
                "LEN={len} TC={} HOPLIMIT={} FLOWLBL={} ",
                h.tc.unwrap_or_default(),
                h.hoplimit.unwrap_or_default(),
                h.flowlbl.unwrap_or_default()
            );
            // With --log-ip-options every extension header is wrapped in `OPT ( … )`;
            // hop-by-hop/routing/destination options print nothing inside.
            let wrapped_frag = h.frag.is_some() && h.opt_headers > 0;
            let empty = h.opt_headers.saturating_sub(u8::from(wrapped_frag));
            for _ in 0..empty {
                s.push_str("OPT ( ) ");
            }
            if let Some(f) = h.frag {
                let more = if f.more { "INCOMPLETE " } else { "" };
                let text = format!("FRAG:{} {more}ID:{:08x} ", f.offset, f.id);
                if wrapped_frag {
                    let _ = write!(s, "OPT ( {text}) ");
                } else {
                    s.push_str(&text);
                }
            }
        }
    }
    let Some(proto) = p.proto else { return };
    match proto.name() {
        Some(n) => {
            let _ = write!(s, "PROTO={n} ");
        }
        None => {
            let _ = write!(s, "PROTO={} ", proto.number());
        }
    }
    match &p.l4 {
        L4::None => {}
        L4::Incomplete(n) => {
            let _ = write!(s, "INCOMPLETE [{} bytes] ", n.unwrap_or_default());
        }
        L4::Tcp(t) => tcp(s, t),
        L4::Udp(u) => {
            let _ = write!(
                s,
                "SPT={} DPT={} LEN={} ",
                u.spt,
                u.dpt,
                u.len.unwrap_or_default()
            );
        }
        L4::Icmp(i) => icmp(s, i, depth),
        L4::Spi(x) => {
            let _ = write!(s, "SPI=0x{x:x} ");
        }
        L4::Ports(a, b) => {
            let _ = write!(s, "SPT={a} DPT={b} ");
        }
    }
}

fn tcp(s: &mut String, t: &Tcp<'_>) {
    let _ = write!(s, "SPT={} DPT={} ", t.spt, t.dpt);
    if let (Some(q), Some(a)) = (t.seq, t.ack) {
        let _ = write!(s, "SEQ={q} ACK={a} ");
    }
    let _ = write!(
        s,
        "WINDOW={} RES=0x{:02x} ",
        t.window.unwrap_or_default(),
        t.res.unwrap_or_default()
    );
    for (bit, name) in tcp_flags::KERNEL_ORDER {
        if t.flags & bit != 0 {
            let _ = write!(s, "{name} ");
        }
    }
    let _ = write!(s, "URGP={} ", t.urgp.unwrap_or_default());
    if t.opt_truncated {
        s.push_str("OPT (TRUNCATED)");
    } else if let Some(o) = t.opt {
        let _ = write!(s, "OPT ({o}) ");
    }
}

fn icmp(s: &mut String, i: &Icmp<'_>, depth: u8) {
    let _ = write!(s, "TYPE={} CODE={} ", i.ty, i.code);
    if let Some(n) = i.incomplete {
        let _ = write!(s, "INCOMPLETE [{n} bytes] ");
        return;
    }
    if let (Some(id), Some(seq)) = (i.echo_id, i.echo_seq) {
        let _ = write!(s, "ID={id} SEQ={seq} ");
    }
    if let Some(p) = i.parameter {
        let _ = write!(s, "PARAMETER={p} ");
    }
    if let Some(p) = i.pointer {
        let _ = write!(s, "POINTER={p:08x} ");
    }
    if let Some(g) = i.gateway {
        let _ = write!(s, "GATEWAY={g} ");
    }
    if depth == 0 {
        if i.inner_truncated {
            s.push_str("[TRUNCATED] ");
        } else if let Some(inner) = &i.inner {
            s.push('[');
            packet(s, inner, depth + 1);
            s.push_str("] ");
        }
    }
    if let Some(m) = i.mtu {
        let _ = write!(s, "MTU={m} ");
    }
}
