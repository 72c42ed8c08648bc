//! Listeners as text: an aligned table for people, one JSON object per line for programs.

use super::Listener;
use std::net::IpAddr;

/// The table's header, in column order.
const HEADER: [&str; 5] = ["PROTO", "ADDRESS", "PORT", "PID", "PROCESS"];

/// An aligned table with a header line, one row per listener in the given order; `-` for
/// an owner that could not be seen. Columns are separated by two spaces; no line ends in
/// spaces.
pub fn table(listeners: &[Listener]) -> String {
    let rows: Vec<[String; 5]> = listeners
        .iter()
        .map(|l| {
            [
                l.proto.name().to_string(),
                l.address.to_string(),
                l.port.to_string(),
                l.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
                l.process.clone().unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADER.map(str::to_string);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(cell.chars().count()),
            ));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One listener as JSON, in the shape `--format json` prints.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    proto: &'static str,
    address: IpAddr,
    port: u16,
    family: u8,
    pid: Option<u32>,
    process: Option<&'a str>,
    inode: u64,
}

/// One JSON object per listener and line: `proto`, `address`, `port`, `family` (4 or 6),
/// `pid` and `process` (`null` when unknown), `inode`.
pub fn json_lines(listeners: &[Listener]) -> String {
    let mut out = String::new();
    for l in listeners {
        let row = JsonRow {
            proto: l.proto.name(),
            address: l.address,
            port: l.port,
            family: l.family().number(),
            pid: l.pid,
            process: l.process.as_deref(),
            inode: l.inode,
        };
        // Serialising plain fields (no maps with non-string keys) cannot fail.
        out.push_str(&serde_json::to_string(&row).expect("a listener serialises"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listeners::Proto;

    fn listeners() -> Vec<Listener> {
        let l = |proto, address: &str, port, pid, process: Option<&str>, inode| Listener {
            proto,
            address: address.parse().unwrap(),
            port,
            pid,
            process: process.map(str::to_string),
            inode,
        };
        vec![
            l(Proto::Tcp, "0.0.0.0", 22, Some(812), Some("sshd"), 20811),
            l(Proto::Tcp, "::", 8443, Some(17065), Some("nc"), 539294),
            l(Proto::Udp, "127.0.0.53", 53, None, None, 1944),
        ]
    }

    #[test]
    fn table_aligns_columns_under_a_header() {
        assert_eq!(
            table(&listeners()),
            "\
PROTO  ADDRESS     PORT  PID    PROCESS
tcp    0.0.0.0     22    812    sshd
tcp    ::          8443  17065  nc
udp    127.0.0.53  53    -      -
"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(table(&[]), "PROTO  ADDRESS  PORT  PID  PROCESS\n");
    }

    #[test]
    fn json_is_one_object_per_line_with_nulls_for_unknown_owners() {
        assert_eq!(
            json_lines(&listeners()),
            r#"{"proto":"tcp","address":"0.0.0.0","port":22,"family":4,"pid":812,"process":"sshd","inode":20811}
{"proto":"tcp","address":"::","port":8443,"family":6,"pid":17065,"process":"nc","inode":539294}
{"proto":"udp","address":"127.0.0.53","port":53,"family":4,"pid":null,"process":null,"inode":1944}
"#
        );
        assert_eq!(json_lines(&[]), "");
    }
}
