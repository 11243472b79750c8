//! Which public keys CI trusts, so a "cached" answer means "CI will substitute it".
//!
//! The flake's `nixConfig` is read by asking Nix to import the flake's `flake.nix` from the
//! source Nix itself fetched (`nix flake metadata` gives its store path): Nix then sees
//! exactly what it would see when building, `let` bindings and all, and we carry no second
//! Nix parser that could disagree with it.

use anyhow::Context;
use common::binary_cache::narinfo::{PublicKey, TrustedKeys};
use common::nix::nix_cli::{strings_of, Nix};

use crate::failure::{fail, Exit, Failure, OrExit};

pub struct Resolved {
    pub keys: TrustedKeys,
    /// Where the keys came from, for messages and `trustedKeysFrom`.
    pub source: String,
}

pub fn resolve(nix: &Nix, explicit: &[String], flake_url: &str) -> Result<Resolved, Failure> {
    if !explicit.is_empty() {
        let keys = parse_all(explicit, "--trusted-public-key")?;
        return Ok(Resolved {
            keys,
            source: "--trusted-public-key".into(),
        });
    }
    let mut texts = flake_keys(nix, flake_url).or_exit(Exit::Eval)?;
    // Nix ignores a flake's nixConfig unless `accept-flake-config = true` (it would ask on a
    // terminal; CI has none), so counting these keys would promise substitutions CI refuses.
    if !texts.is_empty()
        && !nix
            .accept_flake_config()
            .context("cannot read accept-flake-config from the Nix configuration")
            .or_exit(Exit::Eval)?
    {
        eprintln!(
            "warning: ignoring the flake's nixConfig trusted keys ({}): Nix ignores them unless `accept-flake-config = true`; in CI pass --trusted-public-key for each key CI's nix.conf trusts (or set accept-flake-config = true there)",
            key_names(&texts)
        );
        texts.clear();
    }
    let flake_count = texts.len();
    // Nix appends a flake's extra- keys after nix.conf's, and the first key of a name wins.
    let mut conf = nix
        .trusted_public_keys()
        .context("cannot read trusted-public-keys from the Nix configuration")
        .or_exit(Exit::Eval)?;
    conf.append(&mut texts);
    let texts = conf;
    let keys = parse_all(&texts, "trusted-public-keys")?;
    if keys.is_empty() {
        return fail(
            Exit::Usage,
            "no trusted public keys: pass --trusted-public-key NAME:BASE64 (a key CI's nix.conf trusts)",
        );
    }
    Ok(Resolved {
        keys,
        source: if flake_count > 0 {
            "flake nixConfig + nix.conf".into()
        } else {
            "nix.conf".into()
        },
    })
}

/// The keys a push is checked with, before and after: the keys CI is told to trust plus
/// the --sign-key's public half, since what this run signs verifies only against that.
/// Warns (before anything is built) when CI is not told to trust it; refuses a sign key
/// whose name a different trusted key already has, as Nix would ignore it.
pub fn with_sign_key(resolved: Resolved, sign: Option<&PublicKey>) -> Result<Resolved, Failure> {
    let Some(public) = sign.filter(|k| !resolved.keys.keys().contains(k)) else {
        return Ok(resolved);
    };
    let mut keys = resolved.keys.clone();
    if !keys.add(public.clone()) {
        return fail(
            Exit::Usage,
            format!(
                "the --sign-key's public key {public} is not the trusted key named {:?} (from {}): Nix keeps only the first key of a name, so CI would refuse every path this run signs; sign with the key CI trusts, or give this key another name",
                public.name, resolved.source
            ),
        );
    }
    eprintln!(
        "warning: the --sign-key's public key {public} is not among the keys CI is told to trust (from {}): the pushed paths are checked against it, but CI will rebuild them unless it trusts it too; pass `--trusted-public-key {public}` and add it to CI's trusted-public-keys",
        resolved.source
    );
    Ok(Resolved {
        keys,
        source: format!("{} + --sign-key", resolved.source),
    })
}

fn parse_all(texts: &[String], origin: &str) -> Result<TrustedKeys, Failure> {
    let mut keys = TrustedKeys::default();
    for t in texts {
        let key: PublicKey = t
            .parse()
            .with_context(|| format!("bad {origin}"))
            .or_exit(Exit::Usage)?;
        let name = key.name.clone();
        if !keys.add(key) {
            eprintln!("warning: ignoring a second {origin} named {name:?}: like Nix, only the first key of a name is trusted");
        }
    }
    Ok(keys)
}

fn flake_keys(nix: &Nix, flake_url: &str) -> anyhow::Result<Vec<String>> {
    let meta = nix
        .flake_metadata(flake_url)
        .context("cannot fetch the flake to read its nixConfig")?;
    let src = meta["path"]
        .as_str()
        .context("`nix flake metadata --json` printed no `path`")?;
    let dir = flake_url
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("dir=")))
        .map(|d| format!("/{d}"))
        .unwrap_or_default();
    let expr = format!(
        "let c = (import {}).nixConfig or {{}}; in \
         {{ a = c.trusted-public-keys or []; b = c.extra-trusted-public-keys or []; }}",
        nix_string(&format!("{src}{dir}/flake.nix"))
    );
    let v = nix
        .eval_expr_json(&expr)
        .context("cannot evaluate the flake's nixConfig")?;
    let mut out = strings_of(&v["a"]);
    out.extend(strings_of(&v["b"]));
    Ok(out)
}

/// Key names only: the key material is never printed.
fn key_names(texts: &[String]) -> String {
    texts
        .iter()
        .map(|t| t.split(':').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn nix_string(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace("${", "\\${")
    )
}
