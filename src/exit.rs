//! Named exit codes, documented in the README.

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success: the manifests are valid (warnings allowed).
    Ok = 0,
    /// The command could not run: an unreadable file, a bad flag, an unusable catalogue.
    Failure = 1,
    /// The manifests have errors.
    Invalid = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
