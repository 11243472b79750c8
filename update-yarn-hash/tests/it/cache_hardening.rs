//! A hostile or crashed tarball cache: tampered entries with their stamps restored,
//! forged memo lines, entries replaced by other kinds of file, and temp files left by
//! killed runs. None of it may produce a wrong hash, copy wrong bytes or linger.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use filetime::FileTime;

use crate::fetch::{cache_entries, packages, Setup};
use crate::fixture::{lockfile, mirror, Package};
use crate::server::Route;
use crate::util::uyh;

/// The biggest tarball in the cache (the `@scope/util` fixture, 70 kB).
fn biggest_entry(cache: &Path) -> PathBuf {
    cache_entries(cache)
        .into_iter()
        .filter(|p| p.contains("/sha512/"))
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .map(PathBuf::from)
        .unwrap()
}

/// Rewrites an entry as an attacker would: new bytes, old permissions and mtime.
fn tamper(entry: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let meta = fs::symlink_metadata(entry).unwrap();
    let mtime = FileTime::from_last_modification_time(&meta);
    let mut bytes = fs::read(entry).unwrap();
    edit(&mut bytes);
    fs::set_permissions(entry, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(entry, &bytes).unwrap();
    fs::set_permissions(entry, meta.permissions()).unwrap();
    filetime::set_symlink_file_times(entry, FileTime::now(), mtime).unwrap();
}

fn flip_a_byte(bytes: &mut [u8]) {
    bytes[1000] ^= 0x40;
}

#[test]
fn recompute_verifies_every_byte_even_of_a_stamped_entry() {
    let s = Setup::new(&packages());
    let hash = s.print(&[]).expect_code(0).stdout();
    tamper(&biggest_entry(s.cache.path()), |b| flip_a_byte(b));
    let run = s.print(&["--recompute"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout(),
        hash,
        "a wrong hash from a tampered entry\n{run}"
    );
    assert_eq!(s.server.total_hits(), 4, "the bad entry was fetched again");
    // Repaired: the next full check needs no network.
    s.print(&["--recompute", "--offline"]).expect_code(0);
}

#[test]
fn check_full_catches_a_tampered_entry_and_still_answers_fresh() {
    let s = Setup::new(&packages());
    let m = mirror(&s.server);
    let args = [
        "--lockfile",
        "yarn.lock",
        "--record",
        "r.toml",
        "--mirror",
        &m,
    ];
    uyh(s.dir.path(), s.cache.path(), &args).expect_code(0);
    tamper(&biggest_entry(s.cache.path()), |b| flip_a_byte(b));
    let check: Vec<&str> = args.iter().copied().chain(["--check", "--full"]).collect();
    let run = uyh(s.dir.path(), s.cache.path(), &check);
    run.expect_code(0);
    assert!(!run.stderr().contains("stale"), "{run}");

    // A recorded hash that is wrong for an unchanged lockfile is stale, said as such.
    let record = s.dir.path().join("r.toml");
    let text = fs::read_to_string(&record).unwrap();
    let forged = format!("sha256-{}=", "A".repeat(43));
    let at = text.find("sha256-").unwrap();
    fs::write(&record, format!("{}{forged}\"\n", &text[..at])).unwrap();
    let run = uyh(s.dir.path(), s.cache.path(), &check);
    run.expect_code(1)
        .expect_stdout_contains("the lockfile is as recorded")
        .expect_stdout_contains("not the one it gives");
}

#[test]
fn materialize_never_copies_tampered_bytes() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    s.print(&[]).expect_code(0);
    tamper(&biggest_entry(s.cache.path()), |b| flip_a_byte(b));
    let m = mirror(&s.server);
    let out = s.dir.path().join("out");
    let run = uyh(
        s.dir.path(),
        s.cache.path(),
        &[
            "--lockfile",
            "yarn.lock",
            "--mirror",
            &m,
            "--materialize",
            "out",
        ],
    );
    run.expect_code(0);
    for e in fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() != "yarn.lock" {
            let copied = fs::read(&p).unwrap();
            assert!(
                pkgs.iter().any(|pkg| pkg.bytes == copied),
                "{} holds bytes no package has\n{run}",
                p.display()
            );
        }
    }
}

#[test]
fn a_truncated_or_symlinked_entry_with_its_stamp_restored_is_not_trusted() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    let hash = s.print(&[]).expect_code(0).stdout();
    let victim = biggest_entry(s.cache.path());
    let memo = s.cache.path().join("v1/nar-hash");
    tamper(&victim, |b| b.truncate(b.len() / 2));
    // A normal run, not --recompute; without the memo it looks at the entries.
    fs::remove_dir_all(&memo).unwrap();
    let run = s.print(&[]);
    assert_eq!(run.expect_code(0).stdout(), hash, "{run}");
    assert_eq!(s.server.total_hits(), 4);

    // A symlink to another entry, with the stamp the real entry had.
    let other = cache_entries(s.cache.path())
        .into_iter()
        .find(|p| p.contains("/sha512/") && Path::new(p) != victim)
        .unwrap();
    let mtime = FileTime::from_last_modification_time(&fs::metadata(&victim).unwrap());
    fs::remove_file(&victim).unwrap();
    std::os::unix::fs::symlink(&other, &victim).unwrap();
    filetime::set_symlink_file_times(&victim, FileTime::now(), mtime).unwrap();
    fs::remove_dir_all(&memo).unwrap();
    let run = s.print(&[]);
    assert_eq!(run.expect_code(0).stdout(), hash, "{run}");
    assert_eq!(s.server.total_hits(), 5);
    assert!(fs::symlink_metadata(&victim).unwrap().is_file(), "replaced");
}

#[test]
fn a_forged_memo_line_is_ignored() {
    let s = Setup::new(&packages());
    let hash = s.print(&[]).expect_code(0).stdout();
    let memo_dir = s.cache.path().join("v1/nar-hash");
    let forged = format!("sha256-{}= 1\n", "A".repeat(43));
    let mut lines = 0;
    for e in fs::read_dir(&memo_dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().len() == 64 {
            fs::write(&p, &forged).unwrap();
            filetime::set_file_mtime(&p, FileTime::from_unix_time(1_000_000_000, 0)).unwrap();
            lines += 1;
        }
    }
    assert_eq!(lines, 1);
    let run = s.print(&["--offline"]);
    assert_eq!(
        run.expect_code(0).stdout(),
        hash,
        "the forged hash was printed"
    );
}

#[test]
fn an_entry_or_shard_of_the_wrong_kind_is_repaired() {
    let s = Setup::new(&packages());
    let hash = s.print(&[]).expect_code(0).stdout();
    let victim = biggest_entry(s.cache.path());
    fs::remove_file(&victim).unwrap();
    fs::create_dir_all(victim.join("junk")).unwrap();
    let run = s.print(&["--recompute"]);
    assert_eq!(run.expect_code(0).stdout(), hash, "{run}");
    assert!(victim.is_file());

    let shard = s.cache.path().join("v1/sha512");
    fs::remove_dir_all(&shard).unwrap();
    fs::write(&shard, b"not a directory").unwrap();
    let run = s.print(&["--recompute"]);
    assert_eq!(run.expect_code(0).stdout(), hash, "{run}");
    assert!(shard.is_dir());
}

fn temp_files(cache: &Path) -> Vec<PathBuf> {
    cache_entries(cache)
        .into_iter()
        .map(PathBuf::from)
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .collect()
}

/// Starts `update-yarn-hash --print` on `lock` and waits until one of its downloads
/// is in flight (a temp file other than `known` exists in the cache).
fn spawn_stalled(s: &Setup, lock: &str, known: &[PathBuf]) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_update-yarn-hash"))
        .current_dir(s.dir.path())
        .args([
            "--print",
            "--lockfile",
            lock,
            "--mirror",
            &mirror(&s.server),
        ])
        .env("UPDATE_YARN_HASH_CACHE", s.cache.path())
        .env("HOME", s.cache.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A bound on waiting for the stalled server, not a speed assertion.
    let deadline = Instant::now() + Duration::from_secs(60);
    while temp_files(s.cache.path()).iter().all(|t| known.contains(t)) {
        assert!(Instant::now() < deadline, "no download got in flight");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stall(s: &Setup, pkg: &Package) {
    s.server.route(
        &pkg.path(),
        Route::Stall {
            body: pkg.bytes.clone(),
            sent: pkg.bytes.len() / 2,
            stall: Duration::from_secs(120),
        },
    );
}

#[test]
fn temp_files_of_a_killed_run_are_removed_and_a_live_runs_are_not() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    stall(&s, &pkgs[1]);
    let mut killed = spawn_stalled(&s, "yarn.lock", &[]);
    killed.kill().unwrap(); // SIGKILL: no destructor runs
    killed.wait().unwrap();
    let left = temp_files(s.cache.path());
    assert_eq!(left.len(), 1, "the kill left its temp file: {left:?}");

    // A live run stalled on another lockfile holds its own temp file meanwhile.
    let slow = Package::new("slow", "1.0.0", 50_000);
    slow.serve(&s.server);
    stall(&s, &slow);
    fs::write(s.dir.path().join("slow.lock"), lockfile(&[slow])).unwrap();
    let mut live = spawn_stalled(&s, "slow.lock", &left);
    let live_temp: Vec<PathBuf> = temp_files(s.cache.path())
        .into_iter()
        .filter(|p| !left.contains(p))
        .collect();
    assert_eq!(live_temp.len(), 1);

    pkgs[1].serve(&s.server);
    s.print(&[]).expect_code(0);
    let after = temp_files(s.cache.path());
    live.kill().unwrap();
    live.wait().unwrap();
    assert!(
        !after.contains(&left[0]),
        "the killed run's temp file is still there"
    );
    assert_eq!(after, live_temp, "the live run's temp file was removed");
}

#[test]
fn bad_input_writes_no_cache_and_fetches_nothing() {
    let s = Setup::new(&packages());
    fs::write(
        s.dir.path().join("bad.lock"),
        "a@1:\n  resolved \"https://r.com/a.tgz\n",
    )
    .unwrap();
    let run = uyh(
        s.dir.path(),
        s.cache.path(),
        &["--print", "--lockfile", "bad.lock", "--cache-dir", "./c"],
    );
    run.expect_code(2);
    assert!(!s.dir.path().join("c").exists(), "created the cache\n{run}");
}

#[test]
fn a_materialize_target_that_is_not_an_empty_directory_is_refused_before_fetching() {
    let s = Setup::new(&packages());
    let m = mirror(&s.server);
    fs::create_dir(s.dir.path().join("full")).unwrap();
    fs::write(s.dir.path().join("full/keep"), b"mine").unwrap();
    fs::write(s.dir.path().join("file"), b"mine").unwrap();
    for (target, why) in [
        ("full", "exists and is not empty"),
        ("file", "exists and is not a directory"),
    ] {
        let run = uyh(
            s.dir.path(),
            s.cache.path(),
            &[
                "--lockfile",
                "yarn.lock",
                "--mirror",
                &m,
                "--materialize",
                target,
            ],
        );
        run.expect_code(2).expect_stderr_contains(why);
        assert_eq!(run.stderr().matches(why).count(), 1, "said twice\n{run}");
    }
    assert_eq!(s.server.total_hits(), 0, "fetched before refusing");
    assert_eq!(fs::read(s.dir.path().join("full/keep")).unwrap(), b"mine");
}
