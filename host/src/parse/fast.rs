//! Fast path for the usual IPv4 TCP/UDP packet text, in exactly the layout the kernel's
//! `dump_ipv4_packet` prints:
//! `SRC=a DST=b LEN=n TOS=0xHH PREC=0xHH TTL=n ID=n [CE ][DF ][MF ]PROTO=TCP SPT=n DPT=n
//! WINDOW=n RES=0xHH [flags ]URGP=n ` (or `PROTO=UDP SPT=n DPT=n LEN=n `).
//!
//! It reads with `Option`s instead of `Result`s, checks each separator with one compare
//! and builds the packet once, in place. On any surprise (another field, another order,
//! a number out of range, IPv6, ulogd's dialect, the end of the line) it gives up without
//! consuming anything, and the general parser (`ip`, `transport`) reads the packet again:
//! every input the fast path accepts, the general parser reads to the same packet.

use std::net::{IpAddr, Ipv4Addr};

use super::addr::ipv4_prefix;
use super::cursor::{Cursor, HEX};
use super::event::{IpInfo, Ipv4Info, L3, L4, Packet, Proto, Tcp, Udp};
use super::transport::flag_word;

/// A position in the rest of the record; every read returns `None` on a surprise.
struct Fast<'a> {
    b: &'a [u8],
    i: usize,
}

impl Fast<'_> {
    #[inline(always)]
    fn lit<const N: usize>(&mut self, lit: &[u8; N]) -> Option<()> {
        let head = self.b.get(self.i..)?.first_chunk::<N>()?;
        if head != lit {
            return None;
        }
        self.i += N;
        Some(())
    }

    /// `w` followed by a space (both consumed).
    #[inline(always)]
    fn word(&mut self, w: &[u8; 2]) -> bool {
        match self.b.get(self.i..).and_then(<[u8]>::first_chunk::<3>) {
            Some(&[a, b, b' ']) if [a, b] == *w => {
                self.i += 3;
                true
            }
            _ => false,
        }
    }

    /// 1-9 decimal digits (the general reader's overflow-free range), then a space or,
    /// when `end_ok`, the end of the line.
    #[inline(always)]
    fn dec(&mut self, end_ok: bool) -> Option<u32> {
        let r = self.b.get(self.i..)?;
        let mut v: u32 = 0;
        let mut n = 0;
        loop {
            match r.get(n) {
                Some(&c) if c.is_ascii_digit() => {
                    if n == 9 {
                        return None;
                    }
                    v = v * 10 + u32::from(c - b'0');
                    n += 1;
                }
                Some(b' ') if n > 0 => {
                    self.i += n + 1;
                    return Some(v);
                }
                None if n > 0 && end_ok => {
                    self.i += n;
                    return Some(v);
                }
                _ => return None,
            }
        }
    }

    #[inline(always)]
    fn dec16(&mut self, end_ok: bool) -> Option<u16> {
        u16::try_from(self.dec(end_ok)?).ok()
    }

    /// 1-2 hex digits and a space: a byte.
    #[inline(always)]
    fn hex8(&mut self) -> Option<u8> {
        let r = self.b.get(self.i..)?;
        let hex = |c: &u8| HEX[usize::from(*c)];
        let (v, n) = match r {
            [h, l, b' ', ..] if hex(h) | hex(l) < 16 => (hex(h) << 4 | hex(l), 2),
            [h, b' ', ..] if hex(h) < 16 => (hex(h), 1),
            _ => return None,
        };
        self.i += n + 1;
        Some(v)
    }

    /// An IPv4 address and a space.
    #[inline(always)]
    fn ipv4(&mut self) -> Option<Ipv4Addr> {
        let r = self.b.get(self.i..)?;
        let (a, n) = match r.first_chunk::<16>() {
            Some(w) => quad16(w)?,
            None => ipv4_prefix(r)?,
        };
        if r.get(n) != Some(&b' ') {
            return None;
        }
        self.i += n + 1;
        Some(a)
    }
}

/// `ipv4_prefix` over a 16-byte window (a dotted quad and what follows it take at most
/// 16): the same grammar, with every index masked into the window so no read is checked.
#[inline(always)]
fn quad16(w: &[u8; 16]) -> Option<(Ipv4Addr, usize)> {
    let digit = |i: usize| w[i & 15].wrapping_sub(b'0');
    let mut oct = [0u8; 4];
    let mut i = 0;
    for (k, o) in oct.iter_mut().enumerate() {
        if k > 0 {
            if w[i & 15] != b'.' {
                return None;
            }
            i += 1;
        }
        let d = digit(i);
        if d > 9 {
            return None;
        }
        let mut v = u16::from(d);
        i += 1;
        let d = digit(i);
        if d <= 9 {
            v = v * 10 + u16::from(d);
            i += 1;
            let d = digit(i);
            if d <= 9 {
                v = v * 10 + u16::from(d);
                i += 1;
            }
        }
        *o = u8::try_from(v).ok()?;
    }
    Some((Ipv4Addr::from(oct), i))
}

/// Reads the packet after `SRC=` into `l3` when it has the usual kernel layout; returns
/// false (cursor and `l3` untouched) otherwise.
pub(crate) fn ipv4_packet<'a>(c: &mut Cursor<'a>, l3: &mut L3<'a>) -> bool {
    let mut f = Fast { b: c.rest(), i: 0 };
    let Some(()) = packet(&mut f, l3) else {
        return false;
    };
    c.advance(f.i);
    true
}

fn packet<'a>(f: &mut Fast<'a>, l3: &mut L3<'a>) -> Option<()> {
    let src = f.ipv4()?;
    f.lit(b"DST=")?;
    let dst = f.ipv4()?;
    f.lit(b"LEN=")?;
    let len = f.dec(false)?;
    f.lit(b"TOS=0x")?;
    let tos = f.hex8()?;
    f.lit(b"PREC=0x")?;
    let prec = f.hex8()?;
    f.lit(b"TTL=")?;
    let ttl = u8::try_from(f.dec(false)?).ok()?;
    f.lit(b"ID=")?;
    let id = f.dec16(false)?;
    let ce = f.word(b"CE");
    let df = f.word(b"DF");
    let mf = f.word(b"MF");
    f.lit(b"PROTO=")?;
    let (proto, l4) = if f.lit(b"TCP ").is_some() {
        (Proto::Tcp, L4::Tcp(tcp(f)?))
    } else if f.lit(b"UDP ").is_some() {
        f.lit(b"SPT=")?;
        let spt = f.dec16(false)?;
        f.lit(b"DPT=")?;
        let dpt = f.dec16(false)?;
        f.lit(b"LEN=")?;
        let len = f.dec16(true)?;
        (
            Proto::Udp,
            L4::Udp(Udp {
                spt,
                dpt,
                len: Some(len),
            }),
        )
    } else {
        return None;
    };
    *l3 = L3::Ip(Packet {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        len: Some(len),
        ip: IpInfo::V4(Ipv4Info {
            tos: Some(tos),
            prec: Some(prec),
            ttl: Some(ttl),
            id: Some(id),
            ce,
            df,
            mf,
            frag: None,
        }),
        proto: Some(proto),
        l4,
        ip_opt: None,
        truncated: false,
    });
    Some(())
}

/// `SPT= DPT= WINDOW= RES= [flags ]URGP=`, without `SEQ=`/`ACK=` or options.
fn tcp<'a>(f: &mut Fast<'a>) -> Option<Tcp<'a>> {
    f.lit(b"SPT=")?;
    let spt = f.dec16(false)?;
    f.lit(b"DPT=")?;
    let dpt = f.dec16(false)?;
    f.lit(b"WINDOW=")?;
    let window = f.dec16(false)?;
    f.lit(b"RES=0x")?;
    let res = f.hex8()?;
    // Flag words in the kernel's order, each followed by a space.
    let mut flags = 0;
    let mut next = 0;
    while let Some(r) = f.b.get(f.i..)
        && let Some((rank, bit, n)) = flag_word(r)
    {
        if rank < next || r.get(n) != Some(&b' ') {
            return None;
        }
        flags |= bit;
        f.i += n + 1;
        next = rank + 1;
    }
    f.lit(b"URGP=")?;
    let urgp = f.dec16(true)?;
    if f.b.get(f.i..).is_some_and(|r| r.starts_with(b"OPT (")) {
        return None;
    }
    Some(Tcp {
        spt,
        dpt,
        seq: None,
        ack: None,
        window: Some(window),
        res: Some(res),
        flags,
        urgp: Some(urgp),
        opt: None,
        opt_truncated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::event::Dialect;
    use super::super::ip;
    use super::*;

    /// The general parser's reading of a packet text: the packet and where it stopped.
    fn general(b: &[u8]) -> Option<(Packet<'_>, usize)> {
        let mut c = Cursor::new(b, 0);
        let (src, dst) = ip::addrs(&mut c).ok()?;
        let mut p = Packet::new(src, dst);
        let mut dialect = Dialect::Kernel;
        ip::packet_rest(&mut c, &mut p, 0, &mut dialect).ok()?;
        (dialect == Dialect::Kernel).then_some((p, c.pos()))
    }

    fn fast(b: &[u8]) -> Option<(Packet<'_>, usize)> {
        let mut c = Cursor::new(b, 0);
        let mut l3 = L3::None;
        if !ipv4_packet(&mut c, &mut l3) {
            assert_eq!(c.pos(), 0, "a refusal consumes nothing");
            return None;
        }
        match l3 {
            L3::Ip(p) => Some((p, c.pos())),
            _ => panic!("fast path accepted without a packet"),
        }
    }

    /// Every input the fast path accepts, the general parser reads the same way: checked on
    /// kernel lines, each of their truncations and each single-byte substitution.
    #[test]
    fn agrees_with_the_general_parser() {
        let bases: [&[u8]; 6] = [
            b"218.92.229.238 DST=185.102.48.147 LEN=60 TOS=0x00 PREC=0x00 TTL=104 ID=42795 DF PROTO=TCP SPT=58773 DPT=443 WINDOW=64240 RES=0x00 SYN URGP=0 ",
            b"10.0.0.1 DST=10.0.0.255 LEN=78 TOS=0x10 PREC=0xC0 TTL=64 ID=0 CE DF MF PROTO=UDP SPT=137 DPT=137 LEN=58 ",
            b"1.2.3.4 DST=5.6.7.8 LEN=40 TOS=0x0 PREC=0x20 TTL=1 ID=65535 PROTO=TCP SPT=1 DPT=65535 WINDOW=0 RES=0x00 AE CWR ECE URG ACK PSH RST SYN FIN URGP=65535",
            b"1.2.3.4 DST=5.6.7.8 LEN=52 TOS=0x00 PREC=0x00 TTL=50 ID=7 DF PROTO=TCP SPT=443 DPT=5000 WINDOW=501 RES=0x00 ACK URGP=0 OPT (0101080A) UID=0",
            b"192.168.100.200 DST=8.8.8.8 LEN=999999999 TOS=0x00 PREC=0x00 TTL=255 ID=1 PROTO=UDP SPT=53 DPT=53 LEN=12",
            b"1.2.3.4 DST=5.6.7.8 LEN=40 TOS=0x00 PREC=0x00 TTL=9 ID=3 PROTO=TCP SPT=1 DPT=2 WINDOW=3 RES=0x00 SYN ACK URGP=0 ",
        ];
        let subs = b"0123456789abfxAFX .:=- )(SYNACKURGP";
        let mut accepted = 0;
        let mut check = |b: &[u8]| {
            if let Some(f) = fast(b) {
                accepted += 1;
                assert_eq!(Some(f), general(b), "{}", String::from_utf8_lossy(b));
            }
        };
        for base in bases {
            for n in 0..=base.len() {
                check(&base[..n]);
            }
            for i in 0..base.len() {
                for &s in subs {
                    let mut b = base.to_vec();
                    b[i] = s;
                    check(&b);
                }
            }
        }
        assert!(accepted > 1000, "the fast path took only {accepted} inputs");
    }
}
