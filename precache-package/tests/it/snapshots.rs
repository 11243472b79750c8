//! Output that is the contract: `--help` (exit codes) and the human `--check` summary.

use crate::util::*;

fn filtered(text: &str) -> String {
    let store = regex::Regex::new(r"/nix/store/[0-9a-z]{32}-").unwrap();
    let tmp = regex::Regex::new(r"/tmp/\.tmp[0-9A-Za-z]+").unwrap();
    let rev = regex::Regex::new(r"rev=[0-9a-f]{40}").unwrap();
    let text = store.replace_all(text, "/nix/store/[HASH]-");
    let text = tmp.replace_all(&text, "[TMP]");
    rev.replace_all(&text, "rev=[REV]").into_owned()
}

#[test]
fn help() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_precache-package"));
    cmd.arg("--help")
        .env("COLUMNS", "100")
        .env_remove("CACHIX_CACHE");
    let r = run(cmd, dir.path());
    r.expect_code(0);
    insta::assert_snapshot!(r.stdout());
}

#[test]
fn not_cached_summary() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-snap-1");
    let attr = repo.attr("a");
    let args = [&cache.push_args()[..], &[".", &attr]].concat();
    precache(&repo.dir, &args).expect_code(0);
    std::fs::remove_file(cache.narinfo(&repo.out_path("b"))).unwrap();
    let r = precache(&repo.dir, &[&["--check"][..], &args].concat());
    r.expect_code(1);
    insta::assert_snapshot!(filtered(&format!(
        "--- stdout\n{}--- stderr\n{}",
        r.stdout(),
        r.stderr()
    )));
}
