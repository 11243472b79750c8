//! The tarball URLs update-yarn-hash downloads for a yarn.lock, one per line, from the
//! same plan it builds (`yarn::prefetch::plan`). `cargo xtask bench` feeds them to
//! `curl --parallel` for the download floor; an example rather than xtask code, so that
//! xtask itself does not build the library.
//! `cargo run --release -p common --example yarn_tarball_urls -- LOCKFILE`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(lockfile) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: yarn_tarball_urls LOCKFILE");
        return ExitCode::from(2);
    };
    let plan = std::fs::read(&lockfile)
        .map_err(|e| format!("{}: {e}", lockfile.display()))
        .and_then(|bytes| {
            common::yarn::prefetch::plan(&lockfile, &bytes).map_err(|e| e.to_string())
        });
    match plan {
        Ok(plan) => {
            let mut out = std::io::stdout().lock();
            for file in &plan.files {
                if writeln!(out, "{}", file.url()).is_err() {
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
