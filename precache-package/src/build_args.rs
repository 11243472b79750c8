//! The `nix build` arguments after `--`, sorted into those that can change what the output
//! path *is* (they must reach `nix eval` too, or we would check and push the wrong path)
//! and those that only change how it is built. Anything else is refused: we cannot tell
//! which kind it is, and guessing wrong means reporting on a path CI never asks for.

use crate::failure::{fail, Exit, Failure};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct BuildArgs {
    /// Everything, for `nix build`.
    pub build: Vec<String>,
    /// The evaluation-affecting subset, for `nix eval`.
    pub eval: Vec<String>,
}

/// (flag, number of values) for flags that change evaluation.
const EVAL: &[(&str, usize)] = &[
    ("--override-input", 2),
    ("--update-input", 1),
    ("--impure", 0),
    ("--arg", 2),
    ("--argstr", 2),
    ("--option", 2),
    ("--include", 1),
    ("-I", 1),
    ("--recreate-lock-file", 0),
    ("--no-update-lock-file", 0),
    ("--no-write-lock-file", 0),
    ("--commit-lock-file", 0),
    ("--show-trace", 0),
];

/// (flag, number of values) for flags that only change how the build runs.
const BUILD_ONLY: &[(&str, usize)] = &[
    ("--max-jobs", 1),
    ("-j", 1),
    ("--cores", 1),
    ("--keep-going", 0),
    ("-k", 0),
    ("--keep-failed", 0),
    ("-K", 0),
    ("--fallback", 0),
    ("--print-build-logs", 0),
    ("-L", 0),
    ("--verbose", 0),
    ("-v", 0),
    ("--quiet", 0),
    ("--builders", 1),
    // Already passed by us; harmless to repeat.
    ("--no-link", 0),
    ("--json", 0),
];

pub fn classify(args: &[String]) -> Result<BuildArgs, Failure> {
    let mut out = BuildArgs {
        build: args.to_vec(),
        eval: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let known = |table: &[(&str, usize)]| table.iter().find(|(f, _)| *f == flag).map(|e| e.1);
        // `--extra-<setting> VALUE` (extra-substituters, extra-experimental-features, ...) may
        // change evaluation (allowed URIs, features), so it goes to both.
        let (arity, eval) = if let Some(n) = known(EVAL) {
            (n, true)
        } else if flag.starts_with("--extra-") {
            (1, true)
        } else if let Some(n) = known(BUILD_ONLY) {
            (n, false)
        } else {
            return fail(
                Exit::Usage,
                format!(
                    "unsupported `nix build` argument after `--`: {flag:?}. precache-package must evaluate the same output path `nix build` builds, so it accepts only {} (passed to evaluation too) and {} (build only); set other options in nix.conf or NIX_CONFIG",
                    names(EVAL),
                    names(BUILD_ONLY)
                ),
            );
        };
        if i + arity >= args.len() {
            return fail(
                Exit::Usage,
                format!("`{flag}` after `--` needs {arity} value(s)"),
            );
        }
        if eval {
            out.eval.extend_from_slice(&args[i..=i + arity]);
        }
        i += arity + 1;
    }
    Ok(out)
}

fn names(table: &[(&str, usize)]) -> String {
    table.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn evaluation_args_are_kept_with_their_values() {
        let a = strings(&[
            "--max-jobs",
            "2",
            "--override-input",
            "inp",
            "path:/x",
            "-L",
            "--impure",
            "--extra-substituters",
            "file:///c",
        ]);
        let c = classify(&a).unwrap();
        assert_eq!(c.build, a);
        assert_eq!(
            c.eval,
            strings(&[
                "--override-input",
                "inp",
                "path:/x",
                "--impure",
                "--extra-substituters",
                "file:///c"
            ])
        );
    }

    #[test]
    fn unknown_or_incomplete_args_are_refused() {
        for bad in [
            &["--rebuild"][..],
            &["other#installable"],
            &["--override-input", "inp"],
            &["--max-jobs"],
        ] {
            let err = classify(&strings(bad)).unwrap_err();
            assert_eq!(err.exit, Exit::Usage, "{bad:?}");
        }
    }
}
