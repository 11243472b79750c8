//! Getting tarball bytes, for every ecosystem: expected digests, the content-addressed
//! cache shared by all lockfiles, and the parallel, retried, verified downloader.

pub mod cache_temp;
pub mod integrity;
pub mod nar_memo;
pub mod progress_bar;
pub mod retry_after;
pub mod tarball_cache;
pub mod tarball_fetch;
