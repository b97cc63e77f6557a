//! A row of the ledger: what it records (its event), for which API, and its fields.

use super::*;

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
    /// A `/ssl/updateDCV` call (free) for one name of the pending certificate `cert_id`:
    /// `code` says whether it was done, `dcv` the name's method and record since.
    UpdateDcv,
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
            Event::UpdateDcv => "update-dcv",
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

    /// Whether the row is about a certificate rather than a call that may make one
    /// (`status`, `update-dcv`): it carries no refId of its own.
    pub fn is_about_certificate(self) -> bool {
        matches!(self, Event::Status | Event::UpdateDcv)
    }

    pub(crate) fn parse(s: &str) -> Option<Event> {
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
            "update-dcv" => Event::UpdateDcv,
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

    pub(crate) fn parse(s: &str) -> Option<Api> {
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
    /// On the rows of a call whose reply says how each name is validated (place, renew,
    /// replace, and collect's `status` rows): each name's method, state and the record the
    /// API said to publish, as compact JSON ([`crate::dcv::names`]).
    pub dcv: String,
}

impl Row {
    /// A row about `key` with every other cell empty, stamped now.
    pub fn about(api: Api, event: Event, key: &str) -> Row {
        Row {
            time: now_rfc3339(),
            ..Row::blank(api, event, key)
        }
    }

    /// A row about `key` with every other cell empty, its time too.
    pub(super) fn blank(api: Api, event: Event, key: &str) -> Row {
        Row {
            time: String::new(),
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
            dcv: String::new(),
        }
    }

    /// The row as one CSV line in the order of [`COLUMNS`], ending in CRLF as RFC 4180
    /// has it.
    pub fn to_line(&self) -> String {
        line(self.cells().iter().map(String::as_str))
    }

    /// The row as one CSV line in a file's own column order: `layout[i]` is the index in
    /// [`COLUMNS`] of the file's column `i`, or `None` for a column this version does not
    /// know (left empty).
    pub(super) fn to_line_in(&self, layout: &[Option<usize>]) -> String {
        let cells = self.cells();
        line(layout.iter().map(|c| c.map_or("", |i| cells[i].as_str())))
    }
}

/// Now, RFC 3339 UTC to the second.
pub fn now_rfc3339() -> String {
    crate::nicsrs::wire::format_utc(time::OffsetDateTime::now_utc().unix_timestamp(), 'T', "Z")
}
