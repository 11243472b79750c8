//! Local flake refs are pinned to HEAD; uncommitted tracked changes are refused.

use common::binary_cache::narinfo::SecretKey;

use crate::util::*;

/// A --check of `repo`'s output `a` against an empty file:// cache, run in `cwd`:
/// everything up to the verdict runs, nothing builds.
fn check_empty_in(cwd: &std::path::Path, repo: &FlakeRepo, flake_ref: &str, extra: &[&str]) -> Run {
    let (_empty, from) = empty_cache();
    let public = SecretKey::from_seed("k", [1; 32]).public().to_string();
    let mut args = vec!["--check", "--from", &from, "--trusted-public-key", &public];
    args.extend_from_slice(extra);
    let attr = repo.attr("a");
    args.extend([flake_ref, attr.as_str()]);
    precache(cwd, &args)
}

fn check_empty(repo: &FlakeRepo, flake_ref: &str, extra: &[&str]) -> Run {
    check_empty_in(&repo.dir, repo, flake_ref, extra)
}

#[test]
fn clean_tree_is_pinned_to_head() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let pinned = repo.pinned();
    assert!(pinned.contains(&format!("?rev={}", repo.head())));
    for flake_ref in [
        ".".to_owned(),
        format!("git+file://{}", repo.dir.display()),
        format!("path:{}", repo.dir.display()),
    ] {
        check_empty(&repo, &flake_ref, &[])
            .expect_code(1)
            .expect_contains(&format!("flake: {pinned}\n"));
    }
    // A subdirectory of the repository becomes `dir=`.
    std::fs::create_dir_all(repo.dir.join("sub")).unwrap();
    let r = check_empty(&repo, "./sub", &[]);
    r.expect_contains(&format!("flake: {pinned}&dir=sub"));
    // Already pinned and remote refs pass through untouched.
    check_empty(&repo, &pinned, &[])
        .expect_code(1)
        .expect_contains(&format!("flake: {pinned}\n"));
}

#[test]
fn dirty_tree_is_refused_unless_allowed() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    std::fs::write(
        repo.dir.join("flake.nix"),
        std::fs::read_to_string(repo.dir.join("flake.nix")).unwrap() + "\n# edit\n",
    )
    .unwrap();
    std::fs::write(repo.dir.join("staged.txt"), "new").unwrap();
    sh(&repo.dir, "git", &["add", "staged.txt"]);
    std::fs::write(repo.dir.join("untracked.txt"), "ignored by git flakes").unwrap();

    let r = check_empty(&repo, ".", &[]);
    r.expect_code(2)
        .expect_contains("uncommitted changes")
        .expect_contains("  flake.nix\n")
        .expect_contains("  staged.txt\n")
        .expect_contains("--allow-uncommitted")
        .expect_lacks("untracked.txt");

    let r = check_empty(&repo, ".", &["--allow-uncommitted"]);
    r.expect_code(1)
        .expect_contains("warning: building uncommitted changes");
    let unpinned = format!(
        "flake: git+file://{}\n",
        repo.dir.canonicalize().unwrap().display()
    );
    r.expect_contains(&unpinned);

    repo.commit("edit");
    sh(&repo.dir, "git", &["rm", "-q", "--cached", "staged.txt"]);
    check_empty(&repo, ".", &[])
        .expect_code(2)
        .expect_contains("  staged.txt\n");
}

#[test]
fn not_a_git_repository_is_bad_input() {
    if !have_nix_and_git() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flake.nix"), "{ outputs = _: {}; }").unwrap();
    let r = precache(
        dir.path(),
        &["--check", "--from", "file:///nonexistent", ".", "x"],
    );
    r.expect_code(2)
        .expect_contains("not inside a git repository");
}

#[test]
fn ref_and_other_query_params_are_honoured() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let main_rev = repo.head();
    sh(&repo.dir, "git", &["checkout", "-q", "-b", "other"]);
    let flake = std::fs::read_to_string(repo.dir.join("flake.nix")).unwrap();
    std::fs::write(
        repo.dir.join("flake.nix"),
        flake.replace("echo leaf", "echo other-leaf"),
    )
    .unwrap();
    repo.commit("other");
    let other_rev = repo.head();
    let other_out = repo.out_path("a");
    sh(&repo.dir, "git", &["checkout", "-q", "-"]);
    assert_eq!(repo.head(), main_rev);
    assert_ne!(repo.out_path("a"), other_out);
    // Uncommitted edits on the checkout do not matter for another ref.
    std::fs::write(repo.dir.join("flake.nix"), flake.clone() + "\n# edit\n").unwrap();
    let root = repo.dir.canonicalize().unwrap();
    let r = check_empty(
        &repo,
        &format!("git+file://{}?ref=other&submodules=1", root.display()),
        &["--json"],
    );
    r.expect_code(1)
        .expect_contains(&format!(
            "\"flake\": \"git+file://{}?rev={other_rev}&ref=other&submodules=1\"",
            root.display()
        ))
        .expect_contains(&format!("\"out_path\": \"{other_out}\""));
    // An unknown ref is bad input, not a silent fallback to HEAD.
    check_empty(
        &repo,
        &format!("git+file://{}?ref=nope", root.display()),
        &[],
    )
    .expect_code(2)
    .expect_contains("no branch or tag \"nope\"");
}

#[test]
fn a_shallow_clone_is_pinned_with_shallow_1_and_evaluates() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    std::fs::write(repo.dir.join("extra"), "second commit\n").unwrap();
    sh(&repo.dir, "git", &["add", "extra"]);
    repo.commit("second");
    let tmp = tempfile::tempdir().unwrap();
    let clone = tmp.path().join("clone");
    let source = format!("file://{}", repo.dir.display());
    sh(
        tmp.path(),
        "git",
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &source,
            clone.to_str().unwrap(),
        ],
    );
    // Without shallow=1, Nix fails to fetch (exit 4); with it, this is a plain miss.
    check_empty_in(&clone, &repo, ".", &[])
        .expect_code(1)
        .expect_contains(&format!("rev={}&shallow=1", repo.head()));
}
