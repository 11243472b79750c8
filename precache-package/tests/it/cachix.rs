//! The Cachix path, with a fake `cachix` on PATH: the one stand-in allowed, since Cachix
//! cannot be reached here. Like Cachix it stores what it is given, signed, where the read
//! URL serves it from; it also records its arguments and the token it received.

use std::process::Command;

use crate::http_server::CacheServer;
use crate::util::*;

const FAKE_CACHIX: &str = r#"#!/bin/sh
printf '%s\n' "$@" > "$FAKE_CACHIX_LOG"
printf '%s' "$CACHIX_AUTH_TOKEN" > "$FAKE_CACHIX_LOG.token"
[ "$1" = push ] || exit 64
shift 2
exec nix copy --to "file://$FAKE_CACHIX_DIR?secret-key=$FAKE_CACHIX_KEY" "$@"
"#;

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWNhY2hpeC10b2tlbg.do-not-print-me";

#[test]
fn cachix_push_gets_exactly_the_missing_paths_and_the_token_stays_secret() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let signed = SignedFileCache::new("testcache.cachix.org-1");
    let (tmp, key, cache) = (&signed.tmp, &signed.key, &signed.dir);
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("cachix"), FAKE_CACHIX).unwrap();
    set_mode(&bin.join("cachix"), 0o755);
    let log = tmp.path().join("cachix-args");

    // The leaf is already in the cache, signed: only a and b may be pushed.
    let mut seed = Command::new("nix");
    seed.args([
        "copy",
        "--to",
        &format!(
            "file://{}?secret-key={}",
            cache.display(),
            key.secret_file.display()
        ),
    ]);
    sh(
        &repo.dir,
        "nix",
        &[
            "build",
            "--no-link",
            &format!("{}#{}", repo.pinned(), repo.attr("c")),
        ],
    );
    seed.arg(repo.out_path("c"));
    run(seed, &repo.dir).expect_code(0);

    let server = CacheServer::serve(cache.clone());
    let cachix = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_precache-package"));
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("CACHIX_AUTH_TOKEN", TOKEN)
            .env("FAKE_CACHIX_LOG", &log)
            .env("FAKE_CACHIX_DIR", cache)
            .env("FAKE_CACHIX_KEY", &key.secret_file)
            .args([
                "--cache",
                "testcache",
                "--from",
                &server.url(),
                "--trusted-public-key",
                &key.public,
            ])
            .args(extra)
            .args([".", &repo.attr("a")]);
        run(cmd, &repo.dir)
    };

    let r = cachix(&[]);
    r.expect_code(0)
        .expect_contains("pushed 2 paths")
        .expect_lacks(TOKEN)
        .expect_lacks("c2VjcmV0LWNhY2hpeC10b2tlbg");
    let args = std::fs::read_to_string(&log).unwrap();
    let mut expected = vec![repo.out_path("a"), repo.out_path("b")];
    expected.sort();
    let mut pushed: Vec<String> = args.lines().skip(2).map(str::to_owned).collect();
    pushed.sort();
    assert_eq!(
        args.lines().take(2).collect::<Vec<_>>(),
        ["push", "testcache"],
        "{r}"
    );
    assert_eq!(pushed, expected, "exactly the missing paths\n{r}");
    assert_eq!(
        std::fs::read_to_string(log.with_extension("token")).unwrap(),
        TOKEN,
        "token reached cachix"
    );
    assert!(server.requests() > 0);
    assert_eq!(
        server.authorized_requests(),
        0,
        "the token is never sent to a --from URL"
    );

    std::fs::remove_file(&log).unwrap();
    let r = cachix(&["--json"]);
    r.expect_code(0)
        .expect_contains("\"status\": \"nothing-to-push\"")
        .expect_lacks(TOKEN);
    assert!(!log.exists(), "cachix not called when everything is cached");

    // A failing cachix is a push failure, and the token is still not shown.
    std::fs::write(
        bin.join("cachix"),
        "#!/bin/sh\necho \"cachix: unauthorized\" >&2\nexit 3\n",
    )
    .unwrap();
    let _ = std::fs::remove_file(signed.narinfo(&repo.out_path("a")));
    cachix(&[])
        .expect_code(6)
        .expect_contains("cachix push testcache")
        .expect_lacks(TOKEN);
}
