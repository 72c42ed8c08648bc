//! The protocol part after `PROTO=`: TCP, UDP/UDP-Lite, ICMP/ICMPv6 (with the packet an
//! error message quotes), AH/ESP SPI, SCTP (ulogd), numeric protocols, `INCOMPLETE`.

use portcullis_abi::tcp_flags;

use super::cursor::Cursor;
use super::error::{ErrorKind, ParseError};
use super::event::{Dialect, Icmp, L4, Packet, Proto, Tcp, Udp};
use super::ip;

/// `PROTO=… …`. Returns false (consuming nothing) when there is no `PROTO=`.
pub(crate) fn proto_part<'a>(
    c: &mut Cursor<'a>,
    p: &mut Packet<'a>,
    fragment: bool,
    depth: u8,
    dialect: &mut Dialect,
) -> Result<bool, ParseError> {
    if !c.eat(b"PROTO=") {
        return Ok(false);
    }
    let tok = c.token();
    let proto = match tok {
        b"TCP" => Proto::Tcp,
        b"UDP" => Proto::Udp,
        b"ICMP" => Proto::Icmp,
        b"ICMPv6" => Proto::Icmpv6,
        b"UDPLITE" => Proto::UdpLite,
        b"ESP" => Proto::Esp,
        b"AH" => Proto::Ah,
        b"SCTP" => {
            *dialect = Dialect::Ulogd;
            Proto::Sctp
        }
        _ => Proto::Other(c.dec_u8("PROTO")?),
    };
    if !matches!(proto, Proto::Other(_)) {
        c.advance(tok.len());
    }
    c.sep("PROTO")?;
    p.proto = Some(proto);
    if fragment {
        return Ok(true); // a non-first fragment carries no transport header
    }
    if let Some(n) = incomplete(c, dialect)? {
        p.l4 = L4::Incomplete(n);
        return Ok(true);
    }
    match proto {
        Proto::Tcp => {
            let (spt, dpt) = ports(c)?;
            p.l4 = L4::Tcp(Tcp {
                spt,
                dpt,
                ..Tcp::default()
            });
            if let L4::Tcp(t) = &mut p.l4 {
                tcp(c, t, dialect)?;
            }
        }
        Proto::Udp | Proto::UdpLite => {
            let (spt, dpt) = ports(c)?;
            p.l4 = L4::Udp(Udp {
                spt,
                dpt,
                len: None,
            });
            c.expect(b"LEN=", "LEN= of the UDP header")?;
            let len = c.dec_u16("UDP LEN")?;
            p.l4 = L4::Udp(Udp {
                spt,
                dpt,
                len: Some(len),
            });
            c.sep("UDP LEN")?;
        }
        Proto::Icmp | Proto::Icmpv6 => {
            c.expect(b"TYPE=", "TYPE=")?;
            let ty = c.dec_u8("TYPE")?;
            c.sep("TYPE")?;
            c.expect(b"CODE=", "CODE=")?;
            let code = c.dec_u8("CODE")?;
            c.sep("CODE")?;
            p.l4 = L4::Icmp(Icmp {
                ty,
                code,
                ..Icmp::default()
            });
            if let L4::Icmp(i) = &mut p.l4 {
                icmp(c, i, depth, dialect)?;
            }
        }
        Proto::Ah | Proto::Esp => {
            c.expect(b"SPI=0x", "SPI=")?;
            p.l4 = L4::Spi(c.hex("SPI")?);
            c.sep("SPI")?;
        }
        Proto::Sctp => {
            let (spt, dpt) = ports(c)?;
            p.l4 = L4::Ports(spt, dpt);
        }
        Proto::Other(_) => {}
    }
    Ok(true)
}

/// `INCOMPLETE [N bytes] ` (kernel) or a bare `INCOMPLETE` (ulogd).
fn incomplete(
    c: &mut Cursor<'_>,
    dialect: &mut Dialect,
) -> Result<Option<Option<u32>>, ParseError> {
    if !c.eat(b"INCOMPLETE") {
        return Ok(None);
    }
    if c.eat(b" [") {
        let n = c.dec("INCOMPLETE")?;
        c.expect(b" bytes]", "` bytes]`")?;
        c.sep("INCOMPLETE")?;
        return Ok(Some(Some(n)));
    }
    *dialect = Dialect::Ulogd;
    c.sep("INCOMPLETE")?;
    Ok(Some(None))
}

fn ports(c: &mut Cursor<'_>) -> Result<(u16, u16), ParseError> {
    c.expect(b"SPT=", "SPT=")?;
    let spt = c.dec_u16("SPT")?;
    c.sep("SPT")?;
    c.expect(b"DPT=", "DPT=")?;
    let dpt = c.dec_u16("DPT")?;
    c.sep("DPT")?;
    Ok((spt, dpt))
}

/// A flag word at the start of `r`: (rank in the kernel's print order, bit, length).
#[inline(always)]
pub(crate) fn flag_word(r: &[u8]) -> Option<(u8, u16, usize)> {
    let (rank, bit, n) = match r {
        [b'A', b'E', ..] => (0, tcp_flags::AE, 2),
        [b'C', b'W', b'R', ..] => (1, tcp_flags::CWR, 3),
        [b'E', b'C', b'E', ..] => (2, tcp_flags::ECE, 3),
        [b'U', b'R', b'G', ..] => (3, tcp_flags::URG, 3),
        [b'A', b'C', b'K', ..] => (4, tcp_flags::ACK, 3),
        [b'P', b'S', b'H', ..] => (5, tcp_flags::PSH, 3),
        [b'R', b'S', b'T', ..] => (6, tcp_flags::RST, 3),
        [b'S', b'Y', b'N', ..] => (7, tcp_flags::SYN, 3),
        [b'F', b'I', b'N', ..] => (8, tcp_flags::FIN, 3),
        _ => return None,
    };
    // `URGP=` starts like `URG`: a flag is a whole word.
    matches!(r.get(n), None | Some(b' ')).then_some((rank, bit, n))
}

fn tcp<'a>(c: &mut Cursor<'a>, t: &mut Tcp<'a>, dialect: &mut Dialect) -> Result<(), ParseError> {
    if c.eat(b"SEQ=") {
        t.seq = Some(c.dec("SEQ")?);
        c.sep("SEQ")?;
        c.expect(b"ACK=", "ACK=")?;
        t.ack = Some(c.dec("ACK")?);
        c.sep("ACK")?;
    }
    c.expect(b"WINDOW=", "WINDOW=")?;
    t.window = Some(c.dec_u16("WINDOW")?);
    c.sep("WINDOW")?;
    if c.eat(b"RES=0x") {
        let at = c.pos();
        let v = c.hex("RES")?;
        t.res = Some(u8::try_from(v).map_err(|_| c.err_at(ErrorKind::OutOfRange("RES"), at))?);
        c.sep("RES")?;
    } else {
        *dialect = Dialect::Ulogd; // ulogd prints no RES=
    }
    // Bare flag words, each at most once, in the kernel's fixed order.
    let mut next = 0;
    while let Some((rank, bit, n)) = flag_word(c.rest()) {
        if rank < next {
            break;
        }
        t.flags |= bit;
        c.advance(n + 1);
        next = rank + 1;
    }
    c.expect(b"URGP=", "URGP= (or TCP flags in kernel order)")?;
    t.urgp = Some(c.dec_u16("URGP")?);
    c.sep("URGP")?;
    if c.eat(b"OPT (") {
        if c.eat(b"TRUNCATED)") {
            t.opt_truncated = true;
            return Ok(());
        }
        t.opt = Some(c.hex_run("TCP OPT")?);
        c.expect(b")", "`)` closing OPT")?;
        c.sep("TCP OPT")?;
    }
    Ok(())
}

/// After `TYPE= CODE=`: the items the kernel (or ulogd) prints for the type, in order.
fn icmp<'a>(
    c: &mut Cursor<'a>,
    i: &mut Icmp<'a>,
    depth: u8,
    dialect: &mut Dialect,
) -> Result<(), ParseError> {
    if let Some(n) = incomplete(c, dialect)? {
        i.incomplete = n;
        return Ok(());
    }
    if c.eat(b"ID=") {
        i.echo_id = Some(c.dec_u16("ICMP ID")?);
        c.sep("ICMP ID")?;
        c.expect(b"SEQ=", "SEQ=")?;
        i.echo_seq = Some(c.dec_u16("ICMP SEQ")?);
        c.sep("ICMP SEQ")?;
    }
    if c.eat(b"PARAMETER=") {
        i.parameter = Some(c.dec("PARAMETER")?);
        c.sep("PARAMETER")?;
    }
    if c.eat(b"POINTER=") {
        i.pointer = Some(c.hex("POINTER")?);
        c.sep("POINTER")?;
    }
    if c.eat(b"GATEWAY=") {
        i.gateway = Some(c.ipv4("GATEWAY")?);
        c.sep("GATEWAY")?;
    }
    if depth == 0 && c.eat(b"[") {
        if c.eat(b"TRUNCATED") {
            i.inner_truncated = true;
        } else {
            c.expect(b"SRC=", "SRC= of the quoted packet")?;
            let (src, dst) = ip::addrs(c)?;
            let mut inner = Box::new(Packet::new(src, dst));
            let r = ip::packet_rest(c, &mut inner, depth + 1, dialect);
            i.inner = Some(inner);
            r?;
        }
        c.expect(b"]", "`]` closing the quoted packet")?;
        c.sep("]")?;
    }
    if c.eat(b"MTU=") {
        i.mtu = Some(c.dec("MTU")?);
        c.sep("MTU")?;
    }
    Ok(())
}
