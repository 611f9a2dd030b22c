//! Errors that reach the user as one `error: …` line, with the exit code they map to.

use std::fmt;

/// A failure the user can act on. `Usage` means the command line or its inputs were wrong (exit 2);
/// `Failed` means the command ran and could not do its job (exit 1).
#[derive(Debug)]
pub enum Error {
    Usage(String),
    Failed(String),
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        Error::Failed(msg.into())
    }

    /// An invalid parameter: names the field and says what is allowed.
    pub fn invalid(field: &str, allowed: impl fmt::Display) -> Self {
        Error::Usage(format!("invalid value for {field}: {allowed}"))
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep it to one line whatever the cause carried in.
        let msg = match self {
            Error::Usage(m) | Error::Failed(m) => m,
        };
        f.write_str(&msg.replace('\n', " "))
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
