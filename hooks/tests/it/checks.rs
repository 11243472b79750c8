//! The other staged checks: .nix syntax, flake.lock validity, and the "forgot to
//! regenerate the lock" warnings, with their warn/fail configuration.

use crate::util::*;

#[test]
fn a_broken_nix_file_is_reported_with_its_position() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("nix/default.nix", "{\n  a = 1;\n  b = 2\n}\n");
    repo.git(["add", "nix/default.nix"]);
    repo.commit("broken nix")
        .failure()
        .stderr_has("nix/default.nix:4:1: syntax error: unexpected");
    repo.write("nix/default.nix", "{\n  a = 1;\n  b = 2;\n}\n");
    repo.git(["add", "nix/default.nix"]);
    repo.commit("good nix")
        .success()
        .stderr_has("1 .nix file parsed");
}

#[test]
fn an_invalid_flake_lock_is_rejected_and_a_valid_one_passes() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write(
        "flake.lock",
        r#"{"nodes":{"root":{"inputs":{"nixpkgs":"nixpkgs"}}},"root":"root","version":7}"#,
    );
    repo.git(["add", "flake.lock"]);
    repo.commit("bad lock")
        .failure()
        .stderr_has("flake.lock: node \"root\": input \"nixpkgs\" does not resolve")
        .stderr_has("nix flake lock");
    repo.write(
        "flake.lock",
        "{\"nodes\": {\"root\": {}}, \"root\": \"root\", \"version\": 7}\n",
    );
    repo.git(["add", "flake.lock"]);
    repo.commit("good lock").success();
}

#[test]
fn flake_inputs_changed_without_the_lock_warn_or_fail_as_configured() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("flake.nix", "{ inputs = { }; outputs = _: { }; }\n");
    repo.write(
        "flake.lock",
        "{\"nodes\": {\"root\": {}}, \"root\": \"root\", \"version\": 7}\n",
    );
    repo.git(["add", "flake.nix", "flake.lock"]);
    repo.commit("flake").success();

    // Changing outputs only is not an input change.
    repo.write("flake.nix", "{ inputs = { }; outputs = _: { x = 1; }; }\n");
    repo.git(["add", "flake.nix"]);
    repo.commit("outputs").success().stderr_lacks("warning");

    repo.write(
        "flake.nix",
        "{ inputs.dep.url = \"path:./dep\"; outputs = _: { x = 1; }; }\n",
    );
    repo.git(["add", "flake.nix"]);
    repo.nix_hooks(["pre-commit"])
        .success()
        .stderr_has("warning: flake.nix: inputs changed but flake.lock is not staged");
    repo.write(".nix/hooks.toml", "[checks]\nflake-inputs = \"fail\"\n");
    repo.commit("inputs")
        .failure()
        .stderr_has("error: flake.nix: inputs changed");
}

#[test]
fn package_json_dependencies_without_yarn_lock_warn_or_fail_as_configured() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    let pkg = |deps: &str| {
        format!("{{\"name\":\"core\",\"version\":\"1.0.0\",\"dependencies\":{{{deps}}}}}\n")
    };
    repo.write("ghost/core/package.json", &pkg("\"left-pad\":\"^1.3.0\""));
    repo.git(["add", "ghost/core/package.json"]);
    repo.commit("core").success();

    // A version bump of the package itself does not touch dependencies.
    repo.write(
        "ghost/core/package.json",
        &pkg("\"left-pad\":\"^1.3.0\"").replace("1.0.0", "1.0.1"),
    );
    repo.git(["add", "ghost/core/package.json"]);
    repo.commit("bump").success().stderr_lacks("warning");

    repo.write(
        "ghost/core/package.json",
        &pkg("\"left-pad\":\"^1.3.0\",\"is-number\":\"^7.0.0\""),
    );
    repo.git(["add", "ghost/core/package.json"]);
    repo.nix_hooks(["pre-commit"]).success().stderr_has(
        "warning: ghost/core/package.json: dependencies changed but yarn.lock is not staged (forgot `yarn install`?)",
    );
    repo.write(".nix/hooks.toml", "[checks]\npackage-json = \"fail\"\n");
    repo.commit("deps")
        .failure()
        .stderr_has("error: ghost/core/package.json");

    // Staging the regenerated lock (and its record) is the way through.
    repo.write("yarn.lock", LOCK_V2);
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V2)]));
    repo.git(["add", "yarn.lock", RECORD]);
    repo.commit("deps and lock")
        .success()
        .stderr_lacks("warning");
}

/// `nix-hooks pre-commit` in `repo` on a 1 MiB main stack (`ulimit -s 1024`).
fn pre_commit_small_stack(repo: &Repo) -> Run {
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(&repo.root)
        .env("HOME", &repo.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .args(["-c", "ulimit -s 1024 && exec \"$0\" pre-commit", BIN]);
    run(cmd)
}

#[test]
fn a_nix_file_nested_100000_deep_is_reported_at_its_position_not_a_crash() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    let bound = common::nix::nix_nesting::MAX_NESTING;
    repo.write(
        "deep.nix",
        &format!("{{\n  x = {};\n}}\n", "[".repeat(100_000)),
    );
    // 100,000 applications: rnix loops over them, but rowan hashed and freed the
    // tree recursively, one frame per link.
    repo.write("chain.nix", &format!("{}1\n", "f ".repeat(100_000)));
    repo.git(["add", "deep.nix", "chain.nix"]);
    pre_commit_small_stack(&repo)
        .failure()
        .stderr_has(&format!(
            "deep.nix:2:{}: syntax error: nested more than {bound} levels",
            6 + bound
        ))
        .stderr_has("chain.nix:1:");
}

#[test]
fn a_flake_lock_with_a_100000_input_chain_is_checked() {
    if !have_git() {
        return;
    }
    // Each input follows the one before through the root: the old check summed all
    // inputs for each input and recursed once per link.
    let n = 100_000;
    let mut nodes = vec![format!(
        "\"root\":{{\"inputs\":{{{}}}}}",
        (0..n)
            .map(|i| format!("\"a{i}\":\"n{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    )];
    for i in 0..n {
        let x = match i {
            0 => "\"n0\"".to_owned(),
            _ => format!("[\"a{}\",\"x\"]", i - 1),
        };
        nodes.push(format!("\"n{i}\":{{\"inputs\":{{\"x\":{x}}}}}"));
    }
    let lock = format!(
        "{{\"nodes\":{{{}}},\"root\":\"root\",\"version\":7}}\n",
        nodes.join(",")
    );
    let repo = Repo::with_fresh_record();
    repo.write("flake.lock", &lock);
    repo.git(["add", "flake.lock"]);
    pre_commit_small_stack(&repo).success();
}
