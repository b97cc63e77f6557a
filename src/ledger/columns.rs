//! The ledger's columns, in one table: each column's name, how a row's field is written to
//! its cell, and how it is read back. The header, the writer and the reader all go by it.

use super::{Api, Event, Row};

/// One column of the ledger.
pub struct Column {
    /// Its name in the header.
    pub name: &'static str,
    /// The cell of a row.
    pub write: fn(&Row) -> String,
    /// Sets the row's field from its cell (the reader has checked the cells that
    /// decisions rest on; anything else unreadable reads as empty or zero).
    pub read: fn(&mut Row, &str),
}

/// Every column, in the order a new ledger's header has them; the first
/// [`REQUIRED_COLUMNS`] are those of the first release.
pub const TABLE: [Column; 20] = [
    Column {
        name: "time",
        write: |r| r.time.clone(),
        read: |r, v| r.time = v.into(),
    },
    Column {
        name: "api",
        write: |r| r.api.as_str().into(),
        read: |r, v| r.api = Api::parse(v).unwrap_or(Api::Live),
    },
    Column {
        name: "event",
        write: |r| r.event.as_str().into(),
        read: |r, v| r.event = Event::parse(v).unwrap_or(Event::Status),
    },
    Column {
        name: "key",
        write: |r| r.key.clone(),
        read: |r, v| r.key = v.into(),
    },
    Column {
        name: "ref_id",
        write: |r| r.ref_id.clone(),
        read: |r, v| r.ref_id = v.into(),
    },
    Column {
        name: "cert_id",
        write: |r| r.cert_id.clone(),
        read: |r, v| r.cert_id = v.into(),
    },
    Column {
        name: "product_code",
        write: |r| r.product_code.clone(),
        read: |r, v| r.product_code = v.into(),
    },
    Column {
        name: "years",
        write: |r| r.years.to_string(),
        read: |r, v| r.years = v.parse().unwrap_or(0),
    },
    Column {
        name: "domains",
        write: |r| r.domains.clone(),
        read: |r, v| r.domains = v.into(),
    },
    Column {
        name: "request_sha256",
        write: |r| r.request_sha256.clone(),
        read: |r, v| r.request_sha256 = v.into(),
    },
    Column {
        name: "attempt",
        write: |r| r.attempt.to_string(),
        read: |r, v| r.attempt = v.parse().unwrap_or(0),
    },
    Column {
        name: "code",
        write: |r| r.code.map(|c| c.to_string()).unwrap_or_default(),
        read: |r, v| r.code = v.parse().ok(),
    },
    Column {
        name: "message",
        write: |r| r.message.clone(),
        read: |r, v| r.message = v.into(),
    },
    Column {
        name: "manifest",
        write: |r| r.manifest.clone(),
        read: |r, v| r.manifest = v.into(),
    },
    Column {
        name: "status",
        write: |r| r.status.clone(),
        read: |r, v| r.status = v.into(),
    },
    Column {
        name: "not_before",
        write: |r| r.not_before.clone(),
        read: |r, v| r.not_before = v.into(),
    },
    Column {
        name: "not_after",
        write: |r| r.not_after.clone(),
        read: |r, v| r.not_after = v.into(),
    },
    Column {
        name: "due_date",
        write: |r| r.due_date.clone(),
        read: |r, v| r.due_date = v.into(),
    },
    Column {
        name: "request_fields",
        write: |r| r.request_fields.clone(),
        read: |r, v| r.request_fields = v.into(),
    },
    Column {
        name: "dcv",
        write: |r| r.dcv.clone(),
        read: |r, v| r.dcv = v.into(),
    },
];

/// The columns' names, in [`TABLE`]'s order.
pub const COLUMNS: [&str; TABLE.len()] = {
    let mut names = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        names[i] = TABLE[i].name;
        i += 1;
    }
    names
};

/// How many of [`COLUMNS`] every ledger has (those of the first release).
pub const REQUIRED_COLUMNS: usize = 18;

/// The position in [`TABLE`] of the column `name` (a compile error if there is none).
const fn position(name: &str) -> usize {
    let mut i = 0;
    while i < TABLE.len() {
        let (a, b) = (TABLE[i].name.as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("no such ledger column")
}

/// Positions of the columns the reader checks cell by cell.
pub(super) mod at {
    use super::position;
    /// `time`.
    pub const TIME: usize = position("time");
    /// `api`.
    pub const API: usize = position("api");
    /// `event`.
    pub const EVENT: usize = position("event");
    /// `key`.
    pub const KEY: usize = position("key");
    /// `ref_id`.
    pub const REF_ID: usize = position("ref_id");
    /// `cert_id`.
    pub const CERT_ID: usize = position("cert_id");
    /// `years`.
    pub const YEARS: usize = position("years");
    /// `attempt`.
    pub const ATTEMPT: usize = position("attempt");
    /// `code`.
    pub const CODE: usize = position("code");
    /// `status`.
    pub const STATUS: usize = position("status");
}

impl Row {
    /// The row's cells, in [`TABLE`]'s order.
    pub(super) fn cells(&self) -> [String; TABLE.len()] {
        std::array::from_fn(|i| (TABLE[i].write)(self))
    }

    /// A row read from its cells, `cell(i)` giving the cell of [`TABLE`]'s column `i`.
    pub(super) fn from_cells<'a>(cell: impl Fn(usize) -> &'a str) -> Row {
        let mut row = Row {
            time: String::new(),
            ..Row::blank(Api::Live, Event::Status, "")
        };
        for (i, column) in TABLE.iter().enumerate() {
            (column.read)(&mut row, cell(i));
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fully_filled_row_reads_back_as_written() {
        let row = Row {
            time: "2027-01-31T12:00:00Z".into(),
            api: Api::Sandbox,
            event: Event::Reissued,
            key: "shop-www".into(),
            ref_id: "acme-shop-www-i2".into(),
            cert_id: "SBX0000000042".into(),
            product_code: "sectigo-ov".into(),
            years: 2,
            domains: "www.shop.example shop.example".into(),
            request_sha256: "ab".repeat(32),
            attempt: 3,
            code: Some(-6),
            message: "CA request failed, \"quoted\", with a comma".into(),
            manifest: "orders/shop.yaml".into(),
            status: "COMPLETE".into(),
            not_before: "2027-01-31 20:00:00".into(),
            not_after: "2028-02-29 19:59:59".into(),
            due_date: "2029-01-31 19:59:59".into(),
            request_fields: "csr=1a2b3c4d domainInfo=5e6f7a8b".into(),
            dcv: r#"[{"domain":"www.shop.example","method":"CNAME_CSR_HASH","verified":false,"dns_name":"_AB.www.shop.example","dns_type":"CNAME","dns_value":"C.D.sectigo.com"}]"#.into(),
        };
        let cells = row.cells();
        let back = Row::from_cells(|i| cells[i].as_str());
        assert_eq!(back, row);
        // And through the CSV line, as the reader reads it.
        let cells = crate::csv::record(&row.to_line()).expect("a record");
        let read = Row::from_cells(|i| crate::csv::decode(&cells[i]));
        assert_eq!(read, row);
    }

    #[test]
    fn the_named_positions_are_the_columns() {
        for (at, name) in [
            (at::TIME, "time"),
            (at::API, "api"),
            (at::EVENT, "event"),
            (at::KEY, "key"),
            (at::REF_ID, "ref_id"),
            (at::CERT_ID, "cert_id"),
            (at::YEARS, "years"),
            (at::ATTEMPT, "attempt"),
            (at::CODE, "code"),
            (at::STATUS, "status"),
        ] {
            assert_eq!(COLUMNS[at], name);
        }
        assert_eq!(COLUMNS[REQUIRED_COLUMNS], "request_fields");
        assert_eq!(COLUMNS[REQUIRED_COLUMNS + 1], "dcv");
    }
}
