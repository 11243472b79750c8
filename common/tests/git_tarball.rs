//! `GitFetcher::tarball` against the real thing: repos made with the `git` binary, checked out
//! the way nix-prefetch-git checks out (`git init`, `git fetch --depth 1`, `git checkout`, every
//! `.git` removed, umask 022, empty HOME) and packed by GNU tar with prefetch-yarn-deps' flags.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::yarn::git_source::{GitFetcher, GitSourceError};

/// Serialises the tests that set process environment variables.
static ENV_LOCK: Mutex<()> = Mutex::new(());

const FAKE_URL: &str = "https://github.com/owner/repo.git";

/// `git` and GNU `tar`, or None (after printing why) when missing outside CI.
fn tools() -> Option<()> {
    for (tool, marker) in [("git", "git version"), ("tar", "GNU tar")] {
        let out = Command::new(tool).arg("--version").output();
        let ok = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(marker));
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "{tool} ({marker}) is required in CI"
            );
            eprintln!("skipping: {marker} is not installed");
            return None;
        }
    }
    Some(())
}

/// Runs a command with git isolated from this machine's config, like nix-prefetch-git does,
/// and fails with everything needed to debug it.
fn run(cwd: &Path, home: &Path, program: &str, args: &[&str]) -> Output {
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(program)
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("GIT_CONFIG_GLOBAL")
        .env_remove("GIT_CONFIG_COUNT")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "command failed: {program} {args:?}\ncwd: {}\nstdout: {}\nstderr: {}",
        cwd.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("home")).unwrap();
        Self { tmp }
    }
    fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }
    fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }
    fn bare(&self) -> PathBuf {
        self.tmp.path().join("repo.git")
    }
    fn file_url(&self) -> String {
        format!("file://{}", self.bare().display())
    }
    fn git(&self, args: &[&str]) -> String {
        let out = run(&self.work(), &self.home(), "git", args);
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
    fn write(&self, rel: &str, data: &[u8]) {
        let path = self.work().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    fn init(&self) {
        std::fs::create_dir_all(self.work()).unwrap();
        self.git(&["init", "-q", "--initial-branch=main"]);
    }
    /// Commits everything in the work tree and publishes it to the bare repo; returns the sha.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        if !self.bare().exists() {
            let bare = self.bare();
            run(
                self.tmp.path(),
                &self.home(),
                "git",
                &[
                    "init",
                    "-q",
                    "--bare",
                    "--initial-branch=main",
                    bare.to_str().unwrap(),
                ],
            );
            self.git(&["remote", "add", "origin", &self.file_url()]);
        }
        self.git(&["push", "-q", "--all", "origin"]);
        self.git(&["push", "-q", "--tags", "origin"]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A fetcher whose only insteadOf rule, read from a config file, maps FAKE_URL to the repo.
    fn fetcher(&self) -> GitFetcher {
        let path = self.tmp.path().join("gitconfig");
        let text = format!("[url \"{}\"]\n\tinsteadOf = {FAKE_URL}\n", self.file_url());
        std::fs::write(&path, text).unwrap();
        let cfg = git2::Config::open(&path).unwrap();
        GitFetcher::with_config(&cfg).unwrap()
    }

    /// nix-prefetch-git --builder's checkout of `rev`, packed by GNU tar as upstream packs it.
    fn reference_tarball(&self, rev: &str) -> Vec<u8> {
        let out = self
            .tmp
            .path()
            .join(format!("ref-{}", rev.replace('/', "_")));
        std::fs::create_dir(&out).unwrap();
        let git = |args: &[&str]| run(&out, &self.home(), "git", args);
        git(&["init", "-q", "--initial-branch=master"]);
        git(&["remote", "add", "origin", &self.file_url()]);
        let is_hex = rev
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let wanted = if rev == "HEAD" || rev.starts_with("refs/") || is_hex {
            rev.to_owned()
        } else {
            format!("refs/tags/{rev}")
        };
        git(&[
            "fetch",
            "-q",
            "--depth",
            "1",
            "origin",
            &format!("+{wanted}"),
        ]);
        git(&["checkout", "-q", "-b", "fetchgit", "FETCH_HEAD"]);
        run(
            &out,
            &self.home(),
            "sh",
            &["-c", "find . -name .git -print0 | xargs -0 rm -rf"],
        );
        let tar = self.tmp.path().join("ref.tar");
        let tar_args = [
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--format=gnu",
            "--sort=name",
            "--mtime=@1",
            "--mode",
            "u+w",
            "-C",
            out.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ];
        run(self.tmp.path(), &self.home(), "tar", &tar_args);
        std::fs::read(tar).unwrap()
    }

    fn assert_matches_reference(&self, rev: &str) {
        let ours = self.fetcher().tarball(FAKE_URL, rev).unwrap();
        let theirs = self.reference_tarball(rev);
        if ours != theirs {
            let listing = |bytes: &[u8], name: &str| {
                let path = self.tmp.path().join(name);
                std::fs::write(&path, bytes).unwrap();
                let out = Command::new("tar").arg("-tvf").arg(&path).output().unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            let at = ours.iter().zip(&theirs).position(|(a, b)| a != b);
            panic!(
                "tarball for {rev} differs from nix-prefetch-git + GNU tar (first byte {at:?}, block {:?})\n--- ours\n{}--- reference\n{}",
                at.map(|a| a / 512),
                listing(&ours, "ours.tar"),
                listing(&theirs, "theirs.tar"),
            );
        }
    }
}

fn awkward_repo(f: &Fixture) -> String {
    f.init();
    f.write("README.md", b"# hello\n");
    f.write("empty", b"");
    f.write("bin/run.sh", b"#!/bin/sh\necho hi\n");
    let run_sh = f.work().join("bin/run.sh");
    std::fs::set_permissions(&run_sh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let large: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    f.write("data/large.bin", &large);
    // Names past the 100-byte header field, one at NAME_MAX, and a path longer than 255 bytes.
    let n120 = "n".repeat(120);
    let n255 = "m".repeat(255);
    f.write(&format!("deep/{n120}/{n255}"), b"long path\n");
    f.write(
        &format!("{}/x", "d".repeat(97)),
        b"dir name fills the field\n",
    );
    f.write("caf\u{e9} \u{2603} spaced & 'quoted'.txt", b"unicode\n");
    // Names that only Windows forbids: git on Linux checks them out, so must we.
    for odd in [
        "back\\slash",
        "con",
        "aux.txt",
        "trailing.",
        "trailing ",
        "colon:name",
    ] {
        f.write(odd, odd.as_bytes());
    }
    f.write("a-b", b"sorts before a.b\n");
    f.write("a.b", b"\n");
    f.write("B-upper", b"sorts before lower case\n");
    // Symlinks: short, dangling, into a dir, and a target longer than 100 bytes.
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, f.work().join(name)).unwrap();
    };
    link("README.md", "readme-link");
    link("does/not/exist", "dangling");
    link(&format!("deep/{n120}"), "dir-link");
    link(
        &format!("{}/{}", "t".repeat(80), "u".repeat(80)),
        "long-target",
    );
    link(
        &format!("../{n255}"),
        &format!("deep/{n120}/l{}", "k".repeat(200)),
    );
    // Line-ending and ident filters from .gitattributes, including one in a subdirectory and files
    // that sort before ".gitattributes" (libgit2 would check them out before reading it).
    f.write(
        ".gitattributes",
        b"*.crlf text eol=crlf\n*.lf text eol=lf\nauto/* text=auto eol=crlf\n*.id ident\n*.raw -text\n",
    );
    f.write("-early.crlf", b"one\ntwo\n");
    f.write("!bang.crlf", b"one\ntwo\n");
    f.write("late.crlf", b"one\ntwo\nalready\r\n");
    f.write("keep.lf", b"one\r\ntwo\n");
    f.write("auto/text.txt", b"a\nb\n");
    f.write("auto/binary.dat", b"a\0b\nc\n");
    f.write("version.id", b"$Id$\n");
    f.write("crlf.raw", b"one\r\ntwo\n");
    f.write("sub/.gitattributes", b"*.md eol=crlf\n");
    f.write("sub/doc.md", b"line\nline\n");
    f.write("sub/other.txt", b"line\nline\n");
    // A submodule that nix-prefetch-git does not fetch by default: a gitlink and .gitmodules.
    f.write(".gitmodules", b"[submodule \"vendor/lib\"]\n\tpath = vendor/lib\n\turl = https://example.invalid/lib.git\n");
    f.git(&["add", "-A"]);
    let gitlink = "0123456789abcdef0123456789abcdef01234567";
    f.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{gitlink},vendor/lib"),
    ]);
    f.commit("awkward")
}

#[test]
fn awkward_tree_at_sha_matches_nix_prefetch_git_and_gnu_tar() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    let sha = awkward_repo(&f);
    f.assert_matches_reference(&sha);
}

#[test]
fn branch_ref_tag_and_head_match_reference() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("file", b"v1\n");
    f.commit("one");
    f.git(&["tag", "-a", "-m", "annotated", "v1.0.0"]);
    f.git(&["tag", "light"]);
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("file", b"feature\n");
    f.commit("two");
    f.git(&["checkout", "-q", "main"]);
    f.write("file", b"main\n");
    let main_sha = f.commit("three");
    for rev in [
        "refs/heads/feature",
        "refs/heads/main",
        "HEAD",
        "v1.0.0",
        "light",
        "refs/tags/v1.0.0",
    ] {
        f.assert_matches_reference(rev);
    }
    f.assert_matches_reference(&main_sha);
    // The three revs differ, so the comparison above is not vacuous.
    let fetcher = f.fetcher();
    let tags = fetcher.tarball(FAKE_URL, "v1.0.0").unwrap();
    let feature = fetcher.tarball(FAKE_URL, "refs/heads/feature").unwrap();
    assert_ne!(tags, feature);
}

#[test]
fn sha_not_at_any_ref_tip_and_abbreviated_sha_work() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("file", b"old\n");
    let old = f.commit("old");
    f.write("file", b"new\n");
    let new = f.commit("new");
    let fetcher = f.fetcher();
    let old_tar = fetcher.tarball(FAKE_URL, &old).unwrap();
    assert_eq!(old_tar, fetcher.tarball(FAKE_URL, &old[..7]).unwrap());
    assert_ne!(old_tar, fetcher.tarball(FAKE_URL, &new).unwrap());
    f.assert_matches_reference(&old);
}

#[test]
fn branch_name_is_read_as_a_tag_like_nix_prefetch_git_does() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("file", b"x\n");
    f.commit("one");
    f.git(&["branch", "develop"]);
    f.commit("two");
    let err = f.fetcher().tarball(FAKE_URL, "develop").unwrap_err();
    assert!(matches!(err, GitSourceError::UnknownRev { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(FAKE_URL) && message.contains("develop"),
        "{message}"
    );
    assert!(
        message.contains("refs/heads/develop"),
        "should suggest the full ref: {message}"
    );
    // nix-prefetch-git fails the same way: `git fetch origin +refs/tags/develop` finds nothing.
    let fetch = Command::new("git")
        .args([
            "ls-remote",
            "--exit-code",
            &f.file_url(),
            "refs/tags/develop",
        ])
        .output()
        .unwrap();
    assert!(!fetch.status.success());
}

#[test]
fn unknown_rev_and_unreachable_remote_are_clear_errors() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("file", b"x\n");
    f.commit("one");
    let fetcher = f.fetcher();
    let missing = "1111111111111111111111111111111111111111";
    let err = fetcher.tarball(FAKE_URL, missing).unwrap_err();
    assert!(matches!(err, GitSourceError::UnknownRev { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(missing) && message.contains(FAKE_URL),
        "{message}"
    );
    assert!(
        message.contains(&f.file_url()),
        "names the rewritten URL too: {message}"
    );

    let err = fetcher.tarball(FAKE_URL, "refs/heads/nope").unwrap_err();
    assert!(matches!(err, GitSourceError::UnknownRev { .. }), "{err:?}");

    let gone = format!("file://{}/does-not-exist.git", f.tmp.path().display());
    let err = fetcher.tarball(&gone, "HEAD").unwrap_err();
    assert!(matches!(err, GitSourceError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&gone), "{err}");
}

#[test]
fn default_config_honours_git_config_global_like_git() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("file", b"x\n");
    let sha = f.commit("one");
    let global = f.tmp.path().join("global-config");
    let text = format!(
        "[url \"{}\"]\n\tinsteadOf = https://github.com/owner/\n[url \"{}\"]\n\tinsteadOf = {FAKE_URL}\n",
        "file:///wrong/shorter-prefix/",
        f.file_url()
    );
    std::fs::write(&global, text).unwrap();

    let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("GIT_CONFIG_GLOBAL", &global);
    std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
    let fetcher = GitFetcher::from_default_config();
    // git, given the same environment, picks the same URL (longest insteadOf prefix).
    let git_says = Command::new("git")
        .args(["ls-remote", "--get-url", FAKE_URL])
        .output()
        .unwrap();
    std::env::remove_var("GIT_CONFIG_GLOBAL");
    std::env::remove_var("GIT_CONFIG_NOSYSTEM");

    let fetcher = fetcher.unwrap();
    let git_url = String::from_utf8(git_says.stdout).unwrap();
    assert_eq!(fetcher.rewrite_url(FAKE_URL), git_url.trim());
    assert_eq!(fetcher.rewrite_url(FAKE_URL), f.file_url());
    f.assert_matches_reference(&sha);
    assert_eq!(
        fetcher.tarball(FAKE_URL, &sha).unwrap(),
        f.fetcher().tarball(FAKE_URL, &sha).unwrap()
    );
}

#[test]
fn default_config_reads_git_config_count_pairs() {
    let Some(()) = tools() else { return };
    let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let vars = [
        ("GIT_CONFIG_COUNT", "2"),
        ("GIT_CONFIG_KEY_0", "url.file:///mirror/.insteadOf"),
        ("GIT_CONFIG_VALUE_0", "https://github.com/"),
        ("GIT_CONFIG_KEY_1", "core.editor"),
        ("GIT_CONFIG_VALUE_1", "true"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
    ];
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let fetcher = GitFetcher::from_default_config();
    let git_says = Command::new("git")
        .args(["ls-remote", "--get-url", FAKE_URL])
        .output()
        .unwrap();
    for (k, _) in vars {
        std::env::remove_var(k);
    }
    let ours = fetcher.unwrap().rewrite_url(FAKE_URL);
    assert_eq!(ours, "file:///mirror/owner/repo.git");
    assert_eq!(ours, String::from_utf8(git_says.stdout).unwrap().trim());
}

#[test]
fn tree_hash_rev_packs_that_tree_like_nix_prefetch_git_commit_tree() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("file", b"tree\n");
    f.write("dir/x", b"x\n");
    let sha = f.commit("one");
    let tree = f.git(&["rev-parse", "HEAD^{tree}"]);
    let fetcher = f.fetcher();
    assert_eq!(
        fetcher.tarball(FAKE_URL, &tree).unwrap(),
        f.reference_tarball(&sha),
        "a tree hash checks out the same files as its commit"
    );
    let blob = f.git(&["rev-parse", "HEAD:file"]);
    let err = fetcher.tarball(FAKE_URL, &blob).unwrap_err();
    assert!(err.to_string().contains("blob"), "{err}");
}

#[test]
fn working_tree_encoding_is_refused_rather_than_packed_differently() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("text.utf16", b"hello\n");
    f.commit("plain utf-8 blob");
    // Added after the blob, so git stored it unconverted; git would re-encode it on checkout.
    f.write(
        ".gitattributes",
        b"*.utf16 working-tree-encoding=UTF-16LE\n",
    );
    let sha = f.commit("attributes");
    let err = f.fetcher().tarball(FAKE_URL, &sha).unwrap_err();
    assert!(matches!(err, GitSourceError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("working-tree-encoding"), "{err}");
}

#[test]
fn nested_dot_git_in_a_tree_fails_like_git_checkout() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("file", b"x\n");
    f.commit("one");
    // git add refuses `.git` paths, so build the tree by hand (as a hostile remote could).
    let blob = f.git(&["hash-object", "-w", "file"]);
    let mktree = |listing: String| {
        let path = f.tmp.path().join("listing");
        std::fs::write(&path, listing).unwrap();
        let script = format!("git mktree < '{}'", path.display());
        let out = run(&f.work(), &f.home(), "sh", &["-c", &script]);
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let sub = mktree(format!(
        "100644 blob {blob}\t.git\n100644 blob {blob}\tkeep\n"
    ));
    let root = mktree(format!(
        "040000 tree {sub}\tsub\n100644 blob {blob}\tfile\n"
    ));
    let commit = f.git(&["commit-tree", &root, "-p", "HEAD", "-m", "nested .git"]);
    f.git(&["update-ref", "refs/heads/main", &commit]);
    f.git(&["push", "-q", "origin", "main"]);

    let ours = f.fetcher().tarball(FAKE_URL, &commit);
    assert!(
        matches!(ours, Err(GitSourceError::Checkout { .. })),
        "{ours:?}"
    );
    // nix-prefetch-git's `git checkout` refuses the path too, so there is no upstream hash.
    let out = f.tmp.path().join("nested");
    std::fs::create_dir(&out).unwrap();
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&out)
            .env("HOME", f.home())
            .output()
            .unwrap()
    };
    git(&["init", "-q"]);
    assert!(git(&["fetch", "-q", &f.file_url(), "main"])
        .status
        .success());
    let checkout = git(&["checkout", "-q", &commit]);
    assert!(!checkout.status.success(), "git checked out a nested .git");
}

/// libgit2 reads the user's ~/.gitconfig and ~/.config/git/attributes on its own (it ignores
/// GIT_CONFIG_GLOBAL); nix-prefetch-git runs git with an empty HOME. A hostile HOME must not
/// change a single byte. libgit2 reads HOME once per process, so this runs the child test below
/// in a fresh process of this test binary.
#[test]
fn hostile_user_git_config_does_not_change_the_bytes() {
    let Some(()) = tools() else { return };
    let home = tempfile::tempdir().unwrap();
    let attributes = home.path().join("attributes");
    std::fs::write(&attributes, "* text eol=crlf ident\n").unwrap();
    let xdg = home.path().join(".config/git");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(xdg.join("attributes"), "* text eol=crlf\n").unwrap();
    let gitconfig = format!(
        "[core]\n\tautocrlf = true\n\teol = crlf\n\tsymlinks = false\n\tattributesFile = {}\n\
         [url \"file:///nonexistent/\"]\n\tinsteadOf = file:///\n",
        attributes.display()
    );
    std::fs::write(home.path().join(".gitconfig"), gitconfig).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hostile_config_child",
            "--ignored",
            "--nocapture",
        ])
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child test failed under a hostile HOME\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by hostile_user_git_config_does_not_change_the_bytes, with a hostile HOME"]
fn hostile_config_child() {
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    let sha = awkward_repo(&f);
    f.assert_matches_reference(&sha);
}

#[test]
fn symlinked_gitattributes_is_treated_like_git_treats_it() {
    // git (since 2.32) does not follow an in-tree .gitattributes that is a symlink.
    let Some(()) = tools() else { return };
    let f = Fixture::new();
    f.init();
    f.write("rules", b"*.txt text eol=crlf\n");
    f.write("dir/a.txt", b"one\ntwo\n");
    std::os::unix::fs::symlink("../rules", f.work().join("dir/.gitattributes")).unwrap();
    f.write("b.txt", b"one\ntwo\n");
    let sha = f.commit("symlinked attributes");
    f.assert_matches_reference(&sha);
}
