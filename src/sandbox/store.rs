//! The sandbox's orders: in memory, and with `--state FILE` saved atomically before a
//! request that stored something is answered, so a restart keeps every order.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Placed; the certificate is not issued yet.
    Pending,
    /// Issued.
    Complete,
    /// Cancelled.
    Cancelled,
    /// Replaced by a reissue or a replacement.
    Reissued,
}

/// How an order came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MadeBy {
    /// `/ssl/place`.
    Place,
    /// `/ssl/renew` of an earlier certificate.
    Renew,
    /// `/ssl/reissue` of an earlier certificate.
    Reissue,
    /// `/ssl/replace` of an earlier certificate (another key or other names).
    Replace,
}

/// One order as the sandbox keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredOrder {
    /// `SBX` and a number: never a real NicSRS certId.
    pub cert_id: String,
    /// The reseller's refId, if one was sent.
    pub ref_id: Option<String>,
    /// The product.
    pub product_code: String,
    /// Years paid for.
    pub years: u32,
    /// `params` as received.
    pub params: Value,
    /// When it was stored (Unix seconds).
    pub placed_at: i64,
    /// How long before `placed_at` it counts as placed (the sandbox's `placed_age`): its
    /// subscription and first certificate start that much earlier.
    #[serde(default)]
    pub aged: i64,
    /// Where it stands.
    pub status: Status,
    /// Place, renew or reissue.
    pub origin: MadeBy,
    /// The certId renewed or reissued.
    pub previous: Option<String>,
    /// End of the paid subscription (Unix seconds).
    pub due: i64,
    /// Certificate validity, once issued.
    pub begin: Option<i64>,
    /// Certificate expiry, once issued.
    pub end: Option<i64>,
    /// The certificate, PEM, once issued.
    pub certificate: Option<String>,
    /// The key the sandbox generated when no CSR was sent (its CSR is then `params.csr`,
    /// which collect returns in `applyParams`), kept by renewals and reissues of it.
    pub private_key: Option<String>,
}

/// Counts of injected faults, for `/sandbox/stats`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FaultCounts {
    /// HTTP 500 answered.
    pub failed: u64,
    /// HTTP 429 answered.
    pub throttled: u64,
    /// Code -2 answered after storing.
    pub unknown: u64,
    /// Connections closed without a reply.
    pub dropped: u64,
    /// Replies never sent.
    pub timed_out: u64,
    /// Code -4 answered.
    pub no_credit: u64,
    /// Of `dropped`: paid calls whose order was stored before the connection closed.
    pub dropped_after_storing: u64,
    /// Of `timed_out`: paid calls whose order was stored and never answered.
    pub timed_out_after_storing: u64,
    /// Paid calls stored and then held unanswered (`hold_paid`).
    pub held: u64,
}

/// What `--state FILE` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    next_serial: u64,
    ca_key: Option<String>,
    ca_cert: Option<String>,
    orders: Vec<StoredOrder>,
}

/// The mutable part of the store.
#[derive(Debug, Default)]
pub struct Inner {
    /// Every order, in the order they were stored.
    pub orders: Vec<StoredOrder>,
    next_serial: u64,
    by_cert: HashMap<String, usize>,
    by_ref: HashMap<String, Vec<usize>>,
    /// Requests per endpoint.
    pub requests: BTreeMap<String, u64>,
    /// When the first request arrived, in milliseconds since the Unix epoch: how long a
    /// client took to its first call.
    pub first_request_unix_ms: Option<u64>,
    /// Injected faults.
    pub faults: FaultCounts,
    /// Fields each endpoint received that its NicSRS page does not document, with counts.
    pub undocumented: BTreeMap<String, BTreeMap<String, u64>>,
    /// With `--verify-dcv`: the names (lower case) whose evidence was found, per certId.
    verified: HashMap<String, std::collections::BTreeSet<String>>,
    generation: u64,
}

impl Inner {
    /// The order with `cert_id`.
    pub fn by_cert(&self, cert_id: &str) -> Option<usize> {
        self.by_cert.get(cert_id).copied()
    }

    /// The orders placed with `ref_id`, oldest first.
    pub fn by_ref(&self, ref_id: &str) -> &[usize] {
        self.by_ref.get(ref_id).map_or(&[], Vec::as_slice)
    }

    /// Every refId with how many orders carry it.
    pub fn ref_counts(&self) -> impl Iterator<Item = (&str, usize)> {
        self.by_ref.iter().map(|(r, v)| (r.as_str(), v.len()))
    }

    /// Paid orders (placements and renewals) stored so far.
    pub fn paid(&self) -> u64 {
        self.orders
            .iter()
            .filter(|o| matches!(o.origin, MadeBy::Place | MadeBy::Renew))
            .count() as u64
    }

    /// The next certificate serial number.
    pub fn next_serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }

    /// Stores a new order under a fresh certId and returns the certId.
    pub fn insert(&mut self, mut order: StoredOrder) -> String {
        let cert_id = format!("SBX{:010}", self.orders.len() + 1);
        order.cert_id = cert_id.clone();
        let index = self.orders.len();
        if let Some(r) = &order.ref_id {
            self.by_ref.entry(r.clone()).or_default().push(index);
        }
        self.by_cert.insert(cert_id.clone(), index);
        self.orders.push(order);
        self.touch();
        cert_id
    }

    /// Whether `--verify-dcv` found the evidence of `domain` of `cert_id`.
    pub fn is_verified(&self, cert_id: &str, domain: &str) -> bool {
        self.verified
            .get(cert_id)
            .is_some_and(|s| s.contains(&domain.to_ascii_lowercase()))
    }

    /// Records that the evidence of `domain` of `cert_id` was found.
    pub fn mark_verified(&mut self, cert_id: &str, domain: &str) {
        self.verified
            .entry(cert_id.to_owned())
            .or_default()
            .insert(domain.to_ascii_lowercase());
    }

    /// Forgets what was found for `domain` of `cert_id` (its method changed).
    pub fn unverify(&mut self, cert_id: &str, domain: &str) {
        if let Some(s) = self.verified.get_mut(cert_id) {
            s.remove(&domain.to_ascii_lowercase());
        }
    }

    /// Marks the state changed, so it is saved before the reply.
    pub fn touch(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    fn index(&mut self) {
        self.by_cert.clear();
        self.by_ref.clear();
        for (i, o) in self.orders.iter().enumerate() {
            self.by_cert.insert(o.cert_id.clone(), i);
            if let Some(r) = &o.ref_id {
                self.by_ref.entry(r.clone()).or_default().push(i);
            }
        }
    }
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("sandbox state {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a sandbox state.
    #[error("sandbox state {path} is not a sandbox state file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The orders, behind one lock, with optional persistence.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    path: Option<PathBuf>,
    ca_pem: (String, String),
    /// One writer at a time; a write covers every change made before it started.
    writer: tokio::sync::Mutex<()>,
    saved: AtomicU64,
}

impl Store {
    /// An empty store, or the one saved in `path` (created on first save).
    /// Returns the store and the saved CA (key, certificate), if any.
    pub fn open(path: Option<&Path>) -> Result<(Store, Option<(String, String)>), StoreError> {
        let mut inner = Inner::default();
        let mut ca = None;
        if let Some(p) = path.filter(|p| p.exists()) {
            let text = crate::bounded::read_regular(p, 1 << 30)
                .map_err(|source| StoreError::Io {
                    path: p.to_owned(),
                    source,
                })?
                .bytes;
            let saved: Saved = serde_json::from_slice(&text).map_err(|e| StoreError::Corrupt {
                path: p.to_owned(),
                message: e.to_string(),
            })?;
            inner.orders = saved.orders;
            inner.next_serial = saved.next_serial;
            inner.index();
            ca = saved.ca_key.zip(saved.ca_cert);
        }
        Ok((
            Store {
                inner: Mutex::new(inner),
                path: path.map(Path::to_owned),
                ca_pem: (String::new(), String::new()),
                writer: tokio::sync::Mutex::new(()),
                saved: AtomicU64::new(0),
            },
            ca,
        ))
    }

    /// Records the CA so that it is saved with the orders.
    pub fn set_ca(&mut self, key_pem: String, cert_pem: String) {
        self.ca_pem = (key_pem, cert_pem);
    }

    /// The state, locked. Never held across an await.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Saves the state if it changed up to `generation` and no later save covered it.
    /// Concurrent callers share one write (group commit).
    pub async fn save(&self, generation: u64) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let _writer = self.writer.lock().await;
        if self.saved.load(Ordering::Acquire) >= generation {
            return Ok(());
        }
        let (bytes, upto) = {
            let inner = self.lock();
            let saved = SavedRef {
                next_serial: inner.next_serial,
                ca_key: &self.ca_pem.0,
                ca_cert: &self.ca_pem.1,
                orders: &inner.orders,
            };
            let bytes = serde_json::to_vec(&saved).map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?;
            (bytes, inner.generation)
        };
        let target = path.clone();
        tokio::task::spawn_blocking(move || crate::atomic::write(&target, &bytes, 0o600))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r)
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        self.saved.store(upto, Ordering::Release);
        Ok(())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SavedRef<'a> {
    next_serial: u64,
    ca_key: &'a str,
    ca_cert: &'a str,
    orders: &'a [StoredOrder],
}
