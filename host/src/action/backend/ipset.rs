//! The ipset backend: owns sets `<name>-v4` and `<name>-v6` (`hash:net` with kernel
//! timeouts) and, per family and hook, one iptables rule dropping their members. Each
//! batch is one `ipset restore -exist`, rendered by the sans-IO `script`.

use super::command::check_name;
use super::iptables::{ALL_HOOKS, Family, builtin, set_rule};
use super::{Backend, BackendError, BackendOptions, Command, Listed, Op};
use portcullis_abi::net::IpNet;
use std::fmt::Write;

/// The longest timeout ipset accepts (seconds, about 24.8 days). A longer ban is set to
/// this and the reconciler, seeing the shorter expiry, refreshes it before it runs out.
pub const MAX_TIMEOUT_SECS: i64 = 2_147_483;

/// Bans in ipset sets matched by iptables rules.
pub struct Ipset {
    opts: BackendOptions,
}

impl Ipset {
    /// The backend for `opts`; nothing is run until [`Backend::prepare`].
    pub fn new(opts: BackendOptions) -> Self {
        Ipset { opts }
    }

    fn set_name(&self, family: Family) -> String {
        set_name(&self.opts.name, family)
    }

    fn ipset<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        Command::new(&self.opts.wrapper, "ipset").args(args)
    }

    /// Our sets that exist.
    fn existing(&self) -> Result<Vec<(Family, String)>, BackendError> {
        let names = self.ipset(["list", "-n"]).run()?;
        Ok(Family::BOTH
            .into_iter()
            .map(|f| (f, self.set_name(f)))
            .filter(|(_, name)| names.lines().any(|l| l.trim() == name))
            .collect())
    }

    /// Makes the match rules present (for the configured hooks) or absent.
    fn match_rules(&self, keep: bool) -> Result<(), BackendError> {
        for family in Family::BOTH {
            let set = self.set_name(family);
            let spec = [
                "-m",
                "set",
                "--match-set",
                &set,
                "src",
                "-m",
                "comment",
                "--comment",
                &self.opts.name,
                "-j",
                "DROP",
            ];
            for hook in ALL_HOOKS {
                let want = keep && self.opts.hooks.contains(&hook);
                set_rule(&self.opts.wrapper, family, builtin(hook), &spec, want)?;
            }
        }
        Ok(())
    }
}

impl Backend for Ipset {
    fn name(&self) -> &'static str {
        "ipset"
    }

    fn prepare(&mut self) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        for family in Family::BOTH {
            let set = self.set_name(family);
            let inet = match family {
                Family::V4 => "inet",
                Family::V6 => "inet6",
            };
            self.ipset([
                "create", &set, "hash:net", "family", inet, "timeout", "0", "maxelem", "1048576",
                "-exist",
            ])
            .run()?;
        }
        self.match_rules(true)
    }

    fn apply(&mut self, ops: &[Op], now: i64) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        if ops.is_empty() {
            return Ok(());
        }
        let text = script(&self.opts.name, ops, now);
        self.ipset(["restore", "-exist"]).stdin(text).run()?;
        Ok(())
    }

    fn list(&mut self, now: i64) -> Result<Vec<Listed>, BackendError> {
        check_name(&self.opts.name)?;
        let mut out = Vec::new();
        for (_, set) in self.existing()? {
            let saved = self.ipset(["save", &set]).run()?;
            out.extend(parse_save(&set, &saved, now));
        }
        out.sort();
        Ok(out)
    }

    fn max_timeout(&self) -> Option<i64> {
        Some(MAX_TIMEOUT_SECS)
    }

    fn remove_all(&mut self) -> Result<(), BackendError> {
        check_name(&self.opts.name)?;
        self.match_rules(false)?;
        for (_, set) in self.existing()? {
            self.ipset(["destroy", &set]).run()?;
        }
        Ok(())
    }
}

fn set_name(name: &str, family: Family) -> String {
    match family {
        Family::V4 => format!("{name}-v4"),
        Family::V6 => format!("{name}-v6"),
    }
}

/// The `ipset restore -exist` input for `ops`, in order. With `-exist`, `add` of an entry
/// that exists sets its timeout (longer or shorter) and `del` of a missing one is fine.
/// Timeouts are at least 1 s (0 would mean forever) and at most [`MAX_TIMEOUT_SECS`].
fn script(name: &str, ops: &[Op], now: i64) -> String {
    let mut s = String::new();
    for op in ops {
        let target = op.target();
        let set = set_name(name, Family::of(target));
        let _ = match op {
            Op::Add { expires_at, .. } => {
                let secs = (expires_at - now).clamp(1, MAX_TIMEOUT_SECS);
                writeln!(s, "add {set} {target} timeout {secs}")
            }
            Op::Remove { .. } => writeln!(s, "del {set} {target}"),
        };
    }
    s
}

/// The entries of `ipset save SET` output: `add SET 198.51.100.7 timeout 3590` (hosts
/// without their /32). `timeout 0` is an entry without expiry.
fn parse_save(set: &str, text: &str, now: i64) -> Vec<Listed> {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (target, rest) = match words[..] {
            ["add", s, net, ref rest @ ..] if s == set => (net, rest),
            _ => continue,
        };
        let Ok(target) = IpNet::parse(target) else {
            tracing::warn!(line, "skipping an unexpected ipset entry");
            continue;
        };
        let expires_at = match rest {
            ["timeout", secs, ..] => secs.parse::<i64>().ok().filter(|&s| s > 0).map(|s| now + s),
            _ => None,
        };
        out.push(Listed { target, expires_at });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_ops::net;
    use super::*;
    use std::sync::Arc;

    #[test]
    fn script_adds_with_clamped_timeouts_and_deletes() {
        let add = |t: &str, expires_at| Op::Add {
            target: net(t),
            expires_at,
            reason: Arc::from("r"),
            origin: Arc::from("o"),
        };
        let ops = [
            add("198.51.100.7/32", 1_060),
            add("203.0.113.0/24", 900),
            add("2001:db8::/48", 1_000 + 30 * 86_400),
            Op::Remove {
                target: net("2001:db8::1/128"),
                why: Arc::from("w"),
            },
        ];
        assert_eq!(
            script("portcullis", &ops, 1_000),
            "add portcullis-v4 198.51.100.7/32 timeout 60
add portcullis-v4 203.0.113.0/24 timeout 1
add portcullis-v6 2001:db8::/48 timeout 2147483
del portcullis-v6 2001:db8::1/128
"
        );
    }

    /// Captured from ipset v7.17 (`ipset save portcullis-v4`), plus a permanent entry.
    const SAVED: &str = "create portcullis-v4 hash:net family inet hashsize 1024 maxelem 1048576 timeout 0 bucketsize 12 initval 0xee4e10ce
add portcullis-v4 198.51.100.7 timeout 30
add portcullis-v4 203.0.113.0/24 timeout 99
add portcullis-v4 192.0.2.1 timeout 0
add other-set 192.0.2.2 timeout 5
";

    #[test]
    fn parses_saved_entries() {
        let got: Vec<_> = parse_save("portcullis-v4", SAVED, 100)
            .iter()
            .map(|l| (l.target, l.expires_at))
            .collect();
        let want = [
            (net("198.51.100.7/32"), Some(130)),
            (net("203.0.113.0/24"), Some(199)),
            (net("192.0.2.1/32"), None),
        ];
        assert_eq!(got, want);
        let v6 = parse_save(
            "portcullis-v6",
            "add portcullis-v6 2001:db8:5::/48 timeout 2147482\nadd portcullis-v6 2001:db8::1 timeout 49\n",
            0,
        );
        assert_eq!(v6[1].target, net("2001:db8::1/128"));
        assert_eq!(v6[0].expires_at, Some(2_147_482));
    }
}
