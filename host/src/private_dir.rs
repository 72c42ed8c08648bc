//! Folders only their owner may read: the state folder and what is inside it (compiled
//! plugins, the ban store, saved positions) hold nothing for other users.

use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700; an existing folder is left as it is.
pub fn create(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
