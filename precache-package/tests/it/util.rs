//! Test harness: real `nix`, real git repositories, the real binary, run through
//! `test_support::run` (on failure every assertion dumps the command, its cwd, stdout
//! and stderr).

use std::path::{Path, PathBuf};
use std::process::Command;

pub use test_support::run::{Run, NIX_CONFIG};

/// Whether `tool` is on PATH; when it is not, the test skips (and fails under CI=true).
pub fn have(tool: &str) -> bool {
    test_support::tool(tool, "precache-package's tests run it").is_some()
}

pub fn have_nix_and_git() -> bool {
    have("nix") && have("git")
}

/// `cmd` in `cwd`, with the test Nix configuration unless it sets its own.
pub fn run(mut cmd: Command, cwd: &Path) -> Run {
    cmd.current_dir(cwd);
    if !cmd.get_envs().any(|(k, _)| k == "NIX_CONFIG") {
        cmd.env("NIX_CONFIG", NIX_CONFIG);
    }
    test_support::run::run(cmd)
}

pub fn precache(cwd: &Path, args: &[&str]) -> Run {
    precache_with_nix_config(cwd, args, NIX_CONFIG)
}

pub fn precache_with_nix_config(cwd: &Path, args: &[&str], nix_config: &str) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_precache-package"));
    // A developer's CACHIX_CACHE would turn every --to test into a usage error.
    cmd.args(args)
        .env("NIX_CONFIG", nix_config)
        .env_remove("CACHIX_CACHE");
    run(cmd, cwd)
}

#[track_caller]
pub fn sh(cwd: &Path, program: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let r = run(cmd, cwd);
    r.expect_code(0);
    r.stdout()
}

pub fn system() -> String {
    format!("{}-linux", std::env::consts::ARCH)
}

/// A flake repository in a temp dir whose outputs are raw `/bin/sh` derivations:
/// `a` -> `b` -> `c` at run time, `e` built from `c` without referencing it, and `broken`.
/// Every builder appends its name to a counter file outside the store, and the counter's
/// path makes the derivations unique to this test.
pub struct FlakeRepo {
    pub dir: PathBuf,
    pub counter: PathBuf,
    pub _tmp: tempfile::TempDir,
}

impl FlakeRepo {
    pub fn new() -> Self {
        Self::with_nix_config("")
    }

    /// `nix_config` is spliced into the flake's top-level attribute set.
    pub fn with_nix_config(nix_config: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        let counts = tmp.path().join("counts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&counts).unwrap();
        // Builders run as `nixbld` users.
        set_mode(tmp.path(), 0o755);
        set_mode(&counts, 0o777);
        let counter = counts.join("builds");
        std::fs::write(&counter, "").unwrap();
        set_mode(&counter, 0o666);
        let flake = FLAKE
            .replace("@SYSTEM@", &system())
            .replace("@COUNTER@", &counter.display().to_string())
            .replace("@NIXCONFIG@", nix_config);
        std::fs::write(dir.join("flake.nix"), flake).unwrap();
        sh(&dir, "git", &["init", "-q"]);
        sh(&dir, "git", &["add", "flake.nix"]);
        let repo = Self {
            dir,
            counter,
            _tmp: tmp,
        };
        repo.commit("init");
        repo
    }

    pub fn commit(&self, msg: &str) {
        sh(
            &self.dir,
            "git",
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qam",
                msg,
            ],
        );
    }

    pub fn head(&self) -> String {
        sh(&self.dir, "git", &["rev-parse", "HEAD"])
            .trim()
            .to_owned()
    }

    pub fn pinned(&self) -> String {
        format!(
            "git+file://{}?rev={}",
            self.dir.canonicalize().unwrap().display(),
            self.head()
        )
    }

    pub fn attr(&self, name: &str) -> String {
        format!("packages.{}.{name}", system())
    }

    pub fn out_path(&self, name: &str) -> String {
        let installable = format!("{}#{}.outPath", self.pinned(), self.attr(name));
        sh(&self.dir, "nix", &["eval", "--raw", &installable])
    }

    /// Builder runs so far, one name per line.
    pub fn builds(&self) -> Vec<String> {
        std::fs::read_to_string(&self.counter)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

const FLAKE: &str = r#"{
  @NIXCONFIG@
  outputs = { self }: let
    system = "@SYSTEM@";
    mk = name: script: derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [ "-c" "echo ${name} >> @COUNTER@; ${script}" ];
    };
    c = mk "c" "echo leaf > $out";
    b = mk "b" "echo ${c} > $out";
    a = mk "a" "echo ${b} > $out";
    e = mk "e" "read leaf < ${c} && echo built-from-c-without-keeping-it > $out";
    broken = mk "broken" "echo this build fails on purpose >&2; exit 1";
  in { packages.${system} = { inherit a b c e broken; }; };
}
"#;

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A signing key pair made by `nix key generate-secret`.
pub struct Key {
    pub secret_file: PathBuf,
    pub secret: String,
    pub public: String,
}

pub fn make_key(dir: &Path, name: &str) -> Key {
    let secret = sh(dir, "nix", &["key", "generate-secret", "--key-name", name]);
    let secret_file = dir.join(format!("{name}.sec"));
    std::fs::write(&secret_file, &secret).unwrap();
    let mut cmd = Command::new("nix");
    cmd.args(["key", "convert-secret-to-public"]);
    cmd.stdin(std::fs::File::open(&secret_file).unwrap());
    let r = run(cmd, dir);
    r.expect_code(0);
    Key {
        secret_file,
        secret: secret.trim().to_owned(),
        public: r.stdout().trim().to_owned(),
    }
}

/// A file:// binary cache at `<tmp>/cache` and a key made by `nix key generate-secret` in
/// the same temp dir: what every test that pushes signed paths starts from.
pub struct SignedFileCache {
    pub tmp: tempfile::TempDir,
    pub key: Key,
    pub dir: PathBuf,
    pub url: String,
}

impl SignedFileCache {
    pub fn new(key_name: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let key = make_key(tmp.path(), key_name);
        let dir = tmp.path().join("cache");
        let url = format!("file://{}", dir.display());
        Self { tmp, key, dir, url }
    }

    /// `--to URL --sign-key FILE --trusted-public-key KEY`: push signed, check with our key.
    pub fn push_args(&self) -> [&str; 6] {
        [
            "--to",
            &self.url,
            "--sign-key",
            self.key.secret_file.to_str().unwrap(),
            "--trusted-public-key",
            &self.key.public,
        ]
    }

    /// Runs `precache-package <push_args> . <output's attr>` in `repo`.
    pub fn push(&self, repo: &FlakeRepo, output: &str) -> Run {
        let attr = repo.attr(output);
        precache(&repo.dir, &[&self.push_args()[..], &[".", &attr]].concat())
    }

    pub fn narinfo(&self, store_path: &str) -> PathBuf {
        narinfo(&self.dir, store_path)
    }
}

/// The hash part of a store path, which names its narinfo.
pub fn hash_of(store_path: &str) -> String {
    store_path.trim().rsplit('/').next().unwrap()[..32].to_owned()
}

pub fn narinfo(cache: &Path, store_path: &str) -> PathBuf {
    cache.join(format!("{}.narinfo", hash_of(store_path)))
}

/// An empty file:// binary cache that exists (it has its `nix-cache-info`), and its URL.
pub fn empty_cache() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    crate::signed_narinfo::new_cache_dir(dir.path());
    let url = format!("file://{}", dir.path().display());
    (dir, url)
}
