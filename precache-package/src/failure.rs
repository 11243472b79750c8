//! Failures and their exit codes (documented in `--help`).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    NotCached = 1,
    Usage = 2,
    ToolMissing = 3,
    Eval = 4,
    Build = 5,
    Push = 6,
    Query = 7,
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&common::error_text::chain(self.error.as_ref()))
    }
}

pub trait OrExit<T> {
    fn or_exit(self, exit: Exit) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_exit(self, exit: Exit) -> Result<T, Failure> {
        self.map_err(|e| Failure {
            exit,
            error: e.into(),
        })
    }
}

pub fn fail<T>(exit: Exit, msg: impl fmt::Display) -> Result<T, Failure> {
    Err(Failure {
        exit,
        error: anyhow::anyhow!("{msg}"),
    })
}
