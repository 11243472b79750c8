//! Downloading tarballs into the cache: parallel, bounded, retried, verified.
//!
//! Each download streams into a temp file in the cache while being hashed; only a body
//! that arrived whole, within the size bound, and matches its integrity is committed.
//! Timeouts, connection errors, truncated bodies, 5xx, 408 and 429 are retried with
//! exponential backoff (capped, and never shorter than a `Retry-After` asks within that
//! cap); other statuses, redirect loops, oversized bodies and integrity mismatches are
//! final. Each download, retries included, has one overall deadline. Every failure names
//! the lockfile entry and the URL, redacted ([`crate::redact`]).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::{stream, StreamExt};
use thiserror::Error;

use crate::fetch::integrity::{Hasher, Integrity};
use crate::fetch::retry_after;
use crate::fetch::tarball_cache::{CacheError, Hit, TarballCache};
use crate::redact;

#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Downloads in flight at once.
    pub jobs: usize,
    /// Attempts after the first, for retryable failures.
    pub retries: u32,
    pub connect_timeout: Duration,
    /// Longest silence while reading a response before it counts as a timeout.
    pub read_timeout: Duration,
    /// First delay between attempts; doubles each time.
    pub backoff: Duration,
    /// Longest delay between attempts, whatever the doubling or a `Retry-After` asks.
    pub max_backoff: Duration,
    /// Longest one download may take, from its first request to its last byte, retries
    /// and waits included: a body trickling in under `read_timeout` still ends here.
    pub deadline: Duration,
    /// Largest body accepted; a `Content-Length` above it fails before reading, a body
    /// growing past it stops there.
    pub max_bytes: u64,
    pub mirrors: Vec<Mirror>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            jobs: 64,
            retries: 4,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            deadline: Duration::from_secs(600),
            max_bytes: 1 << 30,
            mirrors: Vec::new(),
        }
    }
}

/// Fetch URLs starting with `from` from `to` instead: a registry mirror or proxy. The
/// file name (and so the hash) still derives from the URL in the lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub from: String,
    pub to: String,
}

impl Mirror {
    /// Parses `FROM=TO`.
    pub fn parse(spec: &str) -> Option<Self> {
        let (from, to) = spec.split_once('=')?;
        (!from.is_empty() && !to.is_empty()).then(|| Self {
            from: from.to_owned(),
            to: to.to_owned(),
        })
    }

    fn rewrite(mirrors: &[Mirror], url: &str) -> String {
        mirrors
            .iter()
            .find_map(|m| {
                url.strip_prefix(&m.from)
                    .map(|rest| format!("{}{rest}", m.to))
            })
            .unwrap_or_else(|| url.to_owned())
    }
}

/// One download to do.
#[derive(Debug, Clone)]
pub struct TarballRequest {
    /// The lockfile entry, for messages.
    pub key: String,
    pub url: String,
    pub integrity: Option<Integrity>,
    /// Further digests the body must match, of other algorithms than `integrity`'s:
    /// upstream checks each lockfile entry pinning this URL against its own digest.
    pub also_verify: Vec<Integrity>,
    pub cache_key: String,
}

/// Progress callbacks, so presentation stays in the binaries.
pub trait FetchProgress: Send + Sync {
    /// Called once, before the first download, with how many there will be.
    fn start(&self, _files: usize) {}
    fn bytes(&self, _n: u64) {}
    fn file_done(&self) {}
    /// Attempt `attempt` (counting from 1 for the first retry) starts after `delay`.
    /// `url` is already redacted.
    fn retrying(&self, _url: &str, _attempt: u32, _reason: &str, _delay: Duration) {}
    /// The long work after the downloads (the pnpm store's two passes) has begun: `what`
    /// replaces the download figures.
    fn stage(&self, _what: &str) {}
}

pub struct NoProgress;
impl FetchProgress for NoProgress {}

/// One download's failure. Messages show `key` and `url` redacted; the fields keep them
/// as written.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error("{}: {} answered HTTP {status}", redact::text(key), redact::url(url))]
    Status {
        key: String,
        url: String,
        status: u16,
    },
    #[error("{}: {} does not match the lockfile's integrity: expected {expected}, got {actual}. The registry served different bytes; if the lockfile is right, report it to the registry, else re-run `yarn install`", redact::text(key), redact::url(url))]
    Integrity {
        key: String,
        url: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{}: {}: {message} (gave up after {attempts} attempts)",
        redact::text(key),
        redact::url(url)
    )]
    Transport {
        key: String,
        url: String,
        message: String,
        attempts: u32,
    },
    #[error(
        "{}: {}: {why}; fix the URL in the lockfile or the registry's redirects",
        redact::text(key),
        redact::url(url)
    )]
    Redirects {
        key: String,
        url: String,
        why: String,
    },
    #[error("{}: {} is larger than {limit} bytes{}, the bound for one tarball; if it really is that big, raise the bound (--max-tarball-size)", redact::text(key), redact::url(url), announced.map(|n| format!(" (Content-Length: {n})")).unwrap_or_default())]
    TooLarge {
        key: String,
        url: String,
        limit: u64,
        /// The size the server announced, when it announced one.
        announced: Option<u64>,
    },
    #[error("{}: {}: not done after {} s, the deadline for one download, retries included; retry on a faster network or raise it (--deadline)", redact::text(key), redact::url(url), secs.as_secs())]
    Deadline {
        key: String,
        url: String,
        secs: Duration,
    },
    #[error(
        "{}: {} is not a URL that can be fetched: {message}",
        redact::text(key),
        redact::url(url)
    )]
    BadUrl {
        key: String,
        url: String,
        message: String,
    },
    #[error("{}: writing to the tarball cache: {error}", redact::text(key))]
    Cache { key: String, error: CacheError },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DownloadStats {
    pub files: usize,
    pub bytes: u64,
}

/// Downloads every request into the cache. Returns every failure, not just the first,
/// so one run shows everything that is wrong.
pub fn download_all(
    requests: Vec<TarballRequest>,
    cache: &TarballCache,
    opts: &FetchOptions,
    progress: Arc<dyn FetchProgress>,
) -> Result<DownloadStats, Vec<FetchError>> {
    download_all_notify(requests, cache, opts, progress, &|_, _| {})
}

/// [`download_all`], calling `ready(i, hit)` as soon as request `i` is in the cache,
/// verified (from a download thread; the entry is stamped only when all are done), so
/// the caller can start on it while the rest download.
pub fn download_all_notify(
    requests: Vec<TarballRequest>,
    cache: &TarballCache,
    opts: &FetchOptions,
    progress: Arc<dyn FetchProgress>,
    ready: &(dyn Fn(usize, &Hit) + Sync),
) -> Result<DownloadStats, Vec<FetchError>> {
    if requests.is_empty() {
        return Ok(DownloadStats::default());
    }
    progress.start(requests.len());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| vec![transport_error(&requests[0], e.to_string(), 0)])?;
    let result = runtime.block_on(download_all_async(requests, cache, opts, progress, ready));
    // Every task of ours was awaited; what may linger is the resolver's blocking
    // thread, and a plain drop waits for it (seconds, measured).
    runtime.shutdown_background();
    let (stats, hits, mut errors) = result?;
    // Durable and stamped in one batch, failed run or not: an fsync per entry was most
    // of a cold run's system time. Until then the entries are unstamped, so a crash
    // costs a re-verify, never a wrong byte.
    if let Err(error) = cache.seal(&hits) {
        errors.push(FetchError::Cache {
            key: "(sealing the tarball cache)".to_owned(),
            error,
        });
    }
    if errors.is_empty() {
        Ok(stats)
    } else {
        Err(errors)
    }
}

type Downloaded = (DownloadStats, Vec<Hit>, Vec<FetchError>);

async fn download_all_async(
    requests: Vec<TarballRequest>,
    cache: &TarballCache,
    opts: &FetchOptions,
    progress: Arc<dyn FetchProgress>,
    ready: &(dyn Fn(usize, &Hit) + Sync),
) -> Result<Downloaded, Vec<FetchError>> {
    let client = reqwest::Client::builder()
        .redirect(upstream_redirects())
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.read_timeout)
        .pool_max_idle_per_host(opts.jobs)
        .user_agent(concat!("update-yarn-hash/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| vec![transport_error(&requests[0], e.to_string(), 0)])?;
    let results: Vec<Result<(u64, Hit), FetchError>> =
        stream::iter(requests.into_iter().enumerate())
            .map(|(i, req)| {
                let client = client.clone();
                let progress = progress.clone();
                async move {
                    let done = download_one(&client, &req, cache, opts, progress.as_ref()).await;
                    if let Ok((_, hit)) = &done {
                        ready(i, hit);
                    }
                    done
                }
            })
            .buffer_unordered(opts.jobs.max(1))
            .collect()
            .await;
    let mut stats = DownloadStats::default();
    let mut hits = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok((bytes, hit)) => {
                stats.files += 1;
                stats.bytes += bytes;
                hits.push(hit);
            }
            Err(e) => errors.push(e),
        }
    }
    Ok((stats, hits, errors))
}

/// prefetch-yarn-deps follows 301 and 302 only, at most 10 times; any other 3xx body
/// would be hashed as the tarball (and fail), so here it is a final error instead. A
/// redirect back to a URL already visited is a loop: no later attempt can end it.
fn upstream_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let followable = matches!(attempt.status().as_u16(), 301 | 302);
        if !followable {
            attempt.stop()
        } else if attempt.previous().contains(attempt.url()) {
            let to = redact::url(attempt.url().as_str());
            attempt.error(format!("redirect loop: redirected back to {to}"))
        } else if attempt.previous().len() > 10 {
            let to = redact::url(attempt.url().as_str());
            attempt.error(format!(
                "too many redirects: more than 10, the last to {to}"
            ))
        } else {
            attempt.follow()
        }
    })
}

/// Why one attempt failed, and whether another could succeed.
enum Attempt {
    Retry {
        reason: String,
        /// What the server's `Retry-After` asked for.
        after: Option<Duration>,
    },
    Fatal(FetchError),
}

impl Attempt {
    fn retry(reason: String) -> Self {
        Self::Retry {
            reason,
            after: None,
        }
    }
}

async fn download_one(
    client: &reqwest::Client,
    req: &TarballRequest,
    cache: &TarballCache,
    opts: &FetchOptions,
    progress: &dyn FetchProgress,
) -> Result<(u64, Hit), FetchError> {
    let url = Mirror::rewrite(&opts.mirrors, &req.url);
    let deadline = tokio::time::Instant::now() + opts.deadline;
    let mut attempt = 0;
    loop {
        let tried = attempt_download(client, req, &url, cache, opts, progress);
        let outcome = match tokio::time::timeout_at(deadline, tried).await {
            Ok(outcome) => outcome,
            Err(_) => return Err(deadline_error(req, &url, opts)),
        };
        let (reason, after) = match outcome {
            Ok(done) => {
                progress.file_done();
                return Ok(done);
            }
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Retry { reason, after }) => (reason, after),
        };
        let gave_up = |message: String| FetchError::Transport {
            key: req.key.clone(),
            url: url.clone(),
            message,
            attempts: attempt + 1,
        };
        if attempt >= opts.retries {
            return Err(gave_up(reason));
        }
        let delay = retry_delay(opts, attempt, after);
        if tokio::time::Instant::now() + delay >= deadline {
            return Err(gave_up(format!(
                "{reason}; the next attempt, after {:.1} s, would start past the {} s deadline",
                delay.as_secs_f64(),
                opts.deadline.as_secs()
            )));
        }
        attempt += 1;
        progress.retrying(&redact::url(&url), attempt, &reason, delay);
        tokio::time::sleep(delay).await;
    }
}

/// The wait before retry `attempt + 1`: the backoff doubling from `opts.backoff`, at
/// least what `Retry-After` asked, and never more than `opts.max_backoff`.
fn retry_delay(opts: &FetchOptions, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let doubled = opts
        .backoff
        .checked_mul(2u32.saturating_pow(attempt))
        .unwrap_or(Duration::MAX);
    doubled
        .max(retry_after.unwrap_or_default())
        .min(opts.max_backoff)
}

fn deadline_error(req: &TarballRequest, url: &str, opts: &FetchOptions) -> FetchError {
    FetchError::Deadline {
        key: req.key.clone(),
        url: url.to_owned(),
        secs: opts.deadline,
    }
}

async fn attempt_download(
    client: &reqwest::Client,
    req: &TarballRequest,
    url: &str,
    cache: &TarballCache,
    opts: &FetchOptions,
    progress: &dyn FetchProgress,
) -> Result<(u64, Hit), Attempt> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| send_error(req, url, &e))?;
    let status = response.status();
    if !status.is_success() {
        let retryable = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
        return Err(if retryable {
            Attempt::Retry {
                reason: format!("HTTP {status}"),
                after: response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after::parse(v, SystemTime::now())),
            }
        } else {
            Attempt::Fatal(FetchError::Status {
                key: req.key.clone(),
                url: url.to_owned(),
                status: status.as_u16(),
            })
        });
    }
    let too_large = |announced| {
        Attempt::Fatal(FetchError::TooLarge {
            key: req.key.clone(),
            url: url.to_owned(),
            limit: opts.max_bytes,
            announced,
        })
    };
    if let Some(n) = response.content_length().filter(|&n| n > opts.max_bytes) {
        return Err(too_large(Some(n)));
    }
    let cache_err = |error| {
        Attempt::Fatal(FetchError::Cache {
            key: req.key.clone(),
            error,
        })
    };
    let mut tmp = cache.temp_file(&req.cache_key).map_err(cache_err)?;
    let mut hasher = req.integrity.as_ref().map(|i| Hasher::new(i.algorithm));
    let mut also: Vec<Hasher> = req
        .also_verify
        .iter()
        .map(|i| Hasher::new(i.algorithm))
        .collect();
    let mut len = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Attempt::retry(describe(&e)))?
    {
        if len + chunk.len() as u64 > opts.max_bytes {
            return Err(too_large(None));
        }
        tmp.write_all(&chunk).map_err(|error| {
            cache_err(CacheError {
                path: tmp.path().to_owned(),
                error,
            })
        })?;
        if let Some(h) = &mut hasher {
            h.update(&chunk);
        }
        for h in &mut also {
            h.update(&chunk);
        }
        len += chunk.len() as u64;
        progress.bytes(chunk.len() as u64);
    }
    for (integrity, hasher) in req.also_verify.iter().zip(also) {
        check_digest(req, url, integrity, hasher.finish())?;
    }
    if let (Some(integrity), Some(hasher)) = (&req.integrity, hasher) {
        check_digest(req, url, integrity, hasher.finish())?;
    }
    // Renamed in unsynced; `download_all` seals every entry in one batch at the end.
    let hit = cache.commit(tmp, &req.cache_key).map_err(cache_err)?;
    Ok((len, hit))
}

fn check_digest(
    req: &TarballRequest,
    url: &str,
    integrity: &Integrity,
    digest: Vec<u8>,
) -> Result<(), Attempt> {
    if integrity.matches(integrity.algorithm, &digest) {
        return Ok(());
    }
    Err(Attempt::Fatal(FetchError::Integrity {
        key: req.key.clone(),
        url: url.to_owned(),
        expected: integrity.to_string(),
        actual: Integrity {
            algorithm: integrity.algorithm,
            digest,
        }
        .to_string(),
    }))
}

/// A request that could not be sent: a redirect loop or a URL that cannot be fetched
/// is final; anything else (connection, timeout) may pass on another attempt.
fn send_error(req: &TarballRequest, url: &str, e: &reqwest::Error) -> Attempt {
    let fatal = |e: FetchError| Attempt::Fatal(e);
    if e.is_redirect() {
        let why = std::error::Error::source(e)
            .map(ToString::to_string)
            .unwrap_or_else(|| "too many redirects".to_owned());
        return fatal(FetchError::Redirects {
            key: req.key.clone(),
            url: url.to_owned(),
            why,
        });
    }
    if e.is_builder() {
        return fatal(FetchError::BadUrl {
            key: req.key.clone(),
            url: url.to_owned(),
            message: describe(e),
        });
    }
    Attempt::retry(describe(e))
}

/// reqwest's Display hides the cause ("error sending request"); show the chain. It
/// also names the URL, credentials and all, so the text is redacted.
fn describe(e: &reqwest::Error) -> String {
    let mut message = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    redact::text(&message)
}

fn transport_error(req: &TarballRequest, message: String, attempts: u32) -> FetchError {
    FetchError::Transport {
        key: req.key.clone(),
        url: req.url.clone(),
        message,
        attempts,
    }
}

/// Missing or failed downloads for an error message, one indented line each: the first 20,
/// then how many more (a lockfile can miss thousands; the message must stay readable).
pub fn listing(items: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut out: Vec<String> = items.iter().take(SHOWN).map(|i| format!("  {i}")).collect();
    if items.len() > SHOWN {
        out.push(format!("  … and {} more", items.len() - SHOWN));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_rewrite_the_first_matching_prefix() {
        let mirrors = vec![
            Mirror::parse("https://registry.yarnpkg.com/=http://127.0.0.1:9/").unwrap(),
            Mirror::parse("https://registry.yarnpkg.com/=http://unused/").unwrap(),
        ];
        assert_eq!(
            Mirror::rewrite(&mirrors, "https://registry.yarnpkg.com/a/-/a-1.tgz"),
            "http://127.0.0.1:9/a/-/a-1.tgz"
        );
        assert_eq!(
            Mirror::rewrite(&mirrors, "https://other/x"),
            "https://other/x"
        );
        assert_eq!(Mirror::parse("no-equals"), None);
        assert_eq!(Mirror::parse("=x"), None);
    }
}
