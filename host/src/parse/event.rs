//! The typed event: what one netfilter LOG record (and the wrapper around it) says.
//!
//! Everything borrows from the line; only the packet quoted inside an ICMP error is boxed.
//! Fields the kernel prints conditionally are `Option`s, and every field that a line cut by
//! the kernel's log buffer can lose is optional too, so a cut record keeps what it has.

use std::net::{IpAddr, Ipv4Addr};

use portcullis_abi::tcp_flags;

use super::envelope::Envelope;

/// One parsed firewall record with its wrapper.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// Syslog/journald/dmesg wrapper: time, host, uptime.
    pub envelope: Envelope<'a>,
    /// The netfilter record itself.
    pub record: Record<'a>,
}

/// Which program wrote the record text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// The kernel's `nf_log_syslog` (or an older `ipt_LOG`).
    #[default]
    Kernel,
    /// ulogd2's LOGEMU emulation or a vendor copy of it (UniFi): `TOS=10`, no `RES=`,
    /// bare `INCOMPLETE`, `MARK=` without `0x`, `FRAG: n ID: x`, `PROTO=SCTP`.
    Ulogd,
}

/// The record: prefix, interfaces, link layer, network packet and socket/mark tail.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record<'a> {
    /// `--log-prefix` text as logged, trailing space kept (may be empty).
    pub prefix: &'a str,
    /// `IN=` value (empty on OUTPUT/POSTROUTING).
    pub in_iface: &'a str,
    /// `OUT=` value (empty on INPUT/PREROUTING).
    pub out_iface: &'a str,
    /// `PHYSIN=` bridge port.
    pub phys_in: Option<&'a str>,
    /// `PHYSOUT=` bridge port.
    pub phys_out: Option<&'a str>,
    /// `MAC=` or `MACSRC=`… link-layer part.
    pub link: Link<'a>,
    /// What follows the link layer.
    pub l3: L3<'a>,
    /// `UID=` of the local socket's file owner.
    pub uid: Option<u32>,
    /// `GID=` of the local socket's file owner.
    pub gid: Option<u32>,
    /// `MARK=` (skb mark, only printed when non-zero by the kernel).
    pub mark: Option<u32>,
    /// Who wrote the text.
    pub dialect: Dialect,
    /// The line stops mid-record at the length where the kernel's log buffer cuts records
    /// (~1 KiB): fields after the cut are absent.
    pub cut: bool,
}

/// The link-layer part of a record.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Link<'a> {
    /// No link-layer token (OUTPUT/POSTROUTING, or macdecode without a MAC header).
    #[default]
    Absent,
    /// `MAC=` hex bytes as logged (destination first; may be empty or longer than 14
    /// bytes), and the SIT tunnel endpoints `TUNNEL=src->dst`.
    Mac {
        /// Hex pairs as logged, colon-separated, possibly empty.
        hex: &'a str,
        /// Outer IPv4 endpoints of a SIT (6in4) device.
        tunnel: Option<(Ipv4Addr, Ipv4Addr)>,
    },
    /// `MACSRC= MACDST= [VPROTO= VID=] MACPROTO=` (`--log-macdecode`).
    Decoded(MacDecode),
}

/// Decoded Ethernet header (`--log-macdecode`, nft `log flags ether`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacDecode {
    /// Source MAC.
    pub src: [u8; 6],
    /// Destination MAC.
    pub dst: [u8; 6],
    /// `VPROTO=` of a hardware-offloaded VLAN tag.
    pub vproto: Option<u16>,
    /// `VID=` of a hardware-offloaded VLAN tag.
    pub vid: Option<u16>,
    /// `MACPROTO=` ethertype.
    pub proto: u16,
}

/// What follows the link layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum L3<'a> {
    /// Nothing (netdev/bridge family, unknown ethertype: header and MAC only).
    #[default]
    None,
    /// An IPv4 or IPv6 packet.
    Ip(Packet<'a>),
    /// An ARP packet (`ARP HTYPE=…`).
    Arp(Arp),
    /// `TRUNCATED`: the kernel could not read the network header.
    Truncated,
}

/// An IP protocol as the kernel names it after `PROTO=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// `TCP` (6).
    Tcp,
    /// `UDP` (17).
    Udp,
    /// `UDPLITE` (136).
    UdpLite,
    /// `ICMP` (1).
    Icmp,
    /// `ICMPv6` (58).
    Icmpv6,
    /// `AH` (51).
    Ah,
    /// `ESP` (50).
    Esp,
    /// `SCTP` (132; ulogd only, the kernel prints `PROTO=132`).
    Sctp,
    /// Any other protocol, printed as a number.
    Other(u8),
}

impl Proto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::UdpLite => 136,
            Proto::Icmp => 1,
            Proto::Icmpv6 => 58,
            Proto::Ah => 51,
            Proto::Esp => 50,
            Proto::Sctp => 132,
            Proto::Other(n) => n,
        }
    }

    /// The token after `PROTO=`, when it is a name.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::UdpLite => "UDPLITE",
            Proto::Icmp => "ICMP",
            Proto::Icmpv6 => "ICMPv6",
            Proto::Ah => "AH",
            Proto::Esp => "ESP",
            Proto::Sctp => "SCTP",
            Proto::Other(_) => return None,
        })
    }
}

/// One IP packet: the outer one, or the one quoted inside an ICMP error.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet<'a> {
    /// `SRC=`.
    pub src: IpAddr,
    /// `DST=`.
    pub dst: IpAddr,
    /// `LEN=`: IPv4 total length / IPv6 payload length + 40 (may exceed 65535 with BIG TCP).
    pub len: Option<u32>,
    /// Version-specific header fields.
    pub ip: IpInfo,
    /// `PROTO=`; absent for IPv4 AH fragments, IPv6 ESP, unknown extension headers.
    pub proto: Option<Proto>,
    /// Transport part.
    pub l4: L4<'a>,
    /// IPv4 `OPT (…)` hex, as logged.
    pub ip_opt: Option<&'a str>,
    /// `TRUNCATED`: IP options or an IPv6 extension header could not be read.
    pub truncated: bool,
}

/// Version-specific IP header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpInfo {
    /// IPv4.
    V4(Ipv4Info),
    /// IPv6.
    V6(Ipv6Info),
}

/// IPv4 header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv4Info {
    /// `TOS=` (tos & 0x1E).
    pub tos: Option<u8>,
    /// `PREC=` (tos & 0xE0).
    pub prec: Option<u8>,
    /// `TTL=`.
    pub ttl: Option<u8>,
    /// `ID=`.
    pub id: Option<u16>,
    /// `CE` (the reserved "evil" bit, not ECN).
    pub ce: bool,
    /// `DF`.
    pub df: bool,
    /// `MF`.
    pub mf: bool,
    /// `FRAG:` offset in 8-byte units.
    pub frag: Option<u16>,
}

/// IPv6 header fields and what the extension-header walk printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv6Info {
    /// `TC=` (full traffic class, decimal).
    pub tc: Option<u8>,
    /// `HOPLIMIT=`.
    pub hoplimit: Option<u8>,
    /// `FLOWLBL=`.
    pub flowlbl: Option<u32>,
    /// Fragment header `FRAG:off [INCOMPLETE ]ID:hex`.
    pub frag: Option<Ipv6Frag>,
    /// Number of `OPT ( … )` wrappers (`--log-ip-options`).
    pub opt_headers: u8,
    /// SPI of an AH or ESP extension header.
    pub spi: Option<u32>,
    /// `ESP` extension header seen (the walk stops there, no `PROTO=`).
    pub esp: bool,
    /// `Unknown Ext Hdr N`.
    pub unknown_ext: Option<u8>,
    /// `INCOMPLETE [N bytes]` inside an AH/ESP extension header.
    pub incomplete: Option<u32>,
}

/// IPv6 fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Frag {
    /// Offset in bytes.
    pub offset: u16,
    /// More-fragments bit (`INCOMPLETE`).
    pub more: bool,
    /// Identification.
    pub id: u32,
}

/// Transport part of a packet.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum L4<'a> {
    /// Nothing after `PROTO=` (non-first fragment, numeric protocol).
    #[default]
    None,
    /// `INCOMPLETE [N bytes]` (N absent in ulogd's bare `INCOMPLETE`).
    Incomplete(Option<u32>),
    /// TCP header.
    Tcp(Tcp<'a>),
    /// UDP or UDP-Lite header.
    Udp(Udp),
    /// ICMP or ICMPv6 header.
    Icmp(Icmp<'a>),
    /// AH/ESP `SPI=`.
    Spi(u32),
    /// SCTP ports (ulogd).
    Ports(u16, u16),
}

/// TCP header fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tcp<'a> {
    /// `SPT=`.
    pub spt: u16,
    /// `DPT=`.
    pub dpt: u16,
    /// `SEQ=` (`--log-tcp-sequence`).
    pub seq: Option<u32>,
    /// `ACK=` key (the acknowledgment number, not the flag).
    pub ack: Option<u32>,
    /// `WINDOW=`.
    pub window: Option<u16>,
    /// `RES=` reserved bits (absent in ulogd).
    pub res: Option<u8>,
    /// Flags, as `portcullis_abi::tcp_flags` bits.
    pub flags: u16,
    /// `URGP=`.
    pub urgp: Option<u16>,
    /// `OPT (…)` hex as logged.
    pub opt: Option<&'a str>,
    /// `OPT (TRUNCATED)`.
    pub opt_truncated: bool,
}

/// UDP / UDP-Lite header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp {
    /// `SPT=`.
    pub spt: u16,
    /// `DPT=`.
    pub dpt: u16,
    /// The second `LEN=`: the UDP length field.
    pub len: Option<u16>,
}

/// ICMP / ICMPv6 header fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Icmp<'a> {
    /// `TYPE=`.
    pub ty: u8,
    /// `CODE=`.
    pub code: u8,
    /// Echo `ID=`.
    pub echo_id: Option<u16>,
    /// Echo `SEQ=`.
    pub echo_seq: Option<u16>,
    /// `PARAMETER=` (IPv4 parameter problem).
    pub parameter: Option<u32>,
    /// `POINTER=` (ICMPv6 parameter problem).
    pub pointer: Option<u32>,
    /// `GATEWAY=` (IPv4 redirect).
    pub gateway: Option<Ipv4Addr>,
    /// The packet quoted in `[…]` by an error message.
    pub inner: Option<Box<Packet<'a>>>,
    /// `[TRUNCATED]`: the quoted packet's header could not be read.
    pub inner_truncated: bool,
    /// `MTU=`.
    pub mtu: Option<u32>,
    /// `INCOMPLETE [N bytes]` after `TYPE= CODE=`.
    pub incomplete: Option<u32>,
}

/// ARP packet fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Arp {
    /// `HTYPE=`.
    pub htype: u16,
    /// `PTYPE=`.
    pub ptype: u16,
    /// `OPCODE=`.
    pub opcode: u16,
    /// Ethernet/IPv4 payload.
    pub payload: Option<ArpPayload>,
    /// `INCOMPLETE [N bytes]`.
    pub incomplete: Option<u32>,
}

/// ARP payload for Ethernet/IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPayload {
    /// Sender MAC.
    pub mac_src: [u8; 6],
    /// Sender IP.
    pub ip_src: Ipv4Addr,
    /// Target MAC.
    pub mac_dst: [u8; 6],
    /// Target IP.
    pub ip_dst: Ipv4Addr,
}

impl<'a> Packet<'a> {
    pub(crate) fn new(src: IpAddr, dst: IpAddr) -> Self {
        let ip = if src.is_ipv6() {
            IpInfo::V6(Ipv6Info::default())
        } else {
            IpInfo::V4(Ipv4Info::default())
        };
        Self {
            src,
            dst,
            len: None,
            ip,
            proto: None,
            l4: L4::None,
            ip_opt: None,
            truncated: false,
        }
    }

    /// TTL (IPv4) or hop limit (IPv6).
    pub fn ttl(&self) -> Option<u8> {
        match &self.ip {
            IpInfo::V4(v4) => v4.ttl,
            IpInfo::V6(v6) => v6.hoplimit,
        }
    }

    /// IP protocol number: the `PROTO=` token, or 50 for an IPv6 ESP extension header.
    pub fn proto_number(&self) -> Option<u8> {
        match (&self.proto, &self.ip) {
            (Some(p), _) => Some(p.number()),
            (None, IpInfo::V6(v6)) if v6.esp => Some(50),
            _ => None,
        }
    }

    /// Source and destination ports (TCP, UDP, UDP-Lite, SCTP).
    pub fn ports(&self) -> Option<(u16, u16)> {
        match &self.l4 {
            L4::Tcp(t) => Some((t.spt, t.dpt)),
            L4::Udp(u) => Some((u.spt, u.dpt)),
            L4::Ports(s, d) => Some((*s, *d)),
            _ => None,
        }
    }
}

impl<'a> Event<'a> {
    /// The outer IP packet, if the record carries one.
    pub fn packet(&self) -> Option<&Packet<'a>> {
        match &self.record.l3 {
            L3::Ip(p) => Some(p),
            _ => None,
        }
    }

    /// Outer packet's `SRC=` (None for ARP and header-only records).
    pub fn src(&self) -> Option<IpAddr> {
        self.packet().map(|p| p.src)
    }

    /// Outer packet's `DST=`.
    pub fn dst(&self) -> Option<IpAddr> {
        self.packet().map(|p| p.dst)
    }

    /// IP protocol number (TCP 6, UDP 17, ICMP 1, ICMPv6 58, UDPLITE 136, AH 51, ESP 50, …).
    pub fn proto_number(&self) -> Option<u8> {
        self.packet().and_then(Packet::proto_number)
    }

    /// Source port (TCP, UDP, UDP-Lite, SCTP).
    pub fn spt(&self) -> Option<u16> {
        self.packet().and_then(Packet::ports).map(|p| p.0)
    }

    /// Destination port (TCP, UDP, UDP-Lite, SCTP).
    pub fn dpt(&self) -> Option<u16> {
        self.packet().and_then(Packet::ports).map(|p| p.1)
    }

    /// TCP flags as `portcullis_abi::tcp_flags` bits (0 when not TCP).
    pub fn tcp_flag_bits(&self) -> u16 {
        match self.packet().map(|p| &p.l4) {
            Some(L4::Tcp(t)) => t.flags & ALL_FLAGS,
            _ => 0,
        }
    }

    /// The log prefix, verbatim (trailing space kept).
    pub fn prefix(&self) -> &'a str {
        self.record.prefix
    }

    /// `IN=` interface (may be empty).
    pub fn in_iface(&self) -> &'a str {
        self.record.in_iface
    }

    /// `OUT=` interface (may be empty).
    pub fn out_iface(&self) -> &'a str {
        self.record.out_iface
    }

    /// Wall-clock time of the envelope, when it has one.
    pub fn time_unix_ms(&self) -> Option<i64> {
        self.envelope.time.map(|t| t.unix_us.div_euclid(1000))
    }

    /// IPv4 TTL or IPv6 HOPLIMIT of the outer packet.
    pub fn ttl(&self) -> Option<u8> {
        self.packet().and_then(Packet::ttl)
    }

    /// ICMP / ICMPv6 type and code of the outer packet.
    pub fn icmp_type_code(&self) -> Option<(u8, u8)> {
        match self.packet().map(|p| &p.l4) {
            Some(L4::Icmp(i)) => Some((i.ty, i.code)),
            _ => None,
        }
    }

    /// Outer `LEN=`.
    pub fn ip_len(&self) -> Option<u32> {
        self.packet().and_then(|p| p.len)
    }

    /// True when anything in the record says it is incomplete: cut by the kernel's log
    /// buffer, or a `TRUNCATED` marker at any level.
    pub fn truncated(&self) -> bool {
        let r = &self.record;
        r.cut
            || matches!(r.l3, L3::Truncated)
            || self
                .packet()
                .is_some_and(|p| p.truncated || matches!(&p.l4, L4::Tcp(t) if t.opt_truncated))
    }
}

const ALL_FLAGS: u16 = tcp_flags::FIN
    | tcp_flags::SYN
    | tcp_flags::RST
    | tcp_flags::PSH
    | tcp_flags::ACK
    | tcp_flags::URG
    | tcp_flags::ECE
    | tcp_flags::CWR
    | tcp_flags::AE;
