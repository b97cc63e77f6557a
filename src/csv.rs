//! The CSV dialect of the ledger: RFC 4180 records (quoted cells may hold commas, quotes
//! and line breaks), CRLF line ends, and cells that a spreadsheet would run as a formula
//! escaped with a leading `'` and read back unchanged.

/// Cells joined into one CSV line, ending in CRLF.
pub fn line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::with_capacity(256);
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&encode(cell));
    }
    out.push_str("\r\n");
    out
}

/// One cell as written: a leading `= + - @ '`, tab or CR is escaped with `'` so that no
/// spreadsheet runs it as a formula (a negative integer, such as the API's code `-1`, is a
/// number to a spreadsheet and stays as it is), and the cell is quoted when CSV needs it.
pub fn encode(cell: &str) -> String {
    let negative_integer = cell
        .strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    let neutral = if !negative_integer && cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if neutral.contains([',', '"', '\n', '\r'])
        || neutral.starts_with(' ')
        || neutral.ends_with(' ')
    {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

/// A cell as read back: the formula escape removed.
pub fn decode(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// One CSV record.
pub struct Record {
    /// The cells, unescaped of CSV quoting (not of the formula escape).
    pub cells: Vec<String>,
    /// Byte offset of its first character.
    pub offset: usize,
    /// 1-based line number of its first line.
    pub line: usize,
    /// Whether it ended with a line break (a crash can leave the last one without).
    pub complete: bool,
}

/// Splits RFC 4180 text into records, one at a time (a ledger of many thousand rows is never
/// held as cells all at once); quoted cells may hold commas, quotes and line breaks.
pub fn records(text: &str) -> Records<'_> {
    Records {
        text,
        pos: 0,
        line: 1,
    }
}

/// The records of a text; see [`records`].
pub struct Records<'t> {
    text: &'t str,
    pos: usize,
    line: usize,
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let start = self.pos;
        if start >= self.text.len() {
            return None;
        }
        let start_line = self.line;
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = self.text[start..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek().map(|(_, n)| *n) == Some('"') => {
                        cell.push('"');
                        chars.next();
                    }
                    '"' => quoted = false,
                    '\n' => {
                        self.line += 1;
                        cell.push(c);
                    }
                    _ => cell.push(c),
                }
                continue;
            }
            match c {
                '"' if cell.is_empty() => quoted = true,
                ',' => cells.push(std::mem::take(&mut cell)),
                '\r' if chars.peek().map(|(_, n)| *n) == Some('\n') => {}
                '\n' => {
                    cells.push(cell);
                    self.line += 1;
                    self.pos = start + i + 1;
                    return Some(Record {
                        cells,
                        offset: start,
                        line: start_line,
                        complete: true,
                    });
                }
                _ => cell.push(c),
            }
        }
        cells.push(cell);
        self.pos = self.text.len();
        Some(Record {
            cells,
            offset: start,
            line: start_line,
            complete: false,
        })
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
        ] {
            let enc = encode(cell);
            assert!(
                !enc.trim_start_matches('"')
                    .starts_with(['=', '+', '-', '@', '\t']),
                "{enc}"
            );
            let recs: Vec<Record> = records(&format!("{enc}\n")).collect();
            assert_eq!(decode(&recs[0].cells[0]), cell);
        }
    }

    #[test]
    fn negative_integers_stay_numbers() {
        for cell in ["-1", "-6", "-12"] {
            assert_eq!(encode(cell), cell);
            assert_eq!(decode(cell), cell);
        }
        assert_eq!(encode("-"), "'-");
    }
}
