//! The ledger: an append-only CSV file (RFC 4180) committed next to the manifests, in which
//! every order gets a row before each paid call and another after it. A key's state is its
//! last row. One process writes at a time; a torn last line from a crash is reported and
//! dropped, never a reason to refuse the file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::csv::{decode, line, records};

/// The columns, in the order a new ledger is written. Each row of an existing ledger is
/// written in the order of that file's own header; the first [`REQUIRED_COLUMNS`] must be
/// in every ledger, the rest were added later and may be missing from older files.
pub const COLUMNS: [&str; 19] = [
    "time",
    "api",
    "event",
    "key",
    "ref_id",
    "cert_id",
    "product_code",
    "years",
    "domains",
    "request_sha256",
    "attempt",
    "code",
    "message",
    "manifest",
    "status",
    "not_before",
    "not_after",
    "due_date",
    "request_fields",
];

/// How many of [`COLUMNS`] every ledger has (those of the first release).
pub const REQUIRED_COLUMNS: usize = 18;

/// The default ledger file for the live API.
pub const DEFAULT_PATH: &str = "nicsrs-ledger.csv";
/// The default ledger file for the sandbox, kept apart from the live one.
pub const DEFAULT_SANDBOX_PATH: &str = "nicsrs-ledger.sandbox.csv";

/// What a row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Written and synced before the paid call: the call may have happened.
    Submitting,
    /// The order exists at NicSRS (`cert_id` says which).
    Placed,
    /// The API refused the order, or it was never sent: nothing was bought.
    Failed,
    /// The call may or may not have placed the order: reconcile before sending again.
    Unknown,
    /// What `/ssl/collect` said of the certificate: `status` and the dates.
    Status,
    /// Written and synced before a `/ssl/renew` call (`cert_id` is the certificate renewed).
    Renewing,
    /// The renewal exists at NicSRS (`cert_id` is the new order).
    Renewed,
    /// Written and synced before a `/ssl/reissue` call (`cert_id` is the certificate reissued).
    Reissuing,
    /// The reissue exists at NicSRS (`cert_id` is the new certificate).
    Reissued,
    /// Written and synced before a `/ssl/replace` call (`cert_id` is the certificate
    /// replaced).
    Replacing,
    /// The replacement exists at NicSRS (`cert_id` is the new certificate).
    Replaced,
}

impl Event {
    /// The name written in the `event` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Submitting => "submitting",
            Event::Placed => "placed",
            Event::Failed => "failed",
            Event::Unknown => "unknown",
            Event::Status => "status",
            Event::Renewing => "renewing",
            Event::Renewed => "renewed",
            Event::Reissuing => "reissuing",
            Event::Reissued => "reissued",
            Event::Replacing => "replacing",
            Event::Replaced => "replaced",
        }
    }

    /// Whether the row is written before a call that may cost money or change a
    /// certificate: its outcome must be known before anything is sent again.
    pub fn is_write_ahead(self) -> bool {
        matches!(
            self,
            Event::Submitting | Event::Renewing | Event::Reissuing | Event::Replacing
        )
    }

    /// Whether the row records a certificate order that exists at NicSRS.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Event::Placed | Event::Renewed | Event::Reissued | Event::Replaced
        )
    }

    fn parse(s: &str) -> Option<Event> {
        Some(match s {
            "submitting" => Event::Submitting,
            "placed" => Event::Placed,
            "failed" => Event::Failed,
            "unknown" => Event::Unknown,
            "status" => Event::Status,
            "renewing" => Event::Renewing,
            "renewed" => Event::Renewed,
            "reissuing" => Event::Reissuing,
            "reissued" => Event::Reissued,
            "replacing" => Event::Replacing,
            "replaced" => Event::Replaced,
            _ => return None,
        })
    }
}

/// Which API a ledger's orders were placed with. The two never share a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// The live NicSRS API: real orders, real money.
    Live,
    /// A sandbox.
    Sandbox,
}

impl Api {
    /// The name written in the `api` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Live => "live",
            Api::Sandbox => "sandbox",
        }
    }

    fn parse(s: &str) -> Option<Api> {
        match s {
            "live" => Some(Api::Live),
            "sandbox" => Some(Api::Sandbox),
            _ => None,
        }
    }
}

/// One ledger row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// When it was written, RFC 3339 UTC.
    pub time: String,
    /// The API the row is about.
    pub api: Api,
    /// What happened.
    pub event: Event,
    /// The order's key.
    pub key: String,
    /// The refId sent.
    pub ref_id: String,
    /// NicSRS's certId, once known.
    pub cert_id: String,
    /// The product.
    pub product_code: String,
    /// Years ordered.
    pub years: u32,
    /// The names, space-separated.
    pub domains: String,
    /// SHA-256 of the request without the token.
    pub request_sha256: String,
    /// Which submission of this key the row is about (1 for the first).
    pub attempt: u32,
    /// The API's response code, when there was one.
    pub code: Option<i64>,
    /// The API's message, or what went wrong.
    pub message: String,
    /// The manifest the order is written in.
    pub manifest: String,
    /// The certificate's status at NicSRS (PENDING, COMPLETE, ...), when it was collected.
    pub status: String,
    /// Start of the certificate's validity, when known.
    pub not_before: String,
    /// End of the certificate's validity, when known.
    pub not_after: String,
    /// End of the paid subscription, when known.
    pub due_date: String,
    /// On the rows of a call that sets a certificate's contents (place, renew, replace):
    /// a short SHA-256 of each field of the request, `name=hex` separated by spaces, so
    /// that `plan` can tell which field of an order changed since (see
    /// [`crate::expand::field_hashes`]).
    pub request_fields: String,
}

impl Row {
    /// A row about `key` with every other cell empty, stamped now.
    pub fn about(api: Api, event: Event, key: &str) -> Row {
        Row {
            time: now_rfc3339(),
            api,
            event,
            key: key.to_owned(),
            ref_id: String::new(),
            cert_id: String::new(),
            product_code: String::new(),
            years: 0,
            domains: String::new(),
            request_sha256: String::new(),
            attempt: 0,
            code: None,
            message: String::new(),
            manifest: String::new(),
            status: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            due_date: String::new(),
            request_fields: String::new(),
        }
    }

    fn cells(&self) -> [String; 19] {
        [
            self.time.clone(),
            self.api.as_str().into(),
            self.event.as_str().into(),
            self.key.clone(),
            self.ref_id.clone(),
            self.cert_id.clone(),
            self.product_code.clone(),
            self.years.to_string(),
            self.domains.clone(),
            self.request_sha256.clone(),
            self.attempt.to_string(),
            self.code.map(|c| c.to_string()).unwrap_or_default(),
            self.message.clone(),
            self.manifest.clone(),
            self.status.clone(),
            self.not_before.clone(),
            self.not_after.clone(),
            self.due_date.clone(),
            self.request_fields.clone(),
        ]
    }

    /// The row as one CSV line in the order of [`COLUMNS`], ending in CRLF as RFC 4180
    /// has it.
    pub fn to_line(&self) -> String {
        line(self.cells().iter().map(String::as_str))
    }

    /// The row as one CSV line in a file's own column order: `layout[i]` is the index in
    /// [`COLUMNS`] of the file's column `i`, or `None` for a column this version does not
    /// know (left empty).
    fn to_line_in(&self, layout: &[Option<usize>]) -> String {
        let cells = self.cells();
        line(layout.iter().map(|c| c.map_or("", |i| cells[i].as_str())))
    }
}

/// Now, RFC 3339 UTC to the second.
pub fn now_rfc3339() -> String {
    crate::wire::format_utc(time::OffsetDateTime::now_utc().unix_timestamp(), 'T', "Z")
}

/// Why a ledger cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Reading or writing failed.
    #[error("ledger {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another process holds the ledger.
    #[error(
        "ledger {0} is in use by another nicsrs-batch process; wait for it to finish (only one apply may write a ledger)"
    )]
    Locked(PathBuf),
    /// The file is not a ledger.
    #[error("{path} is not a nicsrs-batch ledger: {message}")]
    NotALedger {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The ledger holds rows of the other API.
    #[error(
        "ledger {path} records {found} orders; this run uses the {wanted} API, and the two never share a ledger (use --ledger to pick another file)"
    )]
    OtherApi {
        /// The file.
        path: PathBuf,
        /// What the file holds.
        found: &'static str,
        /// What this run uses.
        wanted: &'static str,
    },
}

/// What reading a ledger found.
#[derive(Debug, Default)]
pub struct Contents {
    /// Every complete row, in file order.
    pub rows: Vec<Row>,
    /// Problems that did not stop the read (a torn last line, a malformed row).
    pub warnings: Vec<String>,
    /// Complete rows that could not be read and were left out (a torn last line is not
    /// one): the ledger is known to be incomplete.
    pub ignored: usize,
    /// Byte offset where a torn last line starts, if there is one.
    torn_at: Option<u64>,
    /// The file's columns: for each, its index in [`COLUMNS`] (`None`: unknown to this
    /// version). Empty for a new file.
    layout: Vec<Option<usize>>,
    /// Byte offset just past the header line.
    header_end: u64,
}

impl Contents {
    /// A ledger holding `rows` (as a test or a tool builds one).
    pub fn from_rows(rows: Vec<Row>) -> Contents {
        Contents {
            rows,
            ..Contents::default()
        }
    }

    /// Where each key stands: its rows folded in file order.
    pub fn states(&self) -> HashMap<&str, KeyState<'_>> {
        let mut states: HashMap<&str, KeyState<'_>> = HashMap::new();
        for row in &self.rows {
            let s = states.entry(row.key.as_str()).or_insert(KeyState {
                last: row,
                last_op: None,
                opened: None,
                attempts: 0,
                placed: None,
                current: None,
                made: None,
                status: None,
                renewals: 0,
                reissues: 0,
                replacements: 0,
            });
            s.last = row;
            s.attempts = s.attempts.max(row.attempt);
            match row.event {
                // A collect that failed says nothing about the certificate.
                Event::Status if !row.status.is_empty() => {
                    s.status = Some(row);
                    // A renewal, reissue or replacement refused because of the state of
                    // the order or certificate (-5, -7, -8) is decided again from what
                    // `refresh` found since: the state it was refused for has changed or
                    // is now known.
                    if s.last_op.is_some_and(|l| {
                        l.event == Event::Failed && l.code.is_some_and(is_state_refusal)
                    }) && s.opened.is_some_and(|o| o.event != Event::Submitting)
                    {
                        s.opened = None;
                    }
                }
                Event::Status => {}
                event => {
                    s.last_op = Some(row);
                    if event.is_write_ahead() {
                        s.opened = Some(row);
                    }
                    if event.is_success() {
                        s.current = Some(row);
                        s.opened = None;
                    }
                    match event {
                        Event::Placed => s.placed = Some(row),
                        Event::Renewed => s.renewals += 1,
                        Event::Reissued => s.reissues += 1,
                        Event::Replaced => s.replacements += 1,
                        _ => {}
                    }
                    if matches!(event, Event::Placed | Event::Renewed | Event::Replaced) {
                        s.made = Some(row);
                    }
                }
            }
        }
        for s in states.values_mut() {
            match (s.current, s.status) {
                // What collect said of an earlier certificate is not this one's status.
                (Some(c), Some(st)) if st.cert_id != c.cert_id => s.status = None,
                // Known only by its status: a certificate adopted with `renewalOf`.
                (None, Some(st)) if !st.cert_id.is_empty() => s.current = Some(st),
                _ => {}
            }
        }
        states
    }
}

/// Where a key stands according to the ledger.
#[derive(Clone, Copy, Debug)]
pub struct KeyState<'r> {
    /// Its last row.
    pub last: &'r Row,
    /// Its last row about a call (anything but `status`).
    pub last_op: Option<&'r Row>,
    /// Its last write-ahead row (`submitting`, `renewing`, `reissuing`) since its last
    /// success.
    pub opened: Option<&'r Row>,
    /// The highest attempt number recorded.
    pub attempts: u32,
    /// Its `placed` row, if it has one.
    pub placed: Option<&'r Row>,
    /// The row naming the certificate in force: the last `placed`, `renewed` or
    /// `reissued` row, or for an adopted certificate its `status` row.
    pub current: Option<&'r Row>,
    /// The row of the call that made the certificate in force what it is (its key and
    /// names): the last `placed`, `renewed` or `replaced` row. A reissue keeps them.
    pub made: Option<&'r Row>,
    /// What collect last said of the certificate in force, if it was collected.
    pub status: Option<&'r Row>,
    /// Renewals recorded.
    pub renewals: u32,
    /// Reissues recorded.
    pub reissues: u32,
    /// Replacements recorded.
    pub replacements: u32,
}

/// Codes by which NicSRS refuses a call because of the order's or certificate's state
/// (-5 order status, -7 certificate status, -8 already cancelled): nothing was done, and
/// the call is decided again once `refresh` has recorded the state.
pub fn is_state_refusal(code: i64) -> bool {
    matches!(code, -5 | -7 | -8)
}

impl KeyState<'_> {
    /// The call in progress: its write-ahead row, when no success has followed it (the
    /// call's outcome is unknown, or it failed).
    pub fn open_call(&self) -> Option<&Row> {
        let last = self.last_op?;
        (!last.event.is_success()).then_some(self.opened).flatten()
    }

    /// Whether the key holds no order at NicSRS as far as anyone can know: no certificate
    /// in force, and no call that might have placed one (at most refused placements).
    pub fn holds_no_order(&self) -> bool {
        self.current.is_none()
            && self.open_call().is_none_or(|open| {
                open.event == Event::Submitting
                    && self.last_op.is_some_and(|l| l.event == Event::Failed)
            })
    }
}

/// Reads the ledger at `path` (a missing file is an empty ledger) and checks that it
/// records `api` orders.
pub fn read(path: &Path, api: Api) -> Result<Contents, LedgerError> {
    let text = match crate::bounded::open_regular(path).and_then(|mut f| {
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map(|_| bytes)
    }) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(source) => {
            return Err(LedgerError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse(path, &text, api)
}

fn parse(path: &Path, bytes: &[u8], api: Api) -> Result<Contents, LedgerError> {
    let not_a_ledger = |message: String| LedgerError::NotALedger {
        path: path.to_owned(),
        message,
    };
    // A byte-order mark, as some editors and spreadsheets save one, is not part of the
    // header.
    let (bytes, bom) = match bytes.strip_prefix(b"\xef\xbb\xbf") {
        Some(rest) => (rest, 3),
        None => (bytes, 0),
    };
    let text = String::from_utf8_lossy(bytes);
    let mut contents = Contents::default();
    let mut records = records(&text);
    let Some(header) = records.next() else {
        return Ok(contents);
    };
    if !header.complete {
        contents.torn_at = Some(0);
        contents
            .warnings
            .push("the header line is torn; it will be written again".into());
        return Ok(contents);
    }
    let names: Vec<&str> = header.cells.iter().map(|c| decode(c)).collect();
    // Where each of our columns is in this file (by name, so a file whose columns were
    // reordered is read right), and what each of its columns is (so rows are written in
    // its order).
    let mut index = [None; COLUMNS.len()];
    for (i, column) in COLUMNS.iter().enumerate() {
        index[i] = names.iter().position(|n| n == column);
        if index[i].is_none() && i < REQUIRED_COLUMNS {
            return Err(not_a_ledger(format!("the header has no `{column}` column")));
        }
    }
    contents.layout = names
        .iter()
        .map(|n| COLUMNS.iter().position(|c| c == n))
        .collect();
    contents.header_end = text
        .get(header.offset..)
        .and_then(|t| t.find('\n'))
        .map_or(bytes.len(), |n| header.offset + n + 1) as u64
        + bom;
    for record in records {
        if !record.complete {
            contents.torn_at = Some(record.offset as u64 + bom);
            contents.warnings.push(format!(
                "line {}: the last line is incomplete (a crash while writing it); it is ignored",
                record.line
            ));
            break;
        }
        if record.cells.len() == 1 && record.cells[0].is_empty() {
            continue; // a blank line
        }
        let cell = |c: usize| {
            index[c]
                .and_then(|i| record.cells.get(i))
                .map_or("", |s| decode(s))
        };
        let parsed = (|| {
            // Rows written before a column was added to the header lack only that column.
            let short_of_added = record.cells.len() < names.len()
                && contents.layout[record.cells.len()..]
                    .iter()
                    .all(|c| c.is_some_and(|i| i >= REQUIRED_COLUMNS));
            if record.cells.len() != names.len() && !short_of_added {
                return Err(format!(
                    "{} cells where the header has {}",
                    record.cells.len(),
                    names.len()
                ));
            }
            let row_api =
                Api::parse(cell(1)).ok_or_else(|| format!("unknown api `{}`", cell(1)))?;
            Ok(Row {
                time: cell(0).into(),
                api: row_api,
                event: Event::parse(cell(2))
                    .ok_or_else(|| format!("unknown event `{}`", cell(2)))?,
                key: cell(3).into(),
                ref_id: cell(4).into(),
                cert_id: cell(5).into(),
                product_code: cell(6).into(),
                years: cell(7).parse().unwrap_or(0),
                domains: cell(8).into(),
                request_sha256: cell(9).into(),
                attempt: cell(10).parse().unwrap_or(0),
                code: cell(11).parse().ok(),
                message: cell(12).into(),
                manifest: cell(13).into(),
                status: cell(14).into(),
                not_before: cell(15).into(),
                not_after: cell(16).into(),
                due_date: cell(17).into(),
                request_fields: cell(18).into(),
            })
        })();
        match parsed {
            Ok(row) => {
                if row.api != api {
                    return Err(LedgerError::OtherApi {
                        path: path.to_owned(),
                        found: row.api.as_str(),
                        wanted: api.as_str(),
                    });
                }
                contents.rows.push(row);
            }
            Err(e) => {
                contents.ignored += 1;
                contents
                    .warnings
                    .push(format!("line {}: row ignored: {e}", record.line));
            }
        }
    }
    Ok(contents)
}

/// Writes `bytes` as the new content of the ledger at `path` while holding `locked` (the
/// open, locked ledger): to a file beside it, synced, renamed over it, and the new file
/// opened and locked before the old one is let go. Returns the new file.
fn replace_locked(path: &Path, locked: File, bytes: &[u8]) -> std::io::Result<File> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("ledger");
    let tmp = dir.join(format!(".{name}.upgrade"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
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
}

impl Writer {
    /// Opens (or creates) the ledger for appending, takes the exclusive lock, reads what it
    /// holds, and drops a torn last line so that new rows start on a line of their own.
    pub fn open(path: &Path, api: Api) -> Result<(Writer, Contents), LedgerError> {
        let io = |source| LedgerError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
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
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut bytes).map_err(io)?;
        let contents = parse(path, &bytes, api)?;
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
            let mut header: Vec<String> = records(&String::from_utf8_lossy(
                &bytes[..usize::try_from(contents.header_end).unwrap_or(bytes.len())],
            ))
            .next()
            .map(|h| h.cells)
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
        };
        if fresh {
            writer.write_raw(&line(COLUMNS.iter().copied()))?;
            writer.sync()?;
        }
        Ok((writer, contents))
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
        self.write_raw(&text)
    }

    /// Makes everything appended so far durable.
    pub fn sync(&mut self) -> Result<(), LedgerError> {
        self.file.sync_data().map_err(|source| LedgerError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// The ledger's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, event: Event, message: &str) -> Row {
        Row {
            ref_id: format!("r-{key}"),
            product_code: "comodo-ssl".into(),
            years: 1,
            domains: "a.example b.example".into(),
            request_sha256: "ab".repeat(32),
            attempt: 1,
            code: Some(-1),
            message: message.into(),
            manifest: "orders/a.yaml".into(),
            ..Row::about(Api::Sandbox, event, key)
        }
    }

    #[test]
    fn a_torn_last_line_is_reported_and_dropped_by_the_writer() {
        let dir = std::env::temp_dir().join(format!("nicsrs-ledger-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("ledger.csv");
        let _ = std::fs::remove_file(&path);
        {
            let (mut w, c) = Writer::open(&path, Api::Sandbox).expect("open");
            assert!(c.rows.is_empty());
            w.append(&row("a", Event::Submitting, "")).expect("append");
            w.append(&row("a", Event::Failed, "=HYPERLINK(\"x\")"))
                .expect("append");
            w.sync().expect("sync");
        }
        let whole = std::fs::read(&path).expect("read");
        let torn = row("b", Event::Submitting, "").to_line();
        std::fs::write(&path, [whole.as_slice(), &torn.as_bytes()[..40]].concat()).expect("tear");
        let c = read(&path, Api::Sandbox).expect("read");
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.rows[1].message, "=HYPERLINK(\"x\")");
        assert_eq!(c.rows[1].code, Some(-1));
        assert!(c.warnings[0].contains("incomplete"), "{:?}", c.warnings);
        let (mut w, c) = Writer::open(&path, Api::Sandbox).expect("reopen");
        assert_eq!(c.rows.len(), 2);
        w.append(&row("c", Event::Placed, "")).expect("append");
        drop(w);
        let c = read(&path, Api::Sandbox).expect("read");
        assert_eq!(
            c.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["a", "a", "c"]
        );
        assert!(c.warnings.is_empty());
        assert_eq!(c.states()["a"].last.event, Event::Failed);
        assert!(matches!(
            read(&path, Api::Live),
            Err(LedgerError::OtherApi { .. })
        ));
        let (_held, _) = Writer::open(&path, Api::Sandbox).expect("lock");
        assert!(matches!(
            Writer::open(&path, Api::Sandbox),
            Err(LedgerError::Locked(_))
        ));
    }

    #[test]
    fn a_ledger_from_before_request_fields_gains_the_column_and_keeps_its_rows() {
        let dir = std::env::temp_dir().join(format!("nicsrs-ledger-old-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("ledger.csv");
        let old_header = line(COLUMNS[..REQUIRED_COLUMNS].iter().copied());
        let old_row = |key: &str| {
            let cells = row(key, Event::Placed, "").cells();
            line(cells[..REQUIRED_COLUMNS].iter().map(String::as_str))
        };
        let text = format!("\u{feff}{old_header}{}{}", old_row("a"), old_row("b"));
        std::fs::write(&path, &text).expect("old ledger");
        let (mut w, c) = Writer::open(&path, Api::Sandbox).expect("open");
        assert_eq!(c.rows.len(), 2);
        let mut new = row("c", Event::Placed, "");
        new.request_fields = "csr=0badc0de".into();
        w.append(&new).expect("append");
        drop(w);
        let upgraded = std::fs::read_to_string(&path).expect("read");
        assert!(
            upgraded
                .lines()
                .next()
                .is_some_and(|h| h.ends_with(",due_date,request_fields"))
        );
        assert!(upgraded.contains(&old_row("a")), "old rows as they were");
        let c = read(&path, Api::Sandbox).expect("read");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(
            c.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(c.rows[2].request_fields, "csr=0badc0de");
        // A row short of a required column is still refused.
        std::fs::write(&path, format!("{upgraded}a,b,c\r\n")).expect("write");
        assert_eq!(read(&path, Api::Sandbox).expect("read").ignored, 1);
    }

    #[test]
    fn a_failed_or_unknown_row_belongs_to_the_call_opened_before_it() {
        let mut placed = row("a", Event::Placed, "");
        placed.cert_id = "C1".into();
        let mut renewing = row("a", Event::Renewing, "");
        renewing.cert_id = "C1".into();
        let rows = vec![
            row("a", Event::Submitting, ""),
            placed,
            row("a", Event::Unknown, "a row no call opened"),
        ];
        let c = Contents::from_rows(rows.clone());
        let s = c.states()["a"];
        assert!(s.open_call().is_none(), "nothing open after the success");
        assert_eq!(s.current.map(|r| r.cert_id.as_str()), Some("C1"));

        let c = Contents::from_rows([rows, vec![renewing, row("a", Event::Failed, "no")]].concat());
        let s = c.states()["a"];
        assert_eq!(s.open_call().map(|r| r.event), Some(Event::Renewing));
        assert_eq!(s.current.map(|r| r.event), Some(Event::Placed));
    }
}
