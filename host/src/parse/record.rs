//! The record grammar's top level: the `IN=… OUT=… ` anchor, the prefix before it, bridge
//! ports, link layer, ARP, the UID/GID/MARK tail, and the decision between "cut by the
//! kernel's log buffer" (kept, marked) and "damaged" (an error).

use memchr::memchr;

use super::cursor::{Cursor, utf8};
use super::error::{ErrorKind, ParseError};
use super::event::{Arp, ArpPayload, Dialect, L3, Link, MacDecode, Packet, Record};
use super::{addr, fast, ip};

/// The kernel's record buffer holds 1019 bytes including the 2-byte level marker; older
/// printk paths cut at ~989. A record whose last token breaks off at a length in this
/// window is taken as cut by the kernel, not damaged.
const CUT_WINDOW: std::ops::RangeInclusive<usize> = 960..=1024;

/// Longest prefix accepted. nftables allows 127 bytes, iptables 29; vendor front-ends
/// prepend their own text (UniFi `DESCR="…"`), so leave room.
const MAX_PREFIX: usize = 255;

/// Byte range of a name in the line.
type Span = (usize, usize);

/// Where a candidate `IN=` anchor stands.
enum Anchor {
    /// Not an anchor (`LOGIN=root`, `IN= foo`).
    No,
    /// Shaped like one but broken (bad interface name, line ends inside it).
    Damaged(ParseError),
    /// `IN=x OUT=y ` (also the 2.4-era `IN=x PHYSIN=p OUT=y `).
    Yes {
        in_iface: Span,
        out_iface: Span,
        phys_in: Option<Span>,
        body: usize,
    },
}

/// Interface names: at most 15 bytes, none of `:` `/` `=` (the kernel's `dev_valid_name`).
fn check_iface(b: &[u8], span: Span, what: &'static str) -> Result<(), ParseError> {
    let name = b.get(span.0..span.1).unwrap_or(&[]);
    if name.len() > 15 || name.iter().any(|&c| matches!(c, b':' | b'/' | b'=')) {
        return Err(ParseError::new(ErrorKind::BadInterface(what), span.0));
    }
    Ok(())
}

/// Index of the next space at or after `from`. Tokens are short: a plain loop.
fn tok_end(b: &[u8], from: usize) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&c| c == b' ')
        .map(|i| from + i)
}

fn anchor(b: &[u8], at: usize) -> Anchor {
    let v = at + 3;
    let Some(e) = tok_end(b, v) else {
        // The line ends inside `IN=…`: a cut record if `IN=` starts a word or follows a
        // typical prefix end (`LOGIN=root` at the end of an sshd line does not).
        let starts_word = at == 0 || matches!(b.get(at - 1), Some(b' ' | b']' | b':'));
        return if starts_word {
            Anchor::Damaged(ParseError::new(ErrorKind::UnexpectedEnd("OUT="), b.len()))
        } else {
            Anchor::No
        };
    };
    let mut rest = e + 1;
    let mut phys_in = None;
    if b.get(rest..).is_some_and(|r| r.starts_with(b"PHYSIN="))
        && let Some(pe) = tok_end(b, rest + 7)
        && b.get(pe + 1..).is_some_and(|r| r.starts_with(b"OUT="))
    {
        phys_in = Some((rest + 7, pe));
        rest = pe + 1;
    }
    let tail = b.get(rest..).unwrap_or(&[]);
    if !tail.starts_with(b"OUT=") {
        if !tail.is_empty() && b"OUT=".starts_with(tail) {
            return Anchor::Damaged(ParseError::new(ErrorKind::UnexpectedEnd("OUT="), rest));
        }
        return Anchor::No;
    }
    let ov = rest + 4;
    let Some(oe) = tok_end(b, ov) else {
        return Anchor::Damaged(ParseError::new(
            ErrorKind::UnexpectedEnd("record body"),
            b.len(),
        ));
    };
    let checked = check_iface(b, (v, e), "IN=")
        .and_then(|()| check_iface(b, (ov, oe), "OUT="))
        .and_then(|()| phys_in.map_or(Ok(()), |p| check_iface(b, p, "PHYSIN=")));
    match checked {
        Ok(()) => Anchor::Yes {
            in_iface: (v, e),
            out_iface: (ov, oe),
            phys_in,
            body: oe + 1,
        },
        Err(e) => Anchor::Damaged(e),
    }
}

/// Finds the record in `line[from..to]` and parses it into `rec`. `Ok(false)`: there is
/// none.
pub(crate) fn parse<'a>(
    line: &'a [u8],
    from: usize,
    to: usize,
    rec: &mut Record<'a>,
) -> Result<bool, ParseError> {
    let hay = line.get(..to).unwrap_or(line);
    let mut search = from;
    let mut damaged = None;
    // The prefix is short and rarely holds `=`, so the first `=` is usually `IN=`'s.
    // (`memchr`: a byte loop over the wrapper and prefix was ~4% of the parse.)
    while let Some(i) = hay.get(search..).and_then(|r| memchr(b'=', r)) {
        let eq = search + i;
        search = eq + 1;
        if eq < from + 2 || hay.get(eq - 2..eq) != Some(b"IN") {
            continue;
        }
        match anchor(hay, eq - 2) {
            Anchor::No => {}
            Anchor::Damaged(e) => {
                damaged.get_or_insert(e);
            }
            Anchor::Yes {
                in_iface,
                out_iface,
                phys_in,
                body,
            } => {
                let head = Head {
                    from,
                    at: eq - 2,
                    in_iface,
                    out_iface,
                    phys_in,
                    body,
                };
                return record(hay, &head, rec);
            }
        }
    }
    match damaged {
        Some(e) => Err(e),
        None => Ok(false),
    }
}

/// Positions of the prefix, anchor and body.
struct Head {
    from: usize,
    at: usize,
    in_iface: Span,
    out_iface: Span,
    phys_in: Option<Span>,
    body: usize,
}

fn record<'a>(hay: &'a [u8], h: &Head, rec: &mut Record<'a>) -> Result<bool, ParseError> {
    let prefix_bytes = hay.get(h.from..h.at).unwrap_or(&[]);
    if prefix_bytes.len() > MAX_PREFIX {
        return Err(ParseError::new(
            ErrorKind::PrefixTooLong(prefix_bytes.len()),
            h.from,
        ));
    }
    if glued(prefix_bytes) {
        return Err(ParseError::new(ErrorKind::GluedLines, h.from));
    }
    if damaged_uptime(prefix_bytes) {
        return Err(ParseError::new(
            ErrorKind::BadTimestamp("printk uptime"),
            h.from,
        ));
    }
    if hay
        .get(h.body..)
        .is_some_and(|r| r.starts_with(b"MAC source = "))
    {
        return Ok(false); // ebtables --log: a different format, not a netfilter LOG record
    }
    // One UTF-8 validation covers the prefix and the interface names.
    let head = utf8(hay.get(h.from..h.body).unwrap_or(&[])).map_err(|e| {
        let at = h.from + e.valid_up_to();
        let what = if at < h.at {
            "prefix"
        } else {
            "interface name"
        };
        ParseError::new(ErrorKind::InvalidUtf8(what), at)
    })?;
    let name = |s: Span| head.get(s.0 - h.from..s.1 - h.from).unwrap_or_default();
    rec.prefix = head.get(..h.at - h.from).unwrap_or_default();
    rec.in_iface = name(h.in_iface);
    rec.out_iface = name(h.out_iface);
    rec.phys_in = h.phys_in.map(name);
    let mut c = Cursor::new(hay, h.body);
    match body_and_tail(&mut c, rec) {
        Ok(()) => Ok(true),
        Err(e) if cut_by_kernel(hay, h.from, &e) => {
            rec.cut = true;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// The failing token is the last one and the record has the length of a full kernel
/// buffer: the kernel cut it.
fn cut_by_kernel(hay: &[u8], from: usize, e: &ParseError) -> bool {
    let len = hay.len().saturating_sub(from);
    CUT_WINDOW.contains(&len)
        && hay
            .get(e.offset..)
            .is_some_and(|r| memchr(b' ', r).is_none())
}

/// A `hh:mm:ss` inside the prefix means another line's syslog header: a lost newline.
fn glued(prefix: &[u8]) -> bool {
    let mut i = 0;
    while let Some(k) = prefix
        .get(i..)
        .and_then(|r| r.iter().position(|&c| c == b':'))
    {
        let p = i + k;
        i = p + 1;
        let d = |j: usize| prefix.get(j).is_some_and(u8::is_ascii_digit);
        if p >= 2
            && d(p - 2)
            && d(p - 1)
            && d(p + 1)
            && d(p + 2)
            && prefix.get(p + 3) == Some(&b':')
            && d(p + 4)
            && d(p + 5)
        {
            return true;
        }
    }
    false
}

/// A prefix that starts like a printk `[uptime]` (`[12345.6`) but is not one: the
/// wrapper was damaged (a valid stamp would have been taken by the envelope).
fn damaged_uptime(prefix: &[u8]) -> bool {
    let digits = prefix
        .iter()
        .skip(1)
        .take_while(|b| b.is_ascii_digit() || **b == b' ')
        .count();
    prefix.first() == Some(&b'[') && digits > 0 && prefix.get(1 + digits) == Some(&b'.')
}

fn body_and_tail<'a>(c: &mut Cursor<'a>, rec: &mut Record<'a>) -> Result<(), ParseError> {
    if rec.phys_in.is_none() && c.eat(b"PHYSIN=") {
        rec.phys_in = Some(phys(c, "PHYSIN=")?);
    }
    if c.eat(b"PHYSOUT=") {
        rec.phys_out = Some(phys(c, "PHYSOUT=")?);
    }
    link(c, rec)?;
    let mut dialect = Dialect::Kernel;
    let r = l3(c, rec, &mut dialect);
    rec.dialect = dialect;
    r?;
    tail(c, rec)?;
    while matches!(c.peek(), Some(b' ' | b'\t' | b'\r')) {
        c.advance(1);
    }
    if c.at_end() {
        Ok(())
    } else {
        Err(c.err(ErrorKind::TrailingGarbage))
    }
}

fn phys<'a>(c: &mut Cursor<'a>, what: &'static str) -> Result<&'a str, ParseError> {
    let at = c.pos();
    let tok = c.token();
    check_iface(c.rest(), (0, tok.len()), what).map_err(|e| ParseError::new(e.kind, at))?;
    let name = utf8(tok).map_err(|_| ParseError::new(ErrorKind::InvalidUtf8(what), at))?;
    c.advance(tok.len());
    c.sep(what)?;
    Ok(name)
}

fn link<'a>(c: &mut Cursor<'a>, rec: &mut Record<'a>) -> Result<(), ParseError> {
    if c.eat(b"MAC=") {
        let at = c.pos();
        let n = addr::mac_run(c.rest());
        let hex = c.rest().get(..n).unwrap_or(&[]);
        c.advance(n);
        let mut tunnel = None;
        if c.eat(b" TUNNEL=") {
            let a = c.ipv4("TUNNEL")?;
            c.expect(b"->", "-> in TUNNEL=")?;
            tunnel = Some((a, c.ipv4("TUNNEL")?));
        }
        match c.peek() {
            Some(b' ') => c.advance(1),
            None => {}
            Some(_) => return Err(c.err_at(ErrorKind::BadMac("MAC="), at)),
        }
        // Hex pairs and colons are ASCII.
        let hex = utf8(hex).unwrap_or_default();
        rec.link = Link::Mac { hex, tunnel };
    } else if c.eat(b"MACSRC=") {
        let src = c.mac("MACSRC")?;
        c.expect(b"MACDST=", "MACDST=")?;
        let dst = c.mac("MACDST")?;
        let (mut vproto, mut vid) = (None, None);
        if c.eat(b"VPROTO=") {
            vproto = Some(hex16(c, "VPROTO")?);
            c.sep("VPROTO")?;
            c.expect(b"VID=", "VID=")?;
            vid = Some(c.dec_u16("VID")?);
            c.sep("VID")?;
        }
        c.expect(b"MACPROTO=", "MACPROTO=")?;
        let proto = hex16(c, "MACPROTO")?;
        c.sep("MACPROTO")?;
        rec.link = Link::Decoded(MacDecode {
            src,
            dst,
            vproto,
            vid,
            proto,
        });
    }
    Ok(())
}

fn hex16(c: &mut Cursor<'_>, what: &'static str) -> Result<u16, ParseError> {
    let at = c.pos();
    let v = c.hex(what)?;
    u16::try_from(v).map_err(|_| c.err_at(ErrorKind::OutOfRange(what), at))
}

fn l3<'a>(
    c: &mut Cursor<'a>,
    rec: &mut Record<'a>,
    dialect: &mut Dialect,
) -> Result<(), ParseError> {
    if c.eat(b"SRC=") {
        if fast::ipv4_packet(c, &mut rec.l3) {
            return Ok(());
        }
        let (src, dst) = ip::addrs(c)?;
        rec.l3 = L3::Ip(Packet::new(src, dst));
        if let L3::Ip(p) = &mut rec.l3 {
            return ip::packet_rest(c, p, 0, dialect);
        }
        return Ok(());
    }
    if c.eat(b"ARP HTYPE=") {
        let mut a = Arp::default();
        let r = arp(c, &mut a);
        rec.l3 = L3::Arp(a);
        return r;
    }
    if c.eat(b"TRUNCATED") {
        rec.l3 = L3::Truncated;
        return Ok(());
    }
    let r = c.rest();
    if !r.is_empty() && (b"SRC=".starts_with(r) || b"ARP HTYPE=".starts_with(r)) {
        return Err(c.err(ErrorKind::UnexpectedEnd("SRC= or ARP")));
    }
    // Nothing: only the netdev/bridge logger's header-only record for an ethertype it
    // does not decode, which always carries the link layer. A MAC that shows IPv4, IPv6 or
    // ARP (or no/partial link layer) means the line was cut.
    if header_only_allowed(&rec.link) {
        Ok(())
    } else {
        Err(c.err(ErrorKind::UnexpectedEnd("SRC= or ARP")))
    }
}

/// Ethertypes the kernel decodes (IPv4, ARP, RARP, IPv6): a record never stops after them.
fn decoded_ethertype(t: u16) -> bool {
    matches!(t, 0x0800 | 0x0806 | 0x8035 | 0x86dd)
}

fn header_only_allowed(link: &Link<'_>) -> bool {
    match link {
        Link::Absent => false,
        Link::Decoded(m) => !decoded_ethertype(m.proto),
        Link::Mac { hex, .. } => {
            // 14 bytes = 41 characters; the ethertype is bytes 12..14.
            let b = hex.as_bytes();
            let byte = |i: usize| {
                b.get(i * 3..i * 3 + 2)
                    .and_then(|p| std::str::from_utf8(p).ok())
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
            };
            match (b.len() >= 41, byte(12), byte(13)) {
                (true, Some(hi), Some(lo)) => !decoded_ethertype(u16::from_be_bytes([hi, lo])),
                _ => false,
            }
        }
    }
}

fn arp(c: &mut Cursor<'_>, a: &mut Arp) -> Result<(), ParseError> {
    a.htype = c.dec_u16("HTYPE")?;
    c.expect(b" PTYPE=0x", "PTYPE=")?;
    a.ptype = hex16(c, "PTYPE")?;
    c.expect(b" OPCODE=", "OPCODE=")?;
    a.opcode = c.dec_u16("OPCODE")?;
    if c.eat(b" MACSRC=") {
        let mac_src = c.mac("ARP MACSRC")?;
        c.expect(b"IPSRC=", "IPSRC=")?;
        let ip_src = c.ipv4("IPSRC")?;
        c.sep("IPSRC")?;
        c.expect(b"MACDST=", "MACDST=")?;
        let mac_dst = c.mac("ARP MACDST")?;
        c.expect(b"IPDST=", "IPDST=")?;
        let ip_dst = c.ipv4("IPDST")?;
        a.payload = Some(ArpPayload {
            mac_src,
            ip_src,
            mac_dst,
            ip_dst,
        });
    } else if c.eat(b" INCOMPLETE [") {
        a.incomplete = Some(c.dec("INCOMPLETE")?);
        c.expect(b" bytes]", "` bytes]`")?;
    }
    Ok(())
}

/// `[UID=u GID=g ][MARK=0x… ]` (ulogd: UID and GID separately, MARK with or without 0x).
fn tail(c: &mut Cursor<'_>, rec: &mut Record<'_>) -> Result<(), ParseError> {
    if c.eat(b"UID=") {
        rec.uid = Some(c.dec("UID")?);
        c.sep("UID")?;
    }
    if c.eat(b"GID=") {
        rec.gid = Some(c.dec("GID")?);
        c.sep("GID")?;
    }
    if c.eat(b"MARK=") {
        if !c.eat(b"0x") {
            rec.dialect = Dialect::Ulogd;
        }
        rec.mark = Some(c.hex("MARK")?);
        c.sep("MARK")?;
    }
    Ok(())
}
