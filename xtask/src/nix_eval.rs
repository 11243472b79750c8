//! Pure evaluation tests of the Nix code that needs no nixpkgs: the hash-record reader
//! (`.nix/yarn-deps.nix`), the source filters (`.nix/sources.nix`) and the flake's
//! nixConfig and lock (`.nix/tests/flake-config.nix`), each run by the real
//! `nix-instantiate` against the real files and against scratch copies it edits.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::example_copy::copy_example;
use crate::tool_install;

const LOCKFILE: &str = "example/yarn.lock";

pub fn run(nix_instantiate: &Path, root: &Path) -> Result<()> {
    let nix = Evaluator {
        nix_instantiate,
        root,
    };
    scratch_records(&nix)?;
    source_filters(&nix)?;
    flake_config(&nix)?;
    real_record(&nix)?;
    Ok(())
}

struct Evaluator<'a> {
    nix_instantiate: &'a Path,
    root: &'a Path,
}

impl Evaluator<'_> {
    /// `nix-instantiate --eval --strict --json` of a test file: Ok(json) or Err(Nix's error).
    fn eval(
        &self,
        test: &str,
        args: &[(&str, &Path)],
    ) -> Result<std::result::Result<String, String>> {
        let file = self.root.join(".nix/tests").join(test);
        let mut cmd = Command::new(self.nix_instantiate);
        cmd.args(["--eval", "--strict", "--json"]).arg(&file);
        for (name, value) in args {
            cmd.arg("--argstr").arg(name).arg(value);
        }
        let out = cmd
            .output()
            .with_context(|| format!("cannot run {}", self.nix_instantiate.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        Ok(if out.status.success() {
            Ok(stdout)
        } else {
            Err(stderr)
        })
    }

    fn eval_ok(&self, test: &str, args: &[(&str, &Path)]) -> Result<String> {
        self.eval(test, args)?
            .map_err(|e| anyhow::anyhow!("evaluating .nix/tests/{test} failed:\n{e}"))
    }

    fn eval_err(&self, test: &str, args: &[(&str, &Path)], needle: &str, case: &str) -> Result<()> {
        match self.eval(test, args)? {
            Ok(out) => bail!("{case}: .nix/tests/{test} should have failed but gave {out}"),
            Err(e) if e.contains(needle) => Ok(()),
            Err(e) => bail!("{case}: expected an error containing {needle:?}, got:\n{e}"),
        }
    }
}

/// The committed record must be well-formed and fresh: the flake reads it as is.
fn real_record(nix: &Evaluator) -> Result<()> {
    let record = nix.root.join(".nix/yarn-deps.toml");
    if !record.exists() {
        bail!(".nix/yarn-deps.toml is missing, so the flake cannot evaluate: run `cargo run -p update-yarn-hash` and commit it");
    }
    let out = nix.eval_ok(
        "yarn-deps.nix",
        &[("recordFile", &record), ("root", nix.root)],
    )?;
    ensure!(
        out.contains(&format!("\"{LOCKFILE}\":\"sha256-")),
        "the record has no entry for {LOCKFILE}: {out}"
    );
    println!("nix eval: .nix/yarn-deps.toml is well-formed and fresh for {LOCKFILE}");
    Ok(())
}

/// Records written by the Rust writer are read back by the Nix reader; stale and malformed
/// ones are refused with the fix in the message.
fn scratch_records(nix: &Evaluator) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lock_bytes = fs::read(nix.root.join(LOCKFILE)).context("cannot read example/yarn.lock")?;
    fs::create_dir_all(dir.path().join("example"))?;
    fs::create_dir_all(dir.path().join(".nix"))?;
    fs::write(dir.path().join(LOCKFILE), &lock_bytes)?;
    // A real SHA-256 (of the lockfile's bytes) in SRI form, in the record's documented
    // shape: `common`'s hash_record test `render_has_the_documented_shape_and_parses_back`
    // pins the writer to this same text, so the reader is tested on what the writer writes
    // without xtask building the library.
    let sri = crate::sha256::sri(&lock_bytes);
    let record_path = dir.path().join(".nix/yarn-deps.toml");
    let rendered = format!(
        "# Written by update-yarn-hash; read by the Nix code. Do not edit by hand.\n\n[\"{LOCKFILE}\"]\nlock-sha256 = \"{}\"\nhash = \"{sri}\"\n",
        crate::sha256::hex(&lock_bytes)
    );
    fs::write(&record_path, &rendered)?;
    let args = [("recordFile", record_path.as_path()), ("root", dir.path())];

    let out = nix.eval_ok("yarn-deps.nix", &args)?;
    ensure!(
        out == format!("{{\"{LOCKFILE}\":\"{sri}\"}}"),
        "the Nix reader gave {out}, expected {sri}"
    );

    let mut bad_cases = vec![
        (
            "truncated hash",
            sri[..sri.len() - 2].to_string() + "=",
            "is not an SRI sha256 hash",
        ),
        (
            "sha512 prefix",
            sri.replace("sha256-", "sha512-"),
            "is not an SRI sha256 hash",
        ),
    ];
    // Last digit with nonzero padding bits: decodes, but is not canonical.
    let mut noncanonical = sri.clone().into_bytes();
    let last = noncanonical.len() - 2;
    noncanonical[last] = if noncanonical[last] == b'B' {
        b'C'
    } else {
        b'B'
    };
    bad_cases.push((
        "non-canonical base64",
        String::from_utf8(noncanonical)?,
        "is not an SRI sha256 hash",
    ));
    for (case, bad, needle) in bad_cases {
        fs::write(&record_path, rendered.replace(&sri, &bad))?;
        nix.eval_err("yarn-deps.nix", &args, needle, case)?;
    }

    // A pnpm entry with the `node` update-pnpm-hash --node records (the text hash_record's
    // test `a_pnpm_entry_keeps_its_node_major` pins the writer to).
    let with_node = format!(
        "# Written by update-yarn-hash; read by the Nix code. Do not edit by hand.\n\n[\"{LOCKFILE}\"]\nlock-sha256 = \"{}\"\nfetcher = \"fetchPnpmDeps\"\nfetcher-version = 4\npnpm = \"11\"\nnode = 24\nhash = \"{sri}\"\n",
        crate::sha256::hex(&lock_bytes)
    );
    fs::write(&record_path, &with_node)?;
    let out = nix.eval_ok("yarn-deps.nix", &args)?;
    ensure!(
        out == format!("{{\"{LOCKFILE}\":\"{sri}\"}}"),
        "the Nix reader gave {out} for a pnpm entry with node, expected {sri}"
    );

    pnpm_workspaces(nix, &record_path, dir.path(), &lock_bytes, &sri)?;

    fs::write(&record_path, &rendered)?;
    let mut edited = lock_bytes.clone();
    edited.extend_from_slice(b"\n");
    fs::write(dir.path().join(LOCKFILE), &edited)?;
    nix.eval_err(
        "yarn-deps.nix",
        &args,
        "is stale",
        "lockfile edited after the hash was recorded",
    )?;

    let missing = dir.path().join(".nix/absent.toml");
    nix.eval_err(
        "yarn-deps.nix",
        &[("recordFile", &missing), ("root", dir.path())],
        "is missing",
        "no record",
    )?;
    println!("nix eval: record reader accepts the writer's output and refuses stale, truncated, non-canonical and missing records");
    Ok(())
}

/// A pnpm entry recorded with `--workspace` (the text hash_record's test
/// `a_pnpm_entry_keeps_its_node_major` pins the writer to) gives its hash to a call with
/// the same pnpmWorkspaces, and refuses any other selection with the command that records it.
fn pnpm_workspaces(
    nix: &Evaluator,
    record_path: &Path,
    root: &Path,
    lock_bytes: &[u8],
    sri: &str,
) -> Result<()> {
    let filtered = format!(
        "# Written by update-yarn-hash and update-pnpm-hash; read by the Nix code. Do not edit by hand.\n\n[\"{LOCKFILE}\"]\nlock-sha256 = \"{}\"\nfetcher = \"fetchPnpmDeps\"\nfetcher-version = 4\npnpm = \"11\"\nnode = 24\nworkspaces = [\"a\", \"@s/b...\"]\nhash = \"{sri}\"\n",
        crate::sha256::hex(lock_bytes)
    );
    fs::write(record_path, &filtered)?;
    let args = [("recordFile", record_path), ("root", root)];
    let out = nix.eval_ok("yarn-deps.nix", &args)?;
    ensure!(
        out == format!("{{\"{LOCKFILE}\":\"{sri}\"}}"),
        "the Nix reader gave {out} for a pnpm entry with workspaces, expected {sri}"
    );
    let call = |workspaces: &'static str| {
        [
            ("recordFile", record_path),
            ("root", root),
            ("lockfile", Path::new(LOCKFILE)),
            ("fetcherVersion", Path::new("4")),
            ("pnpm", Path::new("11.22.0")),
            ("workspaces", Path::new(workspaces)),
        ]
    };
    let out = nix.eval_ok("pnpm-hash-for.nix", &call("a,@s/b..."))?;
    ensure!(
        out == format!("\"{sri}\""),
        "pnpmHashFor gave {out} for the recorded selection, expected {sri}"
    );
    for (workspaces, case) in [
        ("", "a plain install asked of a filtered entry"),
        ("a", "another selection"),
        ("@s/b...,a", "the same selectors in another order"),
    ] {
        nix.eval_err(
            "pnpm-hash-for.nix",
            &call(workspaces),
            "was recorded for pnpmWorkspaces = [ \"a\" \"@s/b...\" ]",
            case,
        )?;
    }
    nix.eval_err(
        "pnpm-hash-for.nix",
        &call("a"),
        "--workspace 'a'`",
        "the fix names the call's selection",
    )?;
    nix.eval_err(
        "pnpm-hash-for.nix",
        &call(""),
        "--pnpm 11 --no-workspace`",
        "the fix clears the recorded selection",
    )?;
    fs::write(
        record_path,
        filtered.replace("workspaces = [\"a\", \"@s/b...\"]\n", ""),
    )?;
    nix.eval_err(
        "pnpm-hash-for.nix",
        &call("a"),
        "was recorded for pnpmWorkspaces = [ ], the flake's fetchPnpmDeps call passes [ \"a\" ]",
        "a filtered call asked of a plain entry",
    )?;
    fs::write(record_path, filtered.replace("[\"a\", \"@s/b...\"]", "[]"))?;
    nix.eval_err(
        "yarn-deps.nix",
        &args,
        "workspaces is not a non-empty list of strings",
        "an empty workspaces list",
    )?;
    println!("nix eval: a pnpm entry's workspaces must be the call's pnpmWorkspaces");
    Ok(())
}

/// Which source sets an edit may change: tooling edits must leave the image's inputs alone.
fn source_filters(nix: &Evaluator) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let tree = dir.path();
    copy_example(&nix.root.join("example"), &tree.join("example"))?;
    for (path, text) in [
        ("Cargo.toml", "[workspace]\n"),
        ("Cargo.lock", "version = 4\n"),
        ("common/src/lib.rs", "//! lib\n"),
        (".nix/dev-shell.nix", "{ }\n"),
        (".github/workflows/ci.yml", "on: push\n"),
        ("docs/adopting.md", "# Adopting\n"),
    ] {
        write(tree, path, text)?;
    }
    let eval = || -> Result<serde_yaml::Mapping> {
        let json = nix.eval_ok("sources.nix", &[("root", tree)])?;
        Ok(serde_yaml::from_str(&json)?)
    };
    let mut before = eval()?;
    // (edit, does app change, do manifests change, do tools change)
    let cases: [(&str, &str, [bool; 3]); 11] = [
        (
            ".nix/dev-shell.nix",
            "{ pkgs }: pkgs.mkShell { }\n",
            [false, false, false],
        ),
        (
            ".github/workflows/ci.yml",
            "on: pull_request\n",
            [false, false, false],
        ),
        (
            "docs/adopting.md",
            "# Adopting, edited\n",
            [false, false, false],
        ),
        ("example/README.md", "# edited\n", [false, false, false]),
        (
            "example/node_modules/left-pad/index.js",
            "x\n",
            [false, false, false],
        ),
        (
            "example/ghost/core/build/server.js",
            "x\n",
            [false, false, false],
        ),
        (
            "common/src/lib.rs",
            "//! lib, edited\n",
            [false, false, true],
        ),
        (
            "Cargo.lock",
            "version = 4\n# edited\n",
            [false, false, true],
        ),
        (
            "example/ghost/core/src/server.js",
            "// edited\n",
            [true, false, false],
        ),
        (
            "example/ghost/core/src/lib/new.js",
            "// new folder\n",
            [true, false, false],
        ),
        (
            "example/ghost/core/package.json",
            "{\"name\":\"@example/core\",\"version\":\"0.2.0\"}\n",
            [true, true, false],
        ),
    ];
    for (path, text, expected) in cases {
        write(tree, path, text)?;
        let after = eval()?;
        for (set, expect) in ["app", "manifests", "tools"].into_iter().zip(expected) {
            let changed = before.get(set) != after.get(set);
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
    println!("nix eval: source filters keep tooling, docs and build-output edits out of the image's inputs ({} edits)", cases.len());
    source_filters_build(nix, tree)
}

/// What a builder actually gets: builds a raw derivation over the filtered sources.
fn source_filters_build(nix: &Evaluator, tree: &Path) -> Result<()> {
    let (Some(nix_build), Some(find), Some(sort)) = (
        tool_install::find("nix-build"),
        tool_install::find("find"),
        tool_install::find("sort"),
    ) else {
        bail!("nix-build, find or sort is missing");
    };
    if !is_root() {
        println!(
            "skipping the source-filter build: it runs with the sandbox off, which needs root"
        );
        return Ok(());
    }
    let out = Command::new(nix_build)
        .args(["--no-out-link", "--argstr", "root"])
        .arg(tree)
        .args(["--argstr", "find"])
        .arg(&find)
        .args(["--argstr", "sort"])
        .arg(&sort)
        .arg(nix.root.join(".nix/tests/sources-build.nix"))
        .env(
            "NIX_CONFIG",
            "experimental-features = nix-command flakes\nsandbox = false\nsubstituters =",
        )
        .output()?;
    ensure!(
        out.status.success(),
        "building .nix/tests/sources-build.nix failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = fs::read_to_string(String::from_utf8(out.stdout)?.trim())?;
    let (app, manifests) = listing
        .split_once("---\n")
        .context("listing without separator")?;
    for must in [
        "./example/yarn.lock",
        "./example/ghost/core/src/server.js",
        "./example/ghost/mail/lib/mail.js",
    ] {
        ensure!(
            app.lines().any(|l| l == must),
            "the app source set lacks {must}:\n{app}"
        );
    }
    for line in app.lines() {
        ensure!(
            line.starts_with("./example/")
                && !line.ends_with(".md")
                && !line.contains("/node_modules/")
                && !line.contains("/build/"),
            "the app source set holds {line}, which `yarn build` never reads"
        );
    }
    let mut expected: Vec<&str> = app
        .lines()
        .filter(|l| {
            ["package.json", "yarn.lock", ".yarnrc", ".npmrc"]
                .iter()
                .any(|n| l.ends_with(&format!("/{n}")))
        })
        .collect();
    expected.sort();
    let got: Vec<&str> = manifests.lines().collect();
    ensure!(
        got == expected,
        "the manifests source set is {got:?}, expected {expected:?}"
    );
    println!(
        "nix build: a builder sees {} files of the app and only its {} manifests",
        app.lines().count(),
        got.len()
    );
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn flake_config(nix: &Evaluator) -> Result<()> {
    let out = nix.eval_ok("flake-config.nix", &[("root", nix.root)])?;
    ensure!(out == "true", "flake-config.nix gave {out}");
    println!(
        "nix eval: flake.nix nixConfig and flake.lock's nixpkgs pin are well-formed and agree"
    );
    Ok(())
}

fn write(root: &Path, rel: &str, text: &str) -> Result<()> {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("relative path has a parent"))?;
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}
