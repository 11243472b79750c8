//! How far a run trusts the shared tarball cache: a stamped entry is trusted by a plain
//! run, and by nothing that says it checks (`--recompute`, `--check --full`), which
//! verify every byte of every entry once and fetch a bad one again.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use filetime::FileTime;

use crate::project::Project;

const TARGET: [&str; 4] = ["--fetcher-version", "3", "--pnpm", "10"];

fn entries(cache: &Path) -> Vec<PathBuf> {
    let dir = cache.join("v1/sha512");
    let mut out: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

/// New bytes under the entry's old permissions and mtime (its stamp).
fn tamper(entry: &Path) {
    let meta = fs::metadata(entry).unwrap();
    let mut bytes = fs::read(entry).unwrap();
    bytes[20] ^= 0x40;
    fs::set_permissions(entry, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(entry, &bytes).unwrap();
    fs::set_permissions(entry, meta.permissions()).unwrap();
    let mtime = FileTime::from_last_modification_time(&meta);
    filetime::set_file_mtime(entry, mtime).unwrap();
}

fn print(p: &Project, extra: &[&str]) -> crate::util::Run {
    let mut args = vec!["--print"];
    args.extend(TARGET);
    args.extend(extra);
    p.uph(&args)
}

#[test]
fn recompute_trusts_a_good_cache_and_needs_no_network() {
    let p = Project::new();
    let hash = print(&p, &[]).expect_code(0).stdout();
    let hits = p.server.total_hits();
    let run = print(&p, &["--recompute", "--offline"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), hash, "{run}");
    assert_eq!(p.server.total_hits(), hits, "nothing fetched again");
    assert_eq!(entries(p.cache.path()).len(), 2, "no good entry discarded");
}

#[test]
fn recompute_finds_a_tampered_stamped_entry_and_fetches_it_again() {
    let p = Project::new();
    let hash = print(&p, &[]).expect_code(0).stdout();
    let hits = p.server.total_hits();
    for entry in entries(p.cache.path()) {
        tamper(&entry);
    }
    // A plain run trusts the stamps: that is what they are for.
    print(&p, &["--offline"]).expect_code(0);
    let run = print(&p, &["--recompute"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout(),
        hash,
        "a wrong hash from a tampered entry\n{run}"
    );
    assert_eq!(
        p.server.total_hits(),
        hits + 2,
        "both bad entries fetched again"
    );
    // Repaired: the next full recompute needs no network.
    print(&p, &["--recompute", "--offline"]).expect_code(0);
}

#[test]
fn recompute_offline_names_the_tampered_entry_it_discarded() {
    let p = Project::new();
    print(&p, &[]).expect_code(0);
    let bad = entries(p.cache.path()).remove(0);
    tamper(&bad);
    print(&p, &["--recompute", "--offline"])
        .expect_code(3)
        .expect_stderr_contains("1 of 2 tarballs are not in the tarball cache");
    assert!(!bad.exists(), "the bad entry is gone");
}
