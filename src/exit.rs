//! Named exit codes, documented in the README.

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success: valid manifests; every order placed (or already placed).
    Ok = 0,
    /// The command could not run: an unreadable file, a bad flag, an unusable catalogue.
    Failure = 1,
    /// The manifests have errors; nothing was sent.
    Invalid = 2,
    /// `apply`: some order failed, is still unknown, or was not started.
    Incomplete = 3,
    /// `plan --detailed-exitcode`: there is work to do.
    Pending = 4,
    /// `apply` was interrupted with Ctrl-C; what was in flight is recorded.
    Interrupted = 130,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
