//! Block lists: sources banned on first sight for their country, network (ASN) or
//! organisation, as an enrichment stage before this one recorded them.

use portcullis_sdk::{ConfigError, Event};

/// The configured lists.
#[derive(Debug, Default)]
pub struct BlockList {
    countries: Vec<[u8; 2]>,
    asns: Vec<u32>,
    /// Upper-cased; matched as substrings of the upper-cased organisation.
    orgs: Vec<String>,
}

impl BlockList {
    /// Validates the three lists.
    pub fn new(countries: &[String], asns: &[u32], orgs: &[String]) -> Result<Self, ConfigError> {
        let mut list = BlockList::default();
        for (i, c) in countries.iter().enumerate() {
            match c.as_bytes() {
                [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                    list.countries
                        .push([a.to_ascii_uppercase(), b.to_ascii_uppercase()]);
                }
                _ => {
                    return Err(ConfigError::key(
                        format!("ban_countries[{i}]"),
                        format!("{c:?} is not a two-letter country code"),
                    ));
                }
            }
        }
        for (i, a) in asns.iter().enumerate() {
            if *a == 0 {
                return Err(ConfigError::key(
                    format!("ban_asns[{i}]"),
                    "AS0 is not a network",
                ));
            }
        }
        list.asns = asns.to_vec();
        for (i, o) in orgs.iter().enumerate() {
            if o.trim().is_empty() {
                return Err(ConfigError::key(
                    format!("ban_orgs[{i}]"),
                    "an empty name would match everyone",
                ));
            }
            list.orgs.push(o.trim().to_uppercase());
        }
        Ok(list)
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.countries.is_empty() && self.asns.is_empty() && self.orgs.is_empty()
    }

    /// Why `ev`'s source is block-listed, if it is.
    pub fn reason(&self, ev: &Event<'_>) -> Option<String> {
        if let Some(c) = ev.country().filter(|c| self.countries.contains(c)) {
            return Some(format!(
                "country {} is block-listed",
                String::from_utf8_lossy(&c)
            ));
        }
        if let Some(a) = ev.asn().filter(|a| self.asns.contains(a)) {
            return Some(format!("AS{a} is block-listed"));
        }
        let org = ev.org()?;
        let upper = org.to_uppercase();
        self.orgs
            .iter()
            .find(|o| upper.contains(o.as_str()))
            .map(|o| format!("organisation {org:?} matches block-listed {o:?}"))
    }
}
