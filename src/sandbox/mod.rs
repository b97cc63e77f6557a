//! A NicSRS-compatible sandbox: a real HTTP server on loopback that speaks the live API's
//! wire format, keeps orders, issues real (untrusted) certificates, and injects the faults
//! that cause duplicate or lost orders, so that every test and benchmark can run without
//! an account or a network.

pub mod api;
pub mod ca;
pub mod faults;
pub mod shapes;
pub mod store;
pub mod timer;
pub mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::catalog::Catalog;
use ca::Ca;
use faults::{Dice, Faults};
use store::{Store, StoreError};

/// The token the sandbox accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "sandbox";
/// How long a "timed out" request is held before its connection is closed, unanswered.
const TIMEOUT_HOLD: Duration = Duration::from_secs(300);

/// How a sandbox behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The `api_token` it accepts.
    pub token: String,
    /// Faults and latency.
    pub faults: Faults,
    /// Seed of the fault generator.
    pub seed: u64,
    /// Time from placement to issue (collect answers PENDING until then).
    pub issue_after: Duration,
    /// Orders placed now count as placed this long ago (their subscription and first
    /// certificate start then), so that a renewal or reissue wave can be tried without
    /// waiting; renewals, reissues and replacements start now.
    pub placed_age: Duration,
    /// Validity of issued certificates, in days.
    pub validity_days: u32,
    /// Where to keep state across restarts.
    pub state: Option<PathBuf>,
    /// The products it sells.
    pub catalog: Catalog,
    /// Validate names for real (`--verify-dcv`): where to look for the evidence.
    pub verify_dcv: Option<verify::Verify>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token: DEFAULT_TOKEN.into(),
            faults: Faults::default(),
            seed: 0,
            issue_after: Duration::ZERO,
            placed_age: Duration::ZERO,
            validity_days: 200,
            state: None,
            catalog: Catalog::builtin(),
            verify_dcv: None,
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The state file is unusable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The CA could not be made.
    #[error(transparent)]
    Ca(#[from] ca::CaError),
    /// The latency timer's thread could not start.
    #[error("cannot start the sandbox's timer thread: {0}")]
    Thread(std::io::Error),
}

/// Shared by every request.
pub struct App {
    /// The configuration.
    pub config: Config,
    /// The catalogue (`config.catalog`, kept here for short paths).
    pub catalog: Catalog,
    /// The orders.
    pub store: Store,
    /// The CA.
    pub ca: Ca,
    dice: Dice,
    timer: timer::Timer,
}

/// Marks a response whose connection must be closed instead of answered.
#[derive(Clone, Copy)]
struct DropConnection;

/// A running sandbox.
pub struct Sandbox {
    addr: SocketAddr,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    verifier: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `addr` (port 0 picks a free port) and serves until [`Sandbox::stop`].
    pub async fn start(config: Config, addr: SocketAddr) -> Result<Sandbox, SandboxError> {
        let (mut store, saved_ca) = Store::open(config.state.as_deref())?;
        let ca = match saved_ca {
            Some((key, cert)) => Ca::from_pem(&key, &cert)?,
            None => Ca::generate()?,
        };
        store.set_ca(ca.key_pem().to_owned(), ca.cert_pem().to_owned());
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let app = Arc::new(App {
            catalog: config.catalog.clone(),
            dice: Dice::new(config.seed),
            timer: timer::Timer::start().map_err(SandboxError::Thread)?,
            config,
            store,
            ca,
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, router(app.clone()), stopped));
        let verifier = app
            .config
            .verify_dcv
            .map(|v| tokio::spawn(verify::run(app.clone(), v)));
        Ok(Sandbox {
            addr,
            app,
            stop: Some(stop),
            task,
            verifier,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token it accepts.
    pub fn token(&self) -> &str {
        &self.app.config.token
    }

    /// The state, for tests and stats.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Stops accepting, and saves the state.
    pub async fn stop(mut self) -> Result<(), StoreError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        if let Some(v) = self.verifier.take() {
            v.abort();
        }
        let generation = self.app.store.lock().touch();
        self.app.store.save(generation).await
    }
}

/// The routes: `POST /ssl/{endpoint}` and `GET /sandbox/stats`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/ssl/{endpoint}", post(ssl))
        .route("/sandbox/stats", get(stats))
        .with_state(app)
}

async fn stats(State(app): State<Arc<App>>) -> impl IntoResponse {
    axum::Json(api::stats(&app))
}

/// Every `/ssl/` call: latency and faults around the endpoint itself.
async fn ssl(
    State(app): State<Arc<App>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let arrived = std::time::Instant::now();
    {
        let mut inner = app.store.lock();
        *inner.requests.entry(endpoint.clone()).or_default() += 1;
        inner.first_request_unix_ms.get_or_insert_with(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        });
    }
    let fate = app.dice.roll(&app.config.faults);
    // The latency includes the sandbox's own work, as a server's does: requests that
    // arrive together are not queued behind each other's handling after it.
    let wait = || async {
        if !fate.delay.is_zero() {
            app.timer.sleep_until(arrived + fate.delay).await;
        }
    };
    if fate.throttle || fate.fail {
        wait().await;
    }
    if fate.throttle {
        app.store.lock().faults.throttled += 1;
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({"code": 429, "msg": "too many requests"})),
        )
            .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    if fate.fail {
        app.store.lock().faults.failed += 1;
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 Internal Server Error\n",
        )
            .into_response();
    }
    let handled = api::handle(&app, &endpoint, &headers, &body);
    let mut reply = handled.reply;
    let paid = matches!(endpoint.as_str(), "place" | "renew" | "reissue" | "replace");
    let stored_paid = paid && handled.stored.is_some();
    if let Some(generation) = handled.stored {
        if let Err(e) = app.store.save(generation).await {
            eprintln!("sandbox: {e}");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "state could not be saved\n",
            )
                .into_response();
        }
        if fate.unknown && paid {
            app.store.lock().faults.unknown += 1;
            reply = crate::nicsrs::wire::Reply::new(crate::nicsrs::wire::Code::Unknown);
        }
    }
    if stored_paid && app.config.faults.hold_paid {
        app.store.lock().faults.held += 1;
        std::future::pending::<()>().await;
    }
    wait().await;
    if fate.drop {
        {
            let mut inner = app.store.lock();
            inner.faults.dropped += 1;
            inner.faults.dropped_after_storing += u64::from(stored_paid);
        }
        let mut r = Response::new(Body::empty());
        r.extensions_mut().insert(DropConnection);
        return r;
    }
    if fate.timeout {
        {
            let mut inner = app.store.lock();
            inner.faults.timed_out += 1;
            inner.faults.timed_out_after_storing += u64::from(stored_paid);
        }
        tokio::time::sleep(TIMEOUT_HOLD).await;
        let mut r = Response::new(Body::empty());
        r.extensions_mut().insert(DropConnection);
        return r;
    }
    (handled.status, axum::Json(reply)).into_response()
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the sandbox")
    }
}

impl std::error::Error for Dropped {}

/// Accepts connections until `stopped`, serving each with HTTP/1.1.
async fn serve(listener: TcpListener, router: Router, mut stopped: oneshot::Receiver<()>) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(_) => {
                    // Out of file descriptors or similar: back off, keep serving.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut stopped => return,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let router = router.clone();
            async move {
                let response = router
                    .oneshot(req.map(Body::new))
                    .await
                    .unwrap_or_else(|never| match never {});
                if response.extensions().get::<DropConnection>().is_some() {
                    Err(Dropped)
                } else {
                    Ok(response)
                }
            }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
