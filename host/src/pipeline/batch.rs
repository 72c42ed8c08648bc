//! A batch of events encoded in the contract's fixed-record layout, as plugins receive it.

use crate::parse::Event;
use portcullis_abi::record::{self, NO_STRING, RECORD_SIZE, RecordFields, RecordView};
use std::collections::HashMap;

/// A note a stage attached to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Index of the event in the batch.
    pub event: u32,
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Well-known enrichment from notes, ready to write into records; other notes aside.
#[derive(Debug, Default)]
struct Patch {
    country: Option<[u8; 2]>,
    asn: Option<u32>,
    org: Option<u32>,
    city: Option<u32>,
    others: Vec<(String, String)>,
}

impl Patch {
    /// Takes a note if its key is well known (a value that does not fit its field is
    /// dropped); false for any other key.
    fn take(&mut self, key: &str, value: &str, intern: &mut impl FnMut(&str) -> u32) -> bool {
        match key {
            "country" => {
                if let [x, y] = value.as_bytes()
                    && x.is_ascii_alphabetic()
                    && y.is_ascii_alphabetic()
                {
                    self.country = Some([x.to_ascii_uppercase(), y.to_ascii_uppercase()]);
                }
            }
            "asn" => {
                if let Ok(n) = value.trim_start_matches("AS").parse::<u32>()
                    && n != 0
                {
                    self.asn = Some(n);
                }
            }
            "org" => self.org = Some(intern(value)),
            "city" => self.city = Some(intern(value)),
            _ => return false,
        }
        true
    }

    fn apply(&self, geo: &mut record::GeoFields) {
        if let Some(c) = self.country {
            geo.country = Some(c);
        }
        if let Some(a) = self.asn {
            geo.asn = Some(a);
        }
        if let Some(o) = self.org {
            geo.org = o;
        }
        if let Some(c) = self.city {
            geo.city = c;
        }
    }
}

/// A note a stage attached to every event from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAnnotation {
    /// The source address.
    pub src: std::net::IpAddr,
    /// Name.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Events as fixed-size records plus the strings they refer to, and the notes stages
/// attached to them.
#[derive(Debug, Default)]
pub struct EncodedBatch {
    /// `len() * RECORD_SIZE` bytes.
    pub records: Vec<u8>,
    /// The string table (prefixes, interface names, enrichment) the records index into.
    pub strings: Vec<String>,
    /// The host clock when the batch is handed over, unix milliseconds.
    pub now_ms: i64,
    /// Notes other than the well-known enrichment keys, which live in the records.
    pub annotations: Vec<Annotation>,
    /// The host's own tag of each event: its position when it was pushed. Never sent to
    /// plugins; it follows its event through `retain`, so the host can find what an event
    /// came from (e.g. its log line).
    pub tags: Vec<u32>,
    index: HashMap<String, u32>,
}

impl EncodedBatch {
    /// An empty batch with room for `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        EncodedBatch {
            records: Vec::with_capacity(capacity * RECORD_SIZE),
            ..Self::default()
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.records.len() / RECORD_SIZE
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.records.clear();
        self.strings.clear();
        self.annotations.clear();
        self.tags.clear();
        self.index.clear();
    }

    /// The index of `s` in the string table, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return NO_STRING;
        }
        if let Some(id) = self.index.get(s) {
            return *id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.index.insert(s.to_string(), id);
        id
    }

    /// Appends one parsed event.
    pub fn push(&mut self, ev: &Event<'_>) {
        let fields = RecordFields {
            src: ev.src(),
            dst: ev.dst(),
            time_ms: ev.time_unix_ms(),
            prefix: self.intern(ev.prefix()),
            in_iface: self.intern(ev.in_iface()),
            out_iface: self.intern(ev.out_iface()),
            ip_len: ev.ip_len().unwrap_or(0),
            ports: ev.spt().zip(ev.dpt()),
            tcp_flags: ev.tcp_flag_bits(),
            proto: ev.proto_number().unwrap_or(0),
            ttl: ev.ttl().unwrap_or(0),
            icmp: ev.icmp_type_code(),
            geo: record::GeoFields::default(),
        };
        self.push_fields(&fields);
    }

    /// Appends one record from its fields (string indexes already interned).
    pub fn push_fields(&mut self, fields: &RecordFields) {
        let mut rec = [0u8; RECORD_SIZE];
        record::encode(fields, &mut rec);
        self.tags.push(self.len() as u32);
        self.records.extend_from_slice(&rec);
    }

    /// The `i`th record.
    pub fn record(&self, i: usize) -> Option<RecordView<'_>> {
        RecordView::new(self.records.get(i * RECORD_SIZE..)?)
    }

    /// Keeps only the events whose verdict is "keep" (an empty verdict list keeps all),
    /// with their notes. Returns how many were dropped.
    pub fn retain(&mut self, verdicts: &[u8]) -> usize {
        if verdicts.is_empty() {
            return 0;
        }
        let before = self.len();
        let mut new_index = vec![u32::MAX; before];
        let mut write = 0;
        for (read, v) in verdicts.iter().enumerate().take(before) {
            if *v == portcullis_abi::VERDICT_DROP {
                continue;
            }
            if read != write {
                self.records.copy_within(
                    read * RECORD_SIZE..(read + 1) * RECORD_SIZE,
                    write * RECORD_SIZE,
                );
            }
            new_index[read] = write as u32;
            if let Some(&tag) = self.tags.get(read) {
                self.tags[write] = tag;
            }
            write += 1;
        }
        self.records.truncate(write * RECORD_SIZE);
        self.tags.truncate(write);
        if !self.annotations.is_empty() {
            self.annotations
                .retain_mut(|a| match new_index.get(a.event as usize) {
                    Some(&i) if i != u32::MAX => {
                        a.event = i;
                        true
                    }
                    _ => false,
                });
        }
        before - write
    }

    /// Takes a stage's notes about sources: each applies to every event of the batch from
    /// its source, as [`EncodedBatch::annotate`] would per event, but the values are parsed
    /// and interned once per source rather than once per event.
    pub fn annotate_sources(&mut self, notes: Vec<SourceAnnotation>) {
        if notes.is_empty() {
            return;
        }
        let mut patches: HashMap<[u8; 16], Patch> = HashMap::new();
        for n in notes {
            let src = match n.src {
                std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                std::net::IpAddr::V6(v6) => v6.octets(),
            };
            let patch = patches.entry(src).or_default();
            if !patch.take(&n.key, &n.value, &mut |s| self.intern(s)) {
                patch.others.push((n.key, n.value));
            }
        }
        for i in 0..self.len() {
            let Some(r) = self.record(i) else { continue };
            if r.src().is_none() {
                continue;
            }
            let Some(patch) = patches.get(&r.src_bytes()) else {
                continue;
            };
            let mut geo = r.geo();
            patch.apply(&mut geo);
            let at = i * RECORD_SIZE;
            record::write_geo(&mut self.records[at..at + RECORD_SIZE], &geo);
            for (k, v) in &patch.others {
                self.annotations.push(Annotation {
                    event: i as u32,
                    key: k.clone(),
                    value: v.clone(),
                });
            }
        }
    }

    /// Takes a stage's notes: the well-known enrichment keys (`country`, `asn`, `org`,
    /// `city`) are written into the event's record, where every later stage reads them;
    /// the others are kept as notes. Values that do not fit their field are ignored.
    pub fn annotate(&mut self, notes: Vec<Annotation>) {
        for a in notes {
            let i = a.event as usize;
            let Some(view) = self.record(i) else { continue };
            let mut geo = view.geo();
            let mut patch = Patch::default();
            if !patch.take(&a.key, &a.value, &mut |s| self.intern(s)) {
                self.annotations.push(a);
                continue;
            }
            patch.apply(&mut geo);
            let at = i * RECORD_SIZE;
            record::write_geo(&mut self.records[at..at + RECORD_SIZE], &geo);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn note(event: u32, key: &str, value: &str) -> Annotation {
        Annotation {
            event,
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn well_known_notes_go_into_records_and_others_follow_their_event() {
        let mut b = EncodedBatch::default();
        for s in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
            b.push_fields(&fields(s));
        }
        b.annotate(vec![
            note(1, "country", "us"),
            note(1, "asn", "AS22616"),
            note(1, "org", "ZSCALER, INC."),
            note(2, "country", "USA"),
            note(2, "asn", "lots"),
            note(2, "label", "scanner"),
            note(0, "label", "first"),
            note(9, "country", "DE"),
        ]);
        let r = b.record(1).unwrap();
        assert_eq!((r.country(), r.asn()), (Some(*b"US"), Some(22_616)));
        assert_eq!(b.strings[r.org_id() as usize], "ZSCALER, INC.");
        assert_eq!(b.record(2).unwrap().geo(), record::GeoFields::default());
        assert_eq!(
            b.annotations,
            [note(2, "label", "scanner"), note(0, "label", "first")]
        );
        // Dropping event 0 renumbers the notes of the events that stay.
        b.retain(&[1, 0, 0]);
        assert_eq!(b.annotations, [note(1, "label", "scanner")]);
        assert_eq!(b.record(0).unwrap().country(), Some(*b"US"));
    }

    #[test]
    fn source_notes_reach_every_event_of_their_source() {
        let mut b = EncodedBatch::default();
        for s in ["192.0.2.1", "192.0.2.2", "192.0.2.1"] {
            b.push_fields(&fields(s));
        }
        let src = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        b.annotate_sources(vec![
            SourceAnnotation {
                src: src("192.0.2.1"),
                key: "country".into(),
                value: "fr".into(),
            },
            SourceAnnotation {
                src: src("192.0.2.1"),
                key: "org".into(),
                value: "Orange".into(),
            },
            SourceAnnotation {
                src: src("192.0.2.1"),
                key: "label".into(),
                value: "x".into(),
            },
            SourceAnnotation {
                src: src("198.51.100.1"),
                key: "country".into(),
                value: "DE".into(),
            },
        ]);
        let geo: Vec<Option<[u8; 2]>> = (0..3).map(|i| b.record(i).unwrap().country()).collect();
        assert_eq!(geo, [Some(*b"FR"), None, Some(*b"FR")]);
        assert_eq!(b.strings[b.record(2).unwrap().org_id() as usize], "Orange");
        assert_eq!(
            b.annotations,
            [note(0, "label", "x"), note(2, "label", "x")]
        );
    }

    fn fields(src: &str) -> RecordFields {
        RecordFields {
            src: Some(src.parse().unwrap()),
            dst: Some(src.parse().unwrap()),
            ..RecordFields::default()
        }
    }

    #[test]
    fn retain_compacts_in_order() {
        let mut b = EncodedBatch::default();
        for s in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"] {
            b.push_fields(&fields(s));
        }
        assert_eq!(b.retain(&[1, 0, 1, 0]), 2);
        assert_eq!(b.tags, [1, 3]);
        let left: Vec<IpAddr> = (0..b.len())
            .map(|i| b.record(i).unwrap().src().unwrap())
            .collect();
        assert_eq!(
            left,
            [
                "192.0.2.2".parse::<IpAddr>().unwrap(),
                "192.0.2.4".parse().unwrap()
            ]
        );
        assert_eq!(b.retain(&[]), 0);
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn interning_reuses_ids() {
        let mut b = EncodedBatch::default();
        assert_eq!(b.intern("eth0"), 0);
        assert_eq!(b.intern("DROP: "), 1);
        assert_eq!(b.intern("eth0"), 0);
        assert_eq!(b.intern(""), NO_STRING);
        b.clear();
        assert_eq!(b.intern("DROP: "), 0);
    }
}
