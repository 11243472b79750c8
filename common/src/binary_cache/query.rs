//! Closure-wide narinfo queries against a binary cache (HTTP(S) or a `file://` directory),
//! straight from the source: Nix's own narinfo cache keeps negative answers for an hour,
//! which is exactly the staleness a "will CI hit the cache?" check must not have.
//!
//! Answers are three-valued on purpose. 404 is *missing*; a 5xx, a timeout or a refused
//! connection is an *error* (never missing, which would trigger a pointless push, and never
//! cached, which would let CI rebuild).
//!
//! A path is *cached* only when Nix could substitute it: a trusted narinfo and the NAR it
//! names. The walk is bounded, since the cache decides how much there is to read: a file
//! over `max_file_bytes` and a closure over `max_closure_paths` are errors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::io::Read;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use thiserror::Error;

use crate::binary_cache::narinfo::{NarInfo, TrustedKeys};
use crate::binary_cache::store_path::StorePath;
use crate::redact;

#[derive(Debug, Error)]
pub enum CacheError {
    #[error("{url}: HTTP {status} ({})", status_hint(*.status))]
    Status { url: String, status: u16 },
    // The cause is printed by whoever walks the error chain, not repeated here.
    #[error("{url}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unsupported cache URL {0:?}: use http://, https:// or file:// (for s3:// or ssh:// pass a readable --from URL)")]
    Unsupported(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("{url} is not a binary cache: it has no nix-cache-info (check the URL; Nix would refuse it as a substituter)")]
    NotACache { url: String },
    #[error("{url} is a binary cache for store {found:?}, not {expected:?}; Nix would not substitute from it")]
    WrongStoreDir {
        url: String,
        found: String,
        expected: String,
    },
    #[error("{url} is larger than {limit} bytes, which no real narinfo is: the cache is broken or hostile (reading stopped there)")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: the closure has more than {limit} paths (its narinfos keep referencing new ones); no real closure is that large, so the cache is broken or hostile; if this one really is, raise the bound (--max-closure-paths)")]
    ClosureTooLarge { url: String, limit: usize },
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => "the cache refused access; for a private Cachix cache check CACHIX_AUTH_TOKEN",
        429 => "the cache is rate-limiting us; retry later or lower --jobs",
        _ => "the cache answered with an error; retry later or check the URL",
    }
}

/// A credential for reading a private cache. `Debug` never shows it.
#[derive(Clone)]
pub struct BearerToken(pub String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

impl CacheError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, CacheError::Http { source, .. } if source.is_timeout())
    }
}

enum Source {
    Http {
        base: String,
        client: reqwest::Client,
        token: Option<BearerToken>,
    },
    Dir(PathBuf),
}

/// A read handle on one binary cache.
pub struct BinaryCache {
    source: Source,
    concurrency: usize,
    retries: u32,
    max_file_bytes: u64,
    max_closure_paths: usize,
}

#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// Total time allowed for one narinfo request.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Extra attempts after a 5xx or transport error before giving up.
    pub retries: u32,
    /// Sent as `Authorization: Bearer` to http(s) caches (private Cachix caches).
    pub bearer_token: Option<BearerToken>,
    /// A narinfo (or `nix-cache-info`) larger than this is an error, and nothing past it is
    /// read: a narinfo with 10,000 references is about 500 KiB.
    pub max_file_bytes: u64,
    /// A closure with more paths than this is an error: a cache whose narinfos keep
    /// referencing new paths would otherwise be walked forever.
    pub max_closure_paths: usize,
}

/// Default of [`CacheOptions::max_closure_paths`]: real closures (a NixOS system, a
/// Docker image with its toolchain) have a few thousand paths.
pub const DEFAULT_MAX_CLOSURE_PATHS: usize = 100_000;

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            concurrency: 32,
            retries: 2,
            bearer_token: None,
            max_file_bytes: 1 << 20,
            max_closure_paths: DEFAULT_MAX_CLOSURE_PATHS,
        }
    }
}

impl BinaryCache {
    pub fn open(url: &str, opts: &CacheOptions) -> Result<Self, CacheError> {
        // Store URL parameters (`?priority=`, `?secret-key=`) are for Nix, not part of the path.
        let base = url.split('?').next().unwrap_or(url).trim_end_matches('/');
        let source = if let Some(dir) = base.strip_prefix("file://") {
            Source::Dir(PathBuf::from(dir))
        } else if base.starts_with("http://") || base.starts_with("https://") {
            let client = reqwest::Client::builder()
                .timeout(opts.timeout)
                .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
                .user_agent(concat!("nixci-precache/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(CacheError::Client)?;
            Source::Http {
                base: base.to_owned(),
                client,
                token: opts.bearer_token.clone(),
            }
        } else {
            return Err(CacheError::Unsupported(redact::url(url)));
        };
        Ok(Self {
            source,
            concurrency: opts.concurrency.max(1),
            retries: opts.retries,
            max_file_bytes: opts.max_file_bytes,
            max_closure_paths: opts.max_closure_paths,
        })
    }

    /// Checks that the URL is a binary cache for `store_dir` (its `nix-cache-info`), as Nix
    /// does before using a substituter, so a mistyped URL is an error rather than "all missing".
    /// `Ok(false)` when there is no `nix-cache-info` at all.
    pub async fn check_cache_info(&self, store_dir: &str) -> Result<bool, CacheError> {
        let Some(text) = self.fetch_file("nix-cache-info").await? else {
            return Ok(false);
        };
        // Nix trims both name and value of each `Name: value` line here.
        for line in text.lines() {
            if let Some((name, value)) = line.split_once(':') {
                if name.trim() == "StoreDir" && value.trim() != store_dir {
                    return Err(CacheError::WrongStoreDir {
                        url: self.display_url(),
                        found: value.trim().to_owned(),
                        expected: store_dir.to_owned(),
                    });
                }
            }
        }
        Ok(true)
    }

    /// The cache's URL for messages (never with credentials).
    pub fn display_url(&self) -> String {
        match &self.source {
            Source::Dir(dir) => format!("file://{}", dir.display()),
            Source::Http { base, .. } => redact::url(base),
        }
    }

    /// The raw `<hash>.narinfo`, or `None` when the cache does not have it.
    pub async fn fetch_narinfo(&self, hash_part: &str) -> Result<Option<String>, CacheError> {
        self.fetch_file(&format!("{hash_part}.narinfo")).await
    }

    async fn fetch_file(&self, file: &str) -> Result<Option<String>, CacheError> {
        self.retrying(|| self.fetch_once(file)).await
    }

    /// Whether the NAR a narinfo's `URL` names is there, tested as Nix's `fileExists` tests
    /// it: a HEAD request (404 and 403 are "no", as there) or, for file://, the path
    /// `<dir>/<url>` (Nix concatenates, it does not resolve). Only a regular file counts:
    /// Nix could not read anything else.
    /// (NixOS/nix src/libstore/http-binary-cache-store.cc `fileExists`, `makeRequest`;
    /// src/libstore/local-binary-cache-store.cc `fileExists`, `getFile`.)
    pub async fn nar_exists(&self, url: &str) -> Result<bool, CacheError> {
        self.retrying(|| self.nar_exists_once(url)).await
    }

    async fn retrying<T, F, Fut>(&self, once: F) -> Result<T, CacheError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, CacheError>>,
    {
        let mut attempt = 0;
        loop {
            match once().await {
                Err(e) if attempt < self.retries && self.is_transient(&e) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * 3u64.pow(attempt - 1))).await;
                }
                other => return other,
            }
        }
    }

    fn is_transient(&self, e: &CacheError) -> bool {
        match e {
            CacheError::Status { status, .. } => *status >= 500 || *status == 429,
            CacheError::Http { .. } => true,
            _ => false,
        }
    }

    async fn fetch_once(&self, file: &str) -> Result<Option<String>, CacheError> {
        let limit = self.max_file_bytes;
        match &self.source {
            Source::Dir(dir) => {
                let path = dir.join(file);
                let io = |source| CacheError::Io {
                    path: path.clone(),
                    source,
                };
                let f = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io(e)),
                };
                let mut bytes = Vec::new();
                f.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
                if bytes.len() as u64 > limit {
                    return Err(CacheError::TooLarge {
                        url: format!("file://{}", path.display()),
                        limit,
                    });
                }
                let text = String::from_utf8(bytes)
                    .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
                Ok(Some(text))
            }
            Source::Http { base, .. } => {
                let full = format!("{base}/{file}");
                let Some(resp) = self.send(&full, false).await? else {
                    return Ok(None);
                };
                let url = redact::url(&full);
                let too_large = || CacheError::TooLarge {
                    url: url.clone(),
                    limit,
                };
                if resp.content_length().is_some_and(|n| n > limit) {
                    return Err(too_large());
                }
                let mut resp = resp;
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(|e| CacheError::Http {
                    url: url.clone(),
                    source: e.without_url(),
                })? {
                    if (body.len() + chunk.len()) as u64 > limit {
                        // Dropping the response closes the connection: nothing more is read.
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(Some(String::from_utf8_lossy(&body).into_owned()))
            }
        }
    }

    async fn nar_exists_once(&self, url: &str) -> Result<bool, CacheError> {
        match &self.source {
            Source::Dir(dir) => {
                let mut path = dir.clone().into_os_string();
                path.push("/");
                path.push(url);
                let path = PathBuf::from(path);
                match std::fs::metadata(&path) {
                    Ok(meta) => Ok(meta.is_file()),
                    Err(e)
                        // ENOTDIR is 20 on Linux and macOS (ErrorKind::NotADirectory is
                        // newer than our MSRV): a file where a directory of the URL should be.
                        if e.kind() == std::io::ErrorKind::NotFound
                            || e.raw_os_error() == Some(20) =>
                    {
                        Ok(false)
                    }
                    Err(source) => Err(CacheError::Io { path, source }),
                }
            }
            Source::Http { base, .. } => {
                let full = if url.starts_with("http://") || url.starts_with("https://") {
                    url.to_owned()
                } else if url.starts_with("file://") {
                    // A file on whichever machine substitutes: nothing we can vouch for.
                    return Ok(false);
                } else {
                    format!("{base}/{url}")
                };
                Ok(self.send(&full, true).await?.is_some())
            }
        }
    }

    /// GET (or HEAD) `full` on an HTTP cache: `None` for 404/410 and, as for Nix, a 403
    /// when we send no token. The token goes only to URLs below the cache's own base.
    async fn send(&self, full: &str, head: bool) -> Result<Option<reqwest::Response>, CacheError> {
        let Source::Http {
            base,
            client,
            token,
        } = &self.source
        else {
            unreachable!("send is for http caches")
        };
        let url = redact::url(full);
        let mut request = if head {
            client.head(full)
        } else {
            client.get(full)
        };
        let token = token
            .as_ref()
            .filter(|_| full.starts_with(&format!("{base}/")));
        if let Some(BearerToken(t)) = token {
            // reqwest marks the header sensitive, so it stays out of its Debug output.
            request = request.bearer_auth(t);
        }
        let resp = request.send().await.map_err(|source| CacheError::Http {
            url: url.clone(),
            source: source.without_url(),
        })?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(Some(resp)),
            404 | 410 => Ok(None),
            // Nix treats 403 like 404 (S3 answers 403 for a missing key without
            // list rights); with our token it is a real refusal, so an error.
            403 if token.is_none() => Ok(None),
            _ => Err(CacheError::Status { url, status }),
        }
    }

    /// Queries `roots` and, through each narinfo's `References`, everything they reference,
    /// and the NAR of each path whose narinfo is usable, all in one walk with `concurrency`
    /// requests in flight. `progress(done, known)` is called after each path is decided.
    pub async fn query_closure(
        &self,
        roots: &[StorePath],
        keys: &TrustedKeys,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<ClosureReport, CacheError> {
        let mut walk = Walk::default();
        for r in roots {
            walk.discover(r, self)?;
        }
        let mut in_flight: FuturesUnordered<Pending<'_>> = FuturesUnordered::new();
        let mut report = ClosureReport::default();
        loop {
            while in_flight.len() < self.concurrency {
                // NARs first: each one decides a path, while narinfos only widen the walk.
                if let Some((path, url)) = walk.nars.pop() {
                    in_flight.push(Box::pin(async move {
                        let r = self.nar_exists(&url).await;
                        (path, Answer::Nar(url, r))
                    }));
                } else if let Some(path) = walk.narinfos.pop() {
                    in_flight.push(Box::pin(async move {
                        let r = self.fetch_narinfo(path.hash_part()).await;
                        (path, Answer::NarInfo(r))
                    }));
                } else {
                    break;
                }
            }
            let Some((path, answer)) = in_flight.next().await else {
                break;
            };
            let status = match answer {
                Answer::NarInfo(result) => {
                    let (status, info) = classify(&path, result?, keys);
                    let Some(info) = info else {
                        report.paths.insert(path, status);
                        progress(report.paths.len(), walk.seen.len());
                        continue;
                    };
                    for r in &info.references {
                        walk.discover(r, self)?;
                    }
                    let url = info.url.unwrap_or_default();
                    walk.nars.push((path.clone(), url));
                    walk.awaiting_nar.insert(path, status);
                    continue;
                }
                Answer::Nar(url, exists) => {
                    let status = walk
                        .awaiting_nar
                        .remove(&path)
                        .expect("a NAR is checked only after its narinfo");
                    if exists? {
                        status
                    } else {
                        PathStatus::NarMissing {
                            url: bounded(&redact::url(&url)),
                            nar_size: status.nar_size().unwrap_or(0),
                        }
                    }
                }
            };
            report.paths.insert(path, status);
            progress(report.paths.len(), walk.seen.len());
        }
        Ok(report)
    }
}

type Pending<'a> = Pin<Box<dyn Future<Output = (StorePath, Answer)> + Send + 'a>>;

enum Answer {
    NarInfo(Result<Option<String>, CacheError>),
    Nar(String, Result<bool, CacheError>),
}

/// The state of a closure walk: what is known, and what is still to ask.
#[derive(Default)]
struct Walk {
    seen: HashSet<StorePath>,
    narinfos: Vec<StorePath>,
    nars: Vec<(StorePath, String)>,
    /// Verdicts from the narinfo that hold only if the NAR is there too.
    awaiting_nar: HashMap<StorePath, PathStatus>,
}

impl Walk {
    fn discover(&mut self, path: &StorePath, cache: &BinaryCache) -> Result<(), CacheError> {
        if self.seen.contains(path) {
            return Ok(());
        }
        if self.seen.len() >= cache.max_closure_paths {
            return Err(CacheError::ClosureTooLarge {
                url: cache.display_url(),
                limit: cache.max_closure_paths,
            });
        }
        self.seen.insert(path.clone());
        self.narinfos.push(path.clone());
        Ok(())
    }
}

/// At most a few hundred bytes of text that came from the cache: a report holds one such
/// string per path, so its size must not be the cache's choice.
fn bounded(text: &str) -> String {
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// The verdict from the narinfo alone, and the narinfo when it is this path's (its
/// references are walked and its NAR checked).
fn classify(
    path: &StorePath,
    text: Option<String>,
    keys: &TrustedKeys,
) -> (PathStatus, Option<NarInfo>) {
    let Some(text) = text else {
        return (PathStatus::Missing, None);
    };
    let info: NarInfo = match text.parse() {
        Ok(info) => info,
        Err(e) => {
            let why = bounded(&format!("unparseable narinfo: {e}"));
            return (PathStatus::Invalid { why }, None);
        }
    };
    if info.store_path != *path {
        let why = bounded(&format!(
            "narinfo is for {}, not this path",
            info.store_path
        ));
        return (PathStatus::Invalid { why }, None);
    }
    let nar_size = info.nar_size;
    // Nix checks no signature on a path whose CA field recomputes to the path itself.
    let status = if info.is_content_addressed() {
        PathStatus::Cached {
            key: "(content-addressed)".to_owned(),
            nar_size,
        }
    } else {
        match info.verified_by(keys) {
            Err(e) => return (PathStatus::Invalid { why: e.to_string() }, None),
            Ok(Some(key)) => PathStatus::Cached {
                key: key.to_owned(),
                nar_size,
            },
            Ok(None) => PathStatus::Untrusted {
                why: untrusted_why(&info),
                nar_size,
            },
        }
    };
    (status, Some(info))
}

fn untrusted_why(info: &NarInfo) -> String {
    if info.sigs.is_empty() {
        return "unsigned".to_owned();
    }
    let mut names: Vec<&str> = info
        .sigs
        .iter()
        .map(|s| s.split(':').next().unwrap_or(""))
        .collect();
    names.dedup();
    bounded(&format!(
        "no valid signature by a trusted key (signed by: {})",
        names.join(", ")
    ))
}

/// What the cache holds for one store path, from a consumer's point of view. Only what the
/// verdict needs is kept, so memory grows with the closure, not with what the cache serves.
#[derive(Clone, Debug)]
pub enum PathStatus {
    /// Signed by a trusted key, and its NAR is there: CI will substitute it.
    Cached { key: String, nar_size: u64 },
    /// Present but CI would refuse it (unsigned, bad or untrusted signature).
    Untrusted { why: String, nar_size: u64 },
    /// The narinfo is there but the NAR its `URL` names is not: Nix fails with "does not
    /// exist in binary cache", and a push skips the path because its narinfo exists.
    NarMissing { url: String, nar_size: u64 },
    /// Present but unusable (unparseable, or for another path).
    Invalid { why: String },
    /// 404: not in the cache.
    Missing,
}

impl PathStatus {
    pub fn is_cached(&self) -> bool {
        matches!(self, PathStatus::Cached { .. })
    }

    /// The NAR size the narinfo states, when there is a usable narinfo.
    pub fn nar_size(&self) -> Option<u64> {
        match self {
            PathStatus::Cached { nar_size, .. }
            | PathStatus::Untrusted { nar_size, .. }
            | PathStatus::NarMissing { nar_size, .. } => Some(*nar_size),
            PathStatus::Invalid { .. } | PathStatus::Missing => None,
        }
    }
}

#[derive(Debug, Default)]
pub struct ClosureReport {
    pub paths: BTreeMap<StorePath, PathStatus>,
}

impl ClosureReport {
    pub fn all_cached(&self) -> bool {
        self.paths.values().all(PathStatus::is_cached)
    }

    pub fn not_cached(&self) -> impl Iterator<Item = (&StorePath, &PathStatus)> {
        self.paths.iter().filter(|(_, s)| !s.is_cached())
    }

    /// NAR bytes of the cached paths (missing paths' sizes are unknown to the cache).
    pub fn cached_bytes(&self) -> u64 {
        self.paths
            .values()
            .filter(|s| s.is_cached())
            .filter_map(PathStatus::nar_size)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary_cache::narinfo::SecretKey;

    fn info_text(path: &str, key: Option<&SecretKey>) -> String {
        let mut info: NarInfo = format!(
            "StorePath: {path}\nURL: nar/x.nar\nNarHash: sha256:0w1357qw948jcqkr9c0y9b8kgv2yafx9cqrbkpkljs3vrahcgds7\nNarSize: 1\nReferences: \n"
        )
        .parse()
        .unwrap();
        if let Some(k) = key {
            k.sign_narinfo(&mut info);
        }
        info.to_text()
    }

    #[test]
    fn classification_is_from_ci_point_of_view() {
        let key = SecretKey::from_seed("k-1", [5; 32]);
        let keys = TrustedKeys::new([key.public()]);
        let p: StorePath = "/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b"
            .parse()
            .unwrap();
        let other = "/nix/store/nmcb681g46qgw139ad2s1f9yi47d9f6q-c";
        let text = info_text(&p.to_string(), Some(&key));
        assert!(classify(&p, Some(text), &keys).0.is_cached());
        assert!(matches!(classify(&p, None, &keys).0, PathStatus::Missing));
        let unsigned = classify(&p, Some(info_text(&p.to_string(), None)), &keys).0;
        assert!(matches!(&unsigned, PathStatus::Untrusted { why, .. } if why == "unsigned"));
        // A validly signed narinfo served under the wrong name is not this path.
        let wrong = classify(&p, Some(info_text(other, Some(&key))), &keys).0;
        assert!(matches!(wrong, PathStatus::Invalid { .. }));
        assert!(matches!(
            classify(&p, Some("junk".into()), &keys).0,
            PathStatus::Invalid { .. }
        ));
        // Unsigned but content-addressed (from `nix store add-path`, Nix 2.8): Nix takes it.
        let ca: StorePath = "/nix/store/79b2q98ig99qdajc52vsnilr0b68blpd-ca-dir"
            .parse()
            .unwrap();
        let ca_text = format!(
            "StorePath: {ca}\nURL: nar/x.nar\nNarHash: sha256:1465h6w25vw0aiq98j9qmh04b5842c22546b0d2y7b6yzhjfa5gi\nNarSize: 296\nReferences: \nCA: fixed:r:sha256:1465h6w25vw0aiq98j9qmh04b5842c22546b0d2y7b6yzhjfa5gi\n"
        );
        assert!(classify(&ca, Some(ca_text.clone()), &keys).0.is_cached());
        let bogus = ca_text.replace("CA: fixed:r:", "CA: fixed:");
        assert!(!classify(&ca, Some(bogus), &keys).0.is_cached());
    }

    #[test]
    fn file_cache_walks_references_and_reports_missing() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::from_seed("k-1", [5; 32]);
        let keys = TrustedKeys::new([key.public()]);
        let top: StorePath = "/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b"
            .parse()
            .unwrap();
        let leaf: StorePath = "/nix/store/nmcb681g46qgw139ad2s1f9yi47d9f6q-c"
            .parse()
            .unwrap();
        let mut info: NarInfo = info_text(&top.to_string(), None).parse().unwrap();
        info.references = vec![leaf.clone()];
        key.sign_narinfo(&mut info);
        std::fs::write(
            dir.path().join(format!("{}.narinfo", top.hash_part())),
            info.to_text(),
        )
        .unwrap();
        let cache = BinaryCache::open(
            &format!("file://{}", dir.path().display()),
            &CacheOptions::default(),
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let query = || {
            rt.block_on(cache.query_closure(std::slice::from_ref(&top), &keys, &|_, _| {}))
                .unwrap()
        };
        // A trusted narinfo whose NAR is gone: Nix cannot substitute it.
        let report = query();
        assert_eq!(report.paths.len(), 2);
        assert!(
            matches!(&report.paths[&top], PathStatus::NarMissing { url, nar_size: 1 } if url == "nar/x.nar"),
            "{report:?}"
        );
        std::fs::create_dir(dir.path().join("nar")).unwrap();
        std::fs::create_dir(dir.path().join("nar/x.nar")).unwrap();
        assert!(!query().paths[&top].is_cached(), "a directory is no NAR");
        std::fs::remove_dir(dir.path().join("nar/x.nar")).unwrap();
        std::fs::write(dir.path().join("nar/x.nar"), "nar").unwrap();
        let report = query();
        assert!(report.paths[&top].is_cached());
        assert!(matches!(report.paths[&leaf], PathStatus::Missing));
        assert!(!report.all_cached());
        assert!(BinaryCache::open("s3://bucket", &CacheOptions::default()).is_err());
    }

    #[test]
    fn bearer_token_is_sent_and_never_shown() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            // With our token, a 403 is a refusal (an error), not the S3-style "missing".
            let reply = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            conn.write_all(reply).unwrap();
            String::from_utf8_lossy(&head).to_ascii_lowercase()
        });
        let opts = CacheOptions {
            bearer_token: Some(BearerToken("s3cr3t-token".into())),
            retries: 0,
            ..CacheOptions::default()
        };
        assert!(!format!("{opts:?}").contains("s3cr3t"));
        let cache = BinaryCache::open(&format!("http://{addr}"), &opts).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(cache.fetch_narinfo("51qyrlmf67x58ngw8087a6zci97llcwm"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("HTTP 403") && msg.contains("CACHIX_AUTH_TOKEN"),
            "{msg}"
        );
        assert!(!msg.contains("s3cr3t") && !format!("{err:?}").contains("s3cr3t"));
        let head = server.join().unwrap();
        assert!(
            head.contains("authorization: bearer s3cr3t-token"),
            "{head}"
        );
    }

    #[test]
    fn credentials_in_urls_are_never_shown() {
        assert_eq!(
            redact::url("https://user:pa55@cache.example/nix?x=1"),
            "https://<redacted>@cache.example/nix?x=<redacted>"
        );
        assert_eq!(
            redact::url("https://cache.example/a@b"),
            "https://cache.example/a@b"
        );
        let cache =
            BinaryCache::open("http://u:pa55@127.0.0.1:9", &CacheOptions::default()).unwrap();
        assert!(!cache.display_url().contains("pa55"));
        let err = BinaryCache::open("ftp://u:pa55@h/", &CacheOptions::default())
            .err()
            .unwrap();
        assert!(!err.to_string().contains("pa55"), "{err}");
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_narinfo_over_the_bound_is_an_error_and_is_not_read_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let hash = "51qyrlmf67x58ngw8087a6zci97llcwm";
        let opts = CacheOptions {
            max_file_bytes: 1000,
            retries: 0,
            ..CacheOptions::default()
        };
        std::fs::write(dir.path().join(format!("{hash}.narinfo")), vec![b'x'; 1001]).unwrap();
        let cache = BinaryCache::open(&format!("file://{}", dir.path().display()), &opts).unwrap();
        let err = runtime().block_on(cache.fetch_narinfo(hash)).unwrap_err();
        assert!(
            matches!(err, CacheError::TooLarge { limit: 1000, .. }),
            "{err}"
        );
        std::fs::write(dir.path().join(format!("{hash}.narinfo")), vec![b'x'; 1000]).unwrap();
        assert!(runtime().block_on(cache.fetch_narinfo(hash)).is_ok());

        // Over HTTP without a Content-Length (the body ends at EOF), reading stops at the
        // bound: the server sees its connection closed long before the end of its body.
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = [0u8; 1024];
            let _ = std::io::Read::read(&mut conn, &mut head).unwrap();
            conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .unwrap();
            let chunk = vec![b'x'; 64 << 10];
            let mut sent = 0usize;
            // 1 GiB unless the client hangs up.
            while sent < 1 << 30 && conn.write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let cache = BinaryCache::open(&format!("http://{addr}"), &opts).unwrap();
        let err = runtime().block_on(cache.fetch_narinfo(hash)).unwrap_err();
        assert!(matches!(err, CacheError::TooLarge { .. }), "{err}");
        drop(cache);
        let sent = server.join().unwrap();
        assert!(sent < 64 << 20, "the client read {sent} bytes");
    }

    #[test]
    fn a_closure_over_the_bound_is_an_error() {
        // A chain p0 -> p1 -> ... -> p9, every narinfo signed and every NAR present.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nar")).unwrap();
        std::fs::write(dir.path().join("nar/x.nar"), "nar").unwrap();
        let key = SecretKey::from_seed("k-1", [5; 32]);
        let keys = TrustedKeys::new([key.public()]);
        let paths: Vec<StorePath> = (0..10)
            .map(|i| {
                let digest = crate::nix::nix_hash::Sha256Hash::of(format!("p{i}").as_bytes());
                let hash = crate::nix::nix_base32::encode(&digest.0[..20]);
                format!("/nix/store/{hash}-p{i}").parse().unwrap()
            })
            .collect();
        for (i, p) in paths.iter().enumerate() {
            let mut info: NarInfo = info_text(&p.to_string(), None).parse().unwrap();
            info.references = paths.get(i + 1).cloned().into_iter().collect();
            key.sign_narinfo(&mut info);
            std::fs::write(
                dir.path().join(format!("{}.narinfo", p.hash_part())),
                info.to_text(),
            )
            .unwrap();
        }
        let url = format!("file://{}", dir.path().display());
        let walk = |max_closure_paths| {
            let opts = CacheOptions {
                max_closure_paths,
                ..CacheOptions::default()
            };
            let cache = BinaryCache::open(&url, &opts).unwrap();
            runtime().block_on(cache.query_closure(&paths[..1], &keys, &|_, _| {}))
        };
        assert!(walk(10).unwrap().all_cached());
        let err = walk(9).unwrap_err();
        assert!(
            matches!(err, CacheError::ClosureTooLarge { limit: 9, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("more than 9 paths"), "{err}");
    }
}
