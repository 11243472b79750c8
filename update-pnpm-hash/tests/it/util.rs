//! Test harness: run the real binary, and on failure show everything needed to see why.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub command: String,
    pub cwd: PathBuf,
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts the exit code, dumping the run when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit code\n{self}");
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

    #[track_caller]
    pub fn expect_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- command: {}\n--- cwd: {}\n--- exit: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.command,
            self.cwd.display(),
            self.output.status.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

/// `update-pnpm-hash ARGS` in `cwd`, with a private cache.
pub fn uph(cwd: &Path, cache: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_update-pnpm-hash"));
    cmd.current_dir(cwd)
        .args(args)
        .env("UPDATE_YARN_HASH_CACHE", cache)
        .env("HOME", cache)
        .env_remove("XDG_CACHE_HOME");
    run(cmd)
}

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

/// `git ARGS` in `dir`, which must succeed.
pub fn git(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org");
    run(cmd).expect_code(0);
}

/// Whether `path` exists; when it does not, the test skips (and fails under CI=true).
pub fn have_path(path: &Path, why: &str) -> bool {
    if path.exists() {
        return true;
    }
    test_support::skip(&format!("{} is missing ({why})", path.display()));
    false
}

/// Whether `tool` is on PATH; when it is not, the test skips (and fails under CI=true).
pub fn have_tool(tool: &str, why: &str) -> bool {
    test_support::tool(tool, why).is_some()
}

/// `nix ARGS` with the test configuration (no substituters, no sandbox).
pub fn nix(args: &[&str]) -> Run {
    let mut cmd = Command::new("nix");
    cmd.args(args).env(
        "NIX_CONFIG",
        "experimental-features = nix-command flakes\nsandbox = false\nsubstituters = ",
    );
    run(cmd)
}

/// Copies the directory tree `from` into `to` (created).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
