//! Reading files that come from others (manifests, referenced CSRs and keys, token files,
//! catalogues, ledgers) without letting them hang the run or fill memory: only regular
//! files are read, opened so that a FIFO swapped in cannot block, and never past a bound.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// What was read.
#[derive(Debug)]
pub struct Bounded {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The file's permission bits.
    pub mode: u32,
    /// Whether its group or others may read it.
    pub others_can_read: bool,
}

/// Opens `path` for reading if it is a regular file (after following links). A FIFO,
/// socket or device is refused with an error that says which it is; opening never
/// blocks, even if the file is replaced by a FIFO between the check and the open.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::other("it is a directory"));
    }
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "it is {}, not a regular file; only regular files are read",
            kind(&meta)
        )));
    }
    #[cfg(unix)]
    clear_nonblocking(&file);
    Ok(file)
}

#[cfg(unix)]
fn clear_nonblocking(file: &File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is a valid open descriptor owned by `file` for the duration of the calls.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// What kind of special file `meta` describes, for messages.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    let _ = meta;
    "a special file"
}

/// Reads a regular file of at most `max` bytes; a larger one is an error (nothing past
/// the bound is read, even from a file that grows while it is read).
pub fn read_regular(path: &Path, max: u64) -> io::Result<Bounded> {
    let file = open_regular(path)?;
    let meta = file.metadata()?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode()
    };
    #[cfg(not(unix))]
    let mode = 0o600;
    if meta.len() > max {
        return Err(too_large(max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(Bounded {
        bytes,
        mode,
        others_can_read: mode & 0o044 != 0,
    })
}

fn too_large(max: u64) -> io::Error {
    let shown = if max >= 1 << 20 {
        format!("{} MiB", max >> 20)
    } else if max >= 1 << 10 {
        format!("{} KiB", max >> 10)
    } else {
        format!("{max} bytes")
    };
    io::Error::other(format!("it is larger than {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_without_blocking() {
        let e = read_regular(Path::new("/dev/zero"), 10).expect_err("device");
        assert!(e.to_string().contains("a device"), "{e}");
        let dir = std::env::temp_dir().join(format!("nicsrs-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = read_regular(&fifo, 10).expect_err("fifo");
            assert!(e.to_string().contains("FIFO"), "{e}");
        }
        let big = dir.join("big");
        std::fs::write(&big, [b'x'; 11]).expect("write");
        let e = read_regular(&big, 10).expect_err("too large");
        assert_eq!(e.to_string(), "it is larger than 10 bytes");
        assert_eq!(read_regular(&big, 11).expect("fits").bytes.len(), 11);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
