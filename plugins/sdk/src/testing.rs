//! Building batches natively, for unit tests of plugin logic.
//!
//! ```
//! use portcullis_sdk::testing::{BatchBuilder, TestEvent};
//! let mut b = BatchBuilder::new();
//! b.push(TestEvent::tcp("203.0.113.7", "192.0.2.1", 443).at_ms(1_000));
//! let batch = b.batch();
//! assert_eq!(batch.events().next().unwrap().dpt(), Some(443));
//! ```

use crate::{Annotation, Batch};
use core::net::IpAddr;
use portcullis_abi::record::{RECORD_SIZE, RecordFields, encode};

/// One event to put in a test batch.
#[derive(Debug, Clone)]
pub struct TestEvent {
    fields: RecordFields,
    prefix: String,
    in_iface: String,
    out_iface: String,
    org: String,
    city: String,
}

impl TestEvent {
    /// A TCP SYN from `src` to `dst:dpt` (addresses as text; panics on a bad one, it is a test).
    pub fn tcp(src: &str, dst: &str, dpt: u16) -> Self {
        TestEvent {
            fields: RecordFields {
                src: Some(parse(src)),
                dst: Some(parse(dst)),
                ports: Some((40_000, dpt)),
                tcp_flags: crate::tcp_flags::SYN,
                proto: 6,
                ttl: 64,
                ip_len: 60,
                ..RecordFields::default()
            },
            prefix: String::new(),
            in_iface: "eth0".into(),
            out_iface: String::new(),
            org: String::new(),
            city: String::new(),
        }
    }

    /// Sets the event's log time.
    pub fn at_ms(mut self, ms: i64) -> Self {
        self.fields.time_ms = Some(ms);
        self
    }

    /// Sets the log prefix.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the enrichment fields, as a GeoIP stage would have (`country` is two letters).
    pub fn geo(mut self, country: &str, asn: u32, org: &str, city: &str) -> Self {
        let c = country.as_bytes();
        self.fields.geo.country = (c.len() == 2).then(|| [c[0], c[1]]);
        self.fields.geo.asn = Some(asn).filter(|a| *a != 0);
        self.org = org.into();
        self.city = city.into();
        self
    }

    /// Sets the TCP flag bits.
    pub fn flags(mut self, bits: u16) -> Self {
        self.fields.tcp_flags = bits;
        self
    }
}

fn parse(ip: &str) -> IpAddr {
    ip.parse()
        .unwrap_or_else(|_| panic!("test address {ip:?} is not an IP address"))
}

/// Accumulates test events into a batch laid out exactly as the host lays it out.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    bytes: Vec<u8>,
    strings: Vec<String>,
    annotations: Vec<Annotation>,
    count: usize,
    now_ms: i64,
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        BatchBuilder::default()
    }

    /// Sets the batch's `now_ms`.
    pub fn now_ms(&mut self, ms: i64) -> &mut Self {
        self.now_ms = ms;
        self
    }

    /// Appends an event.
    pub fn push(&mut self, ev: TestEvent) -> &mut Self {
        let mut fields = ev.fields;
        fields.prefix = self.intern(&ev.prefix);
        fields.in_iface = self.intern(&ev.in_iface);
        fields.out_iface = self.intern(&ev.out_iface);
        fields.geo.org = self.intern(&ev.org);
        fields.geo.city = self.intern(&ev.city);
        let mut rec = [0u8; RECORD_SIZE];
        encode(&fields, &mut rec);
        self.bytes.extend_from_slice(&rec);
        self.count += 1;
        self
    }

    fn intern(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return portcullis_abi::record::NO_STRING;
        }
        let at = self.strings.iter().position(|x| x == s).unwrap_or_else(|| {
            self.strings.push(s.to_string());
            self.strings.len() - 1
        });
        at as u32
    }

    /// The batch, borrowing the builder.
    pub fn batch(&self) -> Batch<'_> {
        Batch::new(
            &self.bytes,
            RECORD_SIZE,
            self.count,
            &self.strings,
            &self.annotations,
            self.now_ms,
        )
    }

    /// Attaches a note to the event at `index`, as an earlier stage would have.
    pub fn annotate(&mut self, index: u32, key: &str, value: &str) -> &mut Self {
        self.annotations.push(Annotation {
            event: index,
            key: key.into(),
            value: value.into(),
        });
        self.annotations.sort_by_key(|a| a.event);
        self
    }
}
