//! The fetchYarnDeps output, as a model: which files the offline-cache directory holds,
//! what each is named and where its bytes come from. The directory is these files plus
//! a byte-exact copy of the lockfile named `yarn.lock`.

use std::collections::HashMap;
use std::rc::Rc;

use thiserror::Error;

use crate::fetch::integrity::{Integrity, IntegrityError};
use crate::redact;
use crate::yarn::dependency_source::{classify, Classified, Fetch};
use crate::yarn::yarn_lock::{Lockfile, Object, Value};

/// The lockfile copy's name in the output; no tarball may take it.
pub const LOCKFILE_NAME: &str = "yarn.lock";

/// The longest file name (in bytes) Linux and macOS file systems accept.
const NAME_MAX: usize = 255;

/// One file of the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFile {
    pub name: String,
    pub fetch: Fetch,
    /// Expected digest, for tarballs that state one: the strongest, when entries
    /// pinning this URL state digests of several algorithms.
    pub integrity: Option<Integrity>,
    /// The other algorithms' digests, which the bytes must match as well (upstream
    /// checks each entry against its own).
    pub also_verify: Vec<Integrity>,
    /// The lockfile entry it came from, for messages.
    pub key: String,
    pub line: usize,
}

impl CacheFile {
    /// The tarball cache's key: by digest when there is one, else by source.
    pub fn cache_key(&self) -> String {
        match (&self.fetch, &self.integrity) {
            (_, Some(integrity)) => integrity.cache_key(),
            (Fetch::Tarball { url }, None) => format!("url-{}", sha256_hex(url)),
            (Fetch::Git { url, rev }, None) => {
                format!("git-{}", sha256_hex(&format!("{url}#{rev}")))
            }
        }
    }

    pub fn url(&self) -> &str {
        match &self.fetch {
            Fetch::Tarball { url } | Fetch::Git { url, .. } => url,
        }
    }
}

/// Something upstream skips or only warns about; shown to the user, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// `@file:` / `@link:` keys point into the repository: nothing to fetch.
    LocalPath { key: String },
    /// A `file:` URL: skipped upstream with a warning.
    FileUrl { key: String, line: usize },
    /// No integrity and no `#sha1`: downloaded unverified, as upstream does.
    Unverified { key: String, line: usize },
    /// The parser stopped early; see [`Lockfile::ignored_from_line`].
    IgnoredFrom { line: usize },
    /// Merge-conflict markers, from this line: both sides were merged, as upstream
    /// merges them ([`Lockfile::merge_conflict_line`]).
    MergeConflict { line: usize },
    /// Bytes that are not UTF-8, from this line: read, and copied into the output, with
    /// U+FFFD in their place, as upstream reads them ([`crate::yarn::yarn_lock::decode`]).
    NotUtf8 { line: usize },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("{line}:1: entry {:?} has no `resolved` URL, so fetchYarnDeps cannot download it; re-run `yarn install` to rewrite the lockfile", redact::text(key))]
    MissingResolved { key: String, line: usize },
    #[error("{line}:1: entry {:?} has a `key` field that is not a string, on which fetchYarnDeps fails; remove the field (re-run `yarn install`)", redact::text(key))]
    KeyNotString { key: String, line: usize },
    #[error("{line}:1: entry {:?} has a `resolved` that is not a string; re-run `yarn install` to rewrite the lockfile", redact::text(key))]
    ResolvedNotString { key: String, line: usize },
    #[error("{line}:1: key {:?} contains {marker:?} more than once, which fetchYarnDeps does not handle; rename the local package path", redact::text(key))]
    RepeatedMarker {
        key: String,
        line: usize,
        marker: &'static str,
    },
    #[error("{line}:1: don't know how to download {:?}: fetchYarnDeps fetches only https:// and git URLs; point the registry at https (e.g. `yarn config set registry https://registry.yarnpkg.com`) and re-run `yarn install`", redact::url(url))]
    Unsupported { url: String, line: usize },
    #[error("{line}:1: {:?} is not a URL that can be downloaded: {reason}; fix the `resolved` field (re-run `yarn install`)", redact::url(url))]
    InvalidUrl {
        url: String,
        line: usize,
        reason: String,
    },
    #[error(
        "{line}:1: git dependency {:?} has no `#<rev>`; pin it with `yarn upgrade`",
        redact::url(url)
    )]
    GitWithoutRev { url: String, line: usize },
    #[error("{line}:1: {source} (in entry {:?})", redact::text(key))]
    Integrity {
        key: String,
        line: usize,
        source: IntegrityError,
    },
    #[error("{line}:1: {:?} would be saved as {:?}, which {why}; fetchYarnDeps names files after their URL, so point this entry at a URL that makes a plain file name (re-run `yarn install`)", redact::url(url), shown_name(name, url))]
    UnsafeName {
        url: String,
        name: String,
        line: usize,
        why: &'static str,
    },
    #[error("lines {first_line} and {line}: {:?} is pinned by two different {} digests ({first} and {second}); fetchYarnDeps checks both, so at most one can pass. Re-run `yarn install` to rewrite the lockfile", redact::url(url), first.split('-').next().unwrap_or_default())]
    ConflictingDigests {
        url: String,
        first_line: usize,
        line: usize,
        first: String,
        second: String,
    },
    #[error("lines {first_line} and {line}: {:?} and {:?} both map to the file {:?} and nothing guarantees the same contents, so the fetchYarnDeps result would depend on download order; make one of them point elsewhere and re-run `yarn install`", redact::url(first_url), redact::url(url), shown_name(name, url))]
    NameCollision {
        name: String,
        first_url: String,
        first_line: usize,
        url: String,
        line: usize,
    },
}

#[derive(Debug, Default)]
pub struct OfflineCache {
    /// Sorted by name bytes, the order of the NAR.
    pub files: Vec<CacheFile>,
    pub notes: Vec<Note>,
}

impl OfflineCache {
    pub fn from_lockfile(lock: &Lockfile) -> Result<Self, ModelError> {
        let mut cache = OfflineCache::default();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (key, value, line) in unique_by_resolved(&lock.object) {
            let Some(file) = cache.entry_file(key, value, line)? else {
                continue;
            };
            match by_name.get(&file.name) {
                Some(&i) => {
                    check_same_contents(&cache.files[i], &file)?;
                    // Same URL, one pinned: verify the download against that digest.
                    if cache.files[i].integrity.is_none() && file.integrity.is_some() {
                        let kept = &mut cache.files[i];
                        cache.notes.retain(|n| {
                            *n != Note::Unverified {
                                key: kept.key.clone(),
                                line: kept.line,
                            }
                        });
                        kept.integrity = file.integrity;
                    } else if let Some(digest) = file.integrity {
                        add_digest(&mut cache.files[i], digest, file.line)?;
                    }
                }
                None => {
                    by_name.insert(file.name.clone(), cache.files.len());
                    cache.files.push(file);
                }
            }
        }
        if let Some(line) = lock.ignored_from_line {
            cache.notes.push(Note::IgnoredFrom { line });
        }
        if let Some(line) = lock.merge_conflict_line {
            cache.notes.insert(0, Note::MergeConflict { line });
        }
        cache
            .files
            .sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(cache)
    }

    /// `downloadPkg` for one entry: `Ok(None)` where upstream skips it.
    fn entry_file(
        &mut self,
        key: &str,
        value: &Value,
        line: usize,
    ) -> Result<Option<CacheFile>, ModelError> {
        let key = effective_key(key, value, line)?;
        for marker in ["@file:", "@link:"] {
            match key.matches(marker).count() {
                0 => {}
                1 => {
                    self.notes.push(Note::LocalPath {
                        key: key.to_owned(),
                    });
                    return Ok(None);
                }
                _ => {
                    return Err(ModelError::RepeatedMarker {
                        key: key.to_owned(),
                        line,
                        marker,
                    })
                }
            }
        }
        let entry = match value {
            Value::Object(o) => Some(o.as_ref()),
            _ => None,
        };
        let resolved = match entry.and_then(|o| o.get("resolved")) {
            None => {
                return Err(ModelError::MissingResolved {
                    key: key.to_owned(),
                    line,
                })
            }
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(ModelError::ResolvedNotString {
                    key: key.to_owned(),
                    line,
                })
            }
        };
        let (name, fetch, fragment) = match classify(resolved) {
            Classified::Fetch {
                name,
                fetch,
                fragment,
            } => (name, fetch, fragment),
            Classified::SkippedFileUrl => {
                self.notes.push(Note::FileUrl {
                    key: key.to_owned(),
                    line,
                });
                return Ok(None);
            }
            Classified::GitWithoutRev { url } => {
                return Err(ModelError::GitWithoutRev { url, line })
            }
            Classified::Unsupported { url } => return Err(ModelError::Unsupported { url, line }),
        };
        check_safe_name(&name, &fetch, line)?;
        if let Fetch::Tarball { url } = &fetch {
            check_fetchable(url, line)?;
        }
        let integrity = match &fetch {
            Fetch::Git { .. } => None,
            Fetch::Tarball { .. } => {
                expected_integrity(entry, fragment.as_deref()).map_err(|source| {
                    ModelError::Integrity {
                        key: key.to_owned(),
                        line,
                        source,
                    }
                })?
            }
        };
        if integrity.is_none() && matches!(fetch, Fetch::Tarball { .. }) {
            self.notes.push(Note::Unverified {
                key: key.to_owned(),
                line,
            });
        }
        Ok(Some(CacheFile {
            name,
            fetch,
            integrity,
            also_verify: Vec::new(),
            key: key.to_owned(),
            line,
        }))
    }
}

/// Upstream builds `{ key, ...value }`, so a `key` field inside the entry wins.
fn effective_key<'a>(key: &'a str, value: &'a Value, line: usize) -> Result<&'a str, ModelError> {
    let Value::Object(entry) = value else {
        return Ok(key);
    };
    match entry.get("key") {
        None => Ok(key),
        Some(Value::String(inner)) => Ok(inner),
        Some(_) => Err(ModelError::KeyNotString {
            key: key.to_owned(),
            line,
        }),
    }
}

/// Upstream's `uniqueBy(entries, value => value.resolved)`: a JS `Map`, so the last
/// entry with a given `resolved` wins and sits where the first one was.
fn unique_by_resolved(object: &Object) -> Vec<(&str, &Value, usize)> {
    #[derive(PartialEq, Eq, Hash)]
    enum Resolved<'a> {
        Undefined,
        String(&'a str),
        Number(&'a str),
        Bool(bool),
        Object(*const Object),
    }
    let mut order: Vec<(&str, &Value, usize)> = Vec::new();
    let mut seen: HashMap<Resolved, usize> = HashMap::new();
    for (key, value, line) in object.iter() {
        let resolved = match value {
            Value::Object(o) => match o.get("resolved") {
                None => Resolved::Undefined,
                Some(Value::String(s)) => Resolved::String(s),
                Some(Value::Number(n)) => Resolved::Number(n.trim_start_matches('0')),
                Some(Value::Bool(b)) => Resolved::Bool(*b),
                Some(Value::Object(o)) => Resolved::Object(Rc::as_ptr(o)),
            },
            _ => Resolved::Undefined,
        };
        match seen.get(&resolved) {
            Some(&i) => order[i] = (key, value, line),
            None => {
                seen.insert(resolved, order.len());
                order.push((key, value, line));
            }
        }
    }
    order
}

/// `integrity` if it is a string, else the `#sha1` fragment, else nothing.
fn expected_integrity(
    entry: Option<&Object>,
    fragment: Option<&str>,
) -> Result<Option<Integrity>, IntegrityError> {
    if let Some(sri) = entry.and_then(|o| o.get_str("integrity")) {
        return Integrity::parse_sri(sri).map(Some);
    }
    fragment.map(Integrity::from_sha1_fragment).transpose()
}

fn check_safe_name(name: &str, fetch: &Fetch, line: usize) -> Result<(), ModelError> {
    let why = if name.is_empty() || name == "." || name == ".." {
        "is not a file name"
    } else if name == LOCKFILE_NAME {
        "would replace the output's copy of the lockfile"
    } else if name.contains('/') {
        "contains `/` and so could write outside the output directory"
    } else if name.contains('\0') {
        "contains a NUL byte, which no file name can"
    } else if name.len() > NAME_MAX {
        "is longer than a file name can be: Linux and macOS allow at most 255 bytes (NAME_MAX)"
    } else {
        return Ok(());
    };
    let (Fetch::Tarball { url } | Fetch::Git { url, .. }) = fetch;
    Err(ModelError::UnsafeName {
        url: url.clone(),
        name: name.to_owned(),
        line,
        why,
    })
}

/// A file name derived from a URL carries the URL's credentials: shown only without.
fn shown_name<'a>(name: &'a str, url: &str) -> &'a str {
    if redact::url(url) == url {
        name
    } else {
        redact::REDACTED
    }
}

/// Upstream hands the URL to Node's `https.get`, which throws on one it cannot parse
/// (`https://` with no host): bad input, not a network error worth retrying.
fn check_fetchable(url: &str, line: usize) -> Result<(), ModelError> {
    match reqwest::Url::parse(url) {
        Ok(_) => Ok(()),
        Err(e) => Err(ModelError::InvalidUrl {
            url: url.to_owned(),
            line,
            reason: e.to_string(),
        }),
    }
}

/// Adds another entry's digest for the same URL. Of one algorithm there can be only
/// one digest; different algorithms are all checked, the strongest keys the cache.
fn add_digest(file: &mut CacheFile, digest: Integrity, line: usize) -> Result<(), ModelError> {
    let known = file.integrity.iter().chain(&file.also_verify);
    if let Some(same) = known.clone().find(|d| d.algorithm == digest.algorithm) {
        if *same == digest {
            return Ok(());
        }
        return Err(ModelError::ConflictingDigests {
            url: file.url().to_owned(),
            first_line: file.line,
            line,
            first: same.to_string(),
            second: digest.to_string(),
        });
    }
    let mut all: Vec<Integrity> = known.cloned().chain([digest]).collect();
    all.sort_by_key(|d| std::cmp::Reverse(d.algorithm));
    file.integrity = Some(all.remove(0));
    file.also_verify = all;
    Ok(())
}

/// Two entries may share a file name only when they are certain to have the same bytes,
/// and no digest upstream would check goes unchecked here.
fn check_same_contents(first: &CacheFile, file: &CacheFile) -> Result<(), ModelError> {
    match (&first.integrity, &file.integrity) {
        (Some(a), Some(b)) if a == b => return Ok(()),
        // Different algorithms: `add_digest` keeps both, or refuses a second digest
        // of one algorithm.
        (Some(_), Some(_)) if first.fetch == file.fetch => return Ok(()),
        (None, _) | (_, None) if first.fetch == file.fetch => return Ok(()),
        _ => {}
    }
    Err(ModelError::NameCollision {
        name: file.name.clone(),
        first_url: first.url().to_owned(),
        first_line: first.line,
        url: file.url().to_owned(),
        line: file.line,
    })
}

fn sha256_hex(s: &str) -> String {
    crate::nix::nix_hash::Sha256Hash::of(s.as_bytes()).to_hex()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yarn::yarn_lock::parse;

    fn model(text: &str) -> Result<OfflineCache, ModelError> {
        OfflineCache::from_lockfile(&parse(text).unwrap())
    }

    const SHA1: &str = "97fb5d96bfde8973313f20e8288ef9a167fa64ce";

    #[test]
    fn files_are_named_deduplicated_and_sorted() {
        let lock = format!(
            "b@1, b@^1:\n  resolved \"https://registry.yarnpkg.com/b/-/b-1.tgz#{SHA1}\"\n\n\
             a@1:\n  resolved \"https://registry.npmjs.org/a/-/a-1.tgz#{SHA1}\"\n\n\
             \"local@file:../local\":\n  version \"1\"\n"
        );
        let m = model(&lock).unwrap();
        let names: Vec<_> = m.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["b___b_1.tgz", "https___registry.npmjs.org_a___a_1.tgz"]
        );
        assert_eq!(
            m.notes,
            [Note::LocalPath {
                key: "local@file:../local".into()
            }]
        );
    }

    #[test]
    fn last_entry_with_the_same_resolved_decides() {
        // Upstream keeps the last of the two; its key has `@file:`, so both vanish.
        let lock = "a@1:\n  version \"1\"\n\"b@file:x\":\n  version \"1\"\n";
        assert!(model(lock).unwrap().files.is_empty());
        let lock = "\"b@file:x\":\n  version \"1\"\na@1:\n  version \"1\"\n";
        assert_eq!(
            model(lock).unwrap_err(),
            ModelError::MissingResolved {
                key: "a@1".into(),
                line: 3
            }
        );
    }

    #[test]
    fn a_key_field_inside_the_entry_overrides_the_key() {
        let lock = format!("a@1:\n  key \"x@file:y\"\n  resolved \"https://r.com/a.tgz#{SHA1}\"\n");
        assert!(
            model(&lock).unwrap().files.is_empty(),
            "skipped as a @file: entry"
        );
        let lock = format!("a@1:\n  key 1\n  resolved \"https://r.com/a.tgz#{SHA1}\"\n");
        assert!(matches!(model(&lock), Err(ModelError::KeyNotString { .. })));
    }

    #[test]
    fn hostile_names_are_refused() {
        for url in [
            "git+https://h/a/..#r",
            "https://x.com/#r",
            "git+https://h/yarn.lock#r",
        ] {
            let lock = format!("a@1:\n  resolved \"{url}\"\n");
            assert!(
                matches!(model(&lock), Err(ModelError::UnsafeName { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn a_name_too_long_for_a_file_system_says_so() {
        let url = format!("https://r.com/{}.tgz", "a".repeat(300));
        let lock = format!("a@1:\n  resolved \"{url}\"\n");
        let err = model(&lock).unwrap_err();
        assert!(
            matches!(err, ModelError::UnsafeName { ref name, .. } if name.len() == 304),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("at most 255") && text.contains(&url),
            "{text}"
        );
        assert!(!text.contains("outside"), "{text}");
    }

    #[test]
    fn colliding_names_need_identical_contents() {
        let lock = format!(
            "a@1:\n  resolved \"https://a.com/x-y#{SHA1}\"\nb@1:\n  resolved \"https://b.com/x_y\"\n"
        );
        assert!(matches!(
            model(&lock),
            Err(ModelError::NameCollision { .. })
        ));
        let lock = format!(
            "a@1:\n  resolved \"https://a.com/x-y#{SHA1}\"\nb@1:\n  resolved \"https://b.com/x_y#{SHA1}\"\n"
        );
        assert_eq!(model(&lock).unwrap().files.len(), 1);
    }

    #[test]
    fn one_url_pinned_by_two_digests_is_refused() {
        let other = "0000000000000000000000000000000000000000";
        let lock = format!(
            "a@1:\n  resolved \"https://a.com/x.tgz#{SHA1}\"\nb@1:\n  resolved \"https://a.com/x.tgz#{other}\"\n"
        );
        assert!(matches!(
            model(&lock),
            Err(ModelError::ConflictingDigests {
                first_line: 1,
                line: 3,
                ..
            })
        ));
        let unpinned = format!(
            "a@1:\n  resolved \"https://a.com/x.tgz#{SHA1}\"\nb@1:\n  resolved \"https://a.com/x.tgz\"\n"
        );
        assert_eq!(model(&unpinned).unwrap().files.len(), 1);
    }

    #[test]
    fn one_url_pinned_by_two_algorithms_checks_both() {
        let sha512 = "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";
        let lock = format!(
            "a@1:\n  resolved \"https://a.com/x.tgz#{SHA1}\"\nb@1:\n  resolved \"https://a.com/x.tgz\"\n  integrity {sha512}\n"
        );
        let m = model(&lock).unwrap();
        assert_eq!(m.files.len(), 1);
        let file = &m.files[0];
        assert_eq!(file.integrity.as_ref().unwrap().to_string(), sha512);
        assert_eq!(file.also_verify.len(), 1);
        assert_eq!(
            file.also_verify[0].algorithm,
            crate::fetch::integrity::Algorithm::Sha1
        );
        assert_eq!(
            file.cache_key(),
            Integrity::parse_sri(sha512).unwrap().cache_key()
        );
        // A third entry with another sha1 for the same URL cannot pass with the first.
        let other = "0000000000000000000000000000000000000000";
        let three = format!("{lock}c@1:\n  resolved \"https://a.com/x.tgz#{other}\"\n");
        assert!(matches!(
            model(&three),
            Err(ModelError::ConflictingDigests {
                first_line: 1,
                line: 6,
                ..
            })
        ));
    }

    #[test]
    fn urls_that_cannot_be_fetched_are_refused() {
        let lock = "a@1:\n  resolved \"https://\"\n";
        assert!(matches!(
            model(lock),
            Err(ModelError::InvalidUrl { line: 1, .. })
        ));
    }

    #[test]
    fn integrity_beats_fragment_and_absence_is_noted() {
        let lock = "a@1:\n  resolved \"https://r.com/a.tgz#0000000000000000000000000000000000000000\"\n  integrity sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\n\nb@1:\n  resolved \"https://r.com/b.tgz\"\n";
        let m = model(lock).unwrap();
        assert_eq!(
            m.files[0].integrity.as_ref().unwrap().algorithm,
            crate::fetch::integrity::Algorithm::Sha512
        );
        assert_eq!(
            m.notes,
            [Note::Unverified {
                key: "b@1".into(),
                line: 5
            }]
        );
    }
}
