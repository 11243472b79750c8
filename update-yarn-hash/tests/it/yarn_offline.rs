//! `--materialize` + `--fixup-lockfile` give what `yarn install --offline` needs: the
//! example workspace installs with the network cut off from yarn (offline mirror only).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::{have, run, uyh};

/// The example's manifests and lockfile (no node_modules, no build output).
fn copy_manifests(from: &Path, to: &Path) {
    for rel in [
        "package.json",
        "yarn.lock",
        "ghost/core/package.json",
        "ghost/mail/package.json",
    ] {
        let target = to.join(rel);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(from.join(rel), target).unwrap();
    }
}

#[test]
fn the_example_installs_offline_from_the_materialized_directory() {
    if !have("yarn", "yarn install --offline is what the output is for") {
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example");
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    copy_manifests(&example, &project);
    let mirror = tmp.path().join("offline");
    let cache = tmp.path().join("tarballs");
    let run_uyh = uyh(
        &project,
        &cache,
        &[
            "--lockfile",
            "yarn.lock",
            "--materialize",
            mirror.to_str().unwrap(),
            "--fixup-lockfile",
            "yarn.lock",
        ],
    );
    if run_uyh.code() == 3 && std::env::var_os("CI").is_none() {
        eprintln!("skipping: the npm registry is unreachable\n{run_uyh}");
        return;
    }
    run_uyh.expect_code(0);
    let fixed = fs::read_to_string(project.join("yarn.lock")).unwrap();
    assert!(
        !fixed.contains("https://registry"),
        "every resolved points into the mirror:\n{fixed}"
    );

    fs::write(
        project.join(".yarnrc"),
        format!("yarn-offline-mirror \"{}\"\n", mirror.display()),
    )
    .unwrap();
    let mut yarn = Command::new("yarn");
    yarn.current_dir(&project)
        .args([
            "install",
            "--offline",
            "--frozen-lockfile",
            "--ignore-scripts",
            "--non-interactive",
        ])
        .arg("--cache-folder")
        .arg(tmp.path().join("yarn-cache"))
        .env("HOME", tmp.path())
        // Any registry access would fail: nothing listens there.
        .env("YARN_REGISTRY", "http://127.0.0.1:9");
    run(yarn).expect_code(0);
    for dep in ["mysql2", "ioredis", "nodemailer"] {
        assert!(
            project
                .join("node_modules")
                .join(dep)
                .join("package.json")
                .is_file(),
            "{dep} installed from the offline mirror"
        );
    }
}
