//! A compact one-line human rendering of an event (`portcullis parse --format text`).
//!
//! `2026-08-30T16:28:09Z bond0> TCP 1.2.3.4:5678 > 10.0.0.1:443 SYN len=60 ttl=48 "HTTPS-443 inbound:"`

use std::io::Write as _;

use portcullis_abi::tcp_flags;

use super::event::{Event, L3, L4, Proto};
use super::json::{push_str, push_ts};

/// Appends the text form of `ev` (no trailing newline).
pub fn write_text(ev: &Event<'_>, out: &mut Vec<u8>) {
    if let Some(t) = ev.envelope.time {
        // Reuse the JSON stamp without its quotes.
        let start = out.len();
        push_ts(out, t);
        out.remove(start);
        out.pop();
        out.push(b' ');
    }
    let rec = &ev.record;
    let _ = write!(out, "{}>{} ", rec.in_iface, rec.out_iface);
    match &rec.l3 {
        L3::None => out.extend_from_slice(b"-"),
        L3::Truncated => out.extend_from_slice(b"TRUNCATED"),
        L3::Arp(a) => {
            let _ = write!(out, "ARP op={}", a.opcode);
            if let Some(p) = &a.payload {
                let _ = write!(out, " {} > {}", p.ip_src, p.ip_dst);
            }
        }
        L3::Ip(p) => {
            match p.proto {
                Some(Proto::Other(n)) => {
                    let _ = write!(out, "PROTO={n}");
                }
                Some(pr) => out.extend_from_slice(pr.name().unwrap_or_default().as_bytes()),
                None => out.extend_from_slice(b"IP"),
            }
            match p.ports() {
                Some((s, d)) => {
                    let _ = write!(out, " {}:{s} > {}:{d}", fmt_ip(p.src), fmt_ip(p.dst));
                }
                None => {
                    let _ = write!(out, " {} > {}", p.src, p.dst);
                }
            }
            match &p.l4 {
                L4::Tcp(t) => {
                    for (bit, name) in tcp_flags::KERNEL_ORDER {
                        if t.flags & bit != 0 {
                            out.push(b' ');
                            out.extend_from_slice(name.as_bytes());
                        }
                    }
                }
                L4::Icmp(i) => {
                    let _ = write!(out, " type={} code={}", i.ty, i.code);
                }
                _ => {}
            }
            if let Some(len) = p.len {
                let _ = write!(out, " len={len}");
            }
            if let Some(ttl) = p.ttl() {
                let _ = write!(out, " ttl={ttl}");
            }
        }
    }
    if ev.truncated() {
        out.extend_from_slice(b" (truncated)");
    }
    if !rec.prefix.is_empty() {
        out.push(b' ');
        push_str(out, rec.prefix.trim_end());
    }
}

fn fmt_ip(a: std::net::IpAddr) -> String {
    match a {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    }
}
