//! The record modes on a temp repository with a loopback registry: record, --check,
//! --check --full, --print, --json, --materialize, --nix-file, --offline, the memo.

use crate::project::{Project, RECORD};
use crate::util;

const TARGET: [&str; 4] = ["--fetcher-version", "3", "--pnpm", "10"];

fn recorded_hash(record: &str) -> String {
    record
        .lines()
        .find_map(|l| l.strip_prefix("hash = \""))
        .and_then(|h| h.strip_suffix('"'))
        .expect("a hash line")
        .to_owned()
}

#[test]
fn records_the_target_then_checks_and_reuses_it() {
    let p = Project::new();
    p.uph(&TARGET).expect_code(0);
    let record = p.record();
    assert!(
        record.contains("[\"pnpm-lock.yaml\"]\nlock-sha256 = \"")
            && record.contains("\nfetcher = \"fetchPnpmDeps\"\nfetcher-version = 3\npnpm = \"10\"\nhash = \"sha256-"),
        "{record}"
    );
    assert_eq!(p.server.hits(&p.packages[0].path()), 1);
    // Later runs take the target from the record, and the memo answers.
    p.uph(&[])
        .expect_code(0)
        .expect_stdout_contains("(unchanged)")
        .expect_stdout_contains("hash remembered from an earlier run");
    assert_eq!(p.record(), record);
    p.uph(&["--check"])
        .expect_code(0)
        .expect_stdout_contains("up to date");
    // --check --full recomputes from the cache: no download.
    p.uph(&["--check", "--full", "--offline"]).expect_code(0);
    assert_eq!(p.server.total_hits(), 2);
    // Another target on the command line is stale against the record.
    p.uph(&["--check", "--pnpm", "10.34.5"]).expect_code(1);
}

#[test]
fn a_changed_lockfile_is_stale_until_recorded_again() {
    let p = Project::new();
    p.uph(&TARGET).expect_code(0);
    let lock = p.dir().join("pnpm-lock.yaml");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, format!("{text}\n")).unwrap();
    p.uph(&["--check"])
        .expect_code(1)
        .expect_stdout_contains("pnpm-lock.yaml: stale")
        .expect_stdout_contains("run `update-pnpm-hash --lockfile pnpm-lock.yaml`");
    p.uph(&[]).expect_code(0);
    p.uph(&["--check"]).expect_code(0);
}

#[test]
fn print_materialize_and_record_agree_with_nix_hash_path() {
    let p = Project::new();
    let print = p.uph(&[
        "--print",
        "--lockfile",
        "pnpm-lock.yaml",
        "--fetcher-version",
        "3",
        "--pnpm",
        "10",
    ]);
    print.expect_code(0);
    let printed = print.stdout().trim().to_owned();
    assert!(printed.starts_with("sha256-"), "{print}");
    let out = p.cache.path().join("out");
    p.uph(&[
        "--materialize",
        out.to_str().unwrap(),
        "--fetcher-version",
        "3",
        "--pnpm",
        "10",
        "--offline",
    ])
    .expect_code(0);
    assert_eq!(
        std::fs::read_to_string(out.join(".fetcher-version")).unwrap(),
        "3\n"
    );
    let zst = std::fs::read(out.join("pnpm-store.tar.zst")).unwrap();
    assert_eq!(&zst[..4], &[0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
    if util::have_tool("nix", "nix hash path") {
        let nix = util::nix(&["hash", "path", out.to_str().unwrap()]);
        nix.expect_code(0);
        assert_eq!(nix.stdout().trim(), printed, "{nix}");
    }
    p.uph(&TARGET).expect_code(0);
    assert_eq!(recorded_hash(&p.record()), printed);
    // Nothing left behind beside the output.
    let leftovers: Vec<_> = std::fs::read_dir(p.cache.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".materialize-") || n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn json_reports_the_target_and_the_hash() {
    let p = Project::new();
    let run = p.uph(&["--json", "--fetcher-version", "3", "--pnpm", "10"]);
    run.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).expect("one JSON document");
    test_support::json_schema::assert_valid(&run.stdout());
    assert_eq!(
        (&v["version"], &v["tool"], &v["exit_code"]),
        (&1.into(), &"update-pnpm-hash".into(), &0.into())
    );
    let l = &v["lockfiles"][0];
    assert_eq!(l["lockfile"], "pnpm-lock.yaml");
    assert_eq!(l["status"], "updated");
    assert_eq!(l["current"]["fetcher_version"], 3);
    assert_eq!(l["current"]["pnpm"], "10");
    assert_eq!(l["packages"], 2);
    assert_eq!(l["downloaded_files"], 2);
    assert_eq!(v["target"], RECORD);
    assert!(l["current"]["hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256-"));
    assert_eq!(l["recorded"], serde_json::Value::Null);

    // Stale: both sides, the recorded hash with the recorded digest, and the command.
    let lock = p.repo.path().join("pnpm-lock.yaml");
    let mut text = std::fs::read_to_string(&lock).unwrap();
    text.push('\n');
    std::fs::write(&lock, &text).unwrap();
    let stale = p.uph(&["--check", "--json"]);
    stale.expect_code(1);
    test_support::json_schema::assert_valid(&stale.stdout());
    let s: serde_json::Value = serde_json::from_str(&stale.stdout()).unwrap();
    let l2 = &s["lockfiles"][0];
    assert_eq!(
        (&l2["status"], &l2["reason"]),
        (&"stale".into(), &"lockfile-changed".into())
    );
    assert_eq!(l2["recorded"]["hash"], l["current"]["hash"]);
    assert_eq!(l2["recorded"]["lock_sha256"], l["current"]["lock_sha256"]);
    assert_ne!(l2["current"]["lock_sha256"], l["current"]["lock_sha256"]);
    assert_eq!(l2["fix"], "update-pnpm-hash --lockfile pnpm-lock.yaml");

    // A failure is one document too: the error and its exit code.
    let failed = p.uph(&["--json", "--lockfile", "nonexistent/pnpm-lock.yaml"]);
    failed.expect_code(2);
    test_support::json_schema::assert_valid(&failed.stdout());
    let f: serde_json::Value = serde_json::from_str(&failed.stdout()).unwrap();
    assert_eq!(f["error"]["exit_code"], 2);
    assert!(
        f["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such lockfile"),
        "{f}"
    );
}

#[test]
fn offline_with_an_empty_cache_lists_what_is_missing() {
    let p = Project::new();
    p.uph(&["--offline", "--fetcher-version", "3", "--pnpm", "10"])
        .expect_code(3)
        .expect_stderr_contains("2 of 2 tarballs are not in the tarball cache")
        .expect_stderr_contains("line 21: a@1.0.0 (http://127.0.0.1:");
    assert_eq!(p.server.total_hits(), 0);
    assert_eq!(p.record(), "");
}

#[test]
fn nix_file_mode_rewrites_only_the_hash_literal() {
    let p = Project::new();
    let nix = p.dir().join("deps.nix");
    let src = "{ fetchPnpmDeps, pnpm_10 }:\nfetchPnpmDeps {\n  pname = \"t\";\n  src = ./.;\n  pnpm = pnpm_10;\n  fetcherVersion = 3;\n  hash = \"\"; # filled by update-pnpm-hash\n}\n";
    std::fs::write(&nix, src).unwrap();
    p.uph(&[
        "--nix-file",
        "deps.nix",
        "--fetcher-version",
        "3",
        "--pnpm",
        "10",
    ])
    .expect_code(0);
    let new = std::fs::read_to_string(&nix).unwrap();
    let print = p.uph(&["--print", "--fetcher-version", "3", "--pnpm", "10"]);
    let hash = print.stdout().trim().to_owned();
    assert_eq!(
        new,
        src.replace("hash = \"\"", &format!("hash = \"{hash}\""))
    );
    p.uph(&[
        "--nix-file",
        "deps.nix",
        "--check",
        "--fetcher-version",
        "3",
        "--pnpm",
        "10",
    ])
    .expect_code(0);
    assert_eq!(p.record(), "", "in-place mode writes no record");
}
