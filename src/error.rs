//! Errors that reach the user as one `error: …` line, with the exit code they map to, and the
//! outcome of a command that ran.

/// A failure the user can act on. `Usage` means the command line or its inputs were wrong (exit 2);
/// `Failed` means the command ran and could not do its job (exit 1). Shown on one line whatever
/// the cause carried in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", one_line(.0))]
    Usage(String),
    #[error("{}", one_line(.0))]
    Failed(String),
}

fn one_line(msg: &str) -> String {
    msg.replace('\n', " ")
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        Error::Failed(msg.into())
    }

    /// An invalid parameter: names the field and says what is allowed.
    pub fn invalid(field: &str, allowed: impl std::fmt::Display) -> Self {
        Error::Usage(format!("invalid value for {field}: {allowed}"))
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed(_) => 1,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// How a command that ran ended: what it checked passed (exit 0), failed (1), or Ctrl-C cut it
/// short (130, the shell's code for it). A query without `--count`/`--duration` ends on Ctrl-C
/// by design, so its verdict decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    Interrupted,
}

impl Outcome {
    pub fn from_pass(passed: bool) -> Outcome {
        if passed {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Passed => 0,
            Outcome::Failed => 1,
            Outcome::Interrupted => 130,
        }
    }
}
