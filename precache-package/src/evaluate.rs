//! Evaluating the output's store path, and helpful errors when the attribute is wrong.

use anyhow::anyhow;
use common::binary_cache::store_path::StorePath;
use common::nix::nix_cli::{Nix, NixError};

use crate::failure::{Exit, Failure};

pub fn out_path(
    nix: &Nix,
    flake_url: &str,
    output: &str,
    eval_args: &[String],
) -> Result<StorePath, Failure> {
    let installable = format!("{flake_url}#{output}.outPath");
    let eval_failure = |error| Failure {
        exit: Exit::Eval,
        error,
    };
    match nix.eval_raw_with(&installable, eval_args) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|e| eval_failure(anyhow!("{output}.outPath is not a store path: {e}"))),
        Err(NixError::Failed { stderr, .. }) if stderr.contains("does not provide attribute") => {
            let listing = available(nix, flake_url, output)
                .unwrap_or_else(|| "(could not list the outputs)".into());
            // Not Nix's message: it names `output` inside each prefix it tried, doubling
            // a full attribute path (`packages.SYS.packages.SYS.x.outPath`), and with our
            // `.outPath` appended; the listing says what the flake does have.
            Err(eval_failure(anyhow!(
                "the flake {flake_url} has no output `{output}`\n{listing}"
            )))
        }
        Err(NixError::Failed { stderr, .. }) => Err(eval_failure(anyhow!(
            "evaluating {installable} failed:\n{}",
            stderr.trim()
        ))),
        Err(e) => Err(eval_failure(e.into())),
    }
}

/// "available outputs in packages.SYSTEM: a, b" for the output's category and system.
fn available(nix: &Nix, flake_url: &str, output: &str) -> Option<String> {
    let parts: Vec<&str> = output.split('.').collect();
    let prefix = if parts.len() >= 3 {
        parts[..2].join(".")
    } else {
        format!("packages.{}", nix.current_system().ok()?)
    };
    let names = nix
        .eval_json(&format!("{flake_url}#{prefix}"), Some("builtins.attrNames"))
        .ok()?;
    let names: Vec<String> = common::nix::nix_cli::strings_of(&names);
    Some(if names.is_empty() {
        format!("{prefix} is empty")
    } else {
        format!("available outputs in {prefix}: {}", names.join(", "))
    })
}
