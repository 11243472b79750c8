//! Exit codes: the contract with hooks and CI (documented in each tool's `--help`).

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Stale,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Stale => ExitCode::from(STALE),
        }
    }
}

pub const STALE: u8 = 1;
pub const BAD_INPUT: u8 = 2;
pub const FETCH_FAILURE: u8 = 3;

/// A run that could not finish: the error, and the exit code it ends with.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: BAD_INPUT,
            error: error.into(),
        }
    }

    /// A prefetch error: bad input (exit 2) when the input is at fault, else a fetch
    /// failure (exit 3).
    pub fn prefetch(bad_input: bool, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: if bad_input { BAD_INPUT } else { FETCH_FAILURE },
            error: error.into(),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}
