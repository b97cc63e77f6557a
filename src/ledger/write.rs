//! The writer: the one process that appends to a ledger, under an exclusive lock.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::*;

/// Writes `bytes` as the new content of the ledger at `path` while holding `locked` (the
/// open, locked ledger): to a file beside it, synced, renamed over it, and the new file
/// opened and locked before the old one is let go. Returns the new file.
fn replace_locked(path: &Path, locked: File, bytes: &[u8]) -> std::io::Result<File> {
    crate::atomic::write(path, bytes, 0o644)?;
    let file = OpenOptions::new().read(true).append(true).open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(std::io::Error::other(
                "another nicsrs-batch process took the upgraded ledger",
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    drop(locked);
    Ok(file)
}

/// The one writer of a ledger: holds its lock for as long as it lives.
#[derive(Debug)]
pub struct Writer {
    file: File,
    path: PathBuf,
    /// The file's column order (see [`Contents`]).
    layout: Vec<Option<usize>>,
    /// Rows appended by this writer.
    appended: u64,
    /// Of them, the rows a completed `sync` made durable (shared, for tests and checks).
    durable: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Opens the ledger at `path` (creating it when `create`), takes the exclusive lock and
/// reads it; `None` when it does not exist and `create` is false.
fn lock(path: &Path, api: Api, create: bool) -> Result<Option<Locked>, LedgerError> {
    let io = |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = match OpenOptions::new()
        .read(true)
        .append(true)
        .create(create)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if !file.metadata().map_err(io)?.is_file() {
        return Err(io(std::io::Error::other(
            "it is not a regular file; only regular files are read",
        )));
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(LedgerError::Locked(path.to_owned()));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut contents = read::parse(path, std::io::BufReader::with_capacity(1 << 16, &file), api)?;
    contents.build_only(|_| true);
    Ok(Some(Locked {
        file,
        path: path.to_owned(),
        contents,
    }))
}

/// A ledger locked and read, and not written to yet: `apply` holds it while it validates,
/// so that an invalid run leaves the file exactly as it was.
#[derive(Debug)]
pub struct Locked {
    file: File,
    path: PathBuf,
    contents: Contents,
}

impl Locked {
    /// What the ledger holds.
    pub fn contents(&self) -> &Contents {
        &self.contents
    }

    /// The writer: drops a torn last line, upgrades an old header, or writes the header of
    /// a new ledger, so that new rows start on a line of their own.
    pub fn into_writer(self) -> Result<(Writer, Contents), LedgerError> {
        let Locked {
            mut file,
            path,
            contents,
        } = self;
        let path = path.as_path();
        let io = |source| LedgerError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(at) = contents.torn_at {
            // The torn row was never complete: its call either never happened (a
            // `submitting` row) or is recovered by reconciliation (an outcome row).
            file.set_len(at).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        let fresh = contents.torn_at == Some(0) || contents.layout.is_empty();
        let missing: Vec<&str> = (REQUIRED_COLUMNS..COLUMNS.len())
            .filter(|i| !contents.layout.contains(&Some(*i)))
            .map(|i| COLUMNS[i])
            .collect();
        if !fresh && !missing.is_empty() {
            // A ledger from before a column was added: its header gains the column, and its
            // rows stay as they are (read as lacking only that column).
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            let bytes = read::all_bytes(&file).map_err(io)?;
            let mut header: Vec<String> = record(&String::from_utf8_lossy(
                &bytes[..usize::try_from(contents.header_end).unwrap_or(bytes.len())],
            ))
            .unwrap_or_default();
            header.extend(missing.iter().map(|m| (*m).to_owned()));
            let at = usize::try_from(contents.torn_at.unwrap_or(bytes.len() as u64))
                .unwrap_or(bytes.len());
            let rest = bytes
                .get(usize::try_from(contents.header_end).unwrap_or(at)..at)
                .unwrap_or_default();
            let upgraded = [line(header.iter().map(String::as_str)).as_bytes(), rest].concat();
            file = replace_locked(path, file, &upgraded).map_err(io)?;
            let mut contents = contents;
            contents
                .layout
                .extend(missing.iter().map(|m| COLUMNS.iter().position(|c| c == m)));
            contents.torn_at = None;
            let writer = Writer {
                file,
                path: path.to_owned(),
                layout: contents.layout.clone(),
                appended: 0,
                durable: Default::default(),
            };
            return Ok((writer, contents));
        }
        let mut writer = Writer {
            file,
            path: path.to_owned(),
            layout: if fresh {
                (0..COLUMNS.len()).map(Some).collect()
            } else {
                contents.layout.clone()
            },
            appended: 0,
            durable: Default::default(),
        };
        if fresh {
            writer.write_raw(&line(COLUMNS.iter().copied()))?;
            writer.sync()?;
        }
        Ok((writer, contents))
    }
}

impl Writer {
    /// Opens (or creates) the ledger for appending, takes the exclusive lock, reads what it
    /// holds, and drops a torn last line so that new rows start on a line of their own.
    pub fn open(path: &Path, api: Api) -> Result<(Writer, Contents), LedgerError> {
        match lock(path, api, true)? {
            Some(locked) => locked.into_writer(),
            // Only when the file vanished between creating and reading it.
            None => Err(LedgerError::Io {
                path: path.to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }),
        }
    }

    /// Takes the exclusive lock of an existing ledger and reads it, writing nothing;
    /// `None` when there is no ledger at `path` yet.
    pub fn lock_existing(path: &Path, api: Api) -> Result<Option<Locked>, LedgerError> {
        lock(path, api, false)
    }

    fn write_raw(&mut self, text: &str) -> Result<(), LedgerError> {
        self.file
            .write_all(text.as_bytes())
            .map_err(|source| LedgerError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Appends rows (each with a single write, so a crash tears at most the last).
    pub fn append(&mut self, row: &Row) -> Result<(), LedgerError> {
        let text = row.to_line_in(&self.layout);
        self.write_raw(&text)?;
        self.appended += 1;
        Ok(())
    }

    /// Makes everything appended so far durable.
    pub fn sync(&mut self) -> Result<(), LedgerError> {
        self.file.sync_data().map_err(|source| LedgerError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.durable
            .store(self.appended, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// How many of the rows this writer appended are durable (synced to disk), kept up to
    /// date as the writer syncs: what a paid call may rely on.
    pub fn durable_rows(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.durable.clone()
    }

    /// The ledger's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
