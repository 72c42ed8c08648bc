//! Who holds a socket: the process whose `/proc/<pid>/fd/*` links to `socket:[inode]`,
//! named by `/proc/<pid>/comm`. The IO edge of the listeners module: whatever cannot be
//! read (another user's process without root, a process that exits mid-scan) is skipped.

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// Its process id.
    pub pid: u32,
    /// Its name (`comm`), if it could still be read.
    pub process: Option<String>,
}

/// The owner of each of the `wanted` socket inodes that some visible process holds, from
/// the proc filesystem at `proc_root`.
///
/// A socket held by several processes (a pre-forking server's workers, a child that
/// inherited it) gets the lowest pid: usually the parent that opened it, and one row per
/// socket rather than one per worker.
pub(crate) fn owners(proc_root: &Path, wanted: &HashSet<u64>) -> HashMap<u64, Owner> {
    if wanted.is_empty() {
        return HashMap::new();
    }
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        tracing::debug!(proc = %proc_root.display(), "cannot list processes");
        return HashMap::new();
    };
    let mut pids: HashMap<u64, u32> = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Not ours to read, or gone since the listing: not an error.
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Some(inode) = std::fs::read_link(fd.path())
                .ok()
                .and_then(|target| target.to_str().and_then(socket_inode))
            else {
                continue;
            };
            if wanted.contains(&inode) {
                pids.entry(inode)
                    .and_modify(|p| *p = (*p).min(pid))
                    .or_insert(pid);
            }
        }
    }
    pids.into_iter()
        .map(|(inode, pid)| {
            let process = comm(proc_root, pid);
            (inode, Owner { pid, process })
        })
        .collect()
}

/// The inode in an fd link's target `socket:[12345]`; `None` for anything else (files,
/// pipes, `anon_inode:…`).
pub(crate) fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// `/proc/<pid>/comm` without its newline (bytes that are not UTF-8 replaced); `None` if
/// it cannot be read or is empty.
fn comm(proc_root: &Path, pid: u32) -> Option<String> {
    let bytes = std::fs::read(proc_root.join(pid.to_string()).join("comm")).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let name = text.trim_end_matches('\n');
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn socket_links_name_their_inode() {
        assert_eq!(socket_inode("socket:[539222]"), Some(539222));
        for other in [
            "pipe:[539222]",
            "anon_inode:[eventpoll]",
            "/dev/null",
            "socket:[]",
            "socket:[12",
            "socket:[-1]",
        ] {
            assert_eq!(socket_inode(other), None, "{other}");
        }
    }

    /// A fake proc tree: `(pid, comm, fd link targets)`; `comm: None` leaves it out, as
    /// for a process that exits between its fds and its name being read.
    fn fake_proc(processes: &[(&str, Option<&str>, &[&str])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (pid, comm, links) in processes {
            let p = dir.path().join(pid);
            std::fs::create_dir_all(p.join("fd")).unwrap();
            if let Some(comm) = comm {
                std::fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
            }
            for (fd, target) in links.iter().enumerate() {
                symlink(target, p.join("fd").join(fd.to_string())).unwrap();
            }
        }
        dir
    }

    #[test]
    fn each_wanted_socket_gets_the_lowest_pid_holding_it() {
        let proc = fake_proc(&[
            ("900", Some("worker"), &["socket:[10]", "/dev/null"]),
            ("80", Some("nginx"), &["pipe:[3]", "socket:[10]"]),
            ("7", Some("sshd"), &["socket:[22]", "socket:[99]"]),
            ("12", None, &["socket:[53]"]),
        ]);
        // Not a process: no pid in its name, nor any fd directory.
        std::fs::create_dir(proc.path().join("net")).unwrap();
        std::fs::create_dir(proc.path().join("31")).unwrap();
        let wanted = HashSet::from([10, 22, 53, 4242]);
        let found = owners(proc.path(), &wanted);
        let owner = |pid, name: Option<&str>| Owner {
            pid,
            process: name.map(str::to_string),
        };
        assert_eq!(
            found,
            HashMap::from([
                (10, owner(80, Some("nginx"))),
                (22, owner(7, Some("sshd"))),
                (53, owner(12, None)),
            ])
        );
    }

    #[test]
    fn an_unreadable_proc_is_no_owners() {
        let missing = Path::new("/nonexistent/proc");
        assert!(owners(missing, &HashSet::from([1])).is_empty());
    }
}
