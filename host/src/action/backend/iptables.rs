//! The iptables backend: owns chain `<NAME>` (the configured name uppercased) in table
//! `filter` of both `iptables` and `ip6tables`, the `-j <NAME>` rules at the top of the
//! hooked built-in chains, and one `-j DROP` rule per ban carrying its expiry epoch as the
//! comment. Each batch is one `iptables-restore --noflush` per family, rendered by the
//! sans-IO `script`. Also the helpers the ipset backend uses for its match rules.

use super::command::check_name;
use super::{Backend, BackendError, BackendOptions, Command, Hook, Listed, Op};
use portcullis_abi::net::IpNet;
use std::collections::HashMap;
use std::fmt::Write;

/// Every hook, for turning the ones no longer configured off.
pub(super) const ALL_HOOKS: [Hook; 2] = [Hook::Input, Hook::Forward];

/// The two iptables families, each with its own tools and table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    V4,
    V6,
}

impl Family {
    pub(super) const BOTH: [Family; 2] = [Family::V4, Family::V6];

    pub(super) fn of(net: &IpNet) -> Family {
        if net.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    fn tool(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }

    /// `iptables -w args…` (`-w`: wait for the xtables lock rather than fail on it).
    pub(super) fn tables<'a>(
        self,
        wrapper: &[String],
        args: impl IntoIterator<Item = &'a str>,
    ) -> Command {
        Command::new(wrapper, self.tool()).args(["-w"]).args(args)
    }
}

/// The built-in chain a hook jumps from.
pub(super) fn builtin(hook: Hook) -> &'static str {
    match hook {
        Hook::Input => "INPUT",
        Hook::Forward => "FORWARD",
    }
}

/// Makes rule `spec` present once at the top of `chain` (`want`) or absent. `-C` answers
/// 0 when the rule is there and 1 when not; anything else (a chain or set missing) is an
/// error when the rule is wanted and means "nothing to delete" when not.
pub(super) fn set_rule(
    wrapper: &[String],
    family: Family,
    chain: &str,
    spec: &[&str],
    want: bool,
) -> Result<(), BackendError> {
    let with = |op: &'static str| {
        let args = [op, chain].into_iter().chain(spec.iter().copied());
        family.tables(wrapper, args)
    };
    loop {
        let check = with("-C");
        let out = check.output()?;
        match (out.status.code(), want) {
            (Some(0), true) => return Ok(()),
            (Some(0), false) => {
                with("-D").run()?;
            }
            (Some(1), true) => {
                with("-I").run()?;
                return Ok(());
            }
            (_, false) => return Ok(()),
            (_, true) => return Err(check.failed(&out).into()),
        }
    }
}

/// Bans as rules in an iptables chain of our own.
pub struct Iptables {
    opts: BackendOptions,
    chain: String,
    /// Every rule in our chains by target, exactly as `-S` printed it (or we wrote it),
    /// since deleting a rule takes its whole spec, comment included.
    rules: HashMap<IpNet, Vec<String>>,
}

impl Iptables {
    /// The backend for `opts`; nothing is run until [`Backend::prepare`].
    pub fn new(opts: BackendOptions) -> Self {
        Iptables {
            chain: opts.name.to_ascii_uppercase(),
            opts,
            rules: HashMap::new(),
        }
    }

    /// The rules of our chain in `family`; an absent chain has none. (`-S CHAIN` on a
    /// missing chain fails with a misleading "incompatible" message under iptables-nft
    /// 1.8.9, so a failure is checked against the whole table.)
    fn rules_of(&self, family: Family) -> Result<Vec<Rule>, BackendError> {
        let cmd = family.tables(&self.opts.wrapper, ["-S", &self.chain]);
        let out = cmd.output()?;
        if !out.status.success() {
            if self.chain_exists(family)? {
                return Err(cmd.failed(&out).into());
            }
            return Ok(Vec::new());
        }
        Ok(parse_rules(&self.chain, &out.stdout))
    }

    fn chain_exists(&self, family: Family) -> Result<bool, BackendError> {
        let all = family.tables(&self.opts.wrapper, ["-S"]).run()?;
        let declared = format!("-N {}", self.chain);
        Ok(all.lines().any(|l| l.trim_end() == declared))
    }

    /// Re-reads `family`'s rules into the map.
    fn refresh(&mut self, family: Family) -> Result<Vec<Rule>, BackendError> {
        let rules = self.rules_of(family)?;
        self.rules.retain(|t, _| Family::of(t) != family);
        for r in &rules {
            self.rules.entry(r.target).or_default().push(r.spec.clone());
        }
        Ok(rules)
    }

    fn apply_family(&mut self, family: Family, ops: &[&Op]) -> Result<(), BackendError> {
        let mut retried = false;
        loop {
            let mut next = self.rules.clone();
            let text = script(&self.chain, ops, &mut next);
            let restore = format!("{}-restore", family.tool());
            let cmd = Command::new(&self.opts.wrapper, &restore);
            match cmd.args(["-w", "--noflush"]).stdin(text).run() {
                Ok(_) => {
                    self.rules = next;
                    return Ok(());
                }
                // A rule deleted or changed by hand: our spec no longer matches. The
                // restore is all-or-nothing, so read what is there and try once more.
                Err(e) if !retried => {
                    tracing::warn!(error = %e, "iptables batch failed; re-reading and retrying");
                    retried = true;
                    self.refresh(family)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Backend for Iptables {
    fn name(&self) -> &'static str {
        "iptables"
    }

    fn prepare(&mut self) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        for family in Family::BOTH {
            if !self.chain_exists(family)? {
                family
                    .tables(&self.opts.wrapper, ["-N", &self.chain])
                    .run()?;
            }
            for hook in ALL_HOOKS {
                let want = self.opts.hooks.contains(&hook);
                let spec = ["-j", &self.chain];
                set_rule(&self.opts.wrapper, family, builtin(hook), &spec, want)?;
            }
            self.refresh(family)?;
        }
        Ok(())
    }

    fn apply(&mut self, ops: &[Op], _now: i64) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        for family in Family::BOTH {
            let ops: Vec<&Op> = ops
                .iter()
                .filter(|op| Family::of(op.target()) == family)
                .collect();
            if !ops.is_empty() {
                self.apply_family(family, &ops)?;
            }
        }
        Ok(())
    }

    fn list(&mut self, _now: i64) -> Result<Vec<Listed>, BackendError> {
        check_name(&self.opts.name)?;
        let mut rules = Vec::new();
        for family in Family::BOTH {
            rules.extend(self.refresh(family)?);
        }
        Ok(listed(&rules))
    }

    fn remove_all(&mut self) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        for family in Family::BOTH {
            for hook in ALL_HOOKS {
                let spec = ["-j", &self.chain];
                set_rule(&self.opts.wrapper, family, builtin(hook), &spec, false)?;
            }
            if self.chain_exists(family)? {
                for op in ["-F", "-X"] {
                    family.tables(&self.opts.wrapper, [op, &self.chain]).run()?;
                }
            }
            self.rules.retain(|t, _| Family::of(t) != family);
        }
        Ok(())
    }
}

/// A rule in our chain, as `iptables -S` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Its `-s` network.
    target: IpNet,
    /// The comment's epoch, when the rule is exactly one of ours.
    expires_at: Option<i64>,
    /// The whole `-A CHAIN …` line.
    spec: String,
}

/// The `-A CHAIN` lines of `iptables -S CHAIN` output. A rule of exactly our shape
/// (`-A CHAIN -s NET -m comment --comment EPOCH -j DROP`) has an expiry; any other with a
/// single `-s` is kept without one, so the reconciler removes it. A rule without a source
/// cannot be a ban and is left alone, with a warning.
fn parse_rules(chain: &str, text: &str) -> Vec<Rule> {
    let head = format!("-A {chain} ");
    let mut out = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if !line.starts_with(&head) {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let source = words
            .iter()
            .position(|w| *w == "-s")
            .and_then(|i| IpNet::parse(words.get(i + 1)?).ok());
        let Some(target) = source else {
            tracing::warn!(rule = line, "leaving a rule without a source alone");
            continue;
        };
        let expires_at = match words[2..] {
            ["-s", _, "-m", "comment", "--comment", epoch, "-j", "DROP"]
                if epoch.bytes().all(|b| b.is_ascii_digit()) =>
            {
                epoch.parse().ok()
            }
            _ => None,
        };
        out.push(Rule {
            target,
            expires_at,
            spec: line.to_string(),
        });
    }
    out
}

/// One entry per target; a target with several rules, or an unexpected one, has no
/// expiry (the reconciler then replaces or removes them all).
fn listed(rules: &[Rule]) -> Vec<Listed> {
    let mut by: HashMap<IpNet, Vec<Option<i64>>> = HashMap::new();
    for r in rules {
        by.entry(r.target).or_default().push(r.expires_at);
    }
    let mut out: Vec<Listed> = by
        .into_iter()
        .map(|(target, e)| Listed {
            target,
            expires_at: if e.len() == 1 { e[0] } else { None },
        })
        .collect();
    out.sort();
    out
}

/// The `iptables-restore --noflush` script for `ops` (all one family), in order: every
/// existing rule for a target is deleted by its exact spec, and an Add appends the new
/// one. `rules` is updated to the state after the batch.
fn script(chain: &str, ops: &[&Op], rules: &mut HashMap<IpNet, Vec<String>>) -> String {
    let mut s = String::from("*filter\n");
    for op in ops {
        let target = *op.target();
        for spec in rules.remove(&target).unwrap_or_default() {
            let rest = spec.strip_prefix("-A ").unwrap_or(&spec);
            let _ = writeln!(s, "-D {rest}");
        }
        if let Op::Add { expires_at, .. } = op {
            let spec = format!(
                "-A {chain} -s {target} -m comment --comment {} -j DROP",
                (*expires_at).max(0)
            );
            let _ = writeln!(s, "{spec}");
            rules.insert(target, vec![spec]);
        }
    }
    s.push_str("COMMIT\n");
    s
}

#[cfg(test)]
mod tests {
    use super::super::test_ops::{add, net, remove};
    use super::*;

    /// Captured from iptables v1.8.9 (nf_tables) `iptables -S PORTCULLIS`, plus odd rules.
    const LISTING: &str = "-N PORTCULLIS
-A PORTCULLIS -s 198.51.100.7/32 -m comment --comment 1767225600 -j DROP
-A PORTCULLIS -s 203.0.113.0/24 -m comment --comment 1767225601 -j DROP
-A PORTCULLIS -s 203.0.113.9/32 -m comment --comment \"hand made\" -j DROP
-A PORTCULLIS -s 192.0.2.1/32 -j DROP
-A PORTCULLIS -s 192.0.2.1/32 -m comment --comment 1767225600 -j DROP
-A PORTCULLIS -j ACCEPT
-A OTHER -s 192.0.2.99/32 -m comment --comment 1767225600 -j DROP
";

    #[test]
    fn parses_ours_and_keeps_the_rest_without_expiry() {
        let rules = parse_rules("PORTCULLIS", LISTING);
        assert_eq!(rules.len(), 5);
        assert_eq!(
            rules[2],
            Rule {
                target: net("203.0.113.9/32"),
                expires_at: None,
                spec: "-A PORTCULLIS -s 203.0.113.9/32 -m comment --comment \"hand made\" -j DROP"
                    .into(),
            }
        );
        let got: Vec<_> = listed(&rules)
            .iter()
            .map(|l| (l.target, l.expires_at))
            .collect();
        let want = [
            (net("192.0.2.1/32"), None),
            (net("198.51.100.7/32"), Some(1_767_225_600)),
            (net("203.0.113.0/24"), Some(1_767_225_601)),
            (net("203.0.113.9/32"), None),
        ];
        assert_eq!(got, want);
        let v6 = parse_rules(
            "PORTCULLIS",
            "-A PORTCULLIS -s 2001:db8::1/128 -m comment --comment 5 -j DROP\n",
        );
        assert_eq!(v6[0].target, net("2001:db8::1/128"));
        assert_eq!(v6[0].expires_at, Some(5));
    }

    #[test]
    fn script_deletes_by_exact_spec_and_appends() {
        let mut rules = HashMap::new();
        for r in parse_rules("PORTCULLIS", LISTING) {
            rules.entry(r.target).or_insert_with(Vec::new).push(r.spec);
        }
        let ops = [
            add("192.0.2.1/32", 1_767_230_000),
            remove("203.0.113.9/32"),
            remove("198.51.100.200/32"),
            add("198.51.100.8/32", 1_767_230_001),
        ];
        let ops: Vec<&Op> = ops.iter().collect();
        assert_eq!(
            script("PORTCULLIS", &ops, &mut rules),
            "*filter
-D PORTCULLIS -s 192.0.2.1/32 -j DROP
-D PORTCULLIS -s 192.0.2.1/32 -m comment --comment 1767225600 -j DROP
-A PORTCULLIS -s 192.0.2.1/32 -m comment --comment 1767230000 -j DROP
-D PORTCULLIS -s 203.0.113.9/32 -m comment --comment \"hand made\" -j DROP
-A PORTCULLIS -s 198.51.100.8/32 -m comment --comment 1767230001 -j DROP
COMMIT
"
        );
        assert_eq!(rules.len(), 4);
        assert_eq!(
            rules[&net("192.0.2.1/32")],
            ["-A PORTCULLIS -s 192.0.2.1/32 -m comment --comment 1767230000 -j DROP"]
        );
        // Replacing our own rule later deletes it by the spec we wrote.
        let again = [remove("198.51.100.8/32")];
        let again: Vec<&Op> = again.iter().collect();
        assert_eq!(
            script("PORTCULLIS", &again, &mut rules),
            "*filter\n-D PORTCULLIS -s 198.51.100.8/32 -m comment --comment 1767230001 -j DROP\nCOMMIT\n"
        );
    }

    #[test]
    fn ipv6_hosts_render_with_their_prefix() {
        let ops = [add("2001:db8::1/128", 7)];
        let ops: Vec<&Op> = ops.iter().collect();
        assert_eq!(
            script("PC", &ops, &mut HashMap::new()),
            "*filter\n-A PC -s 2001:db8::1/128 -m comment --comment 7 -j DROP\nCOMMIT\n"
        );
    }
}
