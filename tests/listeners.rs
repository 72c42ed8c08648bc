//! `portcullis listeners` against real sockets: `nc` listening on TCP over IPv4 and IPv6
//! and on UDP inside a fresh network namespace (needs root; helpers in `system`), and a
//! socket this test process itself listens on (no root needed).

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{portcullis, stderr, stdout};
use crate::system::{Netns, Side, require_root, require_tools};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// Processes killed (and reaped) when the test ends, also when it fails.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `portcullis listeners ARGS` run inside `side`'s namespace; panics unless it succeeds.
fn listeners_in(side: &Side, args: &[&str]) -> String {
    let mut argv = vec![BIN, "listeners"];
    argv.extend(args);
    let out = side.run(&argv);
    ok(&out)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "portcullis listeners failed ({}): {}",
        out.status,
        stderr(out)
    );
    stdout(out)
}

fn json_rows(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The table's lines, each split into its cells.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// This process's name as `/proc` gives it.
fn own_comm() -> String {
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", std::process::id()));
    comm.expect("read own comm").trim_end().to_string()
}

#[test]
fn listeners_in_a_namespace_are_nc_with_its_pid() {
    if !require_root("listeners_in_a_namespace_are_nc_with_its_pid") {
        return;
    }
    require_tools(&[("nc", "netcat-openbsd")]);
    let net = Netns::pair(1500);
    let a = &net.a;
    // (argv, proto, address, port, family).
    let wanted = [
        (
            ["nc", "-4", "-lk", "8080"].as_slice(),
            "tcp",
            "0.0.0.0",
            8080,
            4,
        ),
        (["nc", "-6", "-lk", "8443"].as_slice(), "tcp", "::", 8443, 6),
        (
            ["nc", "-4", "-u", "-l", "5353"].as_slice(),
            "udp",
            "0.0.0.0",
            5353,
            4,
        ),
    ];
    // Declared after `net`, so dropped first: the processes die before their namespace.
    let mut children = Children(Vec::new());
    for (argv, ..) in &wanted {
        // `ip netns exec` execs nc in place: the child's pid is nc's.
        let child = a
            .cmd(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        children.0.push(child);
    }

    // Poll until all three are listening; a fresh namespace has no other sockets.
    let deadline = Instant::now() + Duration::from_secs(5);
    let rows = loop {
        let rows = json_rows(&listeners_in(a, &["--format", "json"]));
        if rows.len() >= wanted.len() {
            break rows;
        }
        for (c, (argv, ..)) in children.0.iter_mut().zip(&wanted) {
            if let Some(status) = c.try_wait().expect("try_wait") {
                panic!("{argv:?} exited before listening: {status}");
            }
        }
        assert!(
            Instant::now() < deadline,
            "not all listening after 5 s: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };

    let expected: Vec<Value> = wanted
        .iter()
        .zip(&children.0)
        .map(|((_, proto, address, port, family), child)| {
            serde_json::json!({
                "proto": proto, "address": address, "port": port, "family": family,
                "pid": child.id(), "process": "nc",
            })
        })
        .collect();
    // The inode is the kernel's: any number, but present, and one per socket.
    let mut inodes = BTreeSet::new();
    let without_inodes: Vec<Value> = rows
        .into_iter()
        .map(|mut r| {
            let inode = r["inode"]
                .as_u64()
                .unwrap_or_else(|| panic!("no inode: {r}"));
            inodes.insert(inode);
            r.as_object_mut().unwrap().remove("inode");
            r
        })
        .collect();
    assert_eq!(without_inodes, expected, "sorted by protocol, then port");
    assert_eq!(inodes.len(), 3, "three sockets: {inodes:?}");

    // The table: the default format, a header and the same rows in the same order.
    let table = listeners_in(a, &[]);
    let mut expected_table = vec![
        vec!["PROTO", "ADDRESS", "PORT", "PID", "PROCESS"]
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    ];
    for ((_, proto, address, port, _), child) in wanted.iter().zip(&children.0) {
        expected_table.push(vec![
            proto.to_string(),
            address.to_string(),
            port.to_string(),
            child.id().to_string(),
            "nc".to_string(),
        ]);
    }
    assert_eq!(table_rows(&table), expected_table, "table:\n{table}");
    assert_eq!(listeners_in(a, &["--format", "table"]), table);

    // The other namespace has none of them.
    assert_eq!(listeners_in(&net.b, &["--format", "json"]), "");
}

#[test]
fn a_socket_of_this_process_is_found_with_its_pid() {
    let socket = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = socket.local_addr().unwrap().port();
    let pid = std::process::id();

    let json = ok(&portcullis(&["listeners", "--format", "json"], &[], None));
    let rows: Vec<Value> = json_rows(&json)
        .into_iter()
        .filter(|r| r["proto"] == "tcp" && r["port"] == port)
        .collect();
    assert_eq!(rows.len(), 1, "one tcp row for port {port}:\n{json}");
    let r = &rows[0];
    assert_eq!(r["address"], "127.0.0.1");
    assert_eq!(r["family"], 4);
    assert_eq!(r["pid"], pid);
    assert_eq!(r["process"], own_comm().as_str());
    assert!(r["inode"].as_u64().is_some_and(|i| i > 0), "{r}");

    let table = ok(&portcullis(&["listeners"], &[], None));
    let row = vec![
        "tcp".to_string(),
        "127.0.0.1".to_string(),
        port.to_string(),
        pid.to_string(),
        own_comm(),
    ];
    let rows = table_rows(&table);
    assert_eq!(rows[0], ["PROTO", "ADDRESS", "PORT", "PID", "PROCESS"]);
    assert!(rows.contains(&row), "no {row:?} in:\n{table}");
    drop(socket);
}
