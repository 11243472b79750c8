//! `runtime:` dependencies (Node.js as a `type: variations` package) against the
//! fetchPnpmDeps replay with real pnpm 10.34.5.
//!
//! nodejs.org is played by a loopback server configured as pnpm's `node-mirror:release`:
//! pnpm resolves the version from its `index.json` and the variants from
//! `v<version>/SHASUMS256.txt`, and writes the lockfile (`pnpm install --lockfile-only`)
//! with the mirror's URLs, which the install then downloads. What differs from nodejs.org
//! is the host and the archives' contents (small stand-ins laid out as Node's:
//! `node-v<version>-<os>-<cpu>/bin/node`, no `package.json`).

use std::process::Command;

use sha2::{Digest, Sha256};

use crate::git_packages::{assert_native_equals_replay, have_replay_tools, write_tree};
use crate::server::{Route, Server};
use crate::util;

const VERSION: &str = "22.0.0";
const PLATFORMS: [&str; 4] = ["darwin-arm64", "darwin-x64", "linux-arm64", "linux-x64"];

/// Serves a Node.js release mirror with one version for `PLATFORMS`.
fn node_mirror(server: &Server) {
    let mut shasums = String::new();
    for platform in PLATFORMS {
        let stage = tempfile::tempdir().unwrap();
        let top = format!("node-v{VERSION}-{platform}");
        write_tree(
            &stage.path().join(&top),
            &[
                ("bin/node", &format!("#!/bin/sh\necho {platform}\n"), true),
                ("include/node/node.h", "#define NODE 1\n", false),
                ("README.md", "# Node.js\n", false),
            ],
        );
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
        let name = format!("{top}.tar.gz");
        shasums.push_str(&format!("{:x}  {name}\n", Sha256::digest(&bytes)));
        server.route(&format!("/node/v{VERSION}/{name}"), Route::Ok(bytes));
    }
    server.route(
        &format!("/node/v{VERSION}/SHASUMS256.txt"),
        Route::Ok(shasums.into_bytes()),
    );
    server.route(
        "/node/index.json",
        Route::Ok(format!("[{{\"version\":\"v{VERSION}\",\"lts\":false}}]").into_bytes()),
    );
}

/// The variant of the platform pnpm runs on is stored (index under its sha256 and
/// `node@runtime:<version>`), with the `package.json` pnpm makes up for it.
#[test]
fn runtime_node_equals_the_replay() {
    if !have_replay_tools() {
        return;
    }
    let server = Server::start();
    node_mirror(&server);
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::write(
        dir.join("package.json"),
        format!("{{\"name\":\"t\",\"version\":\"1.0.0\",\"devDependencies\":{{\"node\":\"runtime:{VERSION}\"}}}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(".npmrc"),
        format!(
            "registry={}\nnode-mirror:release={}node/\n",
            server.base, server.base
        ),
    )
    .unwrap();
    util::write_lockfile_with_pnpm(dir);
    let text = std::fs::read_to_string(dir.join("pnpm-lock.yaml")).unwrap();
    assert!(text.contains("type: variations"), "{text}");
    util::git(dir, &["init", "-q"]);
    assert_native_equals_replay(dir, &server.base);
}
