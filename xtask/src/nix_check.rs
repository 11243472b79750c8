//! `cargo xtask nix-check`: the Nix side, checked with the real tools (installed when
//! missing): every .nix file parses, is nixpkgs-fmt formatted and deadnix-clean, passes
//! this repo's lints, and the shell scripts inside them and the .sh files under .nix/ are
//! shellcheck-clean; the workflow is schema-valid and its scripts shellcheck-clean;
//! process-compose.yaml is well-typed and its commands shellcheck-clean; .envrc is
//! shellcheck-clean; flake.lock agrees with flake.nix; the pure-eval tests pass; the pnpm
//! example evaluates and (as root) builds with stand-ins for nixpkgs (`pnpm_example`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use crate::process_compose::Project;
use crate::{
    nix_eval, nix_lint, nix_shell_snippets, node_modules_links, pnpm_example, project_root,
    tool_install, workflow,
};

pub fn run(sh: &Shell) -> Result<()> {
    let root = project_root();
    let Some(nix_instantiate) = tool_install::find("nix-instantiate") else {
        if std::env::var_os("CI").is_some() {
            bail!("nix-instantiate is missing; CI must install Nix (apt-get install nix-bin, or the Nix installer)");
        }
        println!("skipping nix-check: nix-instantiate is not installed (install Nix to run it)");
        return Ok(());
    };
    let nix_files = nix_files(&root)?;
    let started = Instant::now();

    step("parse", || {
        for file in &nix_files {
            cmd!(sh, "{nix_instantiate} --parse {file}")
                .quiet()
                .ignore_stdout()
                .run()
                .with_context(|| {
                    format!("{} does not parse (Nix's message above)", file.display())
                })?;
        }
        println!("parse: {} .nix files", nix_files.len());
        Ok(())
    })?;
    step("format", || {
        let fmt = tool_install::cargo_tool(sh, "nixpkgs-fmt", "nixpkgs-fmt")?;
        let files = &nix_files;
        cmd!(sh, "{fmt} --check {files...}")
            .run()
            .context("Nix files are not formatted: run `nix fmt` (or `nixpkgs-fmt .`)")
    })?;
    step("deadnix", || {
        let deadnix = tool_install::cargo_tool(sh, "deadnix", "deadnix")?;
        let files = &nix_files;
        cmd!(sh, "{deadnix} --fail {files...}")
            .run()
            .context("deadnix found unused code: remove it, or prefix an intentionally unused argument with `_`")
    })?;
    step("formatter script", || formatter_script(sh, &root))?;
    step("lint", || nix_lint::check_files(&nix_files))?;
    step("embedded shell", || {
        nix_shell_snippets::check(sh, &nix_files)
    })?;
    step("shell files", || {
        let shellcheck = tool_install::apt_tool(sh, "shellcheck", "shellcheck")?;
        let shell_files = shell_files(&root.join(".nix"))?;
        let files = &shell_files;
        cmd!(sh, "{shellcheck} --shell=bash {files...}")
            .run()
            .context("a shell file under .nix/ has shellcheck findings")?;
        println!("shell files: {} under .nix/ shellcheck-clean", files.len());
        Ok(())
    })?;
    step("flake.lock", || flake_lock(sh, &root))?;
    step("workflows", || workflow::check(sh, &workflow_files(&root)?))?;
    step("process-compose", || process_compose(sh, &root))?;
    step(".envrc", || {
        let shellcheck = tool_install::apt_tool(sh, "shellcheck", "shellcheck")?;
        let envrc = root.join(".envrc");
        cmd!(sh, "{shellcheck} --shell=bash {envrc}")
            .run()
            .context(".envrc has shellcheck findings")
    })?;
    step("pure eval", || nix_eval::run(&nix_instantiate, &root))?;
    step("pnpm example", || {
        pnpm_example::run(sh, &nix_instantiate, &root)
    })?;
    step("node_modules links", || node_modules_links::run(sh, &root))?;
    println!(
        "nix-check: all passed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The flake's `nixpkgs-fmt-tree` (`nix fmt`, and what checks.formatting runs) must reach
/// every .nix file, hidden directories included: its text, taken from flake.nix, runs with
/// the real nixpkgs-fmt and deadnix against trees with planted faults, and lists the same
/// files as this check.
fn formatter_script(sh: &Shell, root: &Path) -> Result<()> {
    let src = fs::read_to_string(root.join("flake.nix"))?;
    let script = nix_shell_snippets::snippets(&src)
        .into_iter()
        .find(|s| s.role == "text" && s.script.contains("nixpkgs-fmt --check"))
        .context("flake.nix has no writeShellApplication text running `nixpkgs-fmt --check` (the formatter)")?
        .script;
    let bin = tempfile::tempdir()?;
    for tool in ["nixpkgs-fmt", "deadnix"] {
        std::os::unix::fs::symlink(
            tool_install::cargo_tool(sh, tool, tool)?,
            bin.path().join(tool),
        )?;
    }
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // writeShellApplication runs `text` under errexit, nounset and pipefail.
    let run = |dir: &Path, args: &[&str]| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -o errexit -o nounset -o pipefail\n{script}"))
            .arg("nixpkgs-fmt-tree")
            .args(args)
            .current_dir(dir)
            .env("PATH", &path)
            .output()?;
        anyhow::Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ))
    };
    let tree = tempfile::tempdir()?;
    let t = tree.path();
    let junk = "node_modules/pkg/junk.nix";
    let plant = |file: &str, text: &str| {
        fs::create_dir_all(t.join(file).parent().expect("has a parent"))?;
        fs::write(t.join(file), text)
    };
    plant("flake.nix", "{ }\n")?;
    plant(".nix/bad.nix", "{a=1;}\n")?;
    ensure!(
        !run(t, &["--check"])?.0,
        "the formatter passed a badly formatted .nix/bad.nix (hidden directory)"
    );
    plant(junk, "{a=1;}\n")?;
    ensure!(run(t, &[])?.0, "the formatter could not format the tree");
    ensure!(
        run(t, &["--check"])?.0,
        "the formatter refused the tree it just formatted"
    );
    ensure!(
        fs::read_to_string(t.join(junk))? == "{a=1;}\n",
        "the formatter rewrote {junk}"
    );
    let dead = ".docker-nix/default.nix";
    fs::create_dir_all(t.join(".docker-nix"))?;
    fs::write(t.join(dead), "let unused = 1; in { }\n")?;
    ensure!(run(t, &[dead])?.0, "the formatter could not format {dead}");
    ensure!(
        !run(t, &["--check"])?.0,
        "the formatter passed an unused binding in {dead} (deadnix)"
    );

    let (ok, listed) = run(root, &["--list"])?;
    ensure!(ok, "`nixpkgs-fmt-tree --list` failed in the repository");
    let mut listed: Vec<PathBuf> = listed
        .lines()
        .map(|l| root.join(l.trim_start_matches("./")))
        .collect();
    listed.sort();
    let ours = nix_files(root)?;
    ensure!(
        listed == ours,
        "the flake's formatter lists {listed:?}, nix-check checks {ours:?}: make them agree"
    );
    println!("formatter script: checks hidden directories (planted nixpkgs-fmt and deadnix faults refused), skips node_modules, lists the same {} files as nix-check", ours.len());
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let started = Instant::now();
    println!("== nix-check: {name}");
    f().with_context(|| format!("nix-check step `{name}` failed"))?;
    println!("   ({name}: {:.1}s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// `nix flake metadata` reads flake.nix and flake.lock and refuses (with
/// --no-update-lock-file) a lock that does not match the inputs. It fetches nothing.
fn flake_lock(sh: &Shell, root: &Path) -> Result<()> {
    let Some(nix) = tool_install::find("nix") else {
        bail!("`nix` is missing: install Nix");
    };
    let json = cmd!(sh, "{nix} --extra-experimental-features 'nix-command flakes' flake metadata --json --no-update-lock-file {root}")
        .quiet()
        .read()
        .context("`nix flake metadata` refused flake.nix/flake.lock (message above)")?;
    let meta: serde_yaml::Value = serde_yaml::from_str(&json)?;
    let rev = meta["locks"]["nodes"]["nixpkgs"]["locked"]["rev"]
        .as_str()
        .unwrap_or("");
    if rev.len() != 40 {
        bail!("flake.lock does not pin nixpkgs to a revision (got {rev:?})");
    }
    println!("flake.lock: nixpkgs pinned at {rev}");
    Ok(())
}

fn process_compose(sh: &Shell, root: &Path) -> Result<()> {
    let path = root.join(".nix/process-compose.yaml");
    let project = Project::load(&path)?;
    if !project.disable_env_expansion {
        bail!("{}: set `disable_env_expansion: true` so bash, not process-compose, expands $VARS (the dev-services test runs the commands exactly as written)", path.display());
    }
    // Every command and exec probe is a bash script too.
    let shellcheck = tool_install::apt_tool(sh, "shellcheck", "shellcheck")?;
    let scratch = tempfile::tempdir()?;
    let mut files = Vec::new();
    for (name, process) in &project.processes {
        let probes = [&process.readiness_probe, &process.liveness_probe];
        let probe_commands = probes
            .into_iter()
            .flatten()
            .filter_map(|p| p.exec.as_ref())
            .map(|e| &e.command);
        for (i, script) in process.command.iter().chain(probe_commands).enumerate() {
            let file = scratch.path().join(format!("{name}-{i}.sh"));
            fs::write(&file, format!("#!/usr/bin/env bash\n# .nix/process-compose.yaml: processes.{name} (script {i})\n{script}\n"))?;
            files.push(file);
        }
    }
    let scripts = &files;
    cmd!(sh, "{shellcheck} --shell=bash {scripts...}")
        .run()
        .context("shellcheck found problems in a process-compose.yaml command; each file above names its process")?;
    println!(
        "process-compose.yaml: {} processes, keys and depends_on valid, {} scripts shellcheck-clean",
        project.processes.len(),
        files.len()
    );
    Ok(())
}

fn workflow_files(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join(".github/workflows");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    Ok(files)
}

/// The shell files the Nix code sources (.nix/link-node-modules.sh, the tests' stand-ins).
fn shell_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(shell_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "sh") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Every .nix file of the repository, minus dependencies and build output.
pub fn nix_files(root: &Path) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ty = entry.file_type()?;
            if ty.is_dir() {
                let skip = ["target", "node_modules", ".git", ".dev-data", ".direnv"];
                if !skip.contains(&name.as_ref()) && !name.starts_with("result") {
                    walk(&entry.path(), out)?;
                }
            } else if ty.is_file() && name.ends_with(".nix") {
                out.push(entry.path());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, &mut out)?;
    out.sort();
    Ok(out)
}
