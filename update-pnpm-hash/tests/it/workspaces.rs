//! pnpmWorkspaces (`--workspace`, which fetchPnpmDeps passes as `--filter=` to `pnpm
//! install`): the native hash against the fetchPnpmDeps replay with real pnpm 10.34.5 for
//! each emulated selector form, on a workspace whose lockfile real pnpm writes against a
//! loopback registry; the record, `--check`, `--nix-file` and the refusals.
//!
//! The workspace: the root (a dev dependency, and project `d` by `workspace:`, which pnpm
//! installs with every selection: the root is always installed and its `link:` to a
//! project is followed), `a` (depends on `@s/b` by `workspace:`), `@s/b`, `c`; each
//! project has one registry dependency of its own.

use std::path::Path;
use std::process::Command;

use crate::git_packages::have_replay_tools;
use crate::project::Package;
use crate::reference::{assert_report_equals_replay, pnpm, tests_dir, tools_dir};
use crate::server::{Route, Server};
use crate::util::{self, Run};

struct Workspace {
    repo: tempfile::TempDir,
    cache: tempfile::TempDir,
    server: Server,
}

const TARGET: [&str; 4] = ["--fetcher-version", "3", "--pnpm", "10"];
/// fetcherVersion 4 with nixpkgs' pnpm_11 (11.22.0), replayed under Node 22.
const TARGET_V4: [&str; 4] = ["--fetcher-version", "4", "--pnpm", "11"];

impl Workspace {
    /// The workspace with the lockfile real pnpm writes for it; `None` (after a skip)
    /// without pnpm 10.34.5.
    fn new() -> Option<Self> {
        if !util::have_path(&pnpm(), "pnpm 10.34.5: cargo xtask reference-tools") {
            return None;
        }
        let server = Server::start();
        for name in ["r-dep", "a-dep", "b-dep", "c-dep", "d-dep"] {
            let p = Package::build(name, "1.0.0", "");
            let url = format!("{}{}", server.base, &p.path()[1..]);
            let packument = serde_json::json!({
                "name": name,
                "dist-tags": {"latest": "1.0.0"},
                "versions": {"1.0.0": {
                    "name": name,
                    "version": "1.0.0",
                    "bin": {name: "bin/cli"},
                    "dist": {"tarball": url, "integrity": p.integrity()},
                }},
            });
            server.route(
                &format!("/{name}"),
                Route::Ok(packument.to_string().into_bytes()),
            );
            server.route(&p.path(), Route::Ok(p.tarball.clone()));
        }
        let repo = tempfile::tempdir().unwrap();
        let dir = repo.path();
        crate::git_packages::write_tree(
            dir,
            &[
                ("package.json", "{\"name\":\"root\",\"version\":\"1.0.0\",\"private\":true,\"devDependencies\":{\"r-dep\":\"1.0.0\",\"d\":\"workspace:*\"}}\n", false),
                ("pnpm-workspace.yaml", "packages:\n  - packages/*\n", false),
                ("packages/a/package.json", "{\"name\":\"a\",\"version\":\"1.0.0\",\"dependencies\":{\"a-dep\":\"1.0.0\",\"@s/b\":\"workspace:*\"}}\n", false),
                ("packages/b/package.json", "{\"name\":\"@s/b\",\"version\":\"1.0.0\",\"dependencies\":{\"b-dep\":\"1.0.0\"}}\n", false),
                ("packages/c/package.json", "{\"name\":\"c\",\"version\":\"1.0.0\",\"dependencies\":{\"c-dep\":\"1.0.0\"}}\n", false),
                ("packages/d/package.json", "{\"name\":\"d\",\"version\":\"1.0.0\",\"dependencies\":{\"d-dep\":\"1.0.0\"}}\n", false),
            ],
        );
        std::fs::write(dir.join(".npmrc"), format!("registry={}\n", server.base)).unwrap();
        util::write_lockfile_with_pnpm(dir);
        util::git(dir, &["init", "-q"]);
        Some(Self {
            repo,
            cache: tempfile::tempdir().unwrap(),
            server,
        })
    }

    fn dir(&self) -> &Path {
        self.repo.path()
    }

    fn uph(&self, args: &[&str]) -> Run {
        util::uph(self.dir(), self.cache.path(), args)
    }

    /// `--print` for the selection `workspaces`.
    fn print(&self, workspaces: &[&str]) -> String {
        let mut args = vec!["--print"];
        args.extend(TARGET);
        for w in workspaces {
            args.extend(["--workspace", w]);
        }
        let run = self.uph(&args);
        run.expect_code(0);
        run.stdout().trim().to_owned()
    }

    /// The replay with `--workspace` for each of `workspaces`, and the native output of
    /// the same selection: equal hashes (else the first differing layer), and the count
    /// of packages in the store.
    fn assert_native_equals_replay(&self, workspaces: &[&str], packages: u64) -> String {
        self.assert_native_equals_replay_for(TARGET, workspaces, packages)
    }

    /// [`Self::assert_native_equals_replay`] for `target` (fetcherVersion 3 with pnpm
    /// 10.34.5, or 4 with 11.22.0).
    fn assert_native_equals_replay_for(
        &self,
        target: [&str; 4],
        workspaces: &[&str],
        packages: u64,
    ) -> String {
        let keep = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(tests_dir().join("reference/fetch-pnpm-deps.sh"));
        cmd.args(["--fetcher-version", target[1], "--pnpm"]);
        if target[1] == "4" {
            cmd.arg("11.22.0");
        } else {
            cmd.arg(pnpm());
        }
        cmd.args(["--registry", &self.server.base]);
        for w in workspaces {
            cmd.args(["--workspace", w]);
        }
        let jq = tools_dir().join("jq-1.8.2/bin/jq");
        if jq.exists() {
            cmd.arg("--jq").arg(&jq);
        }
        cmd.arg("--keep")
            .arg(keep.path().join("replay"))
            .arg(self.dir());
        let replay = util::run(cmd);
        replay.expect_code(0);
        let out = keep.path().join("native");
        let mut args = vec!["--materialize", out.to_str().unwrap(), "--json"];
        args.extend(target);
        for w in workspaces {
            args.extend(["--workspace", w]);
        }
        let ours = self.uph(&args);
        ours.expect_code(0);
        let hash = assert_report_equals_replay(&ours, &replay, keep.path(), &out);
        let report: serde_json::Value = serde_json::from_str(&ours.stdout()).unwrap();
        assert_eq!(report["lockfiles"][0]["packages"], packages, "{ours}");
        hash
    }
}

/// `name`, `name...`, a bare name matching one scoped project, a directory, and two
/// selectors: each equals real pnpm's `--filter` install; the plain install differs.
#[test]
fn each_selection_equals_the_replay_of_its_filtered_install() {
    if !have_replay_tools() {
        return;
    }
    let Some(w) = Workspace::new() else { return };
    // The root's r-dep, and d's d-dep through the root's link: with every selection.
    let a = w.assert_native_equals_replay(&["a"], 3);
    let with_deps = w.assert_native_equals_replay(&["a..."], 4);
    let two = w.assert_native_equals_replay(&["b", "./packages/c"], 4);
    let plain = w.assert_native_equals_replay(&[], 5);
    let all = [&a, &with_deps, &two, &plain];
    for (i, x) in all.iter().enumerate() {
        for y in &all[i + 1..] {
            assert_ne!(x, y, "two selections gave one hash");
        }
    }
    // The same projects by another selector: the same store, so the same hash.
    assert_eq!(w.print(&["{./packages/a}"]), a);
}

/// pnpm 11 (fetcherVersion 4) filters as pnpm 10 does.
#[test]
fn a_selection_equals_the_fetcher_version_4_replay() {
    if !crate::reference_fv4::have_fv4_tools("11.22.0") {
        return;
    }
    let Some(w) = Workspace::new() else { return };
    let a = w.assert_native_equals_replay_for(TARGET_V4, &["a"], 3);
    let with_deps = w.assert_native_equals_replay_for(TARGET_V4, &["a..."], 4);
    assert_ne!(a, with_deps);
}

/// The selection is recorded, reused by later runs and `--check`, changed only by the
/// command line (`--no-workspace` clears it), and shown in `--json`.
#[test]
fn the_selection_is_recorded_checked_and_reused() {
    let Some(w) = Workspace::new() else { return };
    let mut args = vec!["--json"];
    args.extend(TARGET);
    args.extend(["--workspace", "a", "--workspace", "./packages/c"]);
    let run = w.uph(&args);
    run.expect_code(0);
    test_support::json_schema::assert_valid(&run.stdout());
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(
        report["lockfiles"][0]["current"]["workspaces"],
        serde_json::json!(["a", "./packages/c"])
    );
    let hash = report["lockfiles"][0]["current"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = std::fs::read_to_string(w.dir().join(".nix/yarn-deps.toml")).unwrap();
    assert!(
        record.contains("pnpm = \"10\"\nworkspaces = [\"a\", \"./packages/c\"]\nhash = "),
        "{record}"
    );
    assert_eq!(hash, w.print(&["a", "./packages/c"]));
    w.uph(&["--check"]).expect_code(0);
    w.uph(&["--check", "--workspace", "a"])
        .expect_code(1)
        .expect_contains("--workspace a");
    let stale = w.uph(&["--check", "--json", "--workspace", "a"]);
    stale.expect_code(1);
    test_support::json_schema::assert_valid(&stale.stdout());
    let report: serde_json::Value = serde_json::from_str(&stale.stdout()).unwrap();
    assert_eq!(
        report["lockfiles"][0]["reason"], "target-changed",
        "{stale}"
    );
    assert_eq!(
        report["lockfiles"][0]["recorded"]["workspaces"],
        serde_json::json!(["a", "./packages/c"])
    );
    // A later run keeps the recorded selection.
    let again = w.uph(&["--json"]);
    again.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&again.stdout()).unwrap();
    assert_eq!(report["lockfiles"][0]["status"], "unchanged", "{again}");
    assert_eq!(report["lockfiles"][0]["current"]["hash"], hash.as_str());
    w.uph(&["--check", "--no-workspace"]).expect_code(1);
    w.uph(&["--no-workspace"]).expect_code(0);
    let record = std::fs::read_to_string(w.dir().join(".nix/yarn-deps.toml")).unwrap();
    assert!(!record.contains("workspaces"), "{record}");
    assert!(
        record.contains(&format!("hash = \"{}\"", w.print(&[]))),
        "{record}"
    );
}

/// `--nix-file` reads the call's `pnpmWorkspaces`; `--workspace` may only repeat it.
#[test]
fn nix_file_reads_the_call_s_pnpm_workspaces() {
    let Some(w) = Workspace::new() else { return };
    let nix = w.dir().join("deps.nix");
    std::fs::write(
        &nix,
        "{ fetchPnpmDeps, pnpm_10 }:\nfetchPnpmDeps {\n  src = ./.;\n  pnpm = pnpm_10;\n  fetcherVersion = 3;\n  pnpmWorkspaces = [ \"a...\" ];\n  hash = \"\";\n}\n",
    )
    .unwrap();
    let mut args = vec!["--nix-file", "deps.nix"];
    args.extend(TARGET);
    w.uph(&args).expect_code(0);
    let text = std::fs::read_to_string(&nix).unwrap();
    assert!(
        text.contains(&format!("hash = \"{}\"", w.print(&["a..."]))),
        "{text}"
    );
    let mut other = args.clone();
    other.extend(["--workspace", "c"]);
    w.uph(&other)
        .expect_code(2)
        .expect_stderr_contains("differs from the call's pnpmWorkspaces = [ \"a...\" ]");
    std::fs::write(&nix, text.replace("[ \"a...\" ]", "[ name ]")).unwrap();
    w.uph(&args).expect_code(2).expect_stderr_contains(
        "deps.nix:6:20: `pnpmWorkspaces = [ name ];` is not a list of string literals",
    );
}

/// A selector form not emulated is refused, naming it, with a fix that runs; a name no
/// project has is refused (pnpm would install nothing), listing the projects.
#[test]
fn unsupported_and_unmatched_selectors_are_refused() {
    let Some(w) = Workspace::new() else { return };
    let mut args = vec!["--print"];
    args.extend(TARGET);
    args.extend(["--workspace", "a", "--workspace", "...c"]);
    let run = w.uph(&args);
    run.expect_code(2)
        .expect_stderr_contains("--workspace \"...c\" (a pnpmWorkspaces entry) selects dependents (`...name`), which update-pnpm-hash does not emulate");
    let stderr = run.stderr();
    let fix = stderr
        .lines()
        .find_map(|l| l.strip_prefix("fix: "))
        .expect("a fix line");
    let command = fix.split("   (").next().unwrap();
    assert_eq!(
        command,
        "update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 3 --pnpm 10 --workspace a --workspace c"
    );
    let mut sh = Command::new("sh");
    sh.current_dir(w.dir())
        .args(["-c", &command.replacen("update-pnpm-hash", "\"$UPH\"", 1)])
        .env("UPH", env!("CARGO_BIN_EXE_update-pnpm-hash"))
        .env("UPDATE_YARN_HASH_CACHE", w.cache.path());
    util::run(sh).expect_code(0);
    let mut args = vec!["--print"];
    args.extend(TARGET);
    args.extend(["--workspace", "ghots"]);
    w.uph(&args)
        .expect_code(2)
        .expect_stderr_contains("no workspace project matches --workspace \"ghots\"")
        .expect_stderr_contains("empty store")
        .expect_stderr_contains("@s/b (packages/b)");
}

/// With autoInstallPeers off, a `workspace:` peer dependency is an edge of pnpm's graph
/// that the lockfile does not record: `name...` is refused there, `name` is not.
#[test]
fn dots_are_refused_over_uninstalled_workspace_peers() {
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    crate::git_packages::write_tree(
        repo.path(),
        &[
            ("package.json", "{\"name\":\"root\",\"version\":\"1.0.0\"}\n", false),
            ("pnpm-workspace.yaml", "packages:\n  - packages/*\nautoInstallPeers: false\n", false),
            ("packages/a/package.json", "{\"name\":\"a\",\"version\":\"1.0.0\",\"peerDependencies\":{\"b\":\"workspace:*\"}}\n", false),
            ("packages/b/package.json", "{\"name\":\"b\",\"version\":\"1.0.0\"}\n", false),
            ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: false\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .: {}\n\n  packages/a: {}\n\n  packages/b: {}\n", false),
        ],
    );
    util::git(repo.path(), &["init", "-q"]);
    let print = |w: &str| {
        let mut args = vec!["--print"];
        args.extend(TARGET);
        args.extend(["--workspace", w]);
        util::uph(repo.path(), cache.path(), &args)
    };
    // (`a` alone plans no package at all, which is not what this is about.)
    print("a").expect_lacks("autoInstallPeers");
    print("a...")
        .expect_code(2)
        .expect_stderr_contains("--workspace \"a...\" (a pnpmWorkspaces entry) walks workspace dependencies while autoInstallPeers is off");
}
