//! `--check`: "cached" only when every closure path is present with a valid trusted signature.

use common::binary_cache::narinfo::SecretKey;
use common::binary_cache::store_path::StorePath;

use crate::http_server::CacheServer;
use crate::signed_narinfo::{new_cache_dir, write_signed, Nar};
use crate::util::*;

/// Builds `a` and pushes its closure (a, b, c) signed to `cache`.
fn pushed_repo(cache: &SignedFileCache) -> FlakeRepo {
    let repo = FlakeRepo::new();
    cache.push(&repo, "a").expect_code(0);
    repo
}

fn check(repo: &FlakeRepo, from: &str, public: &str) -> Run {
    check_with(repo, &[], from, public)
}

/// `--check <extra> --from FROM --trusted-public-key PUBLIC . <a's attr>`.
fn check_with(repo: &FlakeRepo, extra: &[&str], from: &str, public: &str) -> Run {
    let attr = repo.attr("a");
    let mut args = vec!["--check"];
    args.extend_from_slice(extra);
    args.extend(["--from", from, "--trusted-public-key", public, ".", &attr]);
    precache(&repo.dir, &args)
}

#[test]
fn missing_leaf_tampered_narinfo_and_untrusted_key_are_not_cached() {
    if !have_nix_and_git() {
        return;
    }
    let cache = SignedFileCache::new("test-check-1");
    let key = &cache.key;
    let repo = pushed_repo(&cache);
    let from = &cache.url;
    check(&repo, from, &key.public)
        .expect_code(0)
        .expect_contains("cached: all 3 paths");

    // Missing leaf.
    let leaf = cache.narinfo(&repo.out_path("c"));
    let saved = std::fs::read_to_string(&leaf).unwrap();
    std::fs::remove_file(&leaf).unwrap();
    check(&repo, from, &key.public)
        .expect_code(1)
        .expect_contains("not cached: 1 of 3 paths")
        .expect_contains(&format!("{}  (not in the cache)", repo.out_path("c")));
    std::fs::write(&leaf, &saved).unwrap();

    // Tampered narinfo: the signature no longer covers what it says.
    let mid = cache.narinfo(&repo.out_path("b"));
    let original = std::fs::read_to_string(&mid).unwrap();
    let size_line = original
        .lines()
        .find(|l| l.starts_with("NarSize:"))
        .unwrap();
    let size: u64 = size_line["NarSize:".len()..].trim().parse().unwrap();
    std::fs::write(
        &mid,
        original.replace(size_line, &format!("NarSize: {}", size + 1)),
    )
    .unwrap();
    check(&repo, from, &key.public)
        .expect_code(1)
        .expect_contains(&repo.out_path("b"))
        .expect_contains("no valid signature by a trusted key (signed by: test-check-1)");
    std::fs::write(&mid, &original).unwrap();
    check(&repo, from, &key.public).expect_code(0);

    // A valid signature by a key CI does not trust counts for nothing.
    let other = make_key(cache.tmp.path(), "test-check-other");
    check(&repo, from, &other.public)
        .expect_code(1)
        .expect_contains("not cached: 3 of 3 paths");
    // Same name, different key material: still untrusted.
    let impostor = make_key(cache.tmp.path(), "test-check-1");
    check(&repo, from, &impostor.public).expect_code(1);
}

#[test]
fn http_404_is_missing_but_500_is_an_error() {
    if !have_nix_and_git() {
        return;
    }
    let cache = SignedFileCache::new("test-http-1");
    let key = &cache.key;
    let repo = pushed_repo(&cache);
    let server = CacheServer::serve(cache.dir.clone());
    check(&repo, &server.url(), &key.public)
        .expect_code(0)
        .expect_contains("cached: all 3 paths");
    assert!(server.requests() >= 3, "answers came from the server");

    let leaf = format!("{}.narinfo", hash_of(&repo.out_path("c")));
    server.set_status(&leaf, 404);
    check(&repo, &server.url(), &key.public)
        .expect_code(1)
        .expect_contains("not in the cache");

    server.set_status(&leaf, 500);
    let r = check(&repo, &server.url(), &key.public);
    r.expect_code(7)
        .expect_contains("HTTP 500")
        .expect_lacks("not cached");
    assert!(
        r.stdout().is_empty(),
        "no verdict is printed on a query error\n{r}"
    );

    // A cache that never answers: an error after --timeout, never "missing".
    server.set_status(&leaf, 0);
    let r = check_with(&repo, &["--timeout", "1"], &server.url(), &key.public);
    r.expect_code(7)
        .expect_contains("timed out")
        .expect_lacks("not cached");

    // Unreachable cache: also an error, never "missing".
    drop(server);
    check(&repo, "http://127.0.0.1:9", &key.public)
        .expect_code(7)
        .expect_lacks("not cached");
}

#[test]
fn check_walks_references_in_the_cache_without_building() {
    if !have_nix_and_git() {
        return;
    }
    // The output is never built: its closure is known only from the cache's References.
    let repo = FlakeRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    new_cache_dir(&cache);
    let key = SecretKey::from_seed("walk-1", [9; 32]);
    let out: StorePath = repo.out_path("a").parse().unwrap();
    let dep1: StorePath = "/nix/store/00000000000000000000000000000001-dep1"
        .parse()
        .unwrap();
    let dep2: StorePath = "/nix/store/00000000000000000000000000000002-dep2"
        .parse()
        .unwrap();
    let nar = Nar {
        compression: "none",
        file_size: 100,
        size: 100,
    };
    write_signed(&cache, &key, &out, vec![dep1.clone()], nar);
    write_signed(&cache, &key, &dep1, vec![dep2.clone()], nar);
    write_signed(&cache, &key, &dep2, vec![], nar);
    let server = CacheServer::serve(cache.clone());
    let public = key.public().to_string();
    let r = check(&repo, &server.url(), &public);
    r.expect_code(0).expect_contains("cached: all 3 paths");
    assert!(repo.builds().is_empty(), "--check built nothing\n{r}");

    std::fs::remove_file(cache.join(format!("{}.narinfo", dep2.hash_part()))).unwrap();
    check(&repo, &server.url(), &public)
        .expect_code(1)
        .expect_contains(&format!("{dep2}  (not in the cache)"))
        .expect_contains("not cached: 1 of 3 paths")
        .expect_contains(&format!("missing from {} (size unknown)\n", server.url()))
        .expect_lacks("for the 0")
        .expect_contains("unknown until they are built");
}

/// What real Nix says when asked for `path` from `cache_url`: `true` if it accepts the narinfo.
fn nix_accepts(repo: &FlakeRepo, cache_url: &str, path: &str, public: &str) -> bool {
    let mut cmd = std::process::Command::new("nix");
    cmd.args(["path-info", "--store", cache_url, "--json", path]);
    let cfg = format!("{NIX_CONFIG}\ntrusted-public-keys = {public}");
    cmd.env("NIX_CONFIG", cfg);
    run(cmd, &repo.dir).code() == 0
}

#[test]
fn narinfos_nix_calls_corrupt_and_malformed_trusted_sigs_are_invalid() {
    if !have_nix_and_git() {
        return;
    }
    let cache = SignedFileCache::new("test-corrupt-1");
    let key = &cache.key;
    let repo = pushed_repo(&cache);
    let from = &cache.url;
    let b = repo.out_path("b");
    let mid = cache.narinfo(&b);
    let original = std::fs::read_to_string(&mid).unwrap();
    let key_name = "test-corrupt-1:";
    let corrupt = [
        ("CRLF", original.replace('\n', "\r\n")),
        ("no final newline", original.trim_end().to_owned()),
        ("no URL", original.replace("URL: ", "X-URL: ")),
        (
            "References twice",
            original.replace(
                "NarSize:",
                &format!(
                    "References: {}\nNarSize:",
                    repo.out_path("c").rsplit('/').next().unwrap()
                ),
            ),
        ),
        (
            "malformed Sig under the trusted name",
            format!("{original}Sig: {key_name}AAAA\n"),
        ),
    ];
    for (what, text) in corrupt {
        std::fs::write(&mid, &text).unwrap();
        assert!(
            !nix_accepts(&repo, from, &b, &key.public) || what.contains("Sig"),
            "Nix accepts the {what} narinfo"
        );
        check(&repo, from, &key.public)
            .expect_code(1)
            .expect_contains(&b)
            .expect_lacks("cached: all");
    }
    std::fs::write(&mid, &original).unwrap();
    assert!(nix_accepts(&repo, from, &b, &key.public));
    check(&repo, from, &key.public).expect_code(0);
}

#[test]
fn only_the_first_trusted_key_of_a_name_counts() {
    if !have_nix_and_git() {
        return;
    }
    let cache = SignedFileCache::new("test-dup-1");
    let repo = pushed_repo(&cache);
    let impostor = make_key(cache.tmp.path(), "test-dup-1");
    let attr = repo.attr("a");
    let args = |first: &str, second: &str| {
        let v: Vec<String> = [
            "--check",
            "--from",
            &cache.url,
            "--trusted-public-key",
            first,
        ]
        .into_iter()
        .chain(["--trusted-public-key", second, ".", &attr])
        .map(str::to_owned)
        .collect();
        v
    };
    // Nix keeps the first key of a name (std::map::emplace); the real one, second, is ignored.
    let a = args(&impostor.public, &cache.key.public);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    precache(&repo.dir, &a)
        .expect_code(1)
        .expect_contains("ignoring a second --trusted-public-key named \"test-dup-1\"");
    let a = args(&cache.key.public, &impostor.public);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    precache(&repo.dir, &a).expect_code(0);
}

#[test]
fn override_input_after_dashes_decides_which_path_is_checked() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    set_mode(tmp.path(), 0o755);
    for v in ["A", "B"] {
        let d = tmp.path().join(v);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("v"), v).unwrap();
    }
    let sys = system();
    let flake = format!(
        r#"{{
  inputs.inp = {{ url = "path:{}"; flake = false; }};
  outputs = {{ self, inp }}: {{
    packages.{sys}.a = derivation {{
      name = "a"; system = "{sys}"; builder = "/bin/sh";
      args = [ "-c" "echo ${{builtins.readFile (inp + "/v")}} > $out" ];
    }};
  }};
}}
"#,
        tmp.path().join("A").display()
    );
    std::fs::write(repo.dir.join("flake.nix"), flake).unwrap();
    sh(&repo.dir, "nix", &["flake", "lock"]);
    sh(&repo.dir, "git", &["add", "flake.lock"]);
    repo.commit("input");
    let cache = tmp.path().join("cache");
    new_cache_dir(&cache);
    let key = SecretKey::from_seed("ovr-1", [8; 32]);
    let b_input = format!("path:{}", tmp.path().join("B").display());
    let installable = format!("{}#{}.outPath", repo.pinned(), repo.attr("a"));
    let eval = |extra: &[&str]| {
        let mut a = vec!["eval", "--raw", &installable];
        a.extend_from_slice(extra);
        sh(&repo.dir, "nix", &a)
    };
    let default_path = eval(&[]);
    let overridden = eval(&["--override-input", "inp", &b_input]);
    assert_ne!(default_path, overridden);
    let cache_url = format!("file://{}", cache.display());
    let public = key.public().to_string();
    let attr = repo.attr("a");
    let r = precache(
        &repo.dir,
        &[
            "--check",
            "--json",
            "--from",
            &cache_url,
            "--trusted-public-key",
            &public,
            ".",
            &attr,
            "--",
            "--override-input",
            "inp",
            &b_input,
        ],
    );
    r.expect_code(1)
        .expect_contains(&format!("\"out_path\": \"{overridden}\""));
    // An argument whose effect on evaluation is unknown is refused, not ignored.
    precache(
        &repo.dir,
        &[
            "--check",
            "--from",
            &cache_url,
            "--trusted-public-key",
            &public,
            ".",
            &attr,
            "--",
            "--rebuild",
        ],
    )
    .expect_code(2)
    .expect_contains("unsupported `nix build` argument");
}

#[test]
fn a_url_that_is_not_a_cache_is_an_error_not_missing() {
    if !have_nix_and_git() {
        return;
    }
    let cache = SignedFileCache::new("test-info-1");
    let repo = pushed_repo(&cache);
    let public = cache.key.public.clone();
    // A typo'd directory, and an HTTP server that answers 404 for everything.
    let typo = format!("{}-typo", cache.url);
    check(&repo, &typo, &public)
        .expect_code(7)
        .expect_contains("no nix-cache-info")
        .expect_lacks("not cached");
    let empty = tempfile::tempdir().unwrap();
    let server = CacheServer::serve(empty.path().to_owned());
    check(&repo, &server.url(), &public)
        .expect_code(7)
        .expect_contains("no nix-cache-info");
    // A cache for another store directory is useless to this Nix.
    let info = cache.dir.join("nix-cache-info");
    let original = std::fs::read_to_string(&info).unwrap();
    std::fs::write(&info, "StoreDir: /gnu/store\n").unwrap();
    check(&repo, &cache.url, &public)
        .expect_code(7)
        .expect_contains("\"/gnu/store\", not \"/nix/store\"");
    std::fs::write(&info, original).unwrap();
    check(&repo, &cache.url, &public).expect_code(0);
}

#[test]
fn http_403_is_missing_and_429_is_retried() {
    if !have_nix_and_git() {
        return;
    }
    let cache = SignedFileCache::new("test-403-1");
    let repo = pushed_repo(&cache);
    let public = cache.key.public.clone();
    let server = CacheServer::serve(cache.dir.clone());
    let leaf = format!("{}.narinfo", hash_of(&repo.out_path("c")));
    // S3 without list rights answers 403 for a missing key; Nix reads it as "not there".
    server.set_status(&leaf, 403);
    check(&repo, &server.url(), &public)
        .expect_code(1)
        .expect_contains("not in the cache");
    server.set_status(&leaf, 429);
    let before = server.requests();
    check(&repo, &server.url(), &public)
        .expect_code(7)
        .expect_contains("HTTP 429");
    assert!(
        // nix-cache-info, a, b, then c tried once and retried twice.
        server.requests() - before >= 6,
        "429 was retried ({} requests)",
        server.requests() - before
    );
}

#[test]
fn check_to_a_file_url_that_is_no_cache_exits_7_like_from() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    let public = SecretKey::from_seed("test-typo-1", [3; 32])
        .public()
        .to_string();
    let attr = repo.attr("a");
    let empty_dir = tmp.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    // A typo (no such directory) and a directory that is no cache (no nix-cache-info).
    for dir in [tmp.path().join("typo"), empty_dir] {
        let url = format!("file://{}", dir.display());
        for flag in ["--to", "--from"] {
            let args = ["--check", flag, &url, "--trusted-public-key", &public];
            precache(&repo.dir, &[&args[..], &[".", &attr]].concat())
                .expect_code(7)
                .expect_contains("is not a binary cache (no nix-cache-info)")
                .expect_lacks("not cached");
        }
        assert!(
            !dir.join("nix-cache-info").exists(),
            "--check created nothing"
        );
    }
}

#[test]
fn paths_present_but_untrusted_are_not_called_missing() {
    if !have_nix_and_git() {
        return;
    }
    let cache = SignedFileCache::new("test-untrusted-1");
    let repo = pushed_repo(&cache);
    let other = make_key(cache.tmp.path(), "test-untrusted-other");
    check(&repo, &cache.url, &other.public)
        .expect_code(1)
        .expect_contains("not cached: 3 of 3 paths not usable (3 untrusted) from")
        .expect_lacks("missing from");
    // One missing as well: both counted, each under its own name.
    std::fs::remove_file(cache.narinfo(&repo.out_path("c"))).unwrap();
    check(&repo, &cache.url, &other.public)
        .expect_code(1)
        .expect_contains("not cached: 3 of 3 paths not usable (1 missing, 2 untrusted) from");
}
