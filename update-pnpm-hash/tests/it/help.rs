//! `--help` as a user reads it without a terminal: no example description broken back
//! to column 0 (issue 11 item 9).

use crate::util;

#[test]
fn help_fits_and_examples_stay_indented() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_update-pnpm-hash"));
    cmd.current_dir(dir.path())
        .arg("--help")
        .env("COLUMNS", "100")
        .env_remove("UPDATE_YARN_HASH_CACHE");
    let run = util::run(cmd);
    run.expect_code(0);
    assert_help_layout(&run.stdout());
}

/// clap wraps help at the terminal (COLUMNS=100 here): nothing may run past it, and
/// the text after the options must fit 80 columns, with every example a command line
/// and its description indented under it, so no line is ever broken out of its column.
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
            line.starts_with("  update-pnpm-hash") || line.starts_with("      "),
            "an example line broken out of its column: {line:?}"
        );
    }
}
