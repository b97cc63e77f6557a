//! The one way files are replaced: written beside their place, synced, renamed over it, and
//! the folder synced, so that a crash leaves the old file or the new one, never a part.
//! The file beside is created anew, never through a link, with the mode asked for.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A file written and synced beside its place, not yet renamed into it.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
}

impl Staged {
    /// Where it goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames it into its place and syncs the folder.
    pub fn commit(self) -> std::io::Result<()> {
        if let Err(e) = std::fs::rename(&self.tmp, &self.path) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        if let Ok(dir) = std::fs::File::open(folder_of(&self.path)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Removes it; its place is left as it was.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `.NAME.tmp` beside `path` (mode `mode` on Unix) and syncs it. A
/// leftover of an earlier run, or a link planted there, is removed first.
pub fn stage(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<Staged> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = folder_of(path).join(format!(".{name}.tmp"));
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options.open(&tmp)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = written {
        drop(f);
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Staged {
        tmp,
        path: path.to_owned(),
    })
}

/// Replaces the file at `path` with `bytes`: staged, then renamed into place.
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    stage(path, bytes, mode)?.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = std::env::temp_dir().join(format!("nicsrs-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("state.json");
        write(&path, b"one", 0o644).expect("written");
        write(&path, b"two", 0o644).expect("written");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let staged = stage(&path, b"three", 0o644).expect("staged");
        staged.discard();
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
