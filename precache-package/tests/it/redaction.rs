//! Secrets in the cache URL (`--from …?token=…`) never reach the output, human or JSON.

use crate::http_server::CacheServer;
use crate::util::*;

#[test]
fn a_token_in_the_from_url_is_never_shown() {
    if !have_nix_and_git() {
        return;
    }
    let cache = SignedFileCache::new("test-redact-1");
    let repo = FlakeRepo::new();
    cache.push(&repo, "a").expect_code(0);
    let server = CacheServer::serve(cache.dir.clone());
    let from = format!("{}?token=s3cr3t", server.url());
    let attr = repo.attr("a");
    for extra in [None, Some("--json")] {
        let mut args = vec!["--check"];
        args.extend(extra);
        let public = cache.key.public.as_str();
        args.extend(["--from", &from, "--trusted-public-key", public, ".", &attr]);
        precache(&repo.dir, &args)
            .expect_code(0)
            .expect_contains("token=<redacted>")
            .expect_lacks("s3cr3t");
    }
}
