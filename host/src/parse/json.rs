//! One event as one JSON object, written by hand into a byte buffer (no serde per line).
//!
//! Field names are fixed (see `docs`): absent fields are omitted, numbers are JSON numbers,
//! `tos`/`prec`/`res`/`mark` are integer values, IPv6 addresses are RFC 5952 compressed,
//! `frag` is as logged (IPv4: 8-byte units, IPv6: bytes). Strings are valid UTF-8 (the
//! parser rejects anything else) and are escaped per RFC 8259.

use std::io::Write as _;
use std::net::IpAddr;

use portcullis_abi::tcp_flags;

use super::addr::{push_ipv4, push_mac};
use super::calendar::civil_from_days;
use super::envelope::{Timestamp, Uptime};
use super::event::{Dialect, Event, IpInfo, L3, L4, Link, Packet, Proto};

/// Appends `ev` as one JSON object (no trailing newline).
pub fn write_json(ev: &Event<'_>, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    let env = &ev.envelope;
    let rec = &ev.record;
    if let Some(t) = env.time {
        o.key("ts");
        push_ts(o.out, t);
    }
    if let Some(h) = env.host {
        o.str("host", h);
    }
    if let Some(u) = env.uptime {
        o.key("uptime");
        push_uptime(o.out, u);
    }
    o.str("prefix", rec.prefix);
    o.str("in", rec.in_iface);
    o.str("out", rec.out_iface);
    if let Some(p) = rec.phys_in {
        o.str("physin", p);
    }
    if let Some(p) = rec.phys_out {
        o.str("physout", p);
    }
    match &rec.link {
        Link::Absent => {}
        Link::Mac { hex, tunnel } => {
            o.str("mac", hex);
            if let Some((a, b)) = tunnel {
                o.key("tunnel");
                o.out.push(b'"');
                push_ipv4(o.out, *a);
                o.out.extend_from_slice(b"->");
                push_ipv4(o.out, *b);
                o.out.push(b'"');
            }
        }
        Link::Decoded(m) => {
            o.mac("macsrc", &m.src);
            o.mac("macdst", &m.dst);
            o.opt_num("vproto", m.vproto);
            o.opt_num("vid", m.vid);
            o.num("macproto", m.proto);
        }
    }
    match &rec.l3 {
        L3::None => {}
        L3::Ip(p) => packet(&mut o, p),
        L3::Truncated => o.bool("truncated", true),
        L3::Arp(a) => {
            o.key("arp");
            let mut x = Obj::open(o.out);
            x.num("htype", a.htype);
            x.num("ptype", a.ptype);
            x.num("opcode", a.opcode);
            if let Some(p) = &a.payload {
                x.mac("macsrc", &p.mac_src);
                x.ip("ipsrc", IpAddr::V4(p.ip_src));
                x.mac("macdst", &p.mac_dst);
                x.ip("ipdst", IpAddr::V4(p.ip_dst));
            }
            x.opt_num("incomplete", a.incomplete);
            x.close();
        }
    }
    o.opt_num("uid", rec.uid);
    o.opt_num("gid", rec.gid);
    o.opt_num("mark", rec.mark);
    if rec.cut {
        o.bool("truncated", true);
    }
    if rec.dialect == Dialect::Ulogd {
        o.str("dialect", "ulogd");
    }
    o.close();
}

fn packet(o: &mut Obj<'_>, p: &Packet<'_>) {
    o.ip("src", p.src);
    o.ip("dst", p.dst);
    o.opt_num("len", p.len);
    match &p.ip {
        IpInfo::V4(h) => {
            o.opt_num("tos", h.tos);
            o.opt_num("prec", h.prec);
            o.opt_num("ttl", h.ttl);
            o.opt_num("id", h.id);
            if h.ce {
                o.bool("ce", true);
            }
            if h.df {
                o.bool("df", true);
            }
            if h.mf {
                o.bool("mf", true);
            }
            o.opt_num("frag", h.frag);
        }
        IpInfo::V6(h) => {
            o.opt_num("tc", h.tc);
            o.opt_num("hoplimit", h.hoplimit);
            o.opt_num("flowlbl", h.flowlbl);
            if let Some(f) = h.frag {
                o.num("frag", f.offset);
                if f.more {
                    o.bool("mf", true);
                }
                o.num("frag_id", f.id);
            }
            o.opt_num("spi", h.spi);
            o.opt_num("incomplete", h.incomplete);
            o.opt_num("unknown_ext", h.unknown_ext);
        }
    }
    if let Some(opt) = p.ip_opt {
        o.str("opt", opt);
    }
    match p.proto {
        Some(Proto::Other(n)) => o.num("proto", n),
        Some(pr) => o.str("proto", pr.name().unwrap_or_default()),
        None => {}
    }
    match &p.l4 {
        L4::None => {}
        L4::Incomplete(n) => o.opt_num("incomplete", *n),
        L4::Tcp(t) => {
            o.num("spt", t.spt);
            o.num("dpt", t.dpt);
            o.opt_num("seq", t.seq);
            o.opt_num("ack", t.ack);
            o.opt_num("window", t.window);
            o.opt_num("res", t.res);
            o.key("tcp_flags");
            o.out.push(b'[');
            let mut first = true;
            for (bit, name) in tcp_flags::KERNEL_ORDER {
                if t.flags & bit != 0 {
                    if !first {
                        o.out.push(b',');
                    }
                    first = false;
                    o.out.push(b'"');
                    o.out.extend_from_slice(name.as_bytes());
                    o.out.push(b'"');
                }
            }
            o.out.push(b']');
            o.opt_num("urgp", t.urgp);
            if let Some(opt) = t.opt {
                o.str("tcp_opt", opt);
            }
            if t.opt_truncated {
                o.str("tcp_opt", "TRUNCATED");
            }
        }
        L4::Udp(u) => {
            o.num("spt", u.spt);
            o.num("dpt", u.dpt);
            o.opt_num("udp_len", u.len);
        }
        L4::Ports(s, d) => {
            o.num("spt", *s);
            o.num("dpt", *d);
        }
        L4::Spi(s) => o.num("spi", *s),
        L4::Icmp(i) => {
            o.num("icmp_type", i.ty);
            o.num("icmp_code", i.code);
            o.opt_num("icmp_id", i.echo_id);
            o.opt_num("icmp_seq", i.echo_seq);
            o.opt_num("parameter", i.parameter);
            o.opt_num("pointer", i.pointer);
            if let Some(g) = i.gateway {
                o.ip("gateway", IpAddr::V4(g));
            }
            if let Some(inner) = &i.inner {
                o.key("inner");
                let mut x = Obj::open(o.out);
                packet(&mut x, inner);
                x.close();
            } else if i.inner_truncated {
                o.key("inner");
                o.out.extend_from_slice(b"{\"truncated\":true}");
            }
            o.opt_num("mtu", i.mtu);
            o.opt_num("incomplete", i.incomplete);
        }
    }
    if p.truncated {
        o.bool("truncated", true);
    }
}

/// An object being written: tracks whether a comma is due.
struct Obj<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Obj<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    fn close(self) {
        self.out.push(b'}');
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn num(&mut self, k: &str, v: impl Into<u64>) {
        self.key(k);
        push_u64(self.out, v.into());
    }

    fn opt_num<T: Into<u64>>(&mut self, k: &str, v: Option<T>) {
        if let Some(v) = v {
            self.num(k, v);
        }
    }

    fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        push_str(self.out, v);
    }

    fn ip(&mut self, k: &str, a: IpAddr) {
        self.key(k);
        self.out.push(b'"');
        match a {
            IpAddr::V4(v4) => push_ipv4(self.out, v4),
            // Display gives the RFC 5952 compressed form; writing to a Vec cannot fail.
            IpAddr::V6(v6) => {
                let _ = write!(self.out, "{v6}");
            }
        }
        self.out.push(b'"');
    }

    fn mac(&mut self, k: &str, m: &[u8; 6]) {
        self.key(k);
        self.out.push(b'"');
        push_mac(self.out, m);
        self.out.push(b'"');
    }
}

/// Appends a decimal integer.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or(&[]));
}

fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let start = out.len();
    push_u64(out, v);
    let n = out.len() - start;
    if n < width {
        out.splice(start..start, std::iter::repeat_n(b'0', width - n));
    }
}

/// Appends a JSON string literal.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F | 0x7F => b"",
            _ => continue,
        };
        out.extend_from_slice(b.get(start..i).unwrap_or(&[]));
        if esc.is_empty() {
            const HEXD: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEXD[usize::from(c >> 4)]);
            out.push(HEXD[usize::from(c & 0xF)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(b.get(start..).unwrap_or(&[]));
    out.push(b'"');
}

/// `"2026-08-30T16:28:09.123456+02:00"` in the stamp's own zone (`Z` for UTC).
pub(crate) fn push_ts(out: &mut Vec<u8>, t: Timestamp) {
    let local_us = t.unix_us + i64::from(t.offset_secs) * 1_000_000;
    let secs = local_us.div_euclid(1_000_000);
    let us = local_us.rem_euclid(1_000_000) as u64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u64;
    out.push(b'"');
    if y < 0 {
        out.push(b'-');
    }
    push_padded(out, y.unsigned_abs(), 4);
    out.push(b'-');
    push_padded(out, u64::from(m), 2);
    out.push(b'-');
    push_padded(out, u64::from(d), 2);
    out.push(b'T');
    push_padded(out, sod / 3600, 2);
    out.push(b':');
    push_padded(out, sod / 60 % 60, 2);
    out.push(b':');
    push_padded(out, sod % 60, 2);
    if t.frac_digits > 0 {
        let digits = u32::from(t.frac_digits.min(6));
        out.push(b'.');
        push_padded(out, us / 10u64.pow(6 - digits), digits as usize);
    }
    if t.offset_secs == 0 {
        out.push(b'Z');
    } else {
        let off = t.offset_secs.unsigned_abs();
        out.push(if t.offset_secs < 0 { b'-' } else { b'+' });
        push_padded(out, u64::from(off / 3600), 2);
        out.push(b':');
        push_padded(out, u64::from(off / 60 % 60), 2);
    }
    out.push(b'"');
}

fn push_uptime(out: &mut Vec<u8>, u: Uptime) {
    push_u64(out, u.secs);
    out.push(b'.');
    push_padded(out, u64::from(u.micros), 6);
}
