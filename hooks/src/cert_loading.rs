//! Keeps libgit2 from parsing the system CA bundle on every commit.
//!
//! libgit2 initialises OpenSSL eagerly and loads every CA certificate (~15 ms of the
//! hook's ~25 ms on Ghost's lockfile), although the hook's checks only read the local
//! object store. So `pre-commit` points `SSL_CERT_FILE` at an empty file before git2
//! starts, and anything that does need the network (a recompute) runs in a child
//! process given the original environment back.

use std::ffi::OsString;
use std::process::Command;
use std::sync::OnceLock;

const VAR: &str = "SSL_CERT_FILE";

static ORIGINAL: OnceLock<Option<OsString>> = OnceLock::new();

/// Call first thing in `main`, while the process is still single-threaded.
pub fn defer_for_this_process() {
    ORIGINAL.get_or_init(|| std::env::var_os(VAR));
    std::env::set_var(VAR, "/dev/null");
}

/// Gives `cmd` the certificate environment this process started with.
pub fn restore_for(cmd: &mut Command) {
    match ORIGINAL.get() {
        None => {}
        Some(Some(value)) => {
            cmd.env(VAR, value);
        }
        Some(None) => {
            cmd.env_remove(VAR);
        }
    }
}
