//! The `fetchYarnDeps { … hash = "…"; }` call in a `.nix` file (or nixpkgs'
//! `fetchPnpmDeps { … }`, also spelt `pnpm.fetchDeps`), found and rewritten
//! syntax-aware (rnix), for the in-place mode that keeps the hash in Nix code.
//!
//! Only the hash string's own bytes change, so formatting and comments survive. A
//! file with zero or several calls is refused rather than guessed at.

use std::ops::Range;

use rnix::ast::{self, HasEntry};
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;
use thiserror::Error;

use crate::nix::nix_hash::Sha256Hash;
use crate::nix::nix_syntax::{self, line_col, SyntaxError};

/// The hash argument of one `fetchYarnDeps` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCall {
    /// `hash` or `sha256`.
    pub attr: String,
    /// The current value's source text and byte range.
    pub value_text: String,
    pub value_range: Range<usize>,
    pub line: usize,
    pub col: usize,
    /// `yarnLock = ./path;` when it is a path literal.
    pub yarn_lock: Option<String>,
    /// `src = ./path;` when it is a path literal (fetchPnpmDeps reads the lockfile there).
    pub src: Option<String>,
    /// fetchPnpmDeps' `pnpmWorkspaces = [ "…" ];` (string literals only), when given.
    pub workspaces: Option<Vec<String>>,
}

/// The fixed-output fetcher whose call is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetcherCall {
    FetchYarnDeps,
    /// nixpkgs' `fetchPnpmDeps`, or `pnpm.fetchDeps` / `pnpm_10.fetchDeps` (its older
    /// spelling, still in nixpkgs).
    FetchPnpmDeps,
}

impl FetcherCall {
    pub fn name(self) -> &'static str {
        match self {
            Self::FetchYarnDeps => "fetchYarnDeps",
            Self::FetchPnpmDeps => "fetchPnpmDeps",
        }
    }

    /// `last` is the callee's last two tokens, as [`last_tokens`] gives them.
    fn is_callee(self, last: &[String]) -> bool {
        let ends = |suffix: &str| last.last().is_some_and(|t| t.ends_with(suffix));
        match self {
            Self::FetchYarnDeps => ends("fetchYarnDeps"),
            Self::FetchPnpmDeps => {
                ends("fetchPnpmDeps") || last.len() == 2 && last[0] == "." && last[1] == "fetchDeps"
            }
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CallError {
    #[error("line {line}:{col}: {message}; fix the syntax first")]
    Syntax {
        line: usize,
        col: usize,
        message: String,
    },
    #[error("no `{fetcher} {{ … }}` call with a `hash = \"…\";` argument found; add `hash = \"\";` to the call, or use the record mode (without --nix-file)")]
    None { fetcher: &'static str },
    #[error("{} `{fetcher}` calls found (lines {}); in-place mode needs exactly one per file", lines.len(), lines.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Several {
        fetcher: &'static str,
        lines: Vec<usize>,
    },
    #[error("line {line}:{col}: `{attr}` {why}, which update-pnpm-hash does not emulate: it would compute the hash of a plain install and so writes none")]
    ChangesInstall {
        attr: String,
        why: &'static str,
        line: usize,
        col: usize,
    },
    #[error("line {line}:{col}: `pnpmWorkspaces = {text};` is not a list of string literals, which is all update-pnpm-hash reads there; write the selectors out (`pnpmWorkspaces = [ \"ghost\" ];`)")]
    NotLiteralList {
        text: String,
        line: usize,
        col: usize,
    },
    #[error("line {line}: `{attr} = {text};` is an expression, not a literal; in-place mode rewrites only string literals (or lib.fakeHash). If it reads .nix/yarn-deps.toml, use the record mode")]
    NotLiteral {
        attr: String,
        text: String,
        line: usize,
        col: usize,
    },
}

impl CallError {
    /// The error as it reads in `file`, in the one position form `file:line:col: …`.
    pub fn in_file(&self, file: &str) -> String {
        match self {
            Self::Syntax { line, col, message } => {
                format!("{file}:{line}:{col}: {message}; fix the syntax first")
            }
            Self::NotLiteral { line, col, .. } | Self::NotLiteralList { line, col, .. } => {
                let text = self.to_string();
                let rest = text.split_once(": ").map_or(text.as_str(), |(_, r)| r);
                format!("{file}:{line}:{col}: {rest}")
            }
            other => format!("{file}: {other}"),
        }
    }
}

/// The single `fetchYarnDeps` call of `src`.
pub fn find(src: &str) -> Result<FoundCall, CallError> {
    find_call(src, FetcherCall::FetchYarnDeps)
}

/// The single call of `fetcher` in `src`.
pub fn find_call(src: &str, fetcher: FetcherCall) -> Result<FoundCall, CallError> {
    let syntax = |e: SyntaxError| CallError::Syntax {
        line: e.line,
        col: e.col,
        message: e.message,
    };
    let parse = nix_syntax::parse(src).map_err(syntax)?;
    if let Some(e) = nix_syntax::errors(src, &parse).into_iter().next() {
        return Err(syntax(e));
    }
    let mut calls = Vec::new();
    for apply in parse.syntax().descendants().filter_map(ast::Apply::cast) {
        if !apply
            .lambda()
            .is_some_and(|l| fetcher.is_callee(&last_tokens(l.syntax())))
        {
            continue;
        }
        if let Some(ast::Expr::AttrSet(args)) = apply.argument() {
            let workspaces = if fetcher == FetcherCall::FetchPnpmDeps {
                refuse_install_changes(src, &args)?;
                pnpm_workspaces(src, &args)?
            } else {
                None
            };
            if let Some(call) = hash_argument(src, &args)? {
                calls.push(FoundCall { workspaces, ..call });
            }
        }
    }
    match calls.len() {
        0 => Err(CallError::None {
            fetcher: fetcher.name(),
        }),
        1 => Ok(calls.pop().expect("one call")),
        _ => Err(CallError::Several {
            fetcher: fetcher.name(),
            lines: calls.iter().map(|c| c.line).collect(),
        }),
    }
}

/// The callee's last two tokens, whitespace skipped (`pnpm` `.` `fetchDeps` ends in
/// `.` `fetchDeps`). Only those are read: the callee of `f a b c` is `f a b`, so copying
/// its text for every application would be quadratic in the length of the chain.
fn last_tokens(callee: &SyntaxNode) -> Vec<String> {
    let mut last = Vec::new();
    let mut token = callee.last_token();
    while let Some(t) = token {
        if t.kind() != SyntaxKind::TOKEN_WHITESPACE {
            last.insert(0, t.text().to_owned());
            if last.len() == 2 {
                break;
            }
        }
        token = t
            .prev_token()
            .filter(|p| callee.text_range().contains_range(p.text_range()));
    }
    last
}

/// fetchPnpmDeps arguments that change what the install fetches
/// (pkgs/build-support/node/fetch-pnpm-deps/default.nix: `pnpmWorkspaces` become
/// `--filter=` flags, `pnpmInstallFlags` are passed to `pnpm install`, `prePnpmInstall`
/// runs before it; patches and a source root change the project it runs in).
/// `pnpmWorkspaces` is read instead ([`pnpm_workspaces`]).
const INSTALL_CHANGING: [(&str, &str); 6] = [
    ("pnpmInstallFlags", "passes flags to `pnpm install`"),
    ("prePnpmInstall", "runs a script before `pnpm install`"),
    ("patches", "patches the source pnpm installs from"),
    ("prePatch", "changes the source pnpm installs from"),
    ("postPatch", "changes the source pnpm installs from"),
    ("sourceRoot", "moves the directory pnpm installs in"),
];

/// Refuses a fetchPnpmDeps call with an argument of [`INSTALL_CHANGING`] (an empty list
/// or string changes nothing and is accepted).
fn refuse_install_changes(src: &str, args: &ast::AttrSet) -> Result<(), CallError> {
    for binding in args.attrpath_values() {
        let (Some(path), Some(value)) = (binding.attrpath(), binding.value()) else {
            continue;
        };
        let attr = path.syntax().text().to_string();
        let Some((_, why)) = INSTALL_CHANGING.iter().find(|(a, _)| *a == attr) else {
            continue;
        };
        let text: String = value
            .syntax()
            .text()
            .to_string()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if ["[]", "\"\"", "''''", "null"].contains(&text.as_str()) {
            continue;
        }
        let start = usize::from(path.syntax().text_range().start());
        let (line, col) = line_col(src, start);
        return Err(CallError::ChangesInstall {
            attr,
            why,
            line,
            col,
        });
    }
    Ok(())
}

/// `pnpmWorkspaces = [ "a" "b" ];`: the list of string literals, `None` when absent (or
/// `null`); anything else is refused, since its value is known only to Nix.
fn pnpm_workspaces(src: &str, args: &ast::AttrSet) -> Result<Option<Vec<String>>, CallError> {
    for binding in args.attrpath_values() {
        let (Some(path), Some(value)) = (binding.attrpath(), binding.value()) else {
            continue;
        };
        if path.syntax().text() != "pnpmWorkspaces" {
            continue;
        }
        let start = usize::from(value.syntax().text_range().start());
        let (line, col) = line_col(src, start);
        let refuse = || CallError::NotLiteralList {
            text: value.syntax().text().to_string(),
            line,
            col,
        };
        if value.syntax().text() == "null" {
            return Ok(None);
        }
        let ast::Expr::List(list) = &value else {
            return Err(refuse());
        };
        let mut out = Vec::new();
        for item in list.items() {
            let ast::Expr::Str(s) = item else {
                return Err(refuse());
            };
            let mut text = String::new();
            for part in s.normalized_parts() {
                match part {
                    ast::InterpolPart::Literal(l) => text.push_str(&l),
                    ast::InterpolPart::Interpolation(_) => return Err(refuse()),
                }
            }
            out.push(text);
        }
        return Ok(Some(out));
    }
    Ok(None)
}

fn hash_argument(src: &str, args: &ast::AttrSet) -> Result<Option<FoundCall>, CallError> {
    let mut hash = None;
    let mut yarn_lock = None;
    let mut src_path = None;
    for binding in args.attrpath_values() {
        let (Some(path), Some(value)) = (binding.attrpath(), binding.value()) else {
            continue;
        };
        let attr = path.syntax().text().to_string();
        let value_text = value.syntax().text().to_string();
        if attr == "yarnLock" && matches!(value, ast::Expr::Path(_)) {
            yarn_lock = Some(value_text);
        } else if attr == "src" && matches!(value, ast::Expr::Path(_)) {
            src_path = Some(value_text);
        } else if attr == "hash" || attr == "sha256" {
            let range = value.syntax().text_range();
            let value_range = usize::from(range.start())..usize::from(range.end());
            let (line, col) = line_col(src, value_range.start);
            if !is_replaceable(&value) {
                return Err(CallError::NotLiteral {
                    attr,
                    text: value_text,
                    line,
                    col,
                });
            }
            hash = Some(FoundCall {
                attr,
                value_text,
                value_range,
                line,
                col,
                yarn_lock: None,
                src: None,
                workspaces: None,
            });
        }
    }
    Ok(hash.map(|h| FoundCall {
        yarn_lock,
        src: src_path,
        ..h
    }))
}

/// A plain string literal, or the `lib.fakeHash` placeholder of the old fake-hash loop.
fn is_replaceable(value: &ast::Expr) -> bool {
    match value {
        ast::Expr::Str(s) => s
            .parts()
            .all(|p| matches!(p, ast::InterpolPart::Literal(_))),
        ast::Expr::Select(s) => {
            let text = s.syntax().text().to_string();
            text.ends_with("fakeHash") || text.ends_with("fakeSha256")
        }
        _ => false,
    }
}

impl FoundCall {
    /// The literal's current text without quotes, when it is a string.
    pub fn current(&self) -> Option<&str> {
        self.value_text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
    }

    /// `src` with this call's hash set to `hash`, in the notation the argument expects:
    /// SRI for `hash`, and for `sha256` whatever it already used (SRI or base-32).
    pub fn rewrite(&self, src: &str, hash: &Sha256Hash) -> String {
        let sri_already = self.current().is_some_and(|c| c.starts_with("sha256-"));
        let value = if self.attr == "hash" || sri_already {
            hash.to_sri()
        } else {
            hash.to_nix_base32()
        };
        let mut out = String::with_capacity(src.len());
        out.push_str(&src[..self.value_range.start]);
        out.push('"');
        out.push_str(&value);
        out.push('"');
        out.push_str(&src[self.value_range.end..]);
        out
    }

    /// Whether the literal already holds `hash`, in any notation Nix accepts.
    pub fn holds(&self, hash: &Sha256Hash) -> bool {
        self.current()
            .and_then(|c| c.parse::<Sha256Hash>().ok())
            .is_some_and(|h| h == *hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "{ pkgs }:\nlet\n  # the deps\n  offline = pkgs.fetchYarnDeps {\n    yarnLock = ./yarn.lock;\n    hash = \"\";\n  };\nin offline\n";

    #[test]
    fn finds_and_rewrites_only_the_literal() {
        let call = find(SRC).unwrap();
        assert_eq!((call.attr.as_str(), call.line, call.col), ("hash", 6, 12));
        assert_eq!(call.yarn_lock.as_deref(), Some("./yarn.lock"));
        let h = Sha256Hash::of(b"x");
        let out = call.rewrite(SRC, &h);
        assert_eq!(
            out,
            SRC.replace("hash = \"\"", &format!("hash = \"{}\"", h.to_sri()))
        );
        assert!(find(&out).unwrap().holds(&h));
    }

    #[test]
    fn sha256_keeps_base32_and_fake_hash_is_replaceable() {
        let src = "fetchYarnDeps { yarnLock = ./y; sha256 = lib.fakeSha256; }";
        let h = Sha256Hash::of(b"x");
        let out = find(src).unwrap().rewrite(src, &h);
        assert!(
            out.contains(&format!("sha256 = \"{}\"", h.to_nix_base32())),
            "{out}"
        );
    }

    #[test]
    fn finds_fetch_pnpm_deps_in_both_spellings_and_only_it() {
        let src = "{ pnpm_10, fetchPnpmDeps }:\nfetchPnpmDeps {\n  src = ./.;\n  fetcherVersion = 3;\n  hash = \"\";\n}\n";
        assert!(find_call(src, FetcherCall::FetchPnpmDeps).is_ok());
        let filtered = src.replace(
            "  hash",
            "  pnpmWorkspaces = [ \"a\" \"@s/b...\" ];\n  hash",
        );
        let call = find_call(&filtered, FetcherCall::FetchPnpmDeps).unwrap();
        assert_eq!(
            call.workspaces,
            Some(vec!["a".to_owned(), "@s/b...".to_owned()])
        );
        for value in ["[ x ]", "[ \"${x}\" ]", "ws", "[ \"a\" ] ++ [ ]"] {
            let expr = src.replace("  hash", &format!("  pnpmWorkspaces = {value};\n  hash"));
            let err = find_call(&expr, FetcherCall::FetchPnpmDeps).unwrap_err();
            assert!(
                matches!(
                    &err,
                    CallError::NotLiteralList {
                        line: 5,
                        col: 20,
                        ..
                    }
                ),
                "{value}: {err}"
            );
        }
        let flags = src.replace("  hash", "  pnpmInstallFlags = [ \"--prod\" ];\n  hash");
        let err = find_call(&flags, FetcherCall::FetchPnpmDeps).unwrap_err();
        assert!(
            matches!(&err, CallError::ChangesInstall { attr, line: 5, col: 3, .. } if attr == "pnpmInstallFlags"),
            "{err}"
        );
        let empty = src.replace("  hash", "  pnpmWorkspaces = [ ];\n  hash");
        let call = find_call(&empty, FetcherCall::FetchPnpmDeps).unwrap();
        assert_eq!(call.workspaces, Some(Vec::new()));
        assert_eq!(
            find_call(src, FetcherCall::FetchPnpmDeps)
                .unwrap()
                .workspaces,
            None
        );
        // fetchYarnDeps has no such arguments: nothing is refused there.
        let yarn = flags.replace("fetchPnpmDeps {", "fetchYarnDeps {");
        assert!(find_call(&yarn, FetcherCall::FetchYarnDeps).is_ok());
        let call = find_call(src, FetcherCall::FetchPnpmDeps).unwrap();
        assert_eq!((call.line, call.src.as_deref()), (5, Some("./.")));
        let old = "pnpm_10.fetchDeps { src = ./.; hash = \"\"; }";
        assert!(find_call(old, FetcherCall::FetchPnpmDeps).is_ok());
        assert!(matches!(find(src), Err(CallError::None { .. })));
        assert!(matches!(
            find_call(SRC, FetcherCall::FetchPnpmDeps),
            Err(CallError::None {
                fetcher: "fetchPnpmDeps"
            })
        ));
    }

    #[test]
    fn refuses_zero_several_and_expressions() {
        assert_eq!(
            find("{ a = 1; }"),
            Err(CallError::None {
                fetcher: "fetchYarnDeps"
            })
        );
        let two = "[ (fetchYarnDeps { hash = \"\"; }) (fetchYarnDeps { hash = \"\"; }) ]";
        assert_eq!(
            find(two),
            Err(CallError::Several {
                fetcher: "fetchYarnDeps",
                lines: vec![1, 1]
            })
        );
        let expr = "fetchYarnDeps {\n  hash = (builtins.fromTOML x).h;\n}";
        assert!(matches!(
            find(expr),
            Err(CallError::NotLiteral { line: 2, .. })
        ));
        assert!(matches!(
            find("fetchYarnDeps { hash = ; }"),
            Err(CallError::Syntax { .. })
        ));
    }

    #[test]
    fn only_the_callee_s_last_token_is_read() {
        let src = "{ a = pkgs.fetchYarnDeps  { hash = \"\"; }; b = (fetchYarnDeps) { hash = 1; }; c = fetchYarnDeps.x { }; }";
        assert_eq!(find(src).unwrap().line, 1);
        let chain = format!(
            "{{ x = {}1; d = fetchYarnDeps {{ hash = \"\"; }}; }}",
            "f ".repeat(300)
        );
        assert_eq!(find(&chain).unwrap().attr, "hash");
    }
}
