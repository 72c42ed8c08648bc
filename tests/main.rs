//! Integration tests. Each module runs the real `portcullis` binary with the real
//! standard plugins (the `.wasm` components built from `plugins/` and embedded in it).
//!
//! - `daemon_files`: the live run's file and stdin sources: rotation, truncation, restarts
//!   after SIGTERM and `kill -9`, bursts, patterns, reloads, shutdown and metrics.
//! - `daemon_sources`: the live run's syslog (UDP, unix socket) and journald sources.
//! - `demo`: the bundled demo end to end: who is banned, who is not, and why.
//! - `ban_rules`: threshold-ban's share, escalation and network rules, and the counter's
//!   report, on the demo log and synthetic ones.
//! - `analyze`: tallies by key after the configured stages, and enriched lines.
//! - `cidr_filter`: prefix, port, protocol and network rules drop events before a later
//!   ban stage; `keep_*` exceptions; a bad rule is refused naming its key and index.
//! - `attack`: a real attack end to end: LOG lines from /dev/kmsg, the threshold crossed,
//!   the attacker's next connection refused, the ban kept across a restart, lifted at expiry;
//!   healing after `nft flush ruleset`.
//! - `backends`: each firewall backend driven through the library inside a namespace.
//! - `bans`, `bans_restart`: bans on the real firewall (nftables, iptables, ipset) in
//!   network namespaces: blocking, expiry, removal by CIDR, refusals, foreign rules left
//!   alone, `kill -9` and the reconciler, `import-iptables` (needs root; `site`);
//!   `bans_cli`: argument validation, damaged store, missing tools.
//! - `bad_input`: every kind of bad input gets a clear one-line error, never a panic.
//! - `config_files`: every file in `config/` is valid.
//! - `enrichment`: GeoIP/ASN lookups by one stage reach the stages after it.
//! - `guard`: allowlisted and overly broad targets are refused whatever a plugin asks.
//! - `plugin_faults`: plugins that trap, loop or eat memory never take the host down.
//! - `kernel_log`: lines the running kernel logs for real traffic between two network
//!   namespaces parse field by field (needs root; helpers in `system`).
//! - `listeners`: `portcullis listeners` finds `nc` listening on TCP (IPv4, IPv6) and UDP
//!   in a network namespace with its pid (needs root), and a socket of the test itself.
//! - `logrules`: LOG rules for the listening services on nftables and iptables: plan,
//!   apply (twice), real traffic logged with the planned prefixes, the rate limit, remove.
//! - `parser_corpus`: real and generated netfilter LOG lines parse; fields agree with other
//!   parsers' expected outputs.
//! - `plugin_runtime`: `plugin check`, the compiled-plugin cache, state across restarts,
//!   failure limits and fuel.
//! - `replay`: old logs in their own time: deterministic, windows in log time, expiries
//!   inside the span reported.
//! - `scan_detect`: psad's recorded SYN, FIN, NULL, XMAS, ACK and UDP scans are each
//!   detected and classified; a generated log's port scanners are banned, nobody else.

mod common;

mod analyze;
mod attack;
mod backends;
mod bad_input;
mod ban_rules;
mod bans;
mod bans_cli;
mod bans_restart;
mod cidr_filter;
mod config_files;
mod daemon_files;
mod daemon_sources;
mod demo;
mod enrichment;
mod guard;
mod kernel_log;
mod listeners;
mod live;
mod logrules;
mod parser_corpus;
mod plugin_faults;
mod plugin_runtime;
mod replay;
mod scan_detect;
mod site;
mod system;
