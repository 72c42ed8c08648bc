//! IPv4 and IPv6 packet text (`dump_ipv4_packet`, `dump_ipv6_packet`): addresses, header
//! fields, IPv4 flags/fragment/options and the IPv6 extension-header walk.
//!
//! The same functions read the outer packet and the one quoted inside an ICMP error
//! (`depth` 1); the fields are filled in as they are read, so a packet cut short keeps
//! everything before the cut.

use std::net::IpAddr;

use super::cursor::Cursor;
use super::error::{ErrorKind, ParseError};
use super::event::{Dialect, IpInfo, Ipv4Info, Ipv6Frag, Ipv6Info, Packet};
use super::transport;

/// `SRC=a DST=b ` of one family; the cursor stands after `SRC=`.
pub(crate) fn addrs(c: &mut Cursor<'_>) -> Result<(IpAddr, IpAddr), ParseError> {
    let src = c.ip("SRC")?;
    c.expect(b"DST=", "DST=")?;
    let at = c.pos();
    let dst = c.ip("DST")?;
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(c.err_at(ErrorKind::Expected("SRC and DST of the same family"), at));
    }
    Ok((src, dst))
}

/// Everything after `SRC= DST=`.
pub(crate) fn packet_rest<'a>(
    c: &mut Cursor<'a>,
    p: &mut Packet<'a>,
    depth: u8,
    dialect: &mut Dialect,
) -> Result<(), ParseError> {
    match p.ip {
        IpInfo::V4(_) => {
            let mut h = Ipv4Info::default();
            let r = v4(c, p, &mut h, depth, dialect);
            p.ip = IpInfo::V4(h);
            r
        }
        IpInfo::V6(_) => {
            let mut h = Ipv6Info::default();
            let r = v6(c, p, &mut h, depth, dialect);
            p.ip = IpInfo::V6(h);
            r
        }
    }
}

fn v4<'a>(
    c: &mut Cursor<'a>,
    p: &mut Packet<'a>,
    h: &mut Ipv4Info,
    depth: u8,
    dialect: &mut Dialect,
) -> Result<(), ParseError> {
    c.expect(b"LEN=", "LEN=")?;
    p.len = Some(c.dec("LEN")?);
    c.sep("LEN")?;
    c.expect(b"TOS=", "TOS=")?;
    if !c.eat(b"0x") {
        // ulogd prints `TOS=%02X` without the 0x.
        *dialect = Dialect::Ulogd;
    }
    h.tos = Some(byte(c, "TOS")?);
    c.sep("TOS")?;
    c.expect(b"PREC=0x", "PREC=")?;
    h.prec = Some(byte(c, "PREC")?);
    c.sep("PREC")?;
    c.expect(b"TTL=", "TTL=")?;
    h.ttl = Some(c.dec_u8("TTL")?);
    c.sep("TTL")?;
    c.expect(b"ID=", "ID=")?;
    h.id = Some(c.dec_u16("ID")?);
    c.sep("ID")?;
    h.ce = c.eat_word(b"CE");
    h.df = c.eat_word(b"DF");
    h.mf = c.eat_word(b"MF");
    if c.eat(b"FRAG:") {
        h.frag = Some(c.dec_u16("FRAG")?);
        c.sep("FRAG")?;
    }
    if c.eat(b"OPT (") {
        p.ip_opt = Some(c.hex_run("OPT")?);
        c.expect(b")", "`)` closing OPT")?;
        c.sep("OPT")?;
    } else if c.eat(b"TRUNCATED") {
        p.truncated = true;
        return Ok(());
    }
    let fragment = h.frag.is_some_and(|f| f != 0);
    if !transport::proto_part(c, p, fragment, depth, dialect)? && !fragment {
        // Only a non-first AH fragment has no PROTO= at all.
        return Err(if c.at_end() {
            c.err(ErrorKind::UnexpectedEnd("PROTO="))
        } else {
            c.err(ErrorKind::Expected("PROTO="))
        });
    }
    Ok(())
}

/// Two hex digits (TOS, PREC).
fn byte(c: &mut Cursor<'_>, what: &'static str) -> Result<u8, ParseError> {
    let at = c.pos();
    let v = c.hex(what)?;
    u8::try_from(v).map_err(|_| c.err_at(ErrorKind::OutOfRange(what), at))
}

fn v6<'a>(
    c: &mut Cursor<'a>,
    p: &mut Packet<'a>,
    h: &mut Ipv6Info,
    depth: u8,
    dialect: &mut Dialect,
) -> Result<(), ParseError> {
    c.expect(b"LEN=", "LEN=")?;
    p.len = Some(c.dec("LEN")?);
    c.sep("LEN")?;
    c.expect(b"TC=", "TC=")?;
    h.tc = Some(c.dec_u8("TC")?);
    c.sep("TC")?;
    c.expect(b"HOPLIMIT=", "HOPLIMIT=")?;
    h.hoplimit = Some(c.dec_u8("HOPLIMIT")?);
    c.sep("HOPLIMIT")?;
    c.expect(b"FLOWLBL=", "FLOWLBL=")?;
    h.flowlbl = Some(c.dec("FLOWLBL")?);
    c.sep("FLOWLBL")?;
    if ext_headers(c, p, h, dialect)? == Walk::Stop {
        return Ok(());
    }
    let fragment = h.frag.is_some_and(|f| f.offset != 0);
    // No PROTO= is legal in IPv6: ESP without --log-ip-options ends the record here.
    transport::proto_part(c, p, fragment, depth, dialect)?;
    Ok(())
}

#[derive(PartialEq, Eq)]
enum Walk {
    Continue,
    Stop,
}

/// The extension-header loop: `OPT ( … ) ` wrappers (with `--log-ip-options`), bare
/// `FRAG:` headers, `TRUNCATED`, `Unknown Ext Hdr N`.
fn ext_headers(
    c: &mut Cursor<'_>,
    p: &mut Packet<'_>,
    h: &mut Ipv6Info,
    dialect: &mut Dialect,
) -> Result<Walk, ParseError> {
    loop {
        if c.eat(b"OPT ( ") {
            h.opt_headers = h.opt_headers.saturating_add(1);
            if ext_content(c, p, h, dialect)? == Walk::Stop {
                return Ok(Walk::Stop);
            }
            if c.eat(b") ") {
                continue;
            }
            // `)` without a space: the kernel stopped (extension header in a fragment).
            c.expect(b")", "`)` closing OPT (")?;
            return Ok(Walk::Stop);
        } else if c.eat(b"FRAG:") {
            if frag(c, p, h, dialect)? == Walk::Stop {
                return Ok(Walk::Stop);
            }
        } else if c.eat(b"TRUNCATED") {
            p.truncated = true;
            return Ok(Walk::Stop);
        } else if c.eat(b"Unknown Ext Hdr ") {
            h.unknown_ext = Some(c.dec_u8("Unknown Ext Hdr")?);
            return Ok(Walk::Stop);
        } else {
            return Ok(Walk::Continue);
        }
    }
}

/// Inside `OPT ( `: a fragment header, `AH …`, `ESP …` or nothing (hop-by-hop, routing,
/// destination options).
fn ext_content(
    c: &mut Cursor<'_>,
    p: &mut Packet<'_>,
    h: &mut Ipv6Info,
    dialect: &mut Dialect,
) -> Result<Walk, ParseError> {
    if c.eat(b"FRAG:") {
        return frag(c, p, h, dialect);
    }
    let esp = if c.eat(b"AH ") {
        false
    } else if c.eat(b"ESP ") {
        h.esp = true;
        true
    } else {
        return Ok(Walk::Continue);
    };
    if c.eat(b")") {
        return Ok(Walk::Stop); // in a fragment
    }
    if c.eat(b"INCOMPLETE [") {
        h.incomplete = Some(c.dec("INCOMPLETE")?);
        c.expect(b" bytes] )", "` bytes] )`")?;
        return Ok(Walk::Stop);
    }
    c.expect(b"SPI=0x", "SPI=")?;
    h.spi = Some(c.hex("SPI")?);
    if esp {
        c.expect(b" )", "` )` after the ESP SPI")?;
        return Ok(Walk::Stop);
    }
    c.sep("SPI")?;
    Ok(Walk::Continue)
}

/// After `FRAG:`: `off [INCOMPLETE ]ID:xxxxxxxx ` (ulogd: `FRAG: off ID: xxxxxxxx `).
fn frag(
    c: &mut Cursor<'_>,
    p: &mut Packet<'_>,
    h: &mut Ipv6Info,
    dialect: &mut Dialect,
) -> Result<Walk, ParseError> {
    if c.eat(b"TRUNCATED") {
        p.truncated = true;
        return Ok(Walk::Stop);
    }
    if c.eat(b" ") {
        *dialect = Dialect::Ulogd;
    }
    let offset = c.dec_u16("FRAG")?;
    c.sep("FRAG")?;
    let more = c.eat_word(b"INCOMPLETE");
    c.expect(b"ID:", "ID: of the fragment header")?;
    c.eat(b" ");
    let id = c.hex("fragment ID")?;
    h.frag = Some(Ipv6Frag { offset, more, id });
    c.sep("fragment ID")?;
    Ok(Walk::Continue)
}
