//! Reading a ledger: streamed record by record (a ledger of a million rows is never held
//! whole), every row checked, and folded into key states as it is read. A row that does
//! not parse is an error that names its line, never a warning that drops it: a dropped row
//! could be an order that was paid for. Only a torn last line (a crash while writing it)
//! is tolerated, as it never was a complete row.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::{BufRead, Read};
use std::path::Path;

use super::columns::at;
use super::state::{Fold, Kept, KeyState, View};
use super::{Api, COLUMNS, Event, LedgerError, REQUIRED_COLUMNS, Row};
use crate::csv::{decode, record};

/// Most problems listed in one error: enough to see the pattern.
const MAX_PROBLEMS: usize = 10;
/// Most cells a row may have (the header has at most [`COLUMNS`]' 20).
const MAX_CELLS: usize = 32;

/// What reading a ledger found.
#[derive(Debug, Default)]
pub struct Contents {
    /// Each key's rows, folded.
    keys: HashMap<Box<str>, Fold>,
    /// How many complete rows were read.
    pub rows: u64,
    /// Problems that did not stop the read (a torn last line).
    pub warnings: Vec<String>,
    /// Byte offset where a torn last line starts, if there is one.
    pub(super) torn_at: Option<u64>,
    /// The file's columns: for each, its index in [`COLUMNS`]. Empty for a new file.
    pub(super) layout: Vec<Option<usize>>,
    /// Byte offset just past the header line.
    pub(super) header_end: u64,
    /// For each of [`COLUMNS`], its position in this file's rows.
    index: [Option<usize>; COLUMNS.len()],
    /// A hash of every key and of every call's refId, to tell whether a refId was ever
    /// used. The hashes are keyed per run (an attacker cannot make them collide), so the
    /// set needs no second hash.
    ids: std::collections::HashSet<u64, std::hash::BuildHasherDefault<Identity>>,
    /// The key of those hashes.
    id_keys: std::collections::hash_map::RandomState,
}

/// A hasher for values that already are hashes.
#[derive(Default)]
struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Contents {
    /// A ledger holding `rows` in this order (as a test or a tool builds one).
    pub fn from_rows(rows: Vec<Row>) -> Contents {
        let mut contents = Contents::default();
        for row in rows {
            contents.add(row);
        }
        contents
    }

    fn add(&mut self, row: Row) {
        let view = View::of(&row);
        let key = row.key.clone();
        self.fold(&key, view, || Kept::Row(Box::new(row.clone())));
    }

    /// Folds one row of `key`, seen as `view`, into its key's state.
    fn fold(&mut self, key: &str, view: View<'_>, build: impl FnOnce() -> Kept) {
        let position = self.rows;
        self.rows += 1;
        // Every refId a call row names (an `update-dcv` row names its certificate's).
        if view.event != super::Event::Status {
            self.ids.insert(self.id_keys.hash_one(view.ref_id));
        }
        match self.keys.get_mut(key) {
            Some(fold) => fold.add(view, build, position),
            None => {
                self.ids.insert(self.id_keys.hash_one(key));
                let mut fold = Fold::default();
                fold.add(view, build, position);
                self.keys.insert(key.into(), fold);
            }
        }
    }

    /// Where each key stands (each key whose rows are built: all of them after [`read`];
    /// after [`read_unbuilt`], those [`Contents::build_only`] built).
    pub fn states(&self) -> HashMap<&str, KeyState<'_>> {
        self.keys
            .iter()
            .filter(|(_, f)| !f.is_empty() && f.is_built())
            .map(|(k, f)| (&**k, f.state()))
            .collect()
    }

    /// Whether `id` is a key or a refId of any row (a hash: a false yes only costs a
    /// lookup by refId).
    pub fn mentions(&self, id: &str) -> bool {
        self.ids.contains(&self.id_keys.hash_one(id))
    }

    /// Whether the ledger has rows for `key`.
    pub fn knows(&self, key: &str) -> bool {
        self.keys.get(key).is_some_and(|f| !f.is_empty())
    }

    /// Every key of the ledger, built or not.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|(_, f)| !f.is_empty())
            .map(|(k, _)| &**k)
    }

    /// Builds the kept rows of the keys `wanted` says yes to; the others stay as lines.
    pub fn build_only(&mut self, wanted: impl Fn(&str) -> bool) {
        let index = self.index;
        for (key, fold) in &mut self.keys {
            if wanted(key) {
                fold.finish(|line| line_row(line, &index));
            }
        }
    }

    /// Drops the rows of every key not built (their keys stay known): what a plan of some
    /// orders needs of a large ledger.
    pub fn forget_unbuilt(&mut self) {
        for fold in self.keys.values_mut() {
            if !fold.is_built() {
                fold.forget_rows();
            }
        }
    }

    fn build_all(&mut self) {
        self.build_only(|_| true);
    }

    /// Takes `key`'s fold out, builds it and hands its state to `f` (a report of every
    /// key of a large ledger, one key at a time, holds one key's rows at a time).
    pub fn take_state<R>(&mut self, key: &str, f: impl FnOnce(KeyState<'_>) -> R) -> Option<R> {
        let mut fold = self.keys.remove(key)?;
        if fold.is_empty() {
            return None;
        }
        let index = self.index;
        fold.finish(|line| line_row(line, &index));
        Some(f(fold.state()))
    }

    /// Whether the ledger holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
}

/// Reads the ledger at `path` (a missing file is an empty ledger; only a regular file is
/// read) and checks that it records `api` orders.
pub fn read(path: &Path, api: Api) -> Result<Contents, LedgerError> {
    let io = |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match crate::bounded::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(e) => return Err(io(e)),
    };
    let mut contents = parse(path, std::io::BufReader::with_capacity(1 << 16, file), api)?;
    contents.build_all();
    Ok(contents)
}

/// Reads the ledger at `path` like [`read`], but leaves each key's kept rows as the lines
/// they were read from, to be built by [`Contents::build_only`] or [`Contents::take_state`]:
/// `plan` and `status` of a large ledger then never hold every key's rows at once.
pub fn read_unbuilt(path: &Path, api: Api) -> Result<Contents, LedgerError> {
    let file = match crate::bounded::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(source) => {
            return Err(LedgerError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse(path, std::io::BufReader::with_capacity(1 << 16, file), api)
}

/// The row of a line whose cells [`view_of`] checked.
fn line_row(line: &str, index: &[Option<usize>; COLUMNS.len()]) -> Row {
    if line.contains('"') {
        // A quoted line (a `dcv` cell, a message with a comma): read as CSV again.
        let cells = record(line).unwrap_or_default();
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        return build_row(&cells, index);
    }
    let mut cells = [""; MAX_CELLS];
    let mut n = 0;
    for cell in split_commas(line).take(MAX_CELLS) {
        cells[n] = cell;
        n += 1;
    }
    build_row(&cells[..n], index)
}

/// One record's raw bytes, read line by line until its quotes balance.
struct RawRecord {
    bytes: Vec<u8>,
    /// Byte offset of its start in the file.
    offset: u64,
    /// 1-based line of its start.
    line: u64,
    /// Whether it ended with a line break.
    complete: bool,
    /// How many `"` it holds (none: no cell is quoted).
    quotes: usize,
}

/// Reads the next record into `raw` (reusing its buffer); `false` at the end.
fn next_record(
    reader: &mut impl BufRead,
    raw: &mut RawRecord,
    offset: &mut u64,
    line: &mut u64,
) -> std::io::Result<bool> {
    raw.bytes.clear();
    raw.offset = *offset;
    raw.line = *line;
    let mut quotes = 0usize;
    raw.quotes = 0;
    loop {
        let start = raw.bytes.len();
        let n = reader.read_until(b'\n', &mut raw.bytes)?;
        *offset += n as u64;
        if n == 0 {
            raw.complete = false;
            return Ok(!raw.bytes.is_empty());
        }
        *line += 1;
        quotes += memchr::memchr_iter(b'"', &raw.bytes[start..]).count();
        raw.quotes = quotes;
        if raw.bytes.last() != Some(&b'\n') {
            raw.complete = false;
            return Ok(true);
        }
        if quotes.is_multiple_of(2) {
            raw.complete = true;
            return Ok(true);
        }
    }
}

/// Every row of the ledger at `path`, in file order (for tests and tools; a run reads
/// [`read`]'s folded states).
pub fn all_rows(path: &Path, api: Api) -> Result<Vec<Row>, LedgerError> {
    let file = crate::bounded::open_regular(path).map_err(|source| LedgerError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut rows = Vec::new();
    parse_each(path, std::io::BufReader::new(file), api, |_, _, _, row| {
        rows.push(row());
    })?;
    Ok(rows)
}

pub(super) fn parse(path: &Path, reader: impl BufRead, api: Api) -> Result<Contents, LedgerError> {
    let mut folded = Contents::default();
    let mut meta = parse_each(path, reader, api, |key, view, kept, _| {
        folded.fold(key, view, kept);
    })?;
    meta.keys = folded.keys;
    meta.ids = folded.ids;
    meta.id_keys = folded.id_keys;
    meta.rows = folded.rows;
    Ok(meta)
}

/// Reads the ledger, handing each row to `each`; returns what was found besides the rows.
fn parse_each(
    path: &Path,
    mut reader: impl BufRead,
    api: Api,
    mut each: impl FnMut(&str, View<'_>, &dyn Fn() -> Kept, &dyn Fn() -> Row),
) -> Result<Contents, LedgerError> {
    let io = |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    };
    let not_a_ledger = |message: String| LedgerError::NotALedger {
        path: path.to_owned(),
        message,
    };
    let mut contents = Contents::default();
    let (mut offset, mut line) = (0u64, 1u64);
    let mut raw = RawRecord {
        bytes: Vec::with_capacity(512),
        offset: 0,
        line: 1,
        complete: false,
        quotes: 0,
    };
    if !next_record(&mut reader, &mut raw, &mut offset, &mut line).map_err(io)? {
        return Ok(contents);
    }
    // A byte-order mark, as some editors and spreadsheets save one, is not part of the
    // header.
    let header_bytes = raw
        .bytes
        .strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(&raw.bytes);
    if !raw.complete {
        // Torn only if it is the start of the header this program writes, cut by a crash;
        // anything else (CR-only line ends, a stray quote) is not a ledger to rewrite.
        let ours = crate::csv::line(COLUMNS.iter().copied());
        if !ours.as_bytes().starts_with(header_bytes) {
            return Err(not_a_ledger(
                "line 1: the header has no line break (CR-only line ends, or a quote never closed?); nothing was changed".into(),
            ));
        }
        contents.torn_at = Some(0);
        contents
            .warnings
            .push("the header line is torn; it will be written again".into());
        return Ok(contents);
    }
    let header_text = String::from_utf8_lossy(header_bytes);
    let names: Vec<String> = record(&header_text)
        .unwrap_or_default()
        .iter()
        .map(|c| decode(c).to_owned())
        .collect();
    // Where each of our columns is in this file (by name, so a file whose columns were
    // reordered is read right), and what each of its columns is (so rows are written in
    // its order). A column this version does not know, or one named twice, means the
    // header does not describe the rows: nothing is read into a decision.
    for (i, name) in names.iter().enumerate() {
        if !COLUMNS.contains(&name.as_str()) {
            return Err(not_a_ledger(format!(
                "line 1: the header has a column `{}` that nicsrs-batch does not write (edited, or written by a newer version?); restore the header from Git",
                crate::shown::bounded(name, 60)
            )));
        }
        if names[..i].contains(name) {
            return Err(not_a_ledger(format!(
                "line 1: the header names the column `{name}` twice; restore the header from Git"
            )));
        }
    }
    let mut index = [None; COLUMNS.len()];
    for (i, column) in COLUMNS.iter().enumerate() {
        index[i] = names.iter().position(|n| n == column);
        if index[i].is_none() && i < REQUIRED_COLUMNS {
            return Err(not_a_ledger(format!(
                "line 1: the header has no `{column}` column"
            )));
        }
    }
    contents.layout = names
        .iter()
        .map(|n| COLUMNS.iter().position(|c| c == n))
        .collect();
    contents.header_end = offset;
    contents.index = index;
    let mut problems = Vec::new();
    let mut other_api = None;
    let mut split_cells: Vec<&str>;
    let mut seen_full_row = false;
    while next_record(&mut reader, &mut raw, &mut offset, &mut line).map_err(io)? {
        if !raw.complete && raw.bytes.contains(&b'\n') {
            // Lines with a quote that never closes: not a torn last row (a crash leaves at
            // most one partial line), and never a reason to cut the file.
            problems.push(format!(
                "line {}: a quote opened in this row is never closed (it runs to the end of the file)",
                raw.line
            ));
            break;
        }
        let before_last = raw.bytes.len().saturating_sub(1);
        if !raw.complete && raw.bytes[..before_last].contains(&b'\r') {
            // Rows ended by CR alone: a crash cuts a row written as one line ending in
            // CRLF, so a CR can only be its last byte.
            problems.push(format!(
                "line {}: rows end in CR without LF from here to the end of the file (saved by an editor that changed the line ends?)",
                raw.line
            ));
            break;
        }
        if !raw.complete {
            contents.torn_at = Some(raw.offset);
            contents.warnings.push(format!(
                "line {}: the last line is incomplete (a crash while writing it); it is ignored",
                raw.line
            ));
            break;
        }
        if raw.bytes == b"\n" || raw.bytes == b"\r\n" {
            continue; // a blank line
        }
        let text = match std::str::from_utf8(&raw.bytes) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => {
                problems.push(format!("line {}: the row is not UTF-8 text", raw.line));
                if problems.len() >= MAX_PROBLEMS {
                    break;
                }
                continue;
            }
        };
        let line_text = text.trim_end_matches(['\n', '\r']);
        let is_quoted = raw.quotes > 0;
        let quoted: Vec<String>;
        let mut split = [""; MAX_CELLS];
        // A quoted line whose quoted cells are none the fold decides on (a `dcv` cell, a
        // message with a comma) is seen through slices of the line, like an unquoted one,
        // and unquoted only if its row is built.
        let raw_cells = if is_quoted {
            split_raw(line_text, &mut split).filter(|&n| plain_view_cells(&split[..n], &index))
        } else {
            None
        };
        let slices = !is_quoted || raw_cells.is_some();
        let cells: &[&str] = if let Some(n) = raw_cells {
            &split[..n]
        } else if is_quoted {
            let Some(cells) = record(&text) else {
                continue;
            };
            quoted = cells;
            split_cells = quoted.iter().map(String::as_str).collect();
            &split_cells
        } else {
            // The common case: no quoting, the cells are slices of the line.
            let mut n = 0;
            for cell in split_commas(line_text) {
                if n == MAX_CELLS {
                    n += 1;
                    break;
                }
                split[n] = cell;
                n += 1;
            }
            if n > MAX_CELLS {
                problems.push(format!(
                    "line {}: more than {MAX_CELLS} cells where the header has {}",
                    raw.line,
                    contents.layout.len()
                ));
                if problems.len() >= MAX_PROBLEMS {
                    break;
                }
                continue;
            }
            &split[..n]
        };
        if cells.len() == contents.layout.len() {
            seen_full_row = true;
        } else if seen_full_row {
            // Rows short of a column added later were all written before it was added:
            // a short row after a full one lost a cell.
            problems.push(format!(
                "line {}: {} cells where the header has {} (a cell lost: the row's values are not in their columns)",
                raw.line,
                cells.len(),
                contents.layout.len()
            ));
            if problems.len() >= MAX_PROBLEMS {
                break;
            }
            continue;
        }
        match view_of(cells, &index, &contents.layout) {
            Ok((row_api, _)) if row_api != api => {
                other_api = Some(row_api);
                break;
            }
            Ok((_, view)) => {
                let key = cell_at(cells, &index, 3);
                let row = || {
                    if slices && is_quoted {
                        line_row(line_text, &index)
                    } else {
                        build_row(cells, &index)
                    }
                };
                let kept = || {
                    // The ref_id cell as a slice of the line: a quoted line's, when that
                    // cell itself is not quoted (the tool's refIds never are).
                    let ref_id = if !slices {
                        match index[at::REF_ID]
                            .and_then(|i| unquoted_field(line_text, i))
                            .map(decode)
                        {
                            Some(r) if r == view.ref_id => r,
                            _ => return Kept::Row(Box::new(row())),
                        }
                    } else {
                        view.ref_id
                    };
                    let start =
                        (ref_id.as_ptr() as usize).saturating_sub(line_text.as_ptr() as usize);
                    let end = start + ref_id.len();
                    Kept::Line {
                        line: line_text.into(),
                        ref_id: (
                            u32::try_from(start).unwrap_or(0),
                            u32::try_from(end).unwrap_or(0),
                        ),
                    }
                };
                each(key, view, &kept, &row);
            }
            Err(e) => {
                problems.push(format!("line {}: {e}", raw.line));
                if problems.len() >= MAX_PROBLEMS {
                    break;
                }
            }
        }
    }
    if let Some(found) = other_api {
        return Err(LedgerError::OtherApi {
            path: path.to_owned(),
            found: found.as_str(),
            wanted: api.as_str(),
        });
    }
    if !problems.is_empty() {
        return Err(LedgerError::BadRows {
            path: path.to_owned(),
            problems,
        });
    }
    Ok(contents)
}

/// The cells of a CSV line as they are in it (a quoted cell with its quotes), into `out`;
/// their number, or `None` when there are more than `out` holds.
fn split_raw<'a>(line: &'a str, out: &mut [&'a str; MAX_CELLS]) -> Option<usize> {
    let bytes = line.as_bytes();
    let (mut in_quotes, mut n, mut start, mut pos) = (false, 0, 0, 0);
    loop {
        // Inside quotes only the closing quote matters; outside, a comma or a quote.
        let next = if in_quotes {
            memchr::memchr(b'"', &bytes[pos..])
        } else {
            memchr::memchr2(b',', b'"', &bytes[pos..])
        };
        let Some(i) = next else { break };
        let at = pos + i;
        if bytes[at] == b'"' {
            in_quotes = !in_quotes;
        } else {
            *out.get_mut(n)? = &line[start..at];
            n += 1;
            start = at + 1;
        }
        pos = at + 1;
    }
    *out.get_mut(n)? = &line[start..];
    Some(n + 1)
}

/// Whether none of the cells [`view_of`] reads is quoted: their slices are their values.
fn plain_view_cells(cells: &[&str], index: &[Option<usize>; COLUMNS.len()]) -> bool {
    [
        at::TIME,
        at::API,
        at::EVENT,
        at::KEY,
        at::REF_ID,
        at::CERT_ID,
        at::YEARS,
        at::ATTEMPT,
        at::CODE,
        at::STATUS,
    ]
    .iter()
    .all(|&c| {
        index[c]
            .and_then(|i| cells.get(i))
            .is_none_or(|cell| !cell.contains('"'))
    })
}

/// Field `i` of a CSV line, as it is in the line, if it is not quoted.
fn unquoted_field(line: &str, i: usize) -> Option<&str> {
    let (mut in_quotes, mut field, mut start) = (false, 0, 0);
    for (pos, b) in line.bytes().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                if field == i {
                    return Some(&line[start..pos]).filter(|f| !f.contains('"'));
                }
                field += 1;
                start = pos + 1;
            }
            _ => {}
        }
    }
    (field == i)
        .then(|| &line[start..])
        .filter(|f| !f.contains('"'))
}

/// The comma-separated parts of an unquoted line, byte by byte (faster than `split`
/// for short cells).
fn split_commas(line: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut bytes = line.bytes().enumerate();
    std::iter::from_fn(move || {
        if start > line.len() {
            return None;
        }
        for (i, b) in bytes.by_ref() {
            if b == b',' {
                let cell = &line[start..i];
                start = i + 1;
                return Some(cell);
            }
        }
        let cell = &line[start..];
        start = line.len() + 1;
        Some(cell)
    })
}

/// Cell `c` of [`super::COLUMNS`] in a row, formula escape removed ("" when absent).
fn cell_at<'a>(cells: &[&'a str], index: &[Option<usize>; COLUMNS.len()], c: usize) -> &'a str {
    index[c]
        .and_then(|i| cells.get(i))
        .map_or("", |s| decode(s))
}

/// One row, checked (every cell that decisions rest on must be what the writer writes),
/// and seen as the fold sees it.
fn view_of<'a>(
    cells: &[&'a str],
    index: &[Option<usize>; COLUMNS.len()],
    layout: &[Option<usize>],
) -> Result<(Api, View<'a>), String> {
    // Rows written before a column was added to the header lack only that column.
    let short_of_added = cells.len() < layout.len()
        && layout[cells.len()..]
            .iter()
            .all(|c| c.is_some_and(|i| i >= REQUIRED_COLUMNS));
    if cells.len() != layout.len() && !short_of_added {
        return Err(format!(
            "{} cells where the header has {} (a cell lost or added: the row's values are not in their columns)",
            cells.len(),
            layout.len()
        ));
    }
    let cell = |c: usize| cell_at(cells, index, c);
    let shown = |c: usize| crate::shown::quote(cell(c));
    let api = Api::parse(cell(at::API)).ok_or_else(|| {
        format!(
            "the `api` cell is {}, not `live` or `sandbox`",
            shown(at::API)
        )
    })?;
    let event = Event::parse(cell(at::EVENT)).ok_or_else(|| {
        format!(
            "the `event` cell is {}, not an event nicsrs-batch writes",
            shown(at::EVENT)
        )
    })?;
    let time = unix_time(cell(at::TIME)).ok_or_else(|| {
        format!(
            "the `time` cell is {}, not a time like 2026-01-31T12:00:00Z",
            shown(at::TIME)
        )
    })?;
    if cell(at::KEY).is_empty() {
        return Err("the `key` cell is empty".into());
    }
    let ref_id = cell(at::REF_ID);
    if !event.is_about_certificate() && ref_id.is_empty() {
        return Err(format!(
            "the `ref_id` cell of a `{}` row is empty",
            event.as_str()
        ));
    }
    let cert_id = cell(at::CERT_ID);
    if event.is_success() && cert_id.is_empty() {
        return Err(format!(
            "the `cert_id` cell of a `{}` row is empty",
            event.as_str()
        ));
    }
    for (c, what) in [
        (at::REF_ID, "ref_id"),
        (at::CERT_ID, "cert_id"),
        (at::KEY, "key"),
    ] {
        if cell(c).len() > 200 || cell(c).chars().any(|ch| ch.is_control() || ch == ' ') {
            return Err(format!(
                "the `{what}` cell {} is not an identifier",
                shown(c)
            ));
        }
    }
    let number = |c: usize, what: &str| -> Result<Option<i64>, String> {
        match cell(c) {
            "" => Ok(None),
            s => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("the `{what}` cell is {}, not a number", shown(c))),
        }
    };
    let small = |c: usize, what: &str| -> Result<u32, String> {
        number(c, what)?.map_or(Ok(0), |n| {
            u32::try_from(n).map_err(|_| format!("the `{what}` cell {} is out of range", shown(c)))
        })
    };
    small(at::YEARS, "years")?;
    number(at::CODE, "code")?;
    Ok((
        api,
        View {
            time,
            event,
            ref_id,
            cert_id,
            has_status: !cell(at::STATUS).is_empty(),
            attempt: small(at::ATTEMPT, "attempt")?,
        },
    ))
}

/// The row of cells checked by [`view_of`] (so that nothing here can fail).
fn build_row(cells: &[&str], index: &[Option<usize>; COLUMNS.len()]) -> Row {
    Row::from_cells(|c| cell_at(cells, index, c))
}

/// The Unix time of `YYYY-MM-DDTHH:MM:SSZ` with every field in range, as the writer
/// stamps rows (the order of rows is decided by it); `None` for anything else.
pub(super) fn unix_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + sec).ok()
}

/// Reads what `reader` holds to the end (the rare upgrade of an old ledger's header).
pub(super) fn all_bytes(mut reader: impl Read) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_lines_split_at_every_comma() {
        fn parts(s: &str) -> Vec<&str> {
            split_commas(s).collect()
        }
        assert_eq!(parts("a,,b,"), ["a", "", "b", ""]);
        assert_eq!(parts(""), [""]);
        assert_eq!(parts("é,x"), ["é", "x"]);
    }
}
