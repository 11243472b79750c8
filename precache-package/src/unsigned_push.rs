//! Refusing, before anything is copied, a push that would leave paths CI cannot trust.
//!
//! `nix copy --to` writes each path's narinfo with the signatures the local store holds for
//! it (Nix's src/libstore/store-api.cc `copyStorePath` copies `ValidPathInfo::sigs`), and
//! adds one only when the store URL has `secret-key=`. A locally built path usually has
//! none, so without --sign-key the push would succeed, the read-back would find every such
//! path untrusted, and the cache would be left holding narinfos that pushing never replaces.

use std::collections::BTreeSet;

use common::binary_cache::narinfo::{fingerprint, TrustedKeys};
use common::binary_cache::store_path::StorePath;
use common::nix::nix_cli::PathInfo;

use crate::failure::{fail, Exit, Failure};
use crate::target::Push;

/// How many of the refused paths the message lists.
const SHOWN: usize = 10;

pub fn refuse_unsigned(
    push: &Push,
    closure: &[PathInfo],
    to_push: &[StorePath],
    keys: &TrustedKeys,
) -> Result<(), Failure> {
    if push.signs() {
        return Ok(());
    }
    let to_push: BTreeSet<&StorePath> = to_push.iter().collect();
    let unsigned: Vec<&StorePath> = closure
        .iter()
        .filter(|i| to_push.contains(&i.path) && !substitutable_as_is(i, keys))
        .map(|i| &i.path)
        .collect();
    if unsigned.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = keys.keys().iter().map(|k| k.name.as_str()).collect();
    let mut listing: Vec<String> = unsigned
        .iter()
        .take(SHOWN)
        .map(|p| format!("  {p}"))
        .collect();
    if unsigned.len() > SHOWN {
        listing.push(format!("  ... and {} more", unsigned.len() - SHOWN));
    }
    fail(
        Exit::Push,
        format!(
            "refusing to push to {}: {} of the {} paths to push carry no signature by a key CI trusts ({}), and without --sign-key they would be written unsigned, so CI would rebuild them. Nothing was pushed. Push with --sign-key FILE, a key whose public half CI's trusted-public-keys lists (make one with `nix key generate-secret --key-name NAME > FILE`); paths the cache already holds unsigned are then signed in place.\n{}",
            push.describe(),
            unsigned.len(),
            to_push.len(),
            names.join(", "),
            listing.join("\n")
        ),
    )
}

/// Whether the narinfo `nix copy` writes for this path would pass the cache check as is:
/// content-addressed (Nix validated the CA when the path became valid here), or signed by
/// a trusted key. As in `NarInfo::verified_by`, a malformed signature under a trusted
/// key's name makes Nix refuse the path.
fn substitutable_as_is(info: &PathInfo, keys: &TrustedKeys) -> bool {
    if info.ca.is_some() {
        return true;
    }
    let message = fingerprint(&info.path, &info.nar_hash, info.nar_size, &info.references);
    let mut trusted = false;
    for sig in &info.signatures {
        match keys.verify(message.as_bytes(), sig) {
            Err(_) => return false,
            Ok(found) => trusted |= found.is_some(),
        }
    }
    trusted
}
