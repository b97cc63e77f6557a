//! The CSV dialect of the ledger, read and written with the `csv` crate: RFC 4180 records
//! (quoted cells may hold commas, quotes and line breaks), CRLF line ends, and cells that a
//! spreadsheet would run as a formula escaped with a leading `'` and read back unchanged.
//!
//! Where a record begins and ends is the ledger reader's own work (`ledger::read`): a record
//! cut short by a crash (no CRLF at its end) must be told from a whole one, and a file whose
//! rows end in CR alone must be refused rather than read. The cells of a record are split
//! here.

use std::borrow::Cow;

/// Cells joined into one CSV line, ending in CRLF, each [neutralised](neutralise) and quoted
/// where CSV needs it.
pub fn line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .flexible(true)
        .buffer_capacity(512)
        .from_writer(Vec::with_capacity(512));
    let cells: Vec<Cow<'a, str>> = cells.map(neutralise).collect();
    // Writing into memory cannot fail; the header and the rows always have cells.
    let written = writer.write_record(cells.iter().map(|c| c.as_bytes()));
    let bytes = match (written, writer.into_inner()) {
        (Ok(()), Ok(bytes)) => bytes,
        _ => Vec::new(),
    };
    // The cells are UTF-8, and the writer adds only ASCII.
    String::from_utf8(bytes).unwrap_or_default()
}

/// One cell as written: a leading `= + - @ '`, tab or CR is escaped with `'` so that no
/// spreadsheet runs it as a formula (a negative integer, such as the API's code `-1`, is a
/// number to a spreadsheet and stays as it is).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let negative_integer = cell
        .strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if !negative_integer && cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as read back: the formula escape removed.
pub fn decode(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// The cells of the first record of `text` (one record as the ledger reader framed it),
/// unescaped of CSV quoting but not of the formula escape; `None` for no record.
///
/// The record is read by one `csv_core` reader per thread, reset for each record: building
/// a reader takes longer than reading a row (a ledger whose rows carry quoted cells, like
/// `dcv`, was read six times slower with a reader built per record).
pub fn record(text: &str) -> Option<Vec<String>> {
    thread_local! {
        static READER: std::cell::RefCell<csv_core::Reader> =
            std::cell::RefCell::new(csv_core::Reader::new());
    }
    READER.with(|reader| {
        let mut reader = reader.borrow_mut();
        reader.reset();
        let input = text.as_bytes();
        // Unquoting never lengthens a record, and there is at most one cell per byte.
        let mut out = vec![0u8; input.len() + 1];
        let mut ends = vec![0usize; input.len() + 2];
        let (mut read, mut written, mut cells) = (0, 0, 0);
        loop {
            // Once all of `text` was given, an empty input tells the reader it ended.
            let at_end = read == input.len();
            let (result, nin, nout, nend) =
                reader.read_record(&input[read..], &mut out[written..], &mut ends[cells..]);
            // The ends are offsets in the record's output, counted across calls.
            read += nin;
            written += nout;
            cells += nend;
            match result {
                csv_core::ReadRecordResult::Record => break,
                csv_core::ReadRecordResult::InputEmpty if !at_end => {}
                // No record; or (never: the buffers hold any record `text` can give) full.
                _ => return None,
            }
        }
        let mut start = 0;
        ends[..cells]
            .iter()
            .map(|&end| {
                let cell = out.get(start..end.min(written))?;
                start = end;
                Some(String::from_utf8_lossy(cell).into_owned())
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_read_back_unchanged() {
        for cell in [
            "=cmd|' /C calc'!A0",
            "+1",
            "-1+2",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(A1)",
            "\tx",
            "'quoted",
            "plain, with \"quotes\"\nand a line",
            " spaced ",
        ] {
            let written = line([cell, "next"].into_iter());
            assert!(written.ends_with(",next\r\n"), "{written:?}");
            assert!(
                !written
                    .trim_start_matches('"')
                    .starts_with(['=', '+', '-', '@', '\t']),
                "{written}"
            );
            let cells = record(&written).expect("a record");
            assert_eq!(cells.len(), 2, "{written:?}");
            assert_eq!(decode(&cells[0]), cell);
        }
    }

    #[test]
    fn negative_integers_stay_numbers() {
        for cell in ["-1", "-6", "-12"] {
            assert_eq!(neutralise(cell), cell);
            assert_eq!(decode(cell), cell);
        }
        assert_eq!(neutralise("-"), "'-");
    }

    #[test]
    fn each_record_is_read_afresh_by_the_reader_the_thread_keeps() {
        // A record left inside an open quote must not leak into the next one.
        let _ = record("a,\"never closed");
        assert_eq!(record("x,\"y,z\"\r\n").expect("a record"), ["x", "y,z"]);
        assert_eq!(
            record("no,terminator").expect("a record"),
            ["no", "terminator"]
        );
        assert_eq!(record(""), None);
        let long = format!("{},\"{}\"\r\n", "a".repeat(70_000), "b\"\"".repeat(10_000));
        let cells = record(&long).expect("a long record");
        assert_eq!((cells[0].len(), cells[1].len()), (70_000, 20_000));
    }

    #[test]
    fn quoted_cells_keep_commas_quotes_and_line_breaks() {
        let cells = record("a,\"b,c\",\"say \"\"hi\"\"\",\"two\r\nlines\",\r\n").expect("a record");
        assert_eq!(cells, ["a", "b,c", "say \"hi\"", "two\r\nlines", ""]);
    }
}
