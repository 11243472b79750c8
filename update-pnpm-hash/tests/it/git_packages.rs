//! Git-hosted tarballs, git repositories and local directories: the native hash against
//! the fetchPnpmDeps replay with real pnpm 10.34.5, each remote played by a stand-in on
//! this machine.
//!
//! - A git repository is a real repository reached over `file://`; real pnpm writes the
//!   lockfile (`pnpm install --lockfile-only`) and clones it in the replay, so only the
//!   transport differs from an `https://` or `ssh://` host.
//! - A git-hosted tarball (GitHub's codeload, GitLab, Bitbucket) cannot be stood in for:
//!   pnpm recognises one by its `https://codeload.github.com/…` URL, which never reaches
//!   127.0.0.1. The lockfile is therefore written by hand in the shape pnpm 10 writes for
//!   `github:` dependencies (`resolution: {integrity, tarball, gitHosted: true}`, keyed
//!   `name@<tarball URL>`) with the tarball on the loopback server; `gitHosted: true` makes
//!   pnpm take its git-hosted path (`pickFetcher`, `getFilesIndexFilePath`) whatever the
//!   host. The archive is laid out as codeload lays one out (`<owner>-<repo>-<sha7>/…`).

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest, Sha512};

use crate::reference::{assert_report_equals_replay, pnpm, tests_dir, tools_dir};
use crate::server::{Route, Server};
use crate::util::{self, Run};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// Whether every tool of the replay is at hand (skips, or fails under CI=true, if not).
pub(crate) fn have_replay_tools() -> bool {
    let tools = tools_dir();
    util::have_path(&pnpm(), "pnpm 10.34.5: cargo xtask reference-tools")
        && util::have_path(
            &tools.join("gnutar-1.35/bin/tar"),
            "GNU tar 1.35: cargo xtask reference-tools",
        )
        && util::have_path(
            &tools.join("zstd-1.5.7/bin/zstd"),
            "zstd 1.5.7: cargo xtask reference-tools",
        )
        && util::have_tool("sponge", "moreutils, for the replay")
        && util::have_tool("nix", "nix hash path, for the replay")
}

/// The fetchPnpmDeps replay of `project`, kept in `keep` (`keep/store` is the store).
fn replay(project: &Path, registry: &str, keep: &Path) -> Run {
    let mut cmd = Command::new(tests_dir().join("reference/fetch-pnpm-deps.sh"));
    cmd.args(["--fetcher-version", "3", "--pnpm"])
        .arg(pnpm())
        .args(["--registry", registry])
        .arg(project)
        .arg("--keep")
        .arg(keep);
    let jq = tools_dir().join("jq-1.8.2/bin/jq");
    if jq.exists() {
        cmd.arg("--jq").arg(&jq);
    }
    util::run(cmd)
}

fn native(project: &Path, cache: &Path, out: &Path) -> Run {
    util::uph(
        project,
        cache,
        &[
            "--materialize",
            out.to_str().unwrap(),
            "--fetcher-version",
            "3",
            "--pnpm",
            "10",
            "--json",
        ],
    )
}

/// Replays `project` and computes it natively: equal hashes, else the first differing layer.
/// Returns the hash both gave.
pub(crate) fn assert_native_equals_replay(project: &Path, registry: &str) -> String {
    let keep = tempfile::tempdir().unwrap();
    let replayed = replay(project, registry, &keep.path().join("replay"));
    replayed.expect_code(0);
    let cache = tempfile::tempdir().unwrap();
    let out = keep.path().join("native");
    let ours = native(project, cache.path(), &out);
    ours.expect_code(0);
    assert_report_equals_replay(&ours, &replayed, keep.path(), &out)
}

/// Writes `files` (path, contents, executable) under `dir`.
pub(crate) fn write_tree(dir: &Path, files: &[(&str, &str, bool)]) {
    use std::os::unix::fs::PermissionsExt;
    for (path, contents, exec) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, contents).unwrap();
        let mode = if *exec { 0o755 } else { 0o644 };
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn sri(bytes: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(bytes))
    )
}

/// A project whose one dependency `name` is a git-hosted tarball of `files`, served at
/// `/u/<name>/tar.gz/<sha>` as codeload would lay it out.
struct GitHostedProject {
    repo: tempfile::TempDir,
    server: Server,
}

impl GitHostedProject {
    fn new(name: &str, files: &[(&str, &str, bool)]) -> Self {
        let stage = tempfile::tempdir().unwrap();
        let top = format!("u-{name}-{}", &SHA[..7]);
        write_tree(&stage.path().join(&top), files);
        let tgz = stage.path().join("a.tgz");
        let mut tar = Command::new("tar");
        tar.current_dir(stage.path()).args([
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mtime=@499162500",
            "-czf",
            tgz.to_str().unwrap(),
            &top,
        ]);
        util::run(tar).expect_code(0);
        let bytes = std::fs::read(&tgz).unwrap();
        let server = Server::start();
        let route = format!("/u/{name}/tar.gz/{SHA}");
        server.route(&route, Route::Ok(bytes.clone()));
        let url = format!("{}{}", server.base, &route[1..]);
        let repo = tempfile::tempdir().unwrap();
        let dir = repo.path();
        util::git(dir, &["init", "-q"]);
        std::fs::write(
            dir.join("package.json"),
            format!("{{\n  \"name\": \"t\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {{\n    \"{name}\": \"github:u/{name}#{SHA}\"\n  }}\n}}\n"),
        )
        .unwrap();
        std::fs::write(dir.join(".npmrc"), format!("registry={}\n", server.base)).unwrap();
        std::fs::write(
            dir.join("pnpm-lock.yaml"),
            format!(
                "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .:\n    dependencies:\n      {name}:\n        specifier: github:u/{name}#{SHA}\n        version: {url}\n\npackages:\n\n  {name}@{url}:\n    resolution: {{integrity: {}, tarball: {url}, gitHosted: true}}\n    version: 1.0.0\n\nsnapshots:\n\n  {name}@{url}: {{}}\n",
                sri(&bytes)
            ),
        )
        .unwrap();
        Self { repo, server }
    }

    fn dir(&self) -> &Path {
        self.repo.path()
    }
}

/// A git-hosted tarball pnpm stores as a registry one (npm-packlist keeps every file, no
/// build): its index under `v10/<url as a file name>/integrity-not-built.json`.
#[test]
fn git_hosted_tarball_equals_the_replay() {
    if !have_replay_tools() {
        return;
    }
    let p = GitHostedProject::new(
        "gha",
        &[
            (
                "package.json",
                "{\"name\":\"gha\",\"version\":\"1.0.0\",\"main\":\"index.js\",\"bin\":{\"gha\":\"bin/cli\"}}\n",
                false,
            ),
            ("index.js", "module.exports = 1;\n", false),
            ("bin/cli", "#!/bin/sh\necho gha\n", true),
            ("README.md", "# gha\n", false),
            ("lib/a.js", "exports.a = 1;\n", false),
        ],
    );
    assert_native_equals_replay(p.dir(), &p.server.base);
}

/// What pnpm does not store as the tarball is refused, naming the lockfile line and why;
/// for a package with a `prepare` script the replay shows the reason: an index left at a
/// name holding pnpm's process id.
#[test]
fn git_hosted_tarballs_pnpm_rebuilds_or_relists_are_refused() {
    let manifest = "{\"name\":\"ghc\",\"version\":\"1.0.0\",\"scripts\":{\"prepare\":\"tsc\"}}\n";
    let built = GitHostedProject::new(
        "ghc",
        &[
            ("package.json", manifest, false),
            ("index.js", "1\n", false),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let out = cache.path().join("out");
    let run = native(built.dir(), cache.path(), &out);
    run.expect_code(2)
        .expect_stderr_contains("pnpm-lock.yaml:17: ghc@")
        .expect_stderr_contains("process id");
    assert!(!out.exists());
    let relisted = GitHostedProject::new(
        "ghb",
        &[
            (
                "package.json",
                "{\"name\":\"ghb\",\"version\":\"1.0.0\"}\n",
                false,
            ),
            ("index.js", "1\n", false),
            ("yarn.lock", "# lock\n", false),
        ],
    );
    native(relisted.dir(), cache.path(), &out)
        .expect_code(2)
        .expect_stderr_contains("npm-packlist drops yarn.lock");
    if !have_replay_tools() {
        return;
    }
    let keep = tempfile::tempdir().unwrap();
    replay(built.dir(), &built.server.base, keep.path()).expect_code(0);
    let loose: Vec<String> = std::fs::read_dir(keep.path().join("store/v10"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("files") && !p.ends_with("index"))
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(loose.len(), 1, "{loose:?}");
    assert!(
        loose[0].starts_with("integrity-not-built.json_tmp_"),
        "pnpm no longer leaves the temp index: {loose:?}"
    );
}

/// A project with a git repository (reached over file://, with a `prepare` script pnpm
/// ignores, a lockfile npm-packlist drops, an executable), a package in a subdirectory of
/// it (`&path:`), a local directory package, and its lockfile written by real pnpm.
fn git_and_directory_project(server: &Server) -> (tempfile::TempDir, tempfile::TempDir) {
    let git_repo = tempfile::tempdir().unwrap();
    write_tree(
        git_repo.path(),
        &[
            (
                "package.json",
                "{\"name\":\"gr\",\"version\":\"1.0.0\",\"scripts\":{\"prepare\":\"exit 1\"}}\n",
                false,
            ),
            ("index.js", "module.exports = 2;\n", false),
            ("bin/x", "#!/bin/sh\n", true),
            ("yarn.lock", "# lock\n", false),
            ("LICENSE", "MIT\n", false),
            (
                "pk/sub/package.json",
                "{\"name\":\"sub\",\"version\":\"2.0.0\"}\n",
                false,
            ),
            ("pk/sub/s.js", "1\n", false),
            ("pk/sub/yarn.lock", "# lock\n", false),
        ],
    );
    util::git(git_repo.path(), &["init", "-q"]);
    util::git(git_repo.path(), &["add", "-A"]);
    util::git(git_repo.path(), &["commit", "-qm", "init"]);
    let head = Command::new("git")
        .current_dir(git_repo.path())
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap().trim().to_owned();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    write_tree(
        dir,
        &[
            (
                "dir/package.json",
                "{\"name\":\"dd\",\"version\":\"1.0.0\"}\n",
                false,
            ),
            ("dir/index.js", "1\n", false),
        ],
    );
    std::fs::write(
        dir.join("package.json"),
        format!(
            "{{\"name\":\"t\",\"version\":\"1.0.0\",\"dependencies\":{{\"gr\":\"git+file://{repo}#{head}\",\"sub\":\"git+file://{repo}#{head}&path:pk/sub\",\"dd\":\"file:./dir\"}}}}\n",
            repo = git_repo.path().display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".npmrc"), format!("registry={}\n", server.base)).unwrap();
    util::write_lockfile_with_pnpm(dir);
    util::git(dir, &["init", "-q"]);
    (project, git_repo)
}

#[test]
fn git_repository_and_directory_packages_equal_the_replay() {
    if !have_replay_tools() {
        return;
    }
    let server = Server::start();
    let (project, _git_repo) = git_and_directory_project(&server);
    let lock = std::fs::read_to_string(project.path().join("pnpm-lock.yaml")).unwrap();
    assert!(
        lock.contains("type: git") && lock.contains("type: directory"),
        "{lock}"
    );
    let replayed = assert_native_equals_replay(project.path(), &server.base);
    // The clone is kept in the cache: with an empty cache --offline refuses the package;
    // after one run it needs neither the network nor the repository any more.
    let cache = tempfile::tempdir().unwrap();
    let print = |extra: &[&str]| {
        let mut args = vec!["--print", "--fetcher-version", "3", "--pnpm", "10"];
        args.extend(extra);
        util::uph(project.path(), cache.path(), &args)
    };
    print(&["--offline"])
        .expect_code(3)
        .expect_stderr_contains("is not in the git cache")
        .expect_stderr_contains("run without --offline once to fill the cache");
    assert_eq!(print(&[]).expect_code(0).stdout().trim(), replayed);
    drop(_git_repo);
    for extra in [&["--offline", "--recompute"][..], &["--recompute"][..]] {
        let run = print(extra);
        run.expect_code(0);
        assert_eq!(run.stdout().trim(), replayed, "{run}");
    }
}

/// A git repository of `files` (path, contents, executable), every file committed, those
/// its own `.gitignore` files ignore too (`git add -f`); returns it and its commit.
fn committed_repo(files: &[(&str, &str, bool)]) -> (tempfile::TempDir, String) {
    let repo = tempfile::tempdir().unwrap();
    write_tree(repo.path(), files);
    util::git(repo.path(), &["init", "-q"]);
    util::git(repo.path(), &["add", "-A", "-f"]);
    util::git(repo.path(), &["commit", "-qm", "init"]);
    let head = Command::new("git")
        .current_dir(repo.path())
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap().trim().to_owned();
    (repo, head)
}

/// A project depending on `deps` (name, git specifier), its lockfile written by real pnpm.
fn project_with(server: &Server, deps: &[(&str, String)]) -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let deps: Vec<String> = deps
        .iter()
        .map(|(n, s)| format!("\"{n}\":\"{s}\""))
        .collect();
    std::fs::write(
        dir.join("package.json"),
        format!(
            "{{\"name\":\"t\",\"version\":\"1.0.0\",\"dependencies\":{{{}}}}}\n",
            deps.join(",")
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".npmrc"), format!("registry={}\n", server.base)).unwrap();
    util::write_lockfile_with_pnpm(dir);
    util::git(dir, &["init", "-q"]);
    project
}

/// npm-packlist's ignore files and `files` lists, as real pnpm applies them to git
/// packages: the repository's root package has a root `.gitignore` (globs, an anchored
/// directory, a trailing-slash directory, a negation, comments), nested `.npmignore`s
/// overriding `.gitignore`s, a `.gitignore` of `*` with a `!` rule, and must-haves
/// (README, LICENSE, main, a bin in an ignored directory); the package in `pk/files`
/// lists `files` (a directory with its own ignore files, a negated `**` glob, a glob, a
/// trailing-slash directory) beside a `.gitignore` the list makes irrelevant.
#[test]
fn git_packages_with_ignore_files_and_files_lists_equal_the_replay() {
    if !have_replay_tools() {
        return;
    }
    let (repo, head) = committed_repo(&[
        (
            "package.json",
            "{\"name\":\"gi\",\"version\":\"1.0.0\",\"main\":\"lib/index.js\",\"bin\":{\"gi\":\"./bin/cli.js\"}}\n",
            false,
        ),
        (
            ".gitignore",
            "# build output\n\n*.log\n!keep.log\n/dist\nbuild/\ncoverage\nbin\n  *.tmp  \r\n",
            false,
        ),
        ("README.md", "# gi\n", false),
        ("LICENSE", "MIT\n", false),
        ("keep.log", "kept\n", false),
        ("a.log", "dropped\n", false),
        ("x.tmp", "dropped\n", false),
        ("dist/x.js", "dropped\n", false),
        ("build/out.js", "dropped\n", false),
        ("coverage/c.txt", "dropped\n", false),
        ("lib/index.js", "module.exports = 1;\n", false),
        ("lib/dist/y.js", "kept: /dist is anchored\n", false),
        ("lib/build", "kept: build/ names directories\n", false),
        ("lib/x.orig", "dropped\n", false),
        ("bin/cli.js", "#!/bin/sh\necho gi\n", true),
        ("bin/other.sh", "#!/bin/sh\n", true),
        ("src/.npmignore", "*.test.js\n", false),
        ("src/.gitignore", "*.js\n", false),
        ("src/a.js", "kept: .npmignore wins\n", false),
        ("src/a.test.js", "dropped\n", false),
        ("docs/.gitignore", "*\n!*.md\n", false),
        ("docs/guide.md", "kept\n", false),
        ("docs/notes.txt", "dropped\n", false),
        ("yarn.lock", "# dropped\n", false),
        (
            "pk/files/package.json",
            "{\"name\":\"gf\",\"version\":\"2.0.0\",\"main\":\"index.js\",\"bin\":\"cli.js\",\"files\":[\"lib\",\"!lib/**/*.test.js\",\"types/*.d.ts\",\"data/\"]}\n",
            false,
        ),
        ("pk/files/.gitignore", "index.js\nlib\n", false),
        ("pk/files/README", "gf\n", false),
        ("pk/files/LICENSE.txt", "MIT\n", false),
        ("pk/files/CHANGELOG.md", "dropped\n", false),
        ("pk/files/index.js", "kept: main\n", false),
        ("pk/files/cli.js", "#!/bin/sh\n", true),
        ("pk/files/other.js", "dropped\n", false),
        ("pk/files/lib/a.js", "kept\n", false),
        ("pk/files/lib/a.test.js", "dropped\n", false),
        ("pk/files/lib/a.js.map", "dropped by lib/.npmignore\n", false),
        ("pk/files/lib/.npmignore", "*.map\n", false),
        ("pk/files/lib/.gitignore", "*.js\n", false),
        ("pk/files/lib/sub/b.js", "kept\n", false),
        ("pk/files/lib/sub/b.test.js", "dropped\n", false),
        ("pk/files/types/a.d.ts", "kept\n", false),
        ("pk/files/types/b.ts", "dropped\n", false),
        ("pk/files/data/x.json", "{}\n", false),
    ]);
    let server = Server::start();
    let url = format!("git+file://{}#{head}", repo.path().display());
    let project = project_with(
        &server,
        &[("gi", url.clone()), ("gf", format!("{url}&path:pk/files"))],
    );
    let lock = std::fs::read_to_string(project.path().join("pnpm-lock.yaml")).unwrap();
    assert_eq!(lock.matches("type: git").count(), 2, "{lock}");
    assert_native_equals_replay(project.path(), &server.base);
}

/// An ignore rule npm-packlist would brace-expand is refused, naming the lockfile entry,
/// the ignore file and its line; nothing is written.
#[test]
fn git_packages_with_unemulated_ignore_rules_are_refused() {
    if !util::have_path(&pnpm(), "pnpm 10.34.5: cargo xtask reference-tools") {
        return;
    }
    let (repo, head) = committed_repo(&[
        (
            "package.json",
            "{\"name\":\"gb\",\"version\":\"1.0.0\"}\n",
            false,
        ),
        ("lib/.gitignore", "# fine\n*.log\n{a,b}.js\n", false),
        ("lib/a.js", "1\n", false),
    ]);
    let server = Server::start();
    let url = format!("git+file://{}#{head}", repo.path().display());
    let project = project_with(&server, &[("gb", url)]);
    let cache = tempfile::tempdir().unwrap();
    let out = cache.path().join("out");
    native(project.path(), cache.path(), &out)
        .expect_code(2)
        .expect_stderr_contains("pnpm-lock.yaml:")
        .expect_stderr_contains(
            "lib/.gitignore has, line 3, the pattern \"{a,b}.js\", which uses braces",
        );
    assert!(!out.exists());
}
