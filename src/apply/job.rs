//! One job: a step of the plan, with the rows it writes.

use super::*;

/// One call to carry out: plain data, with a sequence number and its idempotency key
/// (the refId).
#[derive(Clone, Debug)]
pub struct Job {
    /// Position in the plan.
    pub seq: usize,
    /// The order's key.
    pub key: String,
    /// The refId sent, and looked up to reconcile.
    pub ref_id: String,
    /// Where to start.
    pub action: Action,
    /// The call: place, renew, reissue or replace.
    pub op: Op,
    /// Submissions recorded before this run.
    pub attempts: u32,
    /// `productCode` sent, or of the certificate renewed, reissued or replaced.
    pub product_code: String,
    /// `years` sent (place, renew), or of the certificate reissued or replaced.
    pub years: u32,
    /// `params` sent (canonical JSON); a reissue sends none.
    pub params: Option<Arc<str>>,
    /// A renewal of a certificate whose key NicSRS generated: the order, whose renewal is
    /// sent with the CSR NicSRS holds for the certificate (read by collect first).
    pub held_csr: Option<Box<ExpandedOrder>>,
    /// A reissue's `uniqueValue` form field.
    pub unique_value: Option<String>,
    /// The certId renewed (`renewId`), reissued or replaced (`certId`).
    pub of_cert: String,
    /// A reissue's `reason`.
    pub reason: String,
    /// Hash of those fields.
    pub request_sha256: String,
    /// The ledger's `request_fields` for the call's rows (a placement's are worked out when
    /// it is carried out).
    pub request_fields: String,
    /// The `request_fields` of the call as an earlier run sent it (reconcile).
    pub sent_fields: String,
    /// What a renewal's or replacement's `request_fields` are worked out from.
    pub fields_basis: Option<crate::plan::FieldsBasis>,
    /// Whether it may be sent again when its refId is not found (not after NicSRS answered
    /// success without a certId).
    pub resend: bool,
    /// The ledger's rows for the key disagree: looked up by refId even with
    /// `--trust-ledger`.
    pub must_look_up: bool,
    /// For the ledger, space-separated.
    pub domains: String,
    /// For the ledger.
    pub manifest: String,
    /// For `update-dcv`: each name whose validation changed, as the manifest has it now.
    pub dcv_updates: Vec<crate::dcv::NameDcv>,
}

impl Job {
    /// The jobs of a plan's work, in plan order; the plan's steps are moved into them.
    pub fn from_plan(plan: Plan, sources: &crate::source::Sources) -> Vec<Job> {
        plan.steps
            .into_iter()
            .filter(|s| s.action.is_work())
            .enumerate()
            .map(|(seq, s)| Job {
                seq,
                key: s.order.key.clone(),
                action: s.action,
                op: s.op,
                attempts: s.attempts,
                years: s.years,
                held_csr: (s.op == Op::Renew && s.params.is_none())
                    .then(|| Box::new(s.order.clone())),
                resend: s.resend,
                must_look_up: s.must_look_up,
                domains: s.order.domains.join(" "),
                manifest: sources.get(s.order.file).display.clone(),
                ref_id: s.ref_id,
                product_code: s.product_code,
                params: s.params,
                unique_value: s.unique_value,
                of_cert: s.of_cert,
                reason: s.reason,
                request_sha256: s.request_sha256,
                request_fields: s.request_fields,
                sent_fields: s.sent_fields,
                fields_basis: s.fields_basis,
                dcv_updates: s.dcv_updates,
            })
            .collect()
    }

    /// The form fields of the call, without the token: exactly those NicSRS's page for
    /// the endpoint documents (see `docs/nicsrs-api.md`).
    pub(super) fn fields<'j>(&'j self, years: &'j str) -> Vec<(&'static str, &'j str)> {
        let mut fields = match self.op {
            Op::Place => vec![
                ("productCode", self.product_code.as_str()),
                ("years", years),
            ],
            Op::Renew => vec![("renewId", self.of_cert.as_str()), ("years", years)],
            Op::Reissue => vec![
                ("certId", self.of_cert.as_str()),
                ("reason", self.reason.as_str()),
            ],
            Op::Replace => vec![("certId", self.of_cert.as_str())],
        };
        fields.push(("refId", self.ref_id.as_str()));
        if let Some(unique) = &self.unique_value {
            fields.push(("uniqueValue", unique));
        }
        if let Some(params) = &self.params {
            fields.push(("params", params));
        }
        fields
    }

    /// The row recording that the call's order exists as `cert_id`.
    pub(super) fn done(&self, api: Api, attempt: u32, cert_id: &str, message: &str) -> Row {
        let code = Some(Code::Success.value());
        self.row(api, self.op.success(), attempt, code, cert_id, message)
    }

    /// A row about this job. Rows about a renewal or reissue that has no new certId yet
    /// name the certificate renewed or reissued.
    pub(super) fn row(
        &self,
        api: Api,
        event: Event,
        attempt: u32,
        code: Option<i64>,
        cert_id: &str,
        message: &str,
    ) -> Row {
        let cert_id = if cert_id.is_empty() {
            &self.of_cert
        } else {
            cert_id
        };
        Row {
            time: ledger::now_rfc3339(),
            api,
            event,
            key: self.key.clone(),
            ref_id: self.ref_id.clone(),
            cert_id: cert_id.to_owned(),
            product_code: self.product_code.clone(),
            years: self.years,
            domains: self.domains.clone(),
            request_sha256: self.request_sha256.clone(),
            attempt,
            code,
            message: message.to_owned(),
            manifest: self.manifest.clone(),
            status: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            due_date: String::new(),
            // Only the rows that say what was sent or what exists carry the fields.
            request_fields: if event.is_write_ahead() || event.is_success() {
                self.request_fields.clone()
            } else {
                String::new()
            },
            dcv: String::new(),
        }
    }

    /// The names the call sends, each with its `dcvMethod` and `dcvEmail` (a reissue
    /// sends none: its names, without them).
    pub(super) fn names(&self) -> Vec<crate::dcv::NameDcv> {
        match &self.params {
            Some(params) => crate::dcv::names::requested(
                &serde_json::from_str(params).unwrap_or(serde_json::Value::Null),
            ),
            None => self
                .domains
                .split_whitespace()
                .map(|d| crate::dcv::NameDcv {
                    domain: d.to_owned(),
                    ..Default::default()
                })
                .collect(),
        }
    }
}
