//! Closure-wide narinfo queries against a binary cache (HTTP(S) or a `file://` directory),
//! straight from the source: Nix's own narinfo cache keeps negative answers for an hour,
//! which is exactly the staleness a "will CI hit the cache?" check must not have.
//!
//! Answers are three-valued on purpose. 404 is *missing*; a 5xx, a timeout or a refused
//! connection is an *error* (never missing, which would trigger a pointless push, and never
//! cached, which would let CI rebuild).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
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
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            concurrency: 32,
            retries: 2,
            bearer_token: None,
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
        let mut attempt = 0;
        loop {
            match self.fetch_once(file).await {
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
        match &self.source {
            Source::Dir(dir) => {
                let path = dir.join(file);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok(Some(text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(CacheError::Io { path, source }),
                }
            }
            Source::Http {
                base,
                client,
                token,
            } => {
                let url = redact::url(&format!("{base}/{file}"));
                let full = format!("{base}/{file}");
                let http = |source: reqwest::Error| CacheError::Http {
                    url: url.clone(),
                    source: source.without_url(),
                };
                let mut request = client.get(&full);
                if let Some(BearerToken(t)) = token {
                    // reqwest marks the header sensitive, so it stays out of its Debug output.
                    request = request.bearer_auth(t);
                }
                let resp = request.send().await.map_err(http)?;
                let status = resp.status().as_u16();
                match status {
                    200..=299 => Ok(Some(resp.text().await.map_err(http)?)),
                    404 | 410 => Ok(None),
                    // Nix treats 403 like 404 (S3 answers 403 for a missing key without
                    // list rights); with our token it is a real refusal, so an error.
                    403 if token.is_none() => Ok(None),
                    _ => Err(CacheError::Status { url, status }),
                }
            }
        }
    }

    /// Queries `roots` and, through each narinfo's `References`, everything they reference,
    /// `concurrency` requests at a time. `progress(done, known)` is called after each answer.
    pub async fn query_closure(
        &self,
        roots: &[StorePath],
        keys: &TrustedKeys,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<ClosureReport, CacheError> {
        type Pending<'a> = Pin<
            Box<dyn Future<Output = (StorePath, Result<Option<String>, CacheError>)> + Send + 'a>,
        >;
        let mut seen: HashSet<StorePath> = HashSet::new();
        let mut queue: Vec<StorePath> = Vec::new();
        for r in roots {
            if seen.insert(r.clone()) {
                queue.push(r.clone());
            }
        }
        let mut in_flight: FuturesUnordered<Pending<'_>> = FuturesUnordered::new();
        let mut report = ClosureReport::default();
        loop {
            while in_flight.len() < self.concurrency {
                let Some(path) = queue.pop() else { break };
                in_flight.push(Box::pin(async move {
                    let r = self.fetch_narinfo(path.hash_part()).await;
                    (path, r)
                }));
            }
            let Some((path, result)) = in_flight.next().await else {
                break;
            };
            let status = classify(&path, result?, keys);
            if let PathStatus::Cached { info, .. } | PathStatus::Untrusted { info, .. } = &status {
                for r in &info.references {
                    if seen.insert(r.clone()) {
                        queue.push(r.clone());
                    }
                }
            }
            report.paths.insert(path, status);
            progress(report.paths.len(), seen.len());
        }
        Ok(report)
    }
}

fn classify(path: &StorePath, text: Option<String>, keys: &TrustedKeys) -> PathStatus {
    let Some(text) = text else {
        return PathStatus::Missing;
    };
    let info: NarInfo = match text.parse() {
        Ok(info) => info,
        Err(e) => {
            return PathStatus::Invalid {
                why: format!("unparseable narinfo: {e}"),
            }
        }
    };
    if info.store_path != *path {
        return PathStatus::Invalid {
            why: format!("narinfo is for {}, not this path", info.store_path),
        };
    }
    // Nix checks no signature on a path whose CA field recomputes to the path itself.
    if info.is_content_addressed() {
        return PathStatus::Cached {
            key: "(content-addressed)".to_owned(),
            info,
        };
    }
    match info.verified_by(keys) {
        Err(e) => PathStatus::Invalid { why: e.to_string() },
        Ok(Some(key)) => PathStatus::Cached {
            key: key.to_owned(),
            info,
        },
        Ok(None) => {
            let why = if info.sigs.is_empty() {
                "unsigned".to_owned()
            } else {
                let names: Vec<&str> = info
                    .sigs
                    .iter()
                    .map(|s| s.split(':').next().unwrap_or(""))
                    .collect();
                format!(
                    "no valid signature by a trusted key (signed by: {})",
                    names.join(", ")
                )
            };
            PathStatus::Untrusted { info, why }
        }
    }
}

/// What the cache holds for one store path, from a consumer's point of view.
#[derive(Clone, Debug)]
pub enum PathStatus {
    /// Present and signed by a trusted key: CI will substitute it.
    Cached { info: NarInfo, key: String },
    /// Present but CI would refuse it (unsigned, bad or untrusted signature).
    Untrusted { info: NarInfo, why: String },
    /// Present but unusable (unparseable, or for another path).
    Invalid { why: String },
    /// 404: not in the cache.
    Missing,
}

impl PathStatus {
    pub fn is_cached(&self) -> bool {
        matches!(self, PathStatus::Cached { .. })
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
            .map(|s| match s {
                PathStatus::Cached { info, .. } => info.nar_size,
                _ => 0,
            })
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
        assert!(classify(&p, Some(text), &keys).is_cached());
        assert!(matches!(classify(&p, None, &keys), PathStatus::Missing));
        let unsigned = classify(&p, Some(info_text(&p.to_string(), None)), &keys);
        assert!(matches!(&unsigned, PathStatus::Untrusted { why, .. } if why == "unsigned"));
        // A validly signed narinfo served under the wrong name is not this path.
        let wrong = classify(&p, Some(info_text(other, Some(&key))), &keys);
        assert!(matches!(wrong, PathStatus::Invalid { .. }));
        assert!(matches!(
            classify(&p, Some("junk".into()), &keys),
            PathStatus::Invalid { .. }
        ));
        // Unsigned but content-addressed (from `nix store add-path`, Nix 2.8): Nix takes it.
        let ca: StorePath = "/nix/store/79b2q98ig99qdajc52vsnilr0b68blpd-ca-dir"
            .parse()
            .unwrap();
        let ca_text = format!(
            "StorePath: {ca}\nURL: nar/x.nar\nNarHash: sha256:1465h6w25vw0aiq98j9qmh04b5842c22546b0d2y7b6yzhjfa5gi\nNarSize: 296\nReferences: \nCA: fixed:r:sha256:1465h6w25vw0aiq98j9qmh04b5842c22546b0d2y7b6yzhjfa5gi\n"
        );
        assert!(classify(&ca, Some(ca_text.clone()), &keys).is_cached());
        let bogus = ca_text.replace("CA: fixed:r:", "CA: fixed:");
        assert!(!classify(&ca, Some(bogus), &keys).is_cached());
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
        let report = rt
            .block_on(cache.query_closure(std::slice::from_ref(&top), &keys, &|_, _| {}))
            .unwrap();
        assert_eq!(report.paths.len(), 2);
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
}
