//! The nftables backend: owns table `inet <name>` (sets `ban4`/`ban6` with kernel
//! timeouts, one base chain per hook dropping their members) and nothing else. Each batch
//! is one `nft -f -` transaction, rendered by the sans-IO `script`.

use super::command::check_name;
use super::{Backend, BackendError, BackendOptions, Command, Hook, Listed, Op};
use portcullis_abi::net::IpNet;
use serde_json::Value;
use std::collections::HashSet;
use std::fmt::Write;

/// Every hook, for turning the ones no longer configured off.
const ALL_HOOKS: [Hook; 2] = [Hook::Input, Hook::Forward];

/// Bans in an nftables table of our own.
pub struct Nftables {
    opts: BackendOptions,
    /// Elements known to be in the sets (from the last list, then our own batches), or
    /// `None` until prepare or a list. See [`script`] for why this matters.
    present: Option<HashSet<IpNet>>,
}

impl Nftables {
    /// The backend for `opts`; nothing is run until [`Backend::prepare`].
    pub fn new(opts: BackendOptions) -> Self {
        Nftables {
            opts,
            present: None,
        }
    }

    fn nft<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        Command::new(&self.opts.wrapper, "nft").args(args)
    }

    fn table_exists(&self) -> Result<bool, BackendError> {
        let cmd = self.nft(["-j", "list", "tables", "inet"]);
        let json = cmd.run()?;
        let doc = parse_json(&cmd, &json)?;
        Ok(objects(&doc, "table")
            .any(|t| t["family"] == "inet" && t["name"].as_str() == Some(self.opts.name.as_str())))
    }
}

impl Backend for Nftables {
    fn name(&self) -> &'static str {
        "nftables"
    }

    fn prepare(&mut self) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        let script = prepare_script(&self.opts.name, &self.opts.hooks);
        self.nft(["-f", "-"]).stdin(script).run()?;
        // Learn what the sets hold, so the first batch knows which elements need the dance.
        self.list(0)?;
        Ok(())
    }

    fn apply(&mut self, ops: &[Op], now: i64) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        if ops.is_empty() {
            return Ok(());
        }
        let mut present = self.present.clone();
        let script = script(ops, now, &self.opts.name, &mut present);
        self.nft(["-f", "-"]).stdin(script).run()?;
        self.present = present;
        Ok(())
    }

    fn list(&mut self, now: i64) -> Result<Vec<Listed>, BackendError> {
        check_name(&self.opts.name)?;
        let cmd = self.nft(["-j", "list", "table", "inet", &self.opts.name]);
        let out = cmd.output()?;
        if !out.status.success() {
            if self.table_exists()? {
                return Err(cmd.failed(&out).into());
            }
            self.present = Some(HashSet::new());
            return Ok(Vec::new());
        }
        let doc = parse_json(&cmd, &out.stdout)?;
        let listed = parse_list(&doc, &self.opts.name, now);
        self.present = Some(listed.iter().map(|l| l.target).collect());
        Ok(listed)
    }

    fn remove_all(&mut self) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        if self.table_exists()? {
            self.nft(["delete", "table", "inet", &self.opts.name])
                .run()?;
        }
        self.present = Some(HashSet::new());
        Ok(())
    }
}

/// The idempotent script creating what we own: `add` never fails on what exists, and the
/// chains are flushed before their rule is added so it is never duplicated. Chains of
/// hooks no longer configured are removed (`add` first, so the delete cannot fail).
fn prepare_script(table: &str, hooks: &[Hook]) -> String {
    let mut s = format!("add table inet {table}\n");
    for (set, ty) in [("ban4", "ipv4_addr"), ("ban6", "ipv6_addr")] {
        let _ = writeln!(
            s,
            "add set inet {table} {set} {{ type {ty}; flags interval, timeout; }}"
        );
    }
    for hook in ALL_HOOKS {
        let chain = hook.name();
        let _ = writeln!(
            s,
            "add chain inet {table} {chain} \
             {{ type filter hook {chain} priority -10; policy accept; }}\n\
             flush chain inet {table} {chain}"
        );
        if hooks.contains(&hook) {
            let _ = writeln!(
                s,
                "add rule inet {table} {chain} ip saddr @ban4 drop\n\
                 add rule inet {table} {chain} ip6 saddr @ban6 drop"
            );
        } else {
            let _ = writeln!(s, "delete chain inet {table} {chain}");
        }
    }
    s
}

/// The transaction for `ops`, in order.
///
/// Adding an element that exists leaves its timeout alone on kernels before 6.10 (and a
/// delete of an absent one fails the whole transaction), so an element that may be there
/// is first added with a 1 s timeout (now it surely exists), deleted, then added with its
/// new timeout. But nft 1.0 deletes from interval sets slowly: about 1 ms per element per
/// 1000 elements in the set (10,000 into an empty set took 11 s this way, 0.1 s as plain
/// adds). So `present`, when known, says which elements need the dance; the rest are
/// plain adds, and a Remove of an element known absent is nothing. It is updated to the
/// state after the batch. Wrong only if someone else edits our sets; the next list fixes
/// it, and the reconciler the ban.
fn script(ops: &[Op], now: i64, table: &str, present: &mut Option<HashSet<IpNet>>) -> String {
    let mut s = String::new();
    for op in ops {
        let target = op.target();
        let set = if target.is_ipv4() { "ban4" } else { "ban6" };
        let elem = element(target);
        let maybe_there = present.as_ref().is_none_or(|p| p.contains(target));
        if maybe_there {
            let _ = writeln!(
                s,
                "add element inet {table} {set} {{ {elem} timeout 1s }}\n\
                 delete element inet {table} {set} {{ {elem} }}"
            );
        }
        match op {
            Op::Add { expires_at, .. } => {
                let secs = (expires_at - now).max(1);
                let _ = writeln!(
                    s,
                    "add element inet {table} {set} {{ {elem} timeout {secs}s }}"
                );
                if let Some(p) = present {
                    p.insert(*target);
                }
            }
            Op::Remove { .. } => {
                if let Some(p) = present {
                    p.remove(target);
                }
            }
        }
    }
    s
}

/// `198.51.100.7` for a host, `203.0.113.0/24` for a network.
fn element(net: &IpNet) -> String {
    let host = if net.is_ipv4() { 32 } else { 128 };
    if net.prefix() == host {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

fn parse_json(cmd: &Command, text: &str) -> Result<Value, BackendError> {
    serde_json::from_str(text).map_err(|e| BackendError::Listing {
        backend: "nftables",
        command: cmd.display(),
        message: e.to_string(),
    })
}

/// The objects of one kind (`table`, `set`) in an `nft -j` document.
fn objects<'a>(doc: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> {
    doc["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(move |o| o.get(kind))
}

/// The elements of sets `ban4` and `ban6` of `table` in `nft -j list table` output.
/// Elements are `"a.b.c.d"`, `{"prefix":{"addr":..,"len":..}}`, or either wrapped as
/// `{"elem":{"val":..,"timeout":s,"expires":s}}`; `expires` counts from `now`. Anything
/// else (a range someone added by hand) cannot be a target and is skipped with a warning.
fn parse_list(doc: &Value, table: &str, now: i64) -> Vec<Listed> {
    let mut out = Vec::new();
    let sets = objects(doc, "set").filter(|s| {
        s["family"] == "inet"
            && s["table"].as_str() == Some(table)
            && matches!(s["name"].as_str(), Some("ban4" | "ban6"))
    });
    for set in sets {
        for e in set["elem"].as_array().into_iter().flatten() {
            let (val, expires) = match e.get("elem") {
                Some(inner) => (&inner["val"], inner["expires"].as_i64()),
                None => (e, None),
            };
            match target(val) {
                Some(target) => out.push(Listed {
                    target,
                    expires_at: expires.map(|secs| now + secs),
                }),
                None => tracing::warn!(element = %val, table, "skipping an unexpected set element"),
            }
        }
    }
    out.sort();
    out
}

fn target(val: &Value) -> Option<IpNet> {
    match val {
        Value::String(addr) => IpNet::parse(addr).ok(),
        Value::Object(o) => {
            let p = o.get("prefix")?;
            let len = u8::try_from(p["len"].as_u64()?).ok()?;
            IpNet::new(p["addr"].as_str()?.parse().ok()?, len).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_ops::{add, net, remove};
    use super::*;

    #[test]
    fn prepare_creates_sets_and_one_rule_per_family_per_hook() {
        assert_eq!(
            prepare_script("portcullis", &[Hook::Input]),
            "add table inet portcullis
add set inet portcullis ban4 { type ipv4_addr; flags interval, timeout; }
add set inet portcullis ban6 { type ipv6_addr; flags interval, timeout; }
add chain inet portcullis input { type filter hook input priority -10; policy accept; }
flush chain inet portcullis input
add rule inet portcullis input ip saddr @ban4 drop
add rule inet portcullis input ip6 saddr @ban6 drop
add chain inet portcullis forward { type filter hook forward priority -10; policy accept; }
flush chain inet portcullis forward
delete chain inet portcullis forward
"
        );
    }

    #[test]
    fn unknown_state_dances_every_element() {
        let ops = [
            add("198.51.100.7/32", 1_000_100),
            add("2001:db8::/48", 999_000),
            remove("203.0.113.0/24"),
        ];
        let mut present = None;
        assert_eq!(
            script(&ops, 1_000_000, "pc", &mut present),
            "add element inet pc ban4 { 198.51.100.7 timeout 1s }
delete element inet pc ban4 { 198.51.100.7 }
add element inet pc ban4 { 198.51.100.7 timeout 100s }
add element inet pc ban6 { 2001:db8::/48 timeout 1s }
delete element inet pc ban6 { 2001:db8::/48 }
add element inet pc ban6 { 2001:db8::/48 timeout 1s }
add element inet pc ban4 { 203.0.113.0/24 timeout 1s }
delete element inet pc ban4 { 203.0.113.0/24 }
"
        );
        assert_eq!(present, None);
    }

    #[test]
    fn known_state_dances_only_present_elements() {
        let mut present = Some(HashSet::from([
            net("198.51.100.7/32"),
            net("2001:db8::1/128"),
        ]));
        let ops = [
            add("198.51.100.7/32", 60),
            add("198.51.100.8/32", 60),
            remove("198.51.100.9/32"),
            remove("2001:db8::1/128"),
        ];
        assert_eq!(
            script(&ops, 0, "pc", &mut present),
            "add element inet pc ban4 { 198.51.100.7 timeout 1s }
delete element inet pc ban4 { 198.51.100.7 }
add element inet pc ban4 { 198.51.100.7 timeout 60s }
add element inet pc ban4 { 198.51.100.8 timeout 60s }
add element inet pc ban6 { 2001:db8::1 timeout 1s }
delete element inet pc ban6 { 2001:db8::1 }
"
        );
        let expected = HashSet::from([net("198.51.100.7/32"), net("198.51.100.8/32")]);
        assert_eq!(present, Some(expected));
        // The same target twice in one batch: the second op sees the first's result.
        let ops = [add("198.51.100.20/32", 5), remove("198.51.100.20/32")];
        let s = script(&ops, 0, "pc", &mut present);
        assert_eq!(s.lines().count(), 3, "{s}");
        assert!(
            s.ends_with("delete element inet pc ban4 { 198.51.100.20 }\n"),
            "{s}"
        );
    }

    /// Captured from nftables 1.0.6 (`nft -j list table inet portcullis`) on Linux 6.18.
    const LISTED: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "portcullis", "handle": 1}}, {"set": {"family": "inet", "name": "ban4", "table": "portcullis", "type": "ipv4_addr", "handle": 1, "flags": ["interval", "timeout"], "elem": [{"elem": {"val": "198.51.100.7", "timeout": 50, "expires": 44}}, {"elem": {"val": {"prefix": {"addr": "203.0.113.0", "len": 24}}, "timeout": 100, "expires": 90}}, "192.0.2.1", {"range": ["192.0.2.5", "192.0.2.9"]}]}}, {"set": {"family": "inet", "name": "ban6", "table": "portcullis", "type": "ipv6_addr", "handle": 2, "flags": ["interval", "timeout"], "elem": [{"elem": {"val": "2001:db8::1", "timeout": 200, "expires": 190}}, {"elem": {"val": {"prefix": {"addr": "2001:db8:5::", "len": 48}}, "timeout": 300, "expires": 290}}]}}, {"set": {"family": "inet", "name": "other", "table": "portcullis", "type": "ipv4_addr", "handle": 3, "elem": ["192.0.2.77"]}}, {"chain": {"family": "inet", "table": "portcullis", "name": "input", "handle": 3, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}}, {"rule": {"family": "inet", "table": "portcullis", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@ban4"}}, {"drop": null}]}}]}"#;

    #[test]
    fn lists_plain_prefix_and_timed_elements() {
        let doc: Value = serde_json::from_str(LISTED).unwrap();
        let got: Vec<_> = parse_list(&doc, "portcullis", 1000)
            .iter()
            .map(|l| (l.target, l.expires_at))
            .collect();
        let want = [
            (net("192.0.2.1/32"), None),
            (net("198.51.100.7/32"), Some(1044)),
            (net("203.0.113.0/24"), Some(1090)),
            (net("2001:db8::1/128"), Some(1190)),
            (net("2001:db8:5::/48"), Some(1290)),
        ];
        assert_eq!(got, want);
        assert!(parse_list(&doc, "someone-else", 1000).is_empty());
    }

    #[test]
    fn empty_sets_list_nothing() {
        let doc: Value = serde_json::from_str(
            r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"set": {"family": "inet", "name": "ban4", "table": "portcullis", "type": "ipv4_addr", "handle": 1, "flags": ["interval", "timeout"]}}]}"#,
        )
        .unwrap();
        assert!(parse_list(&doc, "portcullis", 0).is_empty());
    }
}
