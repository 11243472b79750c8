//! Exit codes: the contract with hooks and CI (documented in `--help`), the same as
//! update-yarn-hash's.

use std::process::ExitCode;

use common::pnpm::prefetch::PrefetchError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Stale,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Stale => ExitCode::from(1),
        }
    }
}

const BAD_INPUT: u8 = 2;
const FETCH_FAILURE: u8 = 3;

#[derive(Debug)]
pub struct Failure {
    code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: BAD_INPUT,
            error: error.into(),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl From<PrefetchError> for Failure {
    fn from(e: PrefetchError) -> Self {
        let code = if e.is_bad_input() {
            BAD_INPUT
        } else {
            FETCH_FAILURE
        };
        Self {
            code,
            error: e.into(),
        }
    }
}
