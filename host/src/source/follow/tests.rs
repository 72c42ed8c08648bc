//! Follower tests on real files in a temporary folder.

use super::*;
use std::io::Write;

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// Everything the follower hands on until it has nothing more.
fn drain(f: &mut Follower) -> String {
    let mut out = String::new();
    let mut idle = 0;
    while idle < 12 {
        match f.poll().unwrap() {
            Some(c) => {
                idle = 0;
                out.push_str(std::str::from_utf8(&c.data).unwrap());
            }
            None => {
                idle += 1;
                std::thread::sleep(ROTATION_CHECK);
            }
        }
    }
    out
}

#[test]
fn hands_on_complete_lines_only_and_starts_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.log");
    append(&path, "old 1\nold 2\n");
    let mut f = Follower::new(path.clone(), StartAt::End, None);
    assert_eq!(drain(&mut f), "");
    append(&path, "new 1\nnew ");
    assert_eq!(drain(&mut f), "new 1\n");
    append(&path, "2\n");
    assert_eq!(drain(&mut f), "new 2\n");
    assert_eq!(f.position().unwrap().offset, 24);
}

#[test]
fn follows_rename_rotation_and_copytruncate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.log");
    append(&path, "a\n");
    let mut f = Follower::new(path.clone(), StartAt::Beginning, None);
    assert_eq!(drain(&mut f), "a\n");
    // logrotate's default: rename, a new file, and the writer still appending to the old
    // one until it is told to reopen.
    std::fs::rename(&path, dir.path().join("fw.log.1")).unwrap();
    append(&dir.path().join("fw.log.1"), "b\n");
    append(&path, "c1\nc2\nc3\n");
    assert_eq!(f.poll().unwrap().unwrap().data, b"b\n");
    assert!(f.poll().unwrap().is_none());
    std::thread::sleep(ROTATION_CHECK);
    assert!(f.poll().unwrap().is_none(), "the new file is noticed");
    append(&dir.path().join("fw.log.1"), "late\nunterminated");
    assert_eq!(drain(&mut f), "late\nunterminated\nc1\nc2\nc3\n");
    // copytruncate: the file is copied away and emptied in place; the writer goes on.
    // (Seen as a file shorter than what was read: a truncation is noticed as long as
    // the writer has not refilled it past that point within the 100 ms check.)
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    append(&path, "d\n");
    assert_eq!(drain(&mut f), "d\n");
}

#[test]
fn waits_for_a_missing_file_and_resumes_where_it_stood() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.log");
    let mut f = Follower::new(path.clone(), StartAt::End, None);
    assert_eq!(drain(&mut f), "");
    // A file that appears after the start is the first one found: read from `start_at`.
    append(&path, "x\n");
    let mut g = Follower::new(path.clone(), StartAt::Beginning, None);
    assert_eq!(drain(&mut g), "x\n");
    let pos = g.position().unwrap();
    append(&path, "y\n");
    // A restart resumes after the last line handed on.
    let mut h = Follower::new(path.clone(), StartAt::End, Some(pos));
    assert_eq!(drain(&mut h), "y\n");
    // A position saved for another inode means the file was rotated meanwhile: the new
    // file is read whole.
    let other = FilePos {
        inode: pos.inode + 1,
        offset: 1,
    };
    let mut k = Follower::new(path, StartAt::End, Some(other));
    assert_eq!(drain(&mut k), "x\ny\n");
}

#[test]
fn chunk_starts_are_exact_file_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.log");
    let mut f = Follower::new(path.clone(), StartAt::Beginning, None);
    let mut text = String::new();
    let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
    // Writes that end mid-line, so partial lines are held back between polls.
    for (i, piece) in ["one\ntw", "o\nthr", "ee\n", "four\nfive\nsi", "x\n"]
        .iter()
        .enumerate()
    {
        append(&path, piece);
        text.push_str(piece);
        while let Some(c) = f.poll().unwrap() {
            got.push((c.start.offset, c.data));
        }
        assert!(f.position().is_some(), "step {i}");
    }
    for (start, data) in &got {
        let at = *start as usize;
        assert_eq!(&text.as_bytes()[at..at + data.len()], &data[..]);
    }
    assert_eq!(f.position().unwrap().offset, text.len() as u64);
    // An over-long line is skipped to its end; what follows keeps exact offsets.
    let long = "x".repeat(MAX_PARTIAL + 10);
    append(&path, &long);
    assert!(f.poll().unwrap().is_none());
    append(&path, "tail\nafter\n");
    let c = f.poll().unwrap().unwrap();
    assert_eq!(c.data, b"after\n");
    let whole = std::fs::read(&path).unwrap();
    let at = c.start.offset as usize;
    assert_eq!(&whole[at..at + c.data.len()], &c.data[..]);
}

#[test]
fn a_rotation_while_nobody_read_finishes_the_old_file_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.log");
    append(&path, "a\n");
    let mut f = Follower::new(path.clone(), StartAt::Beginning, None);
    assert_eq!(drain(&mut f), "a\n");
    let pos = f.position().unwrap();
    drop(f);
    // While stopped: more lines, then a rotation, then lines in the new file.
    append(&path, "b\n");
    std::fs::rename(&path, dir.path().join("fw.log.1")).unwrap();
    append(&path, "c\n");
    let mut g = Follower::new(path, StartAt::End, Some(pos));
    assert_eq!(drain(&mut g), "b\nc\n");
}
