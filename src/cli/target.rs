//! Where a command's orders go (the API, or the embedded sandbox) and where they are
//! recorded, the token it needs, and the client that talks to it.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::ledger::{self, Api};
use crate::nicsrs::client::{self, Client, Timeouts, Token};
use crate::sandbox::{self, Sandbox};

/// Where orders go and where they are recorded.
#[derive(Clone, Debug)]
pub struct Target {
    /// Live or sandbox.
    pub api: Api,
    /// The ledger file.
    pub ledger: PathBuf,
    /// The API base URL; `None` for the embedded sandbox, started on demand.
    pub endpoint: Option<String>,
}

impl Target {
    /// Resolves `--sandbox`, `--endpoint` / `NICSRS_ENDPOINT` and `--ledger`. A loopback
    /// endpoint is a sandbox: its orders never share a ledger with live ones.
    pub fn resolve(
        sandbox: bool,
        endpoint: Option<&str>,
        ledger: Option<&Path>,
    ) -> Result<Target, Error> {
        let env_endpoint = std::env::var("NICSRS_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        let (api, endpoint) = if sandbox {
            if endpoint.is_some() {
                return Err(Error::Usage(
                    "--sandbox and --endpoint exclude each other".into(),
                ));
            }
            (Api::Sandbox, None)
        } else {
            let url = endpoint
                .map(str::to_owned)
                .or(env_endpoint)
                .unwrap_or_else(|| client::LIVE_ENDPOINT.into());
            let (base, loopback) = client::check_endpoint(&url)?;
            (if loopback { Api::Sandbox } else { Api::Live }, Some(base))
        };
        let ledger = ledger.map(Path::to_owned).unwrap_or_else(|| {
            PathBuf::from(match api {
                Api::Live => ledger::DEFAULT_PATH,
                Api::Sandbox => ledger::DEFAULT_SANDBOX_PATH,
            })
        });
        Ok(Target {
            api,
            ledger,
            endpoint,
        })
    }

    /// Where the embedded sandbox keeps its orders: beside the ledger.
    pub fn sandbox_state(&self) -> PathBuf {
        self.ledger.with_extension("state.json")
    }
}

/// Prints the warnings of reading the ledger at `path`.
pub(super) fn warn_ledger(path: &Path, warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: ledger {}: {w}", path.display());
    }
}

/// The ledger of `target` with only the rows of `orders`' keys built (the rest of a large
/// ledger never is), its warnings shown.
pub(super) fn ledger_of(
    target: &Target,
    orders: &[crate::expand::ExpandedOrder],
) -> Result<ledger::Contents, Error> {
    let mut contents = ledger::read_unbuilt(&target.ledger, target.api)?;
    warn_ledger(&target.ledger, &contents.warnings);
    let wanted: std::collections::HashSet<&str> = orders.iter().map(|o| o.key.as_str()).collect();
    contents.build_only(|k| wanted.contains(k));
    contents.forget_unbuilt();
    Ok(contents)
}

/// The token for `target`: from the environment or `token_file`; none for the embedded
/// sandbox, which has its own.
pub(super) fn token_for(
    target: &Target,
    token_file: Option<&Path>,
) -> Result<Option<Token>, Error> {
    match target.endpoint {
        Some(_) => {
            let (token, warning) = Token::from_env_or_file(token_file)?;
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            Ok(Some(token))
        }
        None => Ok(None),
    }
}

/// The API a command talks to: the endpoint with `token`, or the embedded sandbox
/// (returned too, to be stopped when the command is done).
pub(super) async fn connect(
    target: &Target,
    token: Option<Token>,
    timeouts: Timeouts,
) -> Result<(Client, Option<Sandbox>), Error> {
    match (&target.endpoint, token) {
        (Some(endpoint), Some(token)) => Ok((Client::new(endpoint, token, timeouts)?, None)),
        (Some(_), None) => Err(Error::Usage("no API token".into())),
        (None, _) => {
            let config = sandbox::Config {
                state: Some(target.sandbox_state()),
                ..sandbox::Config::default()
            };
            let s = Sandbox::start(config, ([127, 0, 0, 1], 0).into()).await?;
            let client = Client::new(&s.url(), Token::new(s.token()), timeouts)?;
            Ok((client, Some(s)))
        }
    }
}
