//! Tallies of events by one key (source, organisation, ASN, country, destination port,
//! log prefix, protocol), with each key's share of the total: the operator's
//! `sort | uniq -c | sort -rn`, right for IPv6 and for enrichment. Sans-IO: it reads
//! batches after the stages ran.

use crate::pipeline::batch::EncodedBatch;
use portcullis_abi::record::{NO_STRING, RecordView};
use std::collections::HashMap;
use std::net::IpAddr;

/// What to count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// Source address.
    Src,
    /// The source's AS organisation (needs an enrichment stage).
    Org,
    /// The source's AS number (needs an enrichment stage).
    Asn,
    /// The source's country (needs an enrichment stage).
    Country,
    /// Destination port.
    Dport,
    /// Log prefix.
    Prefix,
    /// IP protocol.
    Proto,
}

/// A key as found in a batch, borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyRef<'a> {
    Addr(IpAddr),
    Num(u32),
    Text(&'a str),
    Unknown,
}

/// A key kept in the tally (text keys live in their own map, so a lookup never allocates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    Num(u32),
    Unknown,
}

/// One line of a tally.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// The key, as text (`(unknown)` for events without it).
    pub key: String,
    /// Events with this key.
    pub count: u64,
    /// `count` divided by all events counted.
    pub share: f64,
}

/// Exact counts by one key.
#[derive(Debug)]
pub struct Tally {
    by: By,
    counts: HashMap<Key, u64>,
    texts: HashMap<String, u64>,
    total: u64,
}

/// The kernel's name for an IP protocol number, or the number.
pub fn proto_name(p: u8) -> String {
    match p {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        50 => "ESP".into(),
        51 => "AH".into(),
        58 => "ICMPv6".into(),
        132 => "SCTP".into(),
        136 => "UDPLITE".into(),
        n => n.to_string(),
    }
}

impl Tally {
    /// An empty tally by `by`.
    pub fn new(by: By) -> Self {
        Tally {
            by,
            counts: HashMap::new(),
            texts: HashMap::new(),
            total: 0,
        }
    }

    fn text(batch: &EncodedBatch, id: u32) -> KeyRef<'_> {
        match batch.strings.get(id as usize) {
            Some(s) if id != NO_STRING => KeyRef::Text(s),
            _ => KeyRef::Unknown,
        }
    }

    fn key<'a>(&self, batch: &'a EncodedBatch, r: &RecordView<'_>) -> KeyRef<'a> {
        match self.by {
            By::Src => r.src().map(KeyRef::Addr).unwrap_or(KeyRef::Unknown),
            By::Org => Self::text(batch, r.org_id()),
            By::Asn => r.asn().map(KeyRef::Num).unwrap_or(KeyRef::Unknown),
            // Two ASCII letters, packed: shown as text again by `show`.
            By::Country => r
                .country()
                .map(|c| KeyRef::Num(u32::from(u16::from_be_bytes(c))))
                .unwrap_or(KeyRef::Unknown),
            By::Dport => r
                .dpt()
                .map(|p| KeyRef::Num(u32::from(p)))
                .unwrap_or(KeyRef::Unknown),
            By::Prefix => match Self::text(batch, r.prefix_id()) {
                KeyRef::Unknown => KeyRef::Text(""),
                k => k,
            },
            By::Proto if r.src().is_some() => KeyRef::Num(u32::from(r.proto())),
            By::Proto => KeyRef::Unknown,
        }
    }

    fn bump(&mut self, k: KeyRef<'_>, n: u64) {
        let key = match k {
            KeyRef::Text(t) => {
                match self.texts.get_mut(t) {
                    Some(c) => *c += n,
                    None => {
                        self.texts.insert(t.to_string(), n);
                    }
                }
                return;
            }
            KeyRef::Addr(a) => Key::Addr(a),
            KeyRef::Num(x) => Key::Num(x),
            KeyRef::Unknown => Key::Unknown,
        };
        *self.counts.entry(key).or_insert(0) += n;
    }

    /// Counts every event of `batch`.
    pub fn add(&mut self, batch: &EncodedBatch) {
        // Consecutive events often share a key (a flood): count runs before hashing.
        let mut run: Option<(KeyRef<'_>, u64)> = None;
        for i in 0..batch.len() {
            let Some(r) = batch.record(i) else { continue };
            let k = self.key(batch, &r);
            match &mut run {
                Some((rk, n)) if *rk == k => *n += 1,
                _ => {
                    if let Some((rk, n)) = run.take() {
                        self.bump(rk, n);
                    }
                    run = Some((k, 1));
                }
            }
            self.total += 1;
        }
        if let Some((rk, n)) = run {
            self.bump(rk, n);
        }
    }

    /// Events counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Distinct keys seen.
    pub fn distinct(&self) -> usize {
        self.counts.len() + self.texts.len()
    }

    fn show(&self, k: &Key) -> String {
        match (k, self.by) {
            (Key::Unknown, By::Dport) => "(none)".into(),
            (Key::Unknown, _) => "(unknown)".into(),
            (Key::Addr(a), _) => a.to_string(),
            (Key::Num(n), By::Asn) => format!("AS{n}"),
            (Key::Num(n), By::Proto) => proto_name(*n as u8),
            (Key::Num(n), By::Country) => {
                String::from_utf8_lossy(&(*n as u16).to_be_bytes()).into_owned()
            }
            (Key::Num(n), _) => n.to_string(),
        }
    }

    /// The `n` largest keys, by count then key, with their shares.
    pub fn top(&self, n: usize) -> Vec<Row> {
        let share = |c: u64| {
            if self.total == 0 {
                0.0
            } else {
                c as f64 / self.total as f64
            }
        };
        let mut rows: Vec<Row> = self
            .counts
            .iter()
            .map(|(k, c)| Row {
                key: self.show(k),
                count: *c,
                share: share(*c),
            })
            .chain(self.texts.iter().map(|(t, c)| Row {
                key: t.clone(),
                count: *c,
                share: share(*c),
            }))
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        rows.truncate(n);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_abi::record::{GeoFields, RecordFields};

    fn batch(srcs: &[(&str, u16, Option<u32>)]) -> EncodedBatch {
        let mut b = EncodedBatch::default();
        for (src, dpt, asn) in srcs {
            let ip: IpAddr = src.parse().unwrap();
            b.push_fields(&RecordFields {
                src: Some(ip),
                dst: Some(ip),
                ports: Some((1, *dpt)),
                proto: 6,
                geo: GeoFields {
                    asn: *asn,
                    ..GeoFields::default()
                },
                ..RecordFields::default()
            });
        }
        b
    }

    #[test]
    fn counts_by_source_port_and_asn_with_shares() {
        let b = batch(&[
            ("203.0.113.1", 22, Some(64_500)),
            ("203.0.113.1", 22, Some(64_500)),
            ("2001:db8::1", 443, None),
            ("203.0.113.1", 443, Some(64_500)),
        ]);
        let mut src = Tally::new(By::Src);
        src.add(&b);
        let top = src.top(10);
        assert_eq!(
            top[0],
            Row {
                key: "203.0.113.1".into(),
                count: 3,
                share: 0.75
            }
        );
        assert_eq!(top[1].key, "2001:db8::1");
        let mut asn = Tally::new(By::Asn);
        asn.add(&b);
        let keys: Vec<(String, u64)> = asn.top(10).into_iter().map(|r| (r.key, r.count)).collect();
        assert_eq!(
            keys,
            [("AS64500".to_string(), 3), ("(unknown)".to_string(), 1)]
        );
        let mut dport = Tally::new(By::Dport);
        dport.add(&b);
        dport.add(&b);
        assert_eq!(dport.total(), 8);
        assert_eq!(dport.top(1)[0].count, 4);
        let mut proto = Tally::new(By::Proto);
        proto.add(&b);
        assert_eq!(proto.top(1)[0].key, "TCP");
    }
}
