//! A thin, typed wrapper over the `nix` command line.
//!
//! Differences between Nix versions are handled here and nowhere else: Nix 2.8 (what
//! Debian ships and CI tests with) has no `nix build --print-out-paths` and no
//! `nix config show`, and prints `path-info --json` as an array, while Nix >= 2.19 prints
//! an object keyed by path.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use thiserror::Error;

use crate::binary_cache::store_path::StorePath;
use crate::nix::nix_hash::Sha256Hash;

#[derive(Debug, Error)]
pub enum NixError {
    #[error("`nix` was not found on PATH; install Nix (https://nixos.org/download, or `apt-get install nix-bin` on Debian/Ubuntu) and make sure `nix` is on PATH")]
    NotFound,
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}):\n{stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("`{command}` printed something unexpected: {why}")]
    BadOutput { command: String, why: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NixVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl NixVersion {
    /// Parses `nix (Nix) 2.8.0` (also `nix (Nix) 2.24.10pre`, Lix-style `nix (Lix, like Nix) 2.91.1`).
    pub fn parse(version_line: &str) -> Option<Self> {
        let word = version_line.split_whitespace().last()?;
        let mut nums = word.split('.').map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
        let major = nums.next()?.parse().ok()?;
        let minor = nums.next()?.parse().ok()?;
        let patch = nums.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for NixVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// One entry of `nix build --json`.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct BuildResult {
    #[serde(rename = "drvPath")]
    pub drv_path: String,
    pub outputs: std::collections::BTreeMap<String, String>,
}

/// One entry of `nix path-info --json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathInfo {
    pub path: StorePath,
    pub nar_hash: Sha256Hash,
    pub nar_size: u64,
    pub references: Vec<StorePath>,
    /// `name:base64` signatures the local store holds for the path (`nix copy` copies
    /// them into the narinfo it writes).
    pub signatures: Vec<String>,
    /// Set for a content-addressed path, which needs no signature to be substituted.
    pub ca: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Nix {
    program: PathBuf,
    version: NixVersion,
}

impl Nix {
    /// Finds `nix` on PATH and asks it for its version.
    pub fn find() -> Result<Self, NixError> {
        let program = which::which("nix").map_err(|_| NixError::NotFound)?;
        Self::at(&program)
    }

    pub fn at(program: &Path) -> Result<Self, NixError> {
        let mut nix = Self {
            program: program.to_owned(),
            version: NixVersion {
                major: 0,
                minor: 0,
                patch: 0,
            },
        };
        let mut cmd = Command::new(program);
        cmd.arg("--version").stdin(Stdio::null());
        let out = cmd.output().map_err(|source| NixError::Spawn {
            program: program.display().to_string(),
            source,
        })?;
        check(&cmd, &out)?;
        let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        nix.version = NixVersion::parse(&line).ok_or_else(|| NixError::BadOutput {
            command: "nix --version".into(),
            why: format!("no version in {line:?}"),
        })?;
        Ok(nix)
    }

    pub fn version(&self) -> NixVersion {
        self.version
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// A `nix` command with the experimental features we rely on switched on, so users
    /// need not have enabled them in nix.conf.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.program);
        cmd.args(["--extra-experimental-features", "nix-command flakes"]);
        cmd.args(args);
        cmd
    }

    fn run_captured<I, S>(&self, args: I) -> Result<Output, NixError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null());
        let out = cmd.output().map_err(|source| NixError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        check(&cmd, &out)?;
        Ok(out)
    }

    fn run_json<I, S>(&self, args: I) -> Result<Value, NixError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let out = self.run_captured(&args)?;
        serde_json::from_slice(&out.stdout).map_err(|e| NixError::BadOutput {
            command: describe(&self.command(&args)),
            why: format!("not JSON: {e}"),
        })
    }

    /// `nix eval --raw INSTALLABLE`
    pub fn eval_raw(&self, installable: &str) -> Result<String, NixError> {
        self.eval_raw_with(installable, &[])
    }

    /// `nix eval --raw INSTALLABLE EXTRA...`, for flags that change what is evaluated
    /// (`--override-input`, `--impure`, ...), so the path is the one `nix build` would build.
    pub fn eval_raw_with(&self, installable: &str, extra: &[String]) -> Result<String, NixError> {
        let mut args = vec!["eval".to_owned(), "--raw".into(), installable.into()];
        args.extend_from_slice(extra);
        let out = self.run_captured(&args)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `nix eval --json INSTALLABLE [--apply FN]`
    pub fn eval_json(&self, installable: &str, apply: Option<&str>) -> Result<Value, NixError> {
        let mut args = vec!["eval", "--json", installable];
        if let Some(f) = apply {
            args.extend(["--apply", f]);
        }
        self.run_json(args)
    }

    /// `nix eval --json --impure --expr EXPR`
    pub fn eval_expr_json(&self, expr: &str) -> Result<Value, NixError> {
        self.run_json(["eval", "--json", "--impure", "--expr", expr])
    }

    /// The system Nix builds for by default (`builtins.currentSystem`).
    pub fn current_system(&self) -> Result<String, NixError> {
        let v = self.eval_expr_json("builtins.currentSystem")?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| NixError::BadOutput {
                command: "nix eval builtins.currentSystem".into(),
                why: "not a string".into(),
            })
    }

    /// `nix build --no-link --json INSTALLABLES EXTRA...`; Nix's progress and build logs go
    /// straight to our stderr, so a failure shows Nix's own message.
    pub fn build(
        &self,
        installables: &[String],
        extra_args: &[String],
    ) -> Result<Vec<BuildResult>, NixError> {
        let mut cmd = self.command(["build", "--no-link", "--json"]);
        cmd.args(installables).args(extra_args);
        cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
        let out = cmd.output().map_err(|source| NixError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        if !out.status.success() {
            return Err(NixError::Failed {
                command: describe(&cmd),
                status: out.status.to_string(),
                stderr: "(Nix's message is above)".into(),
            });
        }
        serde_json::from_slice(&out.stdout).map_err(|e| NixError::BadOutput {
            command: describe(&cmd),
            why: format!("not the `nix build --json` shape: {e}"),
        })
    }

    /// `nix path-info --json --recursive PATHS`: the runtime closure, with sizes. Fails if a
    /// path is not valid in the local store.
    pub fn closure(&self, paths: &[StorePath]) -> Result<Vec<PathInfo>, NixError> {
        let mut args = vec![
            "path-info".to_owned(),
            "--json".into(),
            "--recursive".into(),
        ];
        args.extend(paths.iter().map(|p| p.to_string()));
        let v = self.run_json(&args)?;
        parse_path_info(&v).map_err(|why| NixError::BadOutput {
            command: "nix path-info --json --recursive".into(),
            why,
        })
    }

    /// Everything a build of `drv` used: the derivation closure's outputs and sources that
    /// are valid locally (`nix-store -qR --include-outputs`), without the `.drv` files.
    pub fn build_closure(&self, drv: &str) -> Result<Vec<StorePath>, NixError> {
        let nix_store = self.program.with_file_name("nix-store");
        let mut cmd = Command::new(&nix_store);
        cmd.args(["--query", "--requisites", "--include-outputs", drv]);
        cmd.stdin(Stdio::null());
        let out = cmd.output().map_err(|source| NixError::Spawn {
            program: nix_store.display().to_string(),
            source,
        })?;
        check(&cmd, &out)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut paths = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let p: StorePath = line.parse().map_err(|e| NixError::BadOutput {
                command: describe(&cmd),
                why: format!("{e}"),
            })?;
            if !p.is_derivation() {
                paths.push(p);
            }
        }
        Ok(paths)
    }

    /// `nix copy --to STORE_URL PATHS`, Nix's progress on our stderr. Nix's narinfo cache
    /// could claim the destination has a path it lost: positive answers are not trusted.
    pub fn copy_to(&self, store_url: &str, paths: &[StorePath]) -> Result<(), NixError> {
        let mut cmd = self.command(["copy", "--option", "narinfo-cache-positive-ttl", "0"]);
        cmd.args(["--to", store_url]);
        cmd.args(paths.iter().map(|p| p.to_string()));
        self.run_inherited(cmd)
    }

    /// `nix store sign --store STORE_URL --key-file KEY PATHS`: adds signatures to paths a
    /// cache already holds (which `nix copy` would skip).
    pub fn sign_in_store(
        &self,
        store_url: &str,
        key_file: &Path,
        paths: &[StorePath],
    ) -> Result<(), NixError> {
        let mut cmd = self.command(["store", "sign", "--store", store_url, "--key-file"]);
        cmd.arg(key_file);
        cmd.args(paths.iter().map(|p| p.to_string()));
        self.run_inherited(cmd)
    }

    fn run_inherited(&self, mut cmd: Command) -> Result<(), NixError> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let status = cmd.status().map_err(|source| NixError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        if !status.success() {
            return Err(NixError::Failed {
                command: describe(&cmd),
                status: status.to_string(),
                stderr: "(Nix's message is above)".into(),
            });
        }
        Ok(())
    }

    /// Nix's effective configuration as JSON (`nix show-config` before 2.20, `nix config show` since).
    pub fn show_config(&self) -> Result<Value, NixError> {
        if self.version.at_least(2, 20) {
            self.run_json(["config", "show", "--json"])
        } else {
            self.run_json(["show-config", "--json"])
        }
    }

    /// The effective `trusted-public-keys` (after `extra-` merging, which Nix does itself).
    pub fn trusted_public_keys(&self) -> Result<Vec<String>, NixError> {
        let config = self.show_config()?;
        let value = &config["trusted-public-keys"];
        // Old versions print {"value": [...]}, some print the list or a string directly.
        let value = value.get("value").unwrap_or(value);
        Ok(strings_of(value))
    }

    /// Whether Nix applies a flake's `nixConfig` without asking (`accept-flake-config`).
    /// Without it, non-interactive Nix (CI) ignores the flake's trusted keys.
    pub fn accept_flake_config(&self) -> Result<bool, NixError> {
        let config = self.show_config()?;
        let value = &config["accept-flake-config"];
        let value = value.get("value").unwrap_or(value);
        Ok(match value {
            Value::Bool(b) => *b,
            Value::String(s) => s == "true",
            _ => false,
        })
    }

    /// `nix flake metadata --json REF`
    pub fn flake_metadata(&self, flake_ref: &str) -> Result<Value, NixError> {
        self.run_json(["flake", "metadata", "--json", flake_ref])
    }
}

/// Accepts a JSON list of strings or a whitespace-separated string.
pub fn strings_of(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str())
            .map(str::to_owned)
            .collect(),
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

fn parse_path_info(v: &Value) -> Result<Vec<PathInfo>, String> {
    let entries: Vec<(String, &Value)> = match v {
        // Nix < 2.19: [{"path": ..., ...}]
        Value::Array(items) => items
            .iter()
            .map(|i| {
                Ok((
                    i["path"].as_str().ok_or("entry without `path`")?.to_owned(),
                    i,
                ))
            })
            .collect::<Result<_, &str>>()?,
        // Nix >= 2.19: {"<path>": {...} | null}
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        _ => return Err("neither a list nor an object".into()),
    };
    let mut out = Vec::new();
    for (path, info) in entries {
        if info.is_null() || info.get("valid") == Some(&Value::Bool(false)) {
            return Err(format!("{path} is not valid in the local store"));
        }
        let parse = |s: &str| s.parse::<StorePath>().map_err(|e| e.to_string());
        out.push(PathInfo {
            path: parse(&path)?,
            nar_hash: info["narHash"]
                .as_str()
                .and_then(|h| h.parse().ok())
                .ok_or(format!("{path}: no sha256 narHash"))?,
            nar_size: info["narSize"]
                .as_u64()
                .ok_or(format!("{path}: no narSize"))?,
            signatures: strings_of(&info["signatures"]),
            ca: info["ca"].as_str().map(str::to_owned),
            references: strings_of(&info["references"])
                .iter()
                .map(|r| parse(r))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(out)
}

fn check(cmd: &Command, out: &Output) -> Result<(), NixError> {
    if out.status.success() {
        return Ok(());
    }
    Err(NixError::Failed {
        command: describe(cmd),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

/// The command line for messages, shell-ish and without the experimental-features noise.
pub fn describe(cmd: &Command) -> String {
    let mut parts = vec![Path::new(cmd.get_program())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()];
    let mut args = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .peekable();
    while let Some(a) = args.next() {
        if a == "--extra-experimental-features" {
            args.next();
            continue;
        }
        parts.push(if a.contains(' ') { format!("'{a}'") } else { a });
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines() {
        let v = NixVersion::parse("nix (Nix) 2.8.0").unwrap();
        assert_eq!(v.to_string(), "2.8.0");
        assert!(!v.at_least(2, 20));
        assert!(NixVersion::parse("nix (Nix) 2.24.10pre")
            .unwrap()
            .at_least(2, 20));
        assert_eq!(NixVersion::parse("garbage"), None);
    }

    #[test]
    fn path_info_both_shapes() {
        // Nix 2.8 prints the NAR hash in SRI form; 2.19+ as well, keyed by path.
        let old = serde_json::json!([{"path": "/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b",
            "narHash": "sha256-knb9U7Sdy/YWj4gjrvFIevLuTiMEt+5kEtunmYK5CoY=",
            "narSize": 160, "references": ["/nix/store/nmcb681g46qgw139ad2s1f9yi47d9f6q-c"],
            "signatures": ["k-1:c2ln"]}]);
        let new = serde_json::json!({"/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b":
            {"narHash": "sha256-knb9U7Sdy/YWj4gjrvFIevLuTiMEt+5kEtunmYK5CoY=",
            "narSize": 160, "references": ["/nix/store/nmcb681g46qgw139ad2s1f9yi47d9f6q-c"],
            "signatures": ["k-1:c2ln"]}});
        let parsed = parse_path_info(&old).unwrap();
        assert_eq!(parsed, parse_path_info(&new).unwrap());
        assert_eq!(parsed[0].signatures, ["k-1:c2ln"]);
        assert_eq!(parsed[0].ca, None);
        assert_eq!(
            parsed[0].nar_hash.to_sri(),
            "sha256-knb9U7Sdy/YWj4gjrvFIevLuTiMEt+5kEtunmYK5CoY="
        );
        let invalid = serde_json::json!({"/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b": null});
        assert!(parse_path_info(&invalid).is_err());
    }
}
