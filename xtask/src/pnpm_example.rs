//! The pnpm example (`example-pnpm/`, `.nix/pnpm-example.nix`), checked without nixpkgs:
//! pure evaluation with stand-ins of what reaches fetchPnpmDeps, pnpmConfigHook and the
//! derivations (and planted faults refused), which source sets an edit changes, and, as root,
//! a build of node_modules and the app with the real pnpm 10.34.5 that shows the app
//! references node_modules instead of holding it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use crate::example_copy::copy_example;
use crate::{reference_tools, tool_install};

const EXAMPLE: &str = "example-pnpm";

pub fn run(sh: &Shell, nix_instantiate: &Path, root: &Path) -> Result<()> {
    let out = eval(nix_instantiate, "pnpm-example.nix", root)?
        .map_err(|e| anyhow::anyhow!("evaluating .nix/tests/pnpm-example.nix failed:\n{e}"))?;
    ensure!(out == "true", "pnpm-example.nix gave {out}");
    println!("nix eval: the pnpm example passes fetchPnpmDeps the recorded hash, fetcherVersion 3 and pnpm_10, installs with pnpmConfigHook and links node_modules");
    planted_faults(nix_instantiate, root)?;
    source_filters(nix_instantiate, root)?;
    if !tool_install::is_root(sh) {
        println!("skipping the pnpm example build: it runs with the sandbox off, which needs root");
        return Ok(());
    }
    layer_build(sh, root)
}

/// `nix-instantiate --eval --strict --json` of a test with `root`: Ok(json) or Err(Nix's
/// error). Read-write mode: the checks read files of the filtered sources in the store.
fn eval(nix_instantiate: &Path, test: &str, tree: &Path) -> Result<Result<String, String>> {
    let out = Command::new(nix_instantiate)
        .args(["--read-write-mode", "--eval", "--strict", "--json"])
        .arg(project_test(test))
        .arg("--argstr")
        .arg("root")
        .arg(tree)
        .output()
        .with_context(|| format!("cannot run {}", nix_instantiate.display()))?;
    Ok(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

fn project_test(test: &str) -> PathBuf {
    crate::project_root().join(".nix/tests").join(test)
}

/// What .nix/tests/pnpm-example.nix reads, copied into a scratch tree to edit.
fn scratch_tree(root: &Path) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let t = dir.path();
    fs::create_dir_all(t.join(".nix"))?;
    for file in ["pnpm-example.nix", "link-node-modules.sh", "yarn-deps.toml"] {
        fs::copy(root.join(".nix").join(file), t.join(".nix").join(file))
            .with_context(|| format!("cannot copy .nix/{file}"))?;
    }
    copy_example(&root.join(EXAMPLE), &t.join(EXAMPLE))?;
    fs::create_dir_all(t.join("example"))?;
    fs::copy(root.join("example/yarn.lock"), t.join("example/yarn.lock"))?;
    Ok(dir)
}

fn edit(tree: &Path, file: &str, old: &str, new: &str) -> Result<()> {
    let path = tree.join(file);
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {file}"))?;
    ensure!(
        text.matches(old).count() == 1,
        "{file} no longer holds exactly one {old:?}: update the planted fault"
    );
    fs::write(&path, text.replacen(old, new, 1))?;
    Ok(())
}

/// Each fault a Ghost team could plausibly write, refused with a message naming it.
fn planted_faults(nix_instantiate: &Path, root: &Path) -> Result<()> {
    let example = ".nix/pnpm-example.nix";
    let faults: [(&str, &str, &str, &str, &str); 7] = [
        (
            "fetcherVersion 2",
            example,
            "fetcherVersion = 3;",
            "fetcherVersion = 2;",
            "fetcherVersion = 3",
        ),
        (
            "dontConfigure on node_modules",
            example,
            "    dontBuild = true;\n",
            "    dontBuild = true;\n    dontConfigure = true;\n",
            "sets dontConfigure",
        ),
        (
            "no pnpmConfigHook",
            example,
            "[ nodejs pnpm pnpmConfigHook ]",
            "[ nodejs pnpm ]",
            "pnpmConfigHook in nativeBuildInputs",
        ),
        (
            "node_modules copied into the app",
            example,
            "      link_node_modules ${nodeModules} \"$out/lib/example-pnpm\"\n",
            "      cp -r ${nodeModules}/node_modules \"$out/lib/example-pnpm/\"\n",
            "not copy it",
        ),
        (
            "the whole workspace as fetchPnpmDeps' src",
            example,
            "    src = manifests;\n    hash",
            "    src = sources.pnpmApp root;\n    hash",
            "manifests only",
        ),
        (
            "record for another pnpm",
            ".nix/yarn-deps.toml",
            "pnpm = \"10\"",
            "pnpm = \"9\"",
            "was recorded for pnpm 9",
        ),
        (
            "lockfile edited after its hash was recorded",
            "example-pnpm/pnpm-lock.yaml",
            "lockfileVersion: '9.0'\n",
            "lockfileVersion: '9.0'\n\n",
            "is stale",
        ),
    ];
    for (case, file, old, new, needle) in faults {
        let tree = scratch_tree(root)?;
        edit(tree.path(), file, old, new)?;
        match eval(nix_instantiate, "pnpm-example.nix", tree.path())? {
            Ok(out) => {
                bail!("{case}: .nix/tests/pnpm-example.nix should have failed but gave {out}")
            }
            Err(e) if e.contains(needle) => {}
            Err(e) => bail!("{case}: expected an error containing {needle:?}, got:\n{e}"),
        }
    }
    println!(
        "nix eval: the pnpm example's checks refuse {} planted faults",
        faults.len()
    );
    Ok(())
}

/// Which of the pnpm example's source sets an edit changes.
fn source_filters(nix_instantiate: &Path, root: &Path) -> Result<()> {
    let tree = scratch_tree(root)?;
    let t = tree.path();
    let sets = || -> Result<(String, String)> {
        let json = eval(nix_instantiate, "sources.nix", t)?
            .map_err(|e| anyhow::anyhow!("evaluating .nix/tests/sources.nix failed:\n{e}"))?;
        let v: serde_json::Value = serde_json::from_str(&json)?;
        Ok((
            v["pnpmApp"].as_str().unwrap_or_default().to_string(),
            v["pnpmManifests"].as_str().unwrap_or_default().to_string(),
        ))
    };
    let mut before = sets()?;
    // (edit, does the app set change, does the manifests set change)
    let cases = [
        ("example-pnpm/README.md", "# edited\n", [false, false]),
        (
            "example-pnpm/node_modules/ms/index.js",
            "x\n",
            [false, false],
        ),
        (
            "example-pnpm/ghost/core/build/server.js",
            "x\n",
            [false, false],
        ),
        (
            "example/ghost/core/src/server.js",
            "// the Yarn example\n",
            [false, false],
        ),
        (
            "example-pnpm/ghost/core/src/server.js",
            "// edited\n",
            [true, false],
        ),
        (
            "example-pnpm/ghost/core/src/lib/new.js",
            "// new folder\n",
            [true, false],
        ),
        ("example-pnpm/.npmrc", "fund=false\n", [true, true]),
        (
            "example-pnpm/ghost/mail/package.json",
            "{\"name\":\"@example-pnpm/mail\",\"version\":\"0.0.1\"}\n",
            [true, true],
        ),
    ];
    for (path, text, [app, manifests]) in cases {
        let file = t.join(path);
        fs::create_dir_all(file.parent().expect("a relative path has a parent"))?;
        fs::write(&file, text)?;
        let after = sets()?;
        for (set, changed, expect) in [
            ("pnpmApp", before.0 != after.0, app),
            ("pnpmManifests", before.1 != after.1, manifests),
        ] {
            ensure!(
                changed == expect,
                "source filter: editing {path} {} the `{set}` source set; it should {}",
                if changed { "changed" } else { "did not change" },
                if expect {
                    "change it"
                } else {
                    "leave it alone"
                }
            );
        }
        before = after;
    }
    println!(
        "nix eval: the pnpm example's source filters ({} edits): code edits leave node_modules alone",
        cases.len()
    );
    Ok(())
}

/// Builds .nix/tests/node-modules-layer.nix and checks the app it gives.
fn layer_build(sh: &Shell, root: &Path) -> Result<()> {
    let pnpm = reference_tools::pnpm(sh, &reference_tools::PNPM_10)?;
    let pnpm_dir = pnpm
        .parent()
        .and_then(Path::parent)
        .context("pnpm is not at <dir>/bin/pnpm")?
        .to_path_buf();
    let (Some(node), Some(bash)) = (tool_install::find("node"), tool_install::find("bash")) else {
        bail!("node or bash is missing (xtask ci installs Debian's nodejs)");
    };
    let scratch = tempfile::tempdir()?;
    let materialized = scratch.path().join("pnpm-deps");
    let lockfile = root.join(EXAMPLE).join("pnpm-lock.yaml");
    // What fetchPnpmDeps' output is, written by our tool; the stand-in is a fixed-output
    // derivation with the recorded hash, so Nix refuses it if the two disagree.
    cmd!(sh, "cargo run --quiet -p update-pnpm-hash -- --materialize {materialized} --lockfile {lockfile} --fetcher-version 3 --pnpm 10")
        .run()
        .context("update-pnpm-hash --materialize failed")?;
    let build = |tree: &Path| -> Result<PathBuf> {
        let out = Command::new("nix-build")
            .args(["--no-out-link", "-A", "app"])
            .arg(project_test("node-modules-layer.nix"))
            .arg("--argstr")
            .arg("root")
            .arg(tree)
            .arg("--argstr")
            .arg("path")
            .arg("/usr/bin:/bin")
            .arg("--argstr")
            .arg("materialized")
            .arg(&materialized)
            .arg("--argstr")
            .arg("pnpmDir")
            .arg(&pnpm_dir)
            .arg("--argstr")
            .arg("nodeBin")
            .arg(&node)
            .arg("--argstr")
            .arg("bash")
            .arg(&bash)
            .env(
                "NIX_CONFIG",
                "experimental-features = nix-command flakes\nsandbox = false\nsubstituters =",
            )
            .output()
            .context("cannot run nix-build")?;
        ensure!(
            out.status.success(),
            "building .nix/tests/node-modules-layer.nix failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
    };
    let app = build(root)?;
    let summary = check_app(sh, &app)?;
    println!("nix build: {summary}");

    let tree = scratch_tree(root)?;
    edit(
        tree.path(),
        ".nix/pnpm-example.nix",
        "      link_node_modules ${nodeModules} \"$out/lib/example-pnpm\"\n",
        "      cp -r ${nodeModules}/node_modules \"$out/lib/example-pnpm/\"\n",
    )?;
    let copied = build(tree.path())?;
    match check_app(sh, &copied) {
        Ok(_) => bail!("an app holding a copy of node_modules passed the layer check"),
        Err(e) if e.to_string().contains("regular files under node_modules") => {}
        Err(e) => bail!("an app holding a copy of node_modules failed the layer check for another reason: {e:#}"),
    }
    println!("nix build: an app that copies node_modules is refused");
    Ok(())
}

/// The app references node_modules' path and holds only links under node_modules; none
/// dangles; it runs, finding registry packages in the node_modules path and the workspace
/// package in its own.
fn check_app(sh: &Shell, app: &Path) -> Result<String> {
    let files = cmd!(sh, "find {app} -path */node_modules/* -type f")
        .quiet()
        .read()?;
    let count = files.lines().count();
    ensure!(
        count == 0,
        "{} holds {count} regular files under node_modules (a copy, not links), e.g. {}",
        app.display(),
        files.lines().next().unwrap_or("")
    );
    let refs = cmd!(sh, "nix-store --query --references {app}")
        .quiet()
        .read()?;
    let node_modules = refs
        .lines()
        .find(|l| l.ends_with("-example-pnpm-node-modules-0.1.0"))
        .with_context(|| {
            format!(
                "{} does not reference the node-modules path; it references:\n{refs}",
                app.display()
            )
        })?
        .to_string();
    let dangling = cmd!(sh, "find -L {app} -type l").quiet().read()?;
    ensure!(
        dangling.is_empty(),
        "dangling links in the app:\n{dangling}"
    );
    let exe = app.join("bin/example-pnpm-app");
    let json = cmd!(sh, "{exe} --self-test").quiet().read()?;
    let v: serde_json::Value = serde_json::from_str(&json)?;
    let resolved = |name: &str| v["resolved"][name].as_str().unwrap_or_default().to_string();
    for dep in ["debug", "ms"] {
        ensure!(
            resolved(dep).starts_with(&format!("{node_modules}/")),
            "{dep} resolved to {}, not into {node_modules}",
            resolved(dep)
        );
    }
    let mail = resolved("@example-pnpm/mail");
    ensure!(
        mail.starts_with(&format!("{}/lib/example-pnpm/ghost/mail/", app.display())),
        "the workspace link @example-pnpm/mail resolved to {mail}, not to the app's ghost/mail"
    );
    let size = cmd!(sh, "du -sk {app}").quiet().read()?;
    Ok(format!(
        "the pnpm app ({} KiB) references {node_modules} and holds only links under node_modules; it runs, with debug and ms from there and @example-pnpm/mail from its own ghost/mail",
        size.split_whitespace().next().unwrap_or("?")
    ))
}
