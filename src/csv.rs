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
pub fn record(text: &str) -> Option<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(text.len().clamp(64, 1 << 16))
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Some(record.iter().map(str::to_owned).collect()),
        _ => None,
    }
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
    fn quoted_cells_keep_commas_quotes_and_line_breaks() {
        let cells = record("a,\"b,c\",\"say \"\"hi\"\"\",\"two\r\nlines\",\r\n").expect("a record");
        assert_eq!(cells, ["a", "b,c", "say \"hi\"", "two\r\nlines", ""]);
    }
}
