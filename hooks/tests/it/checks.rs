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
