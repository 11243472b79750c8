//! Command-line surface: arguments, help text and the documented exit codes.

use std::path::PathBuf;

use clap::Parser;

// Every line at most 80 columns, so clap (which wraps at the terminal, 100 without one)
// never breaks one and a continuation never starts at column 0.
pub const AFTER_HELP: &str = "\
How it decides what is cached:
  The output path is evaluated (no build), then `<hash>.narinfo` is fetched for
  it and, through `References`, for its whole runtime closure, straight from the
  cache (Nix's own narinfo cache, which remembers misses for an hour, is
  bypassed). A path counts as cached only if one of its signatures verifies
  against a trusted public key, or (as for Nix) its CA field recomputes to the
  path itself: CI would refuse the rest. It must also have its NAR (the
  narinfo's URL; a HEAD request, or a stat for file://, in the same parallel
  walk): without it Nix cannot substitute the path. A 404 (or, as for Nix, a 403
  when no token is sent) is `missing`; a 5xx, a 429 after retries, a timeout, a
  refused connection, or a URL without `nix-cache-info` (not a cache, or one for
  another store dir) is an error (exit 7). Narinfos Nix would call corrupt, and
  malformed signatures by a trusted key, count as not cached. A narinfo over
  1 MiB, or a closure of more than --max-closure-paths paths, is a cache error
  (exit 7).

Trusted public keys, first source that applies:
  1. every --trusted-public-key
  2. the trusted-public-keys of your Nix configuration, plus the flake's
     nixConfig (extra-)trusted-public-keys only if that configuration has
     accept-flake-config = true (otherwise Nix ignores them and so do we, with a
     warning)
  In CI, pass --trusted-public-key for every key CI's nix.conf trusts: your
  local configuration is not CI's. When pushing with --sign-key, that key's
  public half is trusted too (it is what the pushed paths are signed with), with
  a warning before anything is built if it is not among the keys above.

Exit codes:
  0  everything is cached (or was pushed and verified)
  1  --check only: some closure path is not cached (not validly signed, or its
     NAR is gone)
  2  bad usage or input: not a git repository, uncommitted changes, no trusted
     key, unreadable --sign-key (or one named like a different trusted key),
     missing cache target, bad --cache name, unsupported `--` arg
  3  `nix` (or `cachix` for --cache) is not installed
  4  evaluation failed (Nix's message is shown; a missing output lists the
     available ones)
  5  `nix build` failed
  6  push failed, or the cache still does not serve validly signed paths after
     the push, or a push without --sign-key refused before copying paths no
     trusted key signed
  7  the cache could not be queried (HTTP 5xx, timeout, unreachable, unreadable
     directory, no nix-cache-info, a narinfo over 1 MiB, a closure over
     --max-closure-paths)

Examples:
  precache-package --cache mycache . packages.x86_64-linux.default
  precache-package --check --from https://mycache.cachix.org \\
      --trusted-public-key mycache.cachix.org-1:AAAA... \\
      . packages.x86_64-linux.default
  precache-package --to 'file:///srv/cache' --sign-key ./cache.sec \\
      . dockerImage -- --max-jobs 2

Secrets: CACHIX_AUTH_TOKEN is handed to `cachix` through the environment, and
sent as a bearer token only to https://NAME.cachix.org (so private caches can be
checked), never to a --from URL; the signing key is passed to Nix by file name.
Neither is ever printed.";

/// Build a flake output once, push its whole closure to a binary cache, and check that CI
/// will substitute every path of it instead of rebuilding.
#[derive(Debug, Parser)]
#[command(name = "precache-package", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Flake reference: `.`, a path, `git+file://PATH` and `path:PATH` are pinned to
    /// `git+file://ROOT?rev=<HEAD>`; `github:owner/repo/rev` and other refs pass through.
    pub flake_ref: String,

    /// Flake output attribute, e.g. `packages.aarch64-linux.dockerImage`.
    pub output: String,

    /// Extra arguments for `nix build` (after `--`). Those that change evaluation
    /// (--override-input, --impure, --arg, --argstr, --option, --extra-*, lock-file flags)
    /// are passed to `nix eval` too, so --check looks at the path `nix build` builds;
    /// build-only ones (--max-jobs, --cores, -L, --keep-going, ...) only to `nix build`;
    /// anything else is refused (exit 2).
    #[arg(last = true, value_name = "NIX_BUILD_ARGS")]
    pub nix_build_args: Vec<String>,

    /// Cachix cache name: reads https://NAME.cachix.org, pushes with `cachix push NAME`.
    #[arg(long, env = "CACHIX_CACHE", value_name = "NAME", conflicts_with = "to")]
    pub cache: Option<String>,

    /// Any Nix store URL to push to with `nix copy --to` (file://, s3://, http(s)://, ssh://).
    #[arg(long, value_name = "STORE_URL")]
    pub to: Option<String>,

    /// URL to check instead of the push target (http(s):// or file://).
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,

    /// Secret key file (from `nix key generate-secret`) to sign paths pushed with --to; paths
    /// the cache already holds without a trusted signature are signed in place.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,

    /// Public key (`name:base64`) whose signatures CI trusts; repeatable.
    #[arg(long = "trusted-public-key", value_name = "KEY")]
    pub trusted_public_keys: Vec<String>,

    /// Only check: exit 0 if the whole closure is cached, 1 if not. Builds nothing.
    #[arg(long)]
    pub check: bool,

    /// Also push the build-time closure (inputs of the derivation), so rebuilding a sibling
    /// output in CI is cheap. Needs a build; --check covers the runtime closure only.
    #[arg(long)]
    pub include_build_deps: bool,

    /// Use the working tree even if tracked files have uncommitted changes (CI will never ask
    /// for what this builds unless you commit exactly this).
    #[arg(long)]
    pub allow_uncommitted: bool,

    /// Print one JSON object on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,

    /// Narinfo requests in flight at once.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub jobs: usize,

    /// Seconds before one narinfo request counts as failed.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,

    /// A closure with more paths than this is a cache error (exit 7): a broken or hostile
    /// cache whose narinfos keep referencing new paths is not walked forever.
    #[arg(long, default_value_t = common::binary_cache::DEFAULT_MAX_CLOSURE_PATHS, value_name = "N")]
    pub max_closure_paths: usize,
}
