//! One event as a fixed-size little-endian record inside a batch's byte list.
//!
//! Layout version 2, [`RECORD_SIZE`] = 88 bytes:
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 16 | `src` | source address; IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`) |
//! | 16 | 16 | `dst` | destination address, same encoding |
//! | 32 | 8 | `time_ms` | i64, unix milliseconds of the log line (valid with [`FLAG_TIME`]) |
//! | 40 | 4 | `prefix` | u32 index into the batch's string table, [`NO_STRING`] when absent |
//! | 44 | 4 | `in_iface` | u32 string index (`IN=`) |
//! | 48 | 4 | `out_iface` | u32 string index (`OUT=`) |
//! | 52 | 4 | `ip_len` | u32, the IP `LEN=` |
//! | 56 | 2 | `spt` | u16 source port (valid with [`FLAG_PORTS`]) |
//! | 58 | 2 | `dpt` | u16 destination port (valid with [`FLAG_PORTS`]) |
//! | 60 | 2 | `tcp_flags` | u16, bits of [`crate::tcp_flags`] |
//! | 62 | 1 | `proto` | IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...) |
//! | 63 | 1 | `flags` | [`FLAG_IPV4`], [`FLAG_IPV6`], [`FLAG_PORTS`], [`FLAG_ICMP`], [`FLAG_TIME`] |
//! | 64 | 1 | `ttl` | IPv4 TTL or IPv6 hop limit |
//! | 65 | 1 | `icmp_type` | valid with [`FLAG_ICMP`] |
//! | 66 | 1 | `icmp_code` | valid with [`FLAG_ICMP`] |
//! | 67 | 1 | reserved | zero |
//! | 68 | 4 | `asn` | u32 autonomous system number, 0 when unknown |
//! | 72 | 2 | `country` | ISO 3166-1 alpha-2 as two ASCII bytes, `[0, 0]` when unknown |
//! | 74 | 2 | reserved | zero |
//! | 76 | 4 | `org` | u32 string index of the AS organisation, [`NO_STRING`] when unknown |
//! | 80 | 4 | `city` | u32 string index of the city, [`NO_STRING`] when unknown |
//! | 84 | 4 | reserved | zero; later layout versions may use it |
//!
//! A batch states its layout version and record size, so a reader walks records by the
//! stated size and a later version can append fields without breaking older plugins.

use core::net::{IpAddr, Ipv6Addr};

/// The layout version this crate writes and reads.
pub const LAYOUT_VERSION: u16 = 2;
/// Bytes per record in layout version 2.
pub const RECORD_SIZE: usize = 88;
/// String index meaning "no string".
pub const NO_STRING: u32 = u32::MAX;

/// The record carries IPv4 addresses.
pub const FLAG_IPV4: u8 = 1 << 0;
/// The record carries IPv6 addresses.
pub const FLAG_IPV6: u8 = 1 << 1;
/// `spt` and `dpt` are valid (TCP, UDP, UDPLITE, SCTP).
pub const FLAG_PORTS: u8 = 1 << 2;
/// `icmp_type` and `icmp_code` are valid (ICMP, ICMPv6).
pub const FLAG_ICMP: u8 = 1 << 3;
/// `time_ms` is valid (the log line carried a time).
pub const FLAG_TIME: u8 = 1 << 4;

/// The fields of one record, as the host fills them in before encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFields {
    /// Source address; `None` for records without an IP layer (ARP).
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Unix milliseconds of the log line.
    pub time_ms: Option<i64>,
    /// String index of the log prefix.
    pub prefix: u32,
    /// String index of the input interface.
    pub in_iface: u32,
    /// String index of the output interface.
    pub out_iface: u32,
    /// IP total length.
    pub ip_len: u32,
    /// Source and destination ports.
    pub ports: Option<(u16, u16)>,
    /// TCP flag bits.
    pub tcp_flags: u16,
    /// IP protocol number.
    pub proto: u8,
    /// TTL or hop limit.
    pub ttl: u8,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
    /// Enrichment: what GeoIP/ASN data says about the source.
    pub geo: GeoFields,
}

/// The enrichment fields of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeoFields {
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// ISO 3166-1 alpha-2 country code, uppercase ASCII.
    pub country: Option<[u8; 2]>,
    /// String index of the AS organisation.
    pub org: u32,
    /// String index of the city.
    pub city: u32,
}

impl Default for GeoFields {
    fn default() -> Self {
        GeoFields {
            asn: None,
            country: None,
            org: NO_STRING,
            city: NO_STRING,
        }
    }
}

/// Writes `geo` into an encoded record in place (the host does this after an enrichment
/// stage). `rec` must be at least [`RECORD_SIZE`] bytes; shorter slices are left alone.
pub fn write_geo(rec: &mut [u8], geo: &GeoFields) {
    let Some(rec) = rec.get_mut(..RECORD_SIZE) else {
        return;
    };
    rec[68..72].copy_from_slice(&geo.asn.unwrap_or(0).to_le_bytes());
    rec[72..74].copy_from_slice(&geo.country.unwrap_or([0, 0]));
    rec[76..80].copy_from_slice(&geo.org.to_le_bytes());
    rec[80..84].copy_from_slice(&geo.city.to_le_bytes());
}

impl Default for RecordFields {
    fn default() -> Self {
        RecordFields {
            src: None,
            dst: None,
            time_ms: None,
            prefix: NO_STRING,
            in_iface: NO_STRING,
            out_iface: NO_STRING,
            ip_len: 0,
            ports: None,
            tcp_flags: 0,
            proto: 0,
            ttl: 0,
            icmp: None,
            geo: GeoFields::default(),
        }
    }
}

fn addr_bytes(addr: Option<IpAddr>) -> [u8; 16] {
    match addr {
        Some(IpAddr::V4(v4)) => v4.to_ipv6_mapped().octets(),
        Some(IpAddr::V6(v6)) => v6.octets(),
        None => [0; 16],
    }
}

/// Encodes `f` into `out`, which must be exactly [`RECORD_SIZE`] bytes.
pub fn encode(f: &RecordFields, out: &mut [u8; RECORD_SIZE]) {
    let mut flags = 0u8;
    match f.src {
        Some(IpAddr::V4(_)) => flags |= FLAG_IPV4,
        Some(IpAddr::V6(_)) => flags |= FLAG_IPV6,
        None => {}
    }
    out[0..16].copy_from_slice(&addr_bytes(f.src));
    out[16..32].copy_from_slice(&addr_bytes(f.dst));
    let time = match f.time_ms {
        Some(t) => {
            flags |= FLAG_TIME;
            t
        }
        None => 0,
    };
    out[32..40].copy_from_slice(&time.to_le_bytes());
    out[40..44].copy_from_slice(&f.prefix.to_le_bytes());
    out[44..48].copy_from_slice(&f.in_iface.to_le_bytes());
    out[48..52].copy_from_slice(&f.out_iface.to_le_bytes());
    out[52..56].copy_from_slice(&f.ip_len.to_le_bytes());
    let (spt, dpt) = match f.ports {
        Some(p) => {
            flags |= FLAG_PORTS;
            p
        }
        None => (0, 0),
    };
    out[56..58].copy_from_slice(&spt.to_le_bytes());
    out[58..60].copy_from_slice(&dpt.to_le_bytes());
    out[60..62].copy_from_slice(&f.tcp_flags.to_le_bytes());
    out[62] = f.proto;
    let (ity, icode) = match f.icmp {
        Some(tc) => {
            flags |= FLAG_ICMP;
            tc
        }
        None => (0, 0),
    };
    out[63] = flags;
    out[64] = f.ttl;
    out[65] = ity;
    out[66] = icode;
    out[67] = 0;
    out[74..76].fill(0);
    out[84..88].fill(0);
    write_geo(out, &f.geo);
}

/// A read-only view of one record in place; every accessor is a few loads.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    bytes: &'a [u8; RECORD_SIZE],
}

impl<'a> RecordView<'a> {
    /// Views the first [`RECORD_SIZE`] bytes of `bytes`; `None` if there are fewer.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        let bytes = bytes.get(..RECORD_SIZE)?.try_into().ok()?;
        Some(RecordView { bytes })
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.bytes[at], self.bytes[at + 1]])
    }

    fn u32_at(&self, at: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.bytes[at..at + 4]);
        u32::from_le_bytes(b)
    }

    fn addr_at(&self, at: usize) -> Option<IpAddr> {
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.bytes[at..at + 16]);
        let v6 = Ipv6Addr::from(b);
        let flags = self.flags();
        if flags & FLAG_IPV4 != 0 {
            v6.to_ipv4_mapped().map(IpAddr::V4)
        } else if flags & FLAG_IPV6 != 0 {
            Some(IpAddr::V6(v6))
        } else {
            None
        }
    }

    /// The raw flag byte.
    pub fn flags(&self) -> u8 {
        self.bytes[63]
    }
    /// Source address, `None` when the record has no IP layer.
    pub fn src(&self) -> Option<IpAddr> {
        self.addr_at(0)
    }
    /// Destination address.
    pub fn dst(&self) -> Option<IpAddr> {
        self.addr_at(16)
    }
    /// Source address as 16 bytes (IPv4-mapped for IPv4): a cheap hash-map key.
    pub fn src_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.bytes[0..16]);
        b
    }
    /// Unix milliseconds of the log line, when it had a time.
    pub fn time_ms(&self) -> Option<i64> {
        if self.flags() & FLAG_TIME == 0 {
            return None;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.bytes[32..40]);
        Some(i64::from_le_bytes(b))
    }
    /// String index of the log prefix.
    pub fn prefix_id(&self) -> u32 {
        self.u32_at(40)
    }
    /// String index of the input interface.
    pub fn in_iface_id(&self) -> u32 {
        self.u32_at(44)
    }
    /// String index of the output interface.
    pub fn out_iface_id(&self) -> u32 {
        self.u32_at(48)
    }
    /// IP total length.
    pub fn ip_len(&self) -> u32 {
        self.u32_at(52)
    }
    /// Source port, for protocols with ports.
    pub fn spt(&self) -> Option<u16> {
        (self.flags() & FLAG_PORTS != 0).then(|| self.u16_at(56))
    }
    /// Destination port, for protocols with ports.
    pub fn dpt(&self) -> Option<u16> {
        (self.flags() & FLAG_PORTS != 0).then(|| self.u16_at(58))
    }
    /// TCP flag bits ([`crate::tcp_flags`]).
    pub fn tcp_flags(&self) -> u16 {
        self.u16_at(60)
    }
    /// IP protocol number.
    pub fn proto(&self) -> u8 {
        self.bytes[62]
    }
    /// TTL or hop limit.
    pub fn ttl(&self) -> u8 {
        self.bytes[64]
    }
    /// ICMP type and code, for ICMP and ICMPv6.
    pub fn icmp(&self) -> Option<(u8, u8)> {
        (self.flags() & FLAG_ICMP != 0).then(|| (self.bytes[65], self.bytes[66]))
    }
    /// Autonomous system number of the source, when known.
    pub fn asn(&self) -> Option<u32> {
        Some(self.u32_at(68)).filter(|a| *a != 0)
    }
    /// Country code of the source as two ASCII bytes, when known.
    pub fn country(&self) -> Option<[u8; 2]> {
        let c = [self.bytes[72], self.bytes[73]];
        (c != [0, 0]).then_some(c)
    }
    /// String index of the source's AS organisation.
    pub fn org_id(&self) -> u32 {
        self.u32_at(76)
    }
    /// String index of the source's city.
    pub fn city_id(&self) -> u32 {
        self.u32_at(80)
    }
    /// All enrichment fields.
    pub fn geo(&self) -> GeoFields {
        GeoFields {
            asn: self.asn(),
            country: self.country(),
            org: self.org_id(),
            city: self.city_id(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn round_trips_ipv4_tcp() {
        let f = RecordFields {
            src: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
            dst: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            time_ms: Some(1_764_000_000_123),
            prefix: 3,
            in_iface: 1,
            out_iface: 2,
            ip_len: 60,
            ports: Some((51234, 443)),
            tcp_flags: crate::tcp_flags::SYN,
            proto: 6,
            ttl: 52,
            icmp: None,
            geo: GeoFields {
                asn: Some(64_496),
                country: Some(*b"DE"),
                org: 4,
                city: 5,
            },
        };
        let mut buf = [0xAAu8; RECORD_SIZE];
        encode(&f, &mut buf);
        let v = RecordView::new(&buf).unwrap();
        assert_eq!(v.src(), f.src);
        assert_eq!(v.dst(), f.dst);
        assert_eq!(v.time_ms(), f.time_ms);
        assert_eq!(
            (v.prefix_id(), v.in_iface_id(), v.out_iface_id()),
            (3, 1, 2)
        );
        assert_eq!(v.ip_len(), 60);
        assert_eq!((v.spt(), v.dpt()), (Some(51234), Some(443)));
        assert_eq!(v.tcp_flags(), crate::tcp_flags::SYN);
        assert_eq!((v.proto(), v.ttl(), v.icmp()), (6, 52, None));
        assert_eq!(v.geo(), f.geo);
        assert_eq!(
            (buf[67], &buf[74..76], &buf[84..]),
            (0, &[0u8; 2][..], &[0u8; 4][..])
        );
    }

    #[test]
    fn round_trips_ipv6_icmp_without_time() {
        let src: IpAddr = "2001:db8::1".parse().unwrap();
        let f = RecordFields {
            src: Some(src),
            dst: Some("2001:db8::2".parse().unwrap()),
            proto: 58,
            icmp: Some((128, 0)),
            ..RecordFields::default()
        };
        let mut buf = [0u8; RECORD_SIZE];
        encode(&f, &mut buf);
        let v = RecordView::new(&buf).unwrap();
        assert_eq!(v.src(), Some(src));
        assert_eq!(v.time_ms(), None);
        assert_eq!(v.spt(), None);
        assert_eq!(v.icmp(), Some((128, 0)));
        assert_eq!(v.prefix_id(), NO_STRING);
        assert_eq!(v.geo(), GeoFields::default());
    }

    #[test]
    fn geo_is_written_in_place() {
        let mut buf = [0u8; RECORD_SIZE];
        encode(&RecordFields::default(), &mut buf);
        let geo = GeoFields {
            asn: Some(22_616),
            country: Some(*b"US"),
            org: 0,
            city: 1,
        };
        write_geo(&mut buf, &geo);
        assert_eq!(RecordView::new(&buf).unwrap().geo(), geo);
        write_geo(&mut buf[..10], &GeoFields::default());
    }

    #[test]
    fn ipv4_mapped_ipv6_source_stays_ipv6() {
        let src: IpAddr = "::ffff:198.51.100.9".parse().unwrap();
        let f = RecordFields {
            src: Some(src),
            dst: Some(src),
            ..RecordFields::default()
        };
        let mut buf = [0u8; RECORD_SIZE];
        encode(&f, &mut buf);
        assert_eq!(RecordView::new(&buf).unwrap().src(), Some(src));
    }

    #[test]
    fn short_slice_is_refused() {
        assert!(RecordView::new(&[0u8; RECORD_SIZE - 1]).is_none());
    }
}
