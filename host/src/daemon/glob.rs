//! File name patterns for file sources: `*` (any run of characters) and `?` (one
//! character) in the last component only (`/var/log/firewall-*.log`).

use std::path::{Path, PathBuf};

/// Whether `path`'s file name holds a pattern.
pub fn is_pattern(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(['*', '?']))
}

/// The files in the pattern's folder whose names match it, sorted.
pub fn expand(pattern: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (
        pattern.parent(),
        pattern.file_name().and_then(|n| n.to_str()),
    ) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.file_name().to_str().is_some_and(|n| matches(name, n)))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matching with one backtrack point for the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_stars_and_question_marks() {
        assert!(matches("fw-*.log", "fw-a.log"));
        assert!(matches("fw-*.log", "fw-.log"));
        assert!(matches("fw-?.log", "fw-1.log"));
        assert!(!matches("fw-?.log", "fw-12.log"));
        assert!(!matches("fw-*.log", "fw-a.log.1"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn expands_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["fw-a.log", "fw-b.log", "fw-b.log.1", "other"] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let got = expand(&dir.path().join("fw-*.log"));
        let names: Vec<_> = got
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["fw-a.log", "fw-b.log"]);
        assert!(is_pattern(&dir.path().join("fw-*.log")));
        assert!(!is_pattern(&dir.path().join("fw.log")));
    }
}
