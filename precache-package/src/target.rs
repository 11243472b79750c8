//! Where paths are read from (to check) and pushed to.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use common::binary_cache::narinfo::{PublicKey, SecretKey};
use common::binary_cache::store_path::StorePath;
use common::nix::nix_cli::{describe, Nix};
use common::redact;

use crate::cli::Args;
use crate::failure::{fail, Exit, Failure, OrExit};

#[derive(Debug)]
pub enum Push {
    /// `cachix push NAME PATHS...`
    Cachix { name: String },
    /// `nix copy --to URL PATHS...`; the URL may carry `secret-key=FILE`.
    Store {
        url: String,
        sign_key: Option<PathBuf>,
    },
}

#[derive(Debug)]
pub struct Target {
    pub read_url: String,
    pub push: Option<Push>,
    /// True only when reading https://NAME.cachix.org for --cache: CACHIX_AUTH_TOKEN may be
    /// sent there (private caches) and nowhere else, least of all to a --from URL.
    pub read_with_cachix_token: bool,
    /// The public half of --sign-key: what the paths this run signs verify against.
    pub sign_public: Option<PublicKey>,
}

impl Target {
    pub fn from_args(args: &Args) -> Result<Self, Failure> {
        let mut sign_public = None;
        let push = match (&args.cache, &args.to) {
            (Some(name), _) => {
                // The name becomes the host the token is sent to: nothing but a Cachix name.
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    return fail(
                        Exit::Usage,
                        format!("--cache / CACHIX_CACHE {name:?} is not a Cachix cache name (lowercase letters, digits and `-` only)"),
                    );
                }
                if args.sign_key.is_some() {
                    return fail(Exit::Usage, "--sign-key is for --to targets; Cachix signs pushed paths with the cache's own key");
                }
                if !args.check && which::which("cachix").is_err() {
                    return fail(
                        Exit::ToolMissing,
                        "`cachix` was not found on PATH; install it (`nix profile install nixpkgs#cachix`) or push with --to",
                    );
                }
                Some(Push::Cachix { name: name.clone() })
            }
            (None, Some(url)) => {
                if let Some(key) = &args.sign_key {
                    sign_public = Some(public_of_secret_key(key)?);
                }
                Some(Push::Store {
                    url: url.clone(),
                    sign_key: args.sign_key.clone(),
                })
            }
            (None, None) => None,
        };
        let read_url = match (&args.from, &push) {
            (Some(from), _) => from.clone(),
            (None, Some(Push::Cachix { name })) => format!("https://{name}.cachix.org"),
            (None, Some(Push::Store { url, .. })) if is_readable(url) => url.clone(),
            (None, Some(Push::Store { url, .. })) => {
                return fail(
                    Exit::Usage,
                    format!("cannot query {} directly; pass --from with the http(s):// or file:// URL CI substitutes from", redact::url(url)),
                )
            }
            (None, None) => {
                return fail(
                    Exit::Usage,
                    "no cache given: pass --cache NAME (or set CACHIX_CACHE), --to STORE_URL, or --from URL with --check",
                )
            }
        };
        if push.is_none() && !args.check {
            return fail(
                Exit::Usage,
                "nothing to push to: pass --cache NAME or --to STORE_URL (or use --check)",
            );
        }
        let read_with_cachix_token =
            args.from.is_none() && matches!(push, Some(Push::Cachix { .. }));
        Ok(Self {
            read_url,
            push,
            read_with_cachix_token,
            sign_public,
        })
    }
}

fn is_readable(url: &str) -> bool {
    ["file://", "http://", "https://"]
        .iter()
        .any(|p| url.starts_with(p))
}

/// Refuses an unreadable or malformed key before anything is built, and gives its public
/// half. The key is parsed, never echoed.
fn public_of_secret_key(path: &Path) -> Result<PublicKey, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --sign-key {}", path.display()))
        .or_exit(Exit::Usage)?;
    let key = text
        .trim()
        .parse::<SecretKey>()
        .with_context(|| format!("--sign-key {} is not a Nix secret key; make one with `nix key generate-secret --key-name NAME > FILE`", path.display()))
        .or_exit(Exit::Usage)?;
    Ok(key.public())
}

impl Push {
    /// Whether the pushed narinfos get a signature from this run: Cachix signs with the
    /// cache's key, `nix copy` with --sign-key or a `secret-key=` in the store URL.
    pub fn signs(&self) -> bool {
        match self {
            Push::Cachix { .. } => true,
            Push::Store { url, sign_key } => {
                sign_key.is_some()
                    || url
                        .split_once('?')
                        .is_some_and(|(_, q)| q.split('&').any(|kv| kv.starts_with("secret-key=")))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Push::Cachix { name } => format!("cachix:{name}"),
            Push::Store { url, .. } => redact::url(url),
        }
    }

    /// Signs `paths`, which the cache holds without a trusted signature (`nix copy` and
    /// `cachix push` skip paths the cache has). `false` when this target cannot sign.
    pub fn sign_existing(&self, nix: &Nix, paths: &[StorePath]) -> Result<bool, Failure> {
        match self {
            Push::Store {
                url,
                sign_key: Some(key),
            } => {
                nix.sign_in_store(url, key, paths)
                    .context("signing the paths the cache already holds failed")
                    .or_exit(Exit::Push)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Pushes exactly `paths` (which are closed under references together with what the
    /// cache already holds).
    pub fn run(&self, nix: &Nix, paths: &[StorePath]) -> Result<(), Failure> {
        match self {
            Push::Store { url, sign_key } => {
                let url = match sign_key {
                    Some(key) => with_param(url, "secret-key", &key.display().to_string()),
                    None => url.clone(),
                };
                nix.copy_to(&url, paths)
                    .context("push failed")
                    .or_exit(Exit::Push)
            }
            Push::Cachix { name } => {
                let cachix = which::which("cachix")
                    .map_err(|_| anyhow::anyhow!("`cachix` was not found on PATH; install it (`nix profile install nixpkgs#cachix`) or push with --to"))
                    .or_exit(Exit::ToolMissing)?;
                let mut cmd = Command::new(cachix);
                cmd.arg("push")
                    .arg(name)
                    .args(paths.iter().map(|p| p.to_string()));
                // CACHIX_AUTH_TOKEN reaches cachix through the inherited environment only.
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::inherit())
                    .stderr(Stdio::inherit());
                let status = cmd
                    .status()
                    .with_context(|| format!("cannot run `{}`", describe(&cmd)))
                    .or_exit(Exit::Push)?;
                if !status.success() {
                    return fail(Exit::Push, format!("`cachix push {name} ...` failed ({status}); its message is above. Check CACHIX_AUTH_TOKEN and the cache name"));
                }
                Ok(())
            }
        }
    }
}

fn with_param(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={value}")
}
