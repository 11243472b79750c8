//! Every `fix:` line and every "run `…`" the tool prints is a command that works: each
//! test provokes one, runs exactly the advised command (with only the test's registry
//! mirror added), and checks that it succeeds and leaves the record fresh.

use std::fs;
use std::path::Path;

use crate::fixture::{lockfile, mirror, Package};
use crate::server::Server;
use crate::util::{repo, uyh, Run};

struct Repo {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    server: Server,
}

impl Repo {
    fn new() -> Self {
        let r = Self {
            dir: repo(),
            cache: tempfile::tempdir().unwrap(),
            server: Server::start(),
        };
        fs::create_dir_all(r.path("app")).unwrap();
        r.lockfile("app/yarn.lock", &[Package::new("a", "1.0.0", 100)]);
        r
    }

    fn lockfile(&self, rel: &str, pkgs: &[Package]) {
        for p in pkgs {
            p.serve(&self.server);
        }
        fs::write(self.path(rel), lockfile(pkgs)).unwrap();
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    fn run(&self, cwd: &str, args: &[&str]) -> Run {
        let m = mirror(&self.server);
        let mut all = args.to_vec();
        all.extend(["--mirror", m.as_str()]);
        uyh(&self.path(cwd), self.cache.path(), &all)
    }

    /// Runs the one command `advice` holds, in `cwd`, and expects it to succeed.
    #[track_caller]
    fn follow(&self, cwd: &str, advice: &Run) -> Run {
        let command = advice.advised();
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(
            words[0], "update-yarn-hash",
            "not our command: {command}\n{advice}"
        );
        let run = self.run(cwd, &words[1..]);
        assert_eq!(
            run.code(),
            0,
            "the advised `{command}` failed\n--- advice:\n{advice}\n--- its run:\n{run}"
        );
        run
    }
}

#[test]
fn an_unreadable_record_is_rewritten_by_the_advised_command_showing_what_it_drops() {
    let r = Repo::new();
    r.run(".", &["--lockfile", "app/yarn.lock"]).expect_code(0);
    let record = r.path(".nix/yarn-deps.toml");
    let broken = fs::read_to_string(&record)
        .unwrap()
        .replace("hash = ", "hash = [");
    fs::write(&record, &broken).unwrap();
    let failed = r.run("app", &[]);
    failed
        .expect_code(2)
        .expect_stderr_contains("error: ../.nix/yarn-deps.toml:6:1: invalid array; expected `]`")
        .expect_stderr_contains("fix: update-yarn-hash --rewrite-record");
    assert_eq!(
        fs::read_to_string(&record).unwrap(),
        broken,
        "bad input writes nothing"
    );
    // From the subdirectory the user ran in: the record is found from there.
    let fixed = r.follow("app", &failed);
    assert!(
        fixed.stderr().contains("-hash = [\"sha256-"),
        "the drop is shown\n{fixed}"
    );
    r.run(".", &["--check", "--lockfile", "app/yarn.lock"])
        .expect_code(0);
}

#[test]
fn an_entry_for_a_deleted_lockfile_is_dropped_by_prune() {
    let r = Repo::new();
    fs::create_dir_all(r.path("old")).unwrap();
    r.lockfile("old/yarn.lock", &[Package::new("b", "2.0.0", 10)]);
    r.run(
        ".",
        &["--lockfile", "app/yarn.lock", "--lockfile", "old/yarn.lock"],
    )
    .expect_code(0);
    fs::remove_dir_all(r.path("old")).unwrap();
    let failed = r.run(".", &[]);
    failed
        .expect_code(2)
        .expect_stderr_contains(
            "old/yarn.lock: recorded in .nix/yarn-deps.toml, but the lockfile is gone",
        )
        .expect_stderr_contains("fix: update-yarn-hash --prune");
    let preview = tempfile::tempdir().unwrap();
    let copy = preview.path().join("r.toml");
    fs::copy(r.path(".nix/yarn-deps.toml"), &copy).unwrap();
    let json = r.run(
        ".",
        &["--prune", "--json", "--record", copy.to_str().unwrap()],
    );
    json.expect_code(0);
    test_support::json_schema::assert_valid(&json.stdout());
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(v["lockfiles"][0]["status"], "removed", "{json}");
    assert_eq!(v["lockfiles"][0]["lockfile"], "old/yarn.lock", "{json}");
    let pruned = r.follow(".", &failed);
    pruned.expect_stdout_contains("old/yarn.lock: removed from .nix/yarn-deps.toml");
    let text = fs::read_to_string(r.path(".nix/yarn-deps.toml")).unwrap();
    assert!(
        !text.contains("old/yarn.lock") && text.contains("app/yarn.lock"),
        "{text}"
    );
    r.run(".", &["--check"]).expect_code(0);
    r.run(".", &["--prune"])
        .expect_code(0)
        .expect_stdout_contains("");
}

#[test]
fn stale_and_missing_entries_advise_a_command_that_records_them() {
    let r = Repo::new();
    let missing = r.run("app", &["--check", "--lockfile", "yarn.lock"]);
    missing
        .expect_code(1)
        .expect_stdout_contains("not recorded");
    r.follow("app", &missing);
    r.run(".", &["--check"]).expect_code(0);

    r.lockfile("app/yarn.lock", &[Package::new("c", "3.0.0", 30)]);
    let stale = r.run("app", &["--check"]);
    stale
        .expect_code(1)
        .expect_stdout_contains("app/yarn.lock: stale: the lockfile changed");
    r.follow("app", &stale);
    r.run(".", &["--check"]).expect_code(0);
}

#[test]
fn a_tampered_hash_is_named_with_both_sides_and_repaired() {
    let r = Repo::new();
    r.run(".", &["--lockfile", "app/yarn.lock"]).expect_code(0);
    let record = r.path(".nix/yarn-deps.toml");
    let text = fs::read_to_string(&record).unwrap();
    let recorded = text
        .split("hash = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let forged = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    fs::write(&record, text.replace(&recorded, forged)).unwrap();
    let tampered = r.run(".", &["--check", "--full"]);
    tampered
        .expect_code(1)
        .expect_stdout_contains(&format!(
            "app/yarn.lock: stale: the lockfile is as recorded in .nix/yarn-deps.toml, but the recorded hash {forged} is not the one it gives ({recorded})"
        ));
    r.follow(".", &tampered);
    r.run(".", &["--check", "--full"]).expect_code(0);
}

#[test]
fn in_place_mode_advises_its_own_command() {
    let r = Repo::new();
    fs::write(
        r.path("app/deps.nix"),
        "{ fetchYarnDeps }:\nfetchYarnDeps {\n  yarnLock = ./yarn.lock;\n  hash = \"\";\n}\n",
    )
    .unwrap();
    let stale = r.run(".", &["--nix-file", "app/deps.nix", "--check"]);
    stale
        .expect_code(1)
        .expect_stdout_contains("run `update-yarn-hash --nix-file app/deps.nix`");
    r.follow(".", &stale);
    r.run(".", &["--nix-file", "app/deps.nix", "--check"])
        .expect_code(0);
}

#[test]
fn a_directory_or_another_tools_lockfile_is_named_for_what_it_is() {
    let r = Repo::new();
    let dir = r.run(".", &["--lockfile", "app"]);
    dir.expect_code(2)
        .expect_stderr_contains("app: is a directory")
        .expect_stderr_contains("fix: update-yarn-hash --lockfile app/yarn.lock");
    r.follow(".", &dir);

    let pnpm = Path::new("app/pnpm-lock.yaml");
    fs::write(r.path(pnpm.to_str().unwrap()), "lockfileVersion: '9.0'\n").unwrap();
    for mode in [&[][..], &["--check"][..]] {
        let mut args = vec!["--lockfile", "app/pnpm-lock.yaml"];
        args.extend(mode);
        r.run(".", &args)
            .expect_code(2)
            .expect_stderr_contains(
                "this is a pnpm lockfile, and update-yarn-hash reads Yarn v1 lockfiles only",
            )
            .expect_stderr_contains(
                "fix: update-pnpm-hash --lockfile app/pnpm-lock.yaml --fetcher-version 3 --pnpm 10",
            );
    }
    // The suggested target is the one the project's own pnpm fits, as update-pnpm-hash's.
    fs::write(
        r.path("app/package.json"),
        "{\"name\": \"app\", \"packageManager\": \"pnpm@11.22.0\"}\n",
    )
    .unwrap();
    r.run(".", &["--lockfile", "app/pnpm-lock.yaml"])
        .expect_code(2)
        .expect_stderr_contains(
            "fix: update-pnpm-hash --lockfile app/pnpm-lock.yaml --fetcher-version 4 --pnpm 11   (",
        );
    fs::write(
        r.path("app/package-lock.json"),
        "{\n  \"lockfileVersion\": 3\n}\n",
    )
    .unwrap();
    r.run(".", &["--check", "--lockfile", "app/package-lock.json"])
        .expect_code(2)
        .expect_stderr_contains("this is an npm lockfile")
        .expect_stderr_contains("fetchNpmDeps");
    fs::write(
        r.path("app/berry.lock"),
        "# x\n\n__metadata:\n  version: 8\n",
    )
    .unwrap();
    r.run(".", &["--check", "--lockfile", "app/berry.lock"])
        .expect_code(2)
        .expect_stderr_contains("Yarn 2+ (Berry)")
        .expect_stderr_contains("yarn-berry-fetcher");
}

#[test]
fn outside_a_git_repository_the_new_record_is_announced_and_an_empty_lockfile_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("yarn.lock"), "").unwrap();
    let run = uyh(dir.path(), cache.path(), &[]);
    run.expect_code(0)
        .expect_stderr_contains("is not in a git repository, so the record is created here")
        .expect_stderr_contains("warning: yarn.lock: the lockfile is empty");
    assert!(dir.path().join(".nix/yarn-deps.toml").is_file());
    // The second run changes nothing, so it says nothing of it.
    uyh(dir.path(), cache.path(), &[])
        .expect_code(0)
        .expect_lacks("not in a git repository");
}
