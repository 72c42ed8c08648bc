//! Adopting the shell-script setup (sans-IO): finds, in `iptables -S <chain>` output, the
//! rules `-A <chain> -s <net> -m comment --comment <expiry epoch> -j DROP` that operators
//! add by hand or from cron, so Portcullis can take them over.

use portcullis_abi::net::IpNet;

/// A rule that can be adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoptable {
    /// The banned network.
    pub target: IpNet,
    /// The expiry epoch from the comment.
    pub expires_at: i64,
    /// The rule's arguments after `-A <chain>`, to delete it with `-D <chain> …`.
    pub spec: Vec<String>,
}

/// A `-j DROP` rule with an epoch comment that cannot be adopted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAdopted {
    /// The rule as listed.
    pub rule: String,
    /// Why.
    pub why: String,
}

/// The adoptable rules of `chain` in `listing`, and the epoch-commented DROP rules that
/// are not (they match more than a source, or their source is not a network). Rules
/// without an epoch comment are not ours to consider and are left out of both.
pub fn scan(listing: &str, chain: &str) -> (Vec<Adoptable>, Vec<NotAdopted>) {
    let mut found = Vec::new();
    let mut refused = Vec::new();
    for line in listing.lines() {
        let tokens = split(line);
        if tokens.len() < 2 || tokens[0] != "-A" || tokens[1] != chain {
            continue;
        }
        let spec: Vec<String> = tokens[2..].to_vec();
        let mut source = None;
        let mut epoch = None;
        let mut drop = false;
        let mut other = Vec::new();
        let mut i = 0;
        while i < spec.len() {
            let (t, next) = (spec[i].as_str(), spec.get(i + 1).map(String::as_str));
            match (t, next) {
                ("-s", Some(v)) => {
                    source = Some(v.to_string());
                    i += 2;
                }
                ("-m", Some("comment")) => i += 2,
                ("--comment", Some(v)) => {
                    epoch = (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| v.parse::<i64>().ok())
                        .flatten();
                    i += 2;
                }
                ("-j", Some("DROP")) => {
                    drop = true;
                    i += 2;
                }
                _ => {
                    other.push(t.to_string());
                    i += 1;
                }
            }
        }
        let (Some(expires_at), true) = (epoch, drop) else {
            continue;
        };
        let Some(source) = source else {
            refused.push(NotAdopted {
                rule: line.to_string(),
                why: "it has no source (-s)".into(),
            });
            continue;
        };
        if !other.is_empty() {
            refused.push(NotAdopted {
                rule: line.to_string(),
                why: format!(
                    "it matches more than a source ({}); a ban would block more",
                    other.join(" ")
                ),
            });
            continue;
        }
        match IpNet::parse(&source) {
            Ok(target) => found.push(Adoptable {
                target,
                expires_at,
                spec,
            }),
            Err(e) => refused.push(NotAdopted {
                rule: line.to_string(),
                why: format!("source {source:?}: {e}"),
            }),
        }
    }
    (found, refused)
}

/// Splits an `iptables -S` line into words, honouring double quotes (`"a b"`) and
/// backslash escapes inside them.
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = r#"-P INPUT ACCEPT
-A INPUT -s 198.51.100.7/32 -m comment --comment 1795610000 -j DROP
-A INPUT -s 203.0.113.0/24 -m comment --comment "1795620000" -j DROP
-A INPUT -s 192.0.2.1/32 -m comment --comment "office VPN" -j ACCEPT
-A INPUT -s 192.0.2.9/32 -p tcp -m tcp --dport 22 -m comment --comment 1795610000 -j DROP
-A INPUT -s 192.0.2.10/32 -j DROP
-A FORWARD -s 198.51.100.8/32 -m comment --comment 1795610000 -j DROP
"#;

    #[test]
    fn adopts_epoch_commented_drops_of_the_chain_only() {
        let (found, refused) = scan(LISTING, "INPUT");
        assert_eq!(
            found,
            [
                Adoptable {
                    target: IpNet::parse("198.51.100.7").unwrap(),
                    expires_at: 1_795_610_000,
                    spec: "-s 198.51.100.7/32 -m comment --comment 1795610000 -j DROP"
                        .split(' ')
                        .map(String::from)
                        .collect(),
                },
                Adoptable {
                    target: IpNet::parse("203.0.113.0/24").unwrap(),
                    expires_at: 1_795_620_000,
                    spec: "-s 203.0.113.0/24 -m comment --comment 1795620000 -j DROP"
                        .split(' ')
                        .map(String::from)
                        .collect(),
                },
            ]
        );
        assert_eq!(refused.len(), 1);
        assert!(refused[0].why.contains("--dport"), "{:?}", refused[0]);
    }

    #[test]
    fn splits_quoted_words() {
        assert_eq!(
            split(r#"-A X --comment "a \"b\" c" -j DROP"#),
            ["-A", "X", "--comment", "a \"b\" c", "-j", "DROP"]
        );
    }
}
