//! Tests of the active-ban model, including a property test against a simulated interval
//! set that refuses overlapping entries, as nftables does.

use super::*;
use proptest::prelude::*;

fn net(s: &str) -> IpNet {
    IpNet::parse(s).unwrap()
}

fn active(now: i64, until: i64) -> ActiveBan {
    ActiveBan {
        created_at: now,
        expires_at: until,
        reason: "r".into(),
        origin: "t".into(),
    }
}

fn adds(plan: &Plan) -> Vec<(String, i64)> {
    plan.ops
        .iter()
        .filter_map(|o| match o {
            Op::Add {
                target, expires_at, ..
            } => Some((target.to_string(), *expires_at)),
            Op::Remove { .. } => None,
        })
        .collect()
}

fn removes(plan: &Plan) -> Vec<String> {
    plan.ops
        .iter()
        .filter_map(|o| match o {
            Op::Remove { target, .. } => Some(target.to_string()),
            Op::Add { .. } => None,
        })
        .collect()
}

#[test]
fn longer_ban_extends_shorter_one_merges() {
    let mut bans = ActiveBans::new();
    let mut plan = Plan::default();
    let t = net("198.51.100.7");
    assert_eq!(bans.ban(t, active(0, 100), &mut plan), BanOutcome::Banned);
    assert_eq!(bans.ban(t, active(10, 50), &mut plan), BanOutcome::Merged);
    assert_eq!(
        bans.ban(t, active(10, 200), &mut plan),
        BanOutcome::Extended
    );
    assert_eq!(
        adds(&plan),
        [
            ("198.51.100.7/32".into(), 100),
            ("198.51.100.7/32".into(), 200)
        ]
    );
    assert_eq!(bans.get(&t).unwrap().expires_at, 200);
    assert_eq!(bans.get(&t).unwrap().created_at, 0);
}

#[test]
fn broader_ban_supersedes_or_holds_out_the_bans_inside() {
    let mut bans = ActiveBans::new();
    let mut plan = Plan::default();
    bans.ban(net("198.51.100.7"), active(0, 100), &mut plan);
    bans.ban(net("198.51.100.8"), active(0, 900), &mut plan);
    let mut plan = Plan::default();
    bans.ban(net("198.51.100.0/24"), active(10, 500), &mut plan);
    // .7 ends sooner: lifted for good. .8 outlasts the /24: out of the firewall for now.
    assert_eq!(removes(&plan), ["198.51.100.7/32", "198.51.100.8/32"]);
    assert_eq!(adds(&plan), [("198.51.100.0/24".into(), 500)]);
    assert!(bans.get(&net("198.51.100.7")).is_none());
    assert!(!bans.is_enforced(&net("198.51.100.8")));
    // A narrower ban inside the /24 that ends sooner is merged.
    assert_eq!(
        bans.ban(net("198.51.100.9"), active(20, 400), &mut Plan::default()),
        BanOutcome::Merged
    );
    // One that outlasts it waits in the store, with no op.
    let mut plan = Plan::default();
    assert_eq!(
        bans.ban(net("198.51.100.10"), active(20, 600), &mut plan),
        BanOutcome::Banned
    );
    assert!(plan.ops.is_empty());
    // When the /24 expires, the two that outlast it enter with their own expiries.
    let mut plan = Plan::default();
    assert_eq!(bans.sweep(500, &mut plan), 1);
    assert_eq!(removes(&plan), ["198.51.100.0/24"]);
    assert_eq!(
        adds(&plan),
        [
            ("198.51.100.8/32".into(), 900),
            ("198.51.100.10/32".into(), 600)
        ]
    );
}

#[test]
fn unban_lifts_everything_inside_only() {
    let mut bans = ActiveBans::new();
    let mut plan = Plan::default();
    for t in [
        "198.51.100.7",
        "198.51.100.200",
        "203.0.113.5",
        "2001:db8::1",
    ] {
        bans.ban(net(t), active(0, 100), &mut plan);
    }
    let mut plan = Plan::default();
    let lifted = bans.unban(&net("198.51.100.0/24"), 5, "removed by cli", &mut plan);
    assert_eq!(lifted, [net("198.51.100.7"), net("198.51.100.200")]);
    assert_eq!(removes(&plan), ["198.51.100.7/32", "198.51.100.200/32"]);
    assert_eq!(plan.records.len(), 2);
    assert_eq!(bans.len(), 2);
    // IPv6 networks never contain IPv4 ones.
    let lifted = bans.unban(&net("::/0"), 5, "x", &mut Plan::default());
    assert_eq!(lifted, [net("2001:db8::1")]);
}

#[test]
fn sweep_lifts_only_what_is_due_and_records_why() {
    let mut bans = ActiveBans::new();
    let mut plan = Plan::default();
    bans.ban(net("203.0.113.1"), active(0, 10), &mut plan);
    bans.ban(net("203.0.113.2"), active(0, 20), &mut plan);
    let mut plan = Plan::default();
    assert_eq!(bans.sweep(9, &mut plan), 0);
    assert!(plan.is_empty());
    assert_eq!(bans.sweep(10, &mut plan), 1);
    assert_eq!(
        plan.records,
        [Record::Lift {
            target: net("203.0.113.1"),
            at: 10,
            why: "expired".into()
        }]
    );
    assert_eq!(bans.next_expiry(), Some(20));
}

#[derive(Debug, Clone)]
enum Step {
    Ban(IpNet, i64),
    Unban(IpNet),
    Sweep(i64),
}

fn any_net() -> impl Strategy<Value = IpNet> {
    // A small space so that nets nest and collide often.
    (
        0u32..4,
        0u32..4,
        prop::sample::select(vec![22u8, 23, 24, 30, 32]),
    )
        .prop_map(|(a, b, p)| {
            let addr = std::net::Ipv4Addr::new(198, 51, 100 + (a as u8 & 1), (b * 64 + a) as u8);
            IpNet::new(addr.into(), p).unwrap()
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (any_net(), 1i64..50).prop_map(|(n, d)| Step::Ban(n, d)),
        1 => any_net().prop_map(Step::Unban),
        2 => (1i64..20).prop_map(Step::Sweep),
    ]
}

proptest! {
    /// Whatever happens, the ops keep a simulated interval set (which refuses overlaps and
    /// tolerates removing what is gone) equal to the enforced bans, expiries included.
    #[test]
    fn firewall_always_holds_exactly_the_enforced_bans(steps in prop::collection::vec(step(), 1..60)) {
        let mut bans = ActiveBans::new();
        let mut firewall: BTreeMap<IpNet, i64> = BTreeMap::new();
        let mut now = 0i64;
        for s in steps {
            let mut plan = Plan::default();
            match s {
                Step::Ban(n, d) => {
                    bans.sweep(now, &mut plan);
                    bans.ban(n, active(now, now + d), &mut plan);
                }
                Step::Unban(n) => {
                    bans.unban(&n, now, "u", &mut plan);
                }
                Step::Sweep(dt) => {
                    now += dt;
                    // The kernel's timeouts run out on their own.
                    firewall.retain(|_, e| *e > now);
                    bans.sweep(now, &mut plan);
                }
            }
            for op in &plan.ops {
                match op {
                    Op::Add { target, expires_at, .. } => {
                        let overlap = firewall
                            .keys()
                            .find(|k| *k != target && (k.contains_net(target) || target.contains_net(k)));
                        prop_assert!(overlap.is_none(), "{target} overlaps {overlap:?}");
                        firewall.insert(*target, *expires_at);
                    }
                    Op::Remove { target, .. } => {
                        firewall.remove(target);
                    }
                }
            }
            let expected: BTreeMap<IpNet, i64> = bans
                .enforced()
                .map(|(n, b)| (*n, b.expires_at))
                .collect();
            prop_assert_eq!(&firewall, &expected);
            // Every step swept first (or changed no time): nothing due is still active.
            for (n, b) in bans.iter() {
                prop_assert!(b.expires_at > now, "{n} was due at {} but is active at {now}", b.expires_at);
            }
        }
    }
}
