//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! Tasks: `ci` (everything CI checks), `bench` (benchmarks, writes BENCHMARKS.md),
//! `nix-check` (the Nix side: parse, format, lint, workflow and process-compose checks).

mod ci;

use std::env;
use std::path::PathBuf;

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let sh = xshell::Shell::new()?;
    sh.change_dir(project_root());
    match args.first().map(String::as_str) {
        Some("ci") => ci::run(&sh),
        Some("--help") | Some("-h") | None => {
            println!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`\n\n{HELP}"),
    }
}

const HELP: &str = "\
cargo xtask <task>

Tasks:
  ci          fmt --check, clippy -D warnings, every test (what CI runs)";

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
