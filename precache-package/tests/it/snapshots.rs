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
    assert_help_layout(&r.stdout());
    insta::assert_snapshot!(r.stdout());
}

/// clap wraps help at the terminal (COLUMNS=100 here): nothing may run past it, and
/// the text after the options must fit 80 columns, with every example a command line
/// and its description indented under it, so no line is ever broken out of its column (issue 11 item 9).
fn assert_help_layout(help: &str) {
    for line in help.lines() {
        assert!(line.chars().count() <= 100, "over 100 columns: {line:?}");
    }
    let after = &help[help.find("Print version").expect("the options end")..];
    for line in after.lines().skip(1) {
        assert!(line.chars().count() <= 80, "over 80 columns: {line:?}");
    }
    let examples = &after[after.find("\nExamples:\n").expect("an Examples section") + 11..];
    // A command, or its description (or continuation) indented under it.
    for line in examples.lines().take_while(|l| !l.is_empty()) {
        assert!(
            line.starts_with("  precache-package") || line.starts_with("      "),
            "an example line broken out of its column: {line:?}"
        );
    }
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
