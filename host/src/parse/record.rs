//! The record grammar's top level: the `IN=… OUT=… ` anchor, the prefix before it, bridge
//! ports, link layer, ARP, the UID/GID/MARK tail, and the decision between "cut by the
//! kernel's log buffer" (kept, marked) and "damaged" (an error).

use memchr::memchr;

use super::cursor::Cursor;
use super::error::{ErrorKind, ParseError};
use super::event::{Arp, ArpPayload, Dialect, L3, Link, MacDecode, Packet, Record};
use super::{addr, ip};

/// The kernel's record buffer holds 1019 bytes including the 2-byte level marker; older
/// printk paths cut at ~989. A record whose last token breaks off at a length in this
/// window is taken as cut by the kernel, not damaged.
const CUT_WINDOW: std::ops::RangeInclusive<usize> = 960..=1024;

/// Longest prefix accepted. nftables allows 127 bytes, iptables 29; vendor front-ends
/// prepend their own text (UniFi `DESCR="…"`), so leave room.
const MAX_PREFIX: usize = 255;

/// Where a candidate `IN=` anchor stands.
enum Anchor<'a> {
    /// Not an anchor (`LOGIN=root`, `IN= foo`).
    No,
    /// Shaped like one but broken (bad interface name, line ends inside it).
    Damaged(ParseError),
    /// `IN=x OUT=y ` (also the 2.4-era `IN=x PHYSIN=p OUT=y `), body at `.3`.
    Yes(&'a str, &'a str, Option<&'a str>, usize),
}

fn iface<'a>(b: &'a [u8], at: usize, what: &'static str) -> Result<&'a str, ParseError> {
    let bad = || ParseError::new(ErrorKind::BadInterface(what), at);
    if b.len() > 15 || b.iter().any(|&c| matches!(c, b':' | b'/' | b'=')) {
        return Err(bad());
    }
    std::str::from_utf8(b).map_err(|_| ParseError::new(ErrorKind::InvalidUtf8(what), at))
}

/// Splits `b[at..]` (which starts with `IN=`) at the end of the next token.
fn tok_end(b: &[u8], from: usize) -> Option<usize> {
    memchr(b' ', b.get(from..)?).map(|i| from + i)
}

fn anchor(b: &[u8], at: usize) -> Anchor<'_> {
    let v = at + 3;
    let Some(e) = tok_end(b, v) else {
        return Anchor::No;
    };
    let mut rest = e + 1;
    let mut physin = None;
    if b.get(rest..).is_some_and(|r| r.starts_with(b"PHYSIN=")) {
        if let Some(pe) = tok_end(b, rest + 7)
            && b.get(pe + 1..).is_some_and(|r| r.starts_with(b"OUT="))
        {
            physin = Some((rest + 7, pe));
            rest = pe + 1;
        }
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
    let get = |s: usize, e: usize, what| iface(b.get(s..e).unwrap_or(&[]), s, what);
    let r = (|| {
        let i = get(v, e, "IN=")?;
        let o = get(ov, oe, "OUT=")?;
        let p = physin.map(|(s, e)| get(s, e, "PHYSIN=")).transpose()?;
        Ok((i, o, p))
    })();
    match r {
        Ok((i, o, p)) => Anchor::Yes(i, o, p, oe + 1),
        Err(e) => Anchor::Damaged(e),
    }
}

/// Finds and parses the record in `line[from..to]`. `Ok(None)`: there is none.
pub(crate) fn parse<'a>(
    line: &'a [u8],
    from: usize,
    to: usize,
) -> Result<Option<Record<'a>>, ParseError> {
    let hay = line.get(..to).unwrap_or(line);
    let mut search = from;
    let mut damaged = None;
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
            Anchor::Yes(in_iface, out_iface, physin, body) => {
                return record(hay, from, eq - 2, in_iface, out_iface, physin, body);
            }
        }
    }
    match damaged {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

fn record<'a>(
    hay: &'a [u8],
    from: usize,
    at: usize,
    in_iface: &'a str,
    out_iface: &'a str,
    phys_in: Option<&'a str>,
    body: usize,
) -> Result<Option<Record<'a>>, ParseError> {
    let prefix_bytes = hay.get(from..at).unwrap_or(&[]);
    if prefix_bytes.len() > MAX_PREFIX {
        return Err(ParseError::new(
            ErrorKind::PrefixTooLong(prefix_bytes.len()),
            from,
        ));
    }
    if glued(prefix_bytes) {
        return Err(ParseError::new(ErrorKind::GluedLines, from));
    }
    let prefix = std::str::from_utf8(prefix_bytes)
        .map_err(|e| ParseError::new(ErrorKind::InvalidUtf8("prefix"), from + e.valid_up_to()))?;
    if hay
        .get(body..)
        .is_some_and(|r| r.starts_with(b"MAC source = "))
    {
        return Ok(None); // ebtables --log: a different format, not a netfilter LOG record
    }
    let mut rec = Record {
        prefix,
        in_iface,
        out_iface,
        phys_in,
        ..Record::default()
    };
    let mut c = Cursor::new(hay, body);
    match body_and_tail(&mut c, &mut rec) {
        Ok(()) => Ok(Some(rec)),
        Err(e) if cut_by_kernel(hay, from, &e) => {
            rec.cut = true;
            Ok(Some(rec))
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
    while let Some(k) = prefix.get(i..).and_then(|r| memchr(b':', r)) {
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
    let name = iface(tok, at, what)?;
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
        let hex = std::str::from_utf8(hex).unwrap_or_default();
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
        let (src, dst) = ip::addrs(c)?;
        let mut p = Packet::new(src, dst);
        let r = ip::packet_rest(c, &mut p, 0, dialect);
        rec.l3 = L3::Ip(p);
        return r;
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
    // Nothing (or only the tail): a header-only record of an unknown ethertype.
    Ok(())
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
