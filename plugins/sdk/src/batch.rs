//! A read-only view of a batch of events, read in place from the host's bytes.

use crate::output::Annotation;
use core::net::IpAddr;
use portcullis_abi::record::{NO_STRING, RECORD_SIZE, RecordView};

/// The events of one `process` call, in order.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    records: &'a [u8],
    record_size: usize,
    count: usize,
    strings: &'a [String],
    annotations: &'a [Annotation],
    now_ms: i64,
}

impl<'a> Batch<'a> {
    /// A view over `count` records of `record_size` bytes. The count is clamped to what the
    /// bytes hold, and a record size smaller than this SDK's layout yields no events.
    /// `annotations` must be sorted by event index (the host sends them so).
    pub fn new(
        records: &'a [u8],
        record_size: usize,
        count: usize,
        strings: &'a [String],
        annotations: &'a [Annotation],
        now_ms: i64,
    ) -> Self {
        let count = if record_size < RECORD_SIZE {
            0
        } else {
            count.min(records.len() / record_size)
        };
        Batch {
            records,
            record_size,
            count,
            strings,
            annotations,
            now_ms,
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch holds no events.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The host's clock when the batch was handed over, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The events, in order.
    pub fn events(&self) -> impl Iterator<Item = Event<'a>> + 'a {
        let Batch {
            records,
            record_size,
            count,
            strings,
            annotations,
            ..
        } = *self;
        (0..count).filter_map(move |i| {
            let start = i * record_size;
            let view = RecordView::new(records.get(start..)?)?;
            Some(Event {
                index: i as u32,
                view,
                strings,
                annotations,
            })
        })
    }

    /// Every note earlier stages attached (only the keys this plugin `reads`), by event.
    pub fn annotations(&self) -> &'a [Annotation] {
        self.annotations
    }
}

/// One firewall event.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    index: u32,
    view: RecordView<'a>,
    strings: &'a [String],
    annotations: &'a [Annotation],
}

impl<'a> Event<'a> {
    /// Position of the event in its batch.
    pub fn index(&self) -> u32 {
        self.index
    }
    /// Source address; `None` for events without an IP layer (ARP).
    pub fn src(&self) -> Option<IpAddr> {
        self.view.src()
    }
    /// Destination address.
    pub fn dst(&self) -> Option<IpAddr> {
        self.view.dst()
    }
    /// Source address as 16 bytes (IPv4-mapped for IPv4), a cheap map key.
    pub fn src_key(&self) -> [u8; 16] {
        self.view.src_bytes()
    }
    /// Time of the log line, unix milliseconds, when the line carried one.
    pub fn time_ms(&self) -> Option<i64> {
        self.view.time_ms()
    }
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub fn proto(&self) -> u8 {
        self.view.proto()
    }
    /// Source port, for protocols with ports.
    pub fn spt(&self) -> Option<u16> {
        self.view.spt()
    }
    /// Destination port, for protocols with ports.
    pub fn dpt(&self) -> Option<u16> {
        self.view.dpt()
    }
    /// TCP flag bits, see [`crate::tcp_flags`].
    pub fn tcp_flags(&self) -> u16 {
        self.view.tcp_flags()
    }
    /// IP total length.
    pub fn ip_len(&self) -> u32 {
        self.view.ip_len()
    }
    /// TTL or hop limit.
    pub fn ttl(&self) -> u8 {
        self.view.ttl()
    }
    /// ICMP type and code.
    pub fn icmp(&self) -> Option<(u8, u8)> {
        self.view.icmp()
    }
    /// The log prefix as logged (`""` when none).
    pub fn prefix(&self) -> &'a str {
        self.string(self.view.prefix_id())
    }
    /// Input interface (`IN=`), `""` when empty.
    pub fn in_iface(&self) -> &'a str {
        self.string(self.view.in_iface_id())
    }
    /// Output interface (`OUT=`), `""` when empty.
    pub fn out_iface(&self) -> &'a str {
        self.string(self.view.out_iface_id())
    }

    /// Autonomous system number of the source, when an enrichment stage found it.
    pub fn asn(&self) -> Option<u32> {
        self.view.asn()
    }
    /// Country code (ISO 3166-1 alpha-2) of the source, when an enrichment stage found it.
    pub fn country(&self) -> Option<[u8; 2]> {
        self.view.country()
    }
    /// The source's AS organisation, when an enrichment stage found it.
    pub fn org(&self) -> Option<&'a str> {
        Some(self.string(self.view.org_id())).filter(|s| !s.is_empty())
    }
    /// The source's city, when an enrichment stage found it.
    pub fn city(&self) -> Option<&'a str> {
        Some(self.string(self.view.city_id())).filter(|s| !s.is_empty())
    }
    /// The value of the note `key` an earlier stage attached to this event (only keys the
    /// plugin lists in its description's `reads`).
    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        let start = self.annotations.partition_point(|a| a.event < self.index);
        self.annotations[start..]
            .iter()
            .take_while(|a| a.event == self.index)
            .find(|a| a.key == key)
            .map(|a| a.value.as_str())
    }

    fn string(&self, id: u32) -> &'a str {
        if id == NO_STRING {
            return "";
        }
        self.strings
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{BatchBuilder, TestEvent};

    #[test]
    fn events_read_their_fields_enrichment_and_notes() {
        let mut b = BatchBuilder::new();
        b.push(
            TestEvent::tcp("203.0.113.7", "192.0.2.1", 22)
                .at_ms(5)
                .prefix("DROP: "),
        );
        b.push(TestEvent::tcp("2001:db8::9", "2001:db8::1", 443).geo(
            "DE",
            3320,
            "Deutsche Telekom AG",
            "Bonn",
        ));
        b.annotate(1, "label", "scanner")
            .annotate(0, "label", "first")
            .annotate(1, "other", "x");
        let batch = b.batch();
        let evs: Vec<_> = batch.events().collect();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].src(), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(
            (evs[0].dpt(), evs[0].time_ms(), evs[0].prefix()),
            (Some(22), Some(5), "DROP: ")
        );
        assert_eq!(
            (evs[0].country(), evs[0].asn(), evs[0].org()),
            (None, None, None)
        );
        assert_eq!(evs[1].country(), Some(*b"DE"));
        assert_eq!(
            (evs[1].asn(), evs[1].org(), evs[1].city()),
            (Some(3320), Some("Deutsche Telekom AG"), Some("Bonn"))
        );
        assert_eq!(evs[0].annotation("label"), Some("first"));
        assert_eq!(evs[1].annotation("label"), Some("scanner"));
        assert_eq!(evs[1].annotation("other"), Some("x"));
        assert_eq!(evs[0].annotation("other"), None);
    }

    #[test]
    fn a_record_size_smaller_than_the_layout_yields_no_events() {
        let mut b = BatchBuilder::new();
        b.push(TestEvent::tcp("203.0.113.7", "192.0.2.1", 22));
        let full = b.batch();
        let bytes: Vec<u8> = full.events().flat_map(|_| [0u8; 10]).collect();
        let short = super::Batch::new(&bytes, 10, 1, &[], &[], 0);
        assert_eq!(short.events().count(), 0);
    }
}
