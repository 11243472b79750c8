//! Running a real program in a test, ripgrep style: every assertion that fails dumps
//! the command, its cwd, exit status, stdout and stderr, so a failure in CI says why
//! without a rerun.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Nix configuration tests run `nix` with: flakes on, no sandbox (builders are
/// `/bin/sh` scripts), and no substituters (the network is not ours to use).
pub const NIX_CONFIG: &str =
    "experimental-features = nix-command flakes\nsandbox = false\nsubstituters = ";

/// A finished run of a program.
pub struct Run {
    pub command: String,
    pub cwd: PathBuf,
    pub output: Output,
}

impl Run {
    /// The exit code; -1 when a signal ended it.
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// stdout then stderr.
    pub fn all(&self) -> String {
        self.stdout() + &self.stderr()
    }

    /// The command the tools advise: the `fix: CMD` line (up to the three-space gap before
    /// a parenthesised note), else the first "run `CMD`" hint. Panics, dumping the run,
    /// when there is none.
    #[track_caller]
    pub fn advised(&self) -> String {
        let all = self.all();
        let fix = all
            .lines()
            .find_map(|l| l.strip_prefix("fix: "))
            .and_then(|f| f.split("   (").next());
        let hint = all.split("run `").nth(1).and_then(|t| t.split('`').next());
        fix.or(hint)
            .unwrap_or_else(|| panic!("no advised command\n{self}"))
            .trim()
            .to_owned()
    }

    /// Asserts the exit code, dumping the run when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn expect_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn expect_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    /// Asserts that stdout or stderr holds `needle`.
    #[track_caller]
    pub fn expect_contains(&self, needle: &str) -> &Self {
        assert!(
            self.all().contains(needle),
            "output lacks {needle:?}\n{self}"
        );
        self
    }

    /// Asserts that neither stdout nor stderr holds `needle`.
    #[track_caller]
    pub fn expect_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.all().contains(needle),
            "output must not contain {needle:?}\n{self}"
        );
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- command: {}\n--- cwd: {}\n--- exit: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.command,
            self.cwd.display(),
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }
}

/// Runs `cmd` to completion (in its current dir, else the test's).
pub fn run(mut cmd: Command) -> Run {
    let command = format!("{cmd:?}");
    let cwd = cmd
        .get_current_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::current_dir().unwrap());
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    Run {
        command,
        cwd,
        output,
    }
}

/// `git ARGS` in `dir`, which must succeed; with a fixed identity, so no user config
/// is needed.
#[track_caller]
pub fn git(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org");
    let run = run(cmd);
    run.expect_code(0);
    run
}

/// `nix ARGS` with [`NIX_CONFIG`].
pub fn nix(args: &[&str]) -> Run {
    let mut cmd = Command::new("nix");
    cmd.args(args).env("NIX_CONFIG", NIX_CONFIG);
    run(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_expectation_shows_the_whole_run() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let r = run(cmd);
        assert_eq!(
            (r.code(), r.stdout(), r.stderr()),
            (3, "out\n".into(), "err\n".into())
        );
        let shown = std::panic::catch_unwind(|| {
            r.expect_code(0);
        })
        .unwrap_err();
        let text = shown.downcast_ref::<String>().unwrap();
        for part in [
            "\"sh\" \"-c\"",
            "--- cwd: ",
            "exit status: 3",
            "out\n",
            "err\n",
        ] {
            assert!(text.contains(part), "{part:?} missing from {text}");
        }
    }
}
