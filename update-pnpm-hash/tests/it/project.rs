//! A small pnpm 10 project in a temp git repository, its packages served by a loopback
//! registry: a scoped package, a bin (an executable file), a dependency between them.
//! The lockfile is what pnpm 10 writes for this package.json (same keys, same order).

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest, Sha512};

use crate::server::{Route, Server};
use crate::util::{self, Run};

pub struct Package {
    pub name: &'static str,
    pub version: &'static str,
    pub tarball: Vec<u8>,
}

impl Package {
    /// A registry tarball: `package/` with package.json, index.js and an executable bin.
    pub(crate) fn build(name: &'static str, version: &'static str, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("package");
        std::fs::create_dir_all(pkg.join("bin")).unwrap();
        std::fs::write(
            pkg.join("package.json"),
            format!("{{\"name\":\"{name}\",\"version\":\"{version}\",\"bin\":{{\"{}\":\"bin/cli\"}}{extra}}}\n", name.rsplit('/').next().unwrap()),
        )
        .unwrap();
        std::fs::write(
            pkg.join("index.js"),
            format!("module.exports = '{name}';\n"),
        )
        .unwrap();
        let cli = pkg.join("bin/cli");
        std::fs::write(&cli, "#!/usr/bin/env node\nconsole.log(1)\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = dir.path().join("p.tgz");
        let mut tar = Command::new("tar");
        tar.current_dir(dir.path()).args([
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mtime=@499162500",
            "-czf",
            out.to_str().unwrap(),
            "package",
        ]);
        util::run(tar).expect_code(0);
        Self {
            name,
            version,
            tarball: std::fs::read(out).unwrap(),
        }
    }

    pub fn integrity(&self) -> String {
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&self.tarball))
        )
    }

    pub fn path(&self) -> String {
        let base = self.name.rsplit('/').next().unwrap();
        format!("/{}/-/{base}-{}.tgz", self.name, self.version)
    }
}

pub struct Project {
    pub repo: tempfile::TempDir,
    pub cache: tempfile::TempDir,
    pub server: Server,
    pub packages: Vec<Package>,
}

pub const RECORD: &str = ".nix/yarn-deps.toml";

impl Project {
    pub fn new() -> Self {
        let server = Server::start();
        let packages = vec![
            Package::build("@s/b", "2.0.1", ""),
            Package::build("a", "1.0.0", ",\"dependencies\":{\"@s/b\":\"^2.0.0\"}"),
        ];
        for p in &packages {
            server.route(&p.path(), Route::Ok(p.tarball.clone()));
        }
        let repo = tempfile::tempdir().unwrap();
        let dir = repo.path().to_owned();
        let dir = dir.as_path();
        util::git(dir, &["init", "-q"]);
        std::fs::write(
            dir.join("package.json"),
            "{\n  \"name\": \"t\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n    \"a\": \"1.0.0\"\n  }\n}\n",
        )
        .unwrap();
        std::fs::write(dir.join(".npmrc"), format!("registry={}\n", server.base)).unwrap();
        let project = Self {
            repo,
            cache: tempfile::tempdir().unwrap(),
            server,
            packages,
        };
        std::fs::write(dir.join("pnpm-lock.yaml"), project.lockfile()).unwrap();
        util::git(dir, &["add", "-A"]);
        util::git(dir, &["commit", "-qm", "init"]);
        project
    }

    pub fn dir(&self) -> &Path {
        self.repo.path()
    }

    /// The lockfile pnpm 10 writes for this project.
    pub fn lockfile(&self) -> String {
        let [b, a] = &self.packages[..] else {
            unreachable!()
        };
        format!(
            "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .:\n    dependencies:\n      a:\n        specifier: 1.0.0\n        version: 1.0.0\n\npackages:\n\n  '@s/b@2.0.1':\n    resolution: {{integrity: {}}}\n    hasBin: true\n\n  a@1.0.0:\n    resolution: {{integrity: {}}}\n    hasBin: true\n\nsnapshots:\n\n  '@s/b@2.0.1': {{}}\n\n  a@1.0.0:\n    dependencies:\n      '@s/b': 2.0.1\n",
            b.integrity(),
            a.integrity()
        )
    }

    pub fn uph(&self, args: &[&str]) -> Run {
        util::uph(self.dir(), self.cache.path(), args)
    }

    pub fn record(&self) -> String {
        std::fs::read_to_string(self.dir().join(RECORD)).unwrap_or_default()
    }
}
