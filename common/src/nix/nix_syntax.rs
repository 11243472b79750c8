//! Nix source read without Nix: syntax errors with their line and column, and a
//! flake's inputs for comparing two versions of `flake.nix`.

use rnix::ast::{self, HasEntry};
use rnix::{NodeOrToken, Root, SyntaxKind, SyntaxNode, TextRange};
use rowan::ast::AstNode;

/// A syntax error; `line` and `col` are 1-based, `col` counts characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// The syntax errors in `src`, in source order; empty when it parses.
pub fn check(src: &str) -> Vec<SyntaxError> {
    let parse = Root::parse(src);
    let mut out: Vec<SyntaxError> = parse.errors().iter().map(|e| describe(src, e)).collect();
    out.sort_by_key(|e| (e.line, e.col));
    out.dedup();
    out
}

fn describe(src: &str, e: &rnix::parser::ParseError) -> SyntaxError {
    use rnix::parser::ParseError as P;
    let at = |range: &TextRange| usize::from(range.start());
    let (offset, message) = match e {
        P::Unexpected(r) => (at(r), format!("unexpected {:?}", snippet(src, r))),
        P::UnexpectedExtra(r) => (
            at(r),
            format!(
                "unexpected {:?} after the end of the expression",
                snippet(src, r)
            ),
        ),
        P::UnexpectedWanted(got, r, wanted) => (
            at(r),
            format!("unexpected {}, expected {}", kind_name(*got), kinds(wanted)),
        ),
        P::UnexpectedDoubleBind(r) => (at(r), "pattern bound twice".to_owned()),
        P::UnexpectedEOF => (src.len(), "unexpected end of file".to_owned()),
        P::UnexpectedEOFWanted(wanted) => (
            src.len(),
            format!("unexpected end of file, expected {}", kinds(wanted)),
        ),
        P::DuplicatedArgs(r, name) => (at(r), format!("argument `{name}` declared twice")),
        P::RecursionLimitExceeded => (src.len(), "nesting too deep to parse".to_owned()),
        other => (src.len(), other.to_string()),
    };
    let (line, col) = line_col(src, offset);
    SyntaxError { line, col, message }
}

fn snippet(src: &str, r: &TextRange) -> String {
    let s = &src[usize::from(r.start())..usize::from(r.end())];
    s.chars().take(40).collect()
}

fn kinds(wanted: &[SyntaxKind]) -> String {
    let names: Vec<String> = wanted.iter().map(|k| kind_name(*k)).collect();
    names.join(" or ")
}

/// `TOKEN_SEMICOLON` -> `semicolon`: the parser's kind names, made readable.
fn kind_name(kind: SyntaxKind) -> String {
    let raw = format!("{kind:?}");
    raw.trim_start_matches("TOKEN_")
        .trim_start_matches("NODE_")
        .to_lowercase()
        .replace('_', " ")
}

/// 1-based line and character column of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A flake's `inputs`, whitespace and comments removed, so two versions of `flake.nix`
/// can be compared for input changes only. `None` when there are no inputs to read
/// (not an attribute set, or a parse error).
pub fn flake_inputs(src: &str) -> Option<String> {
    let parse = Root::parse(src);
    if !parse.errors().is_empty() {
        return None;
    }
    let ast::Expr::AttrSet(set) = parse.tree().expr()? else {
        return None;
    };
    let mut out = String::new();
    for binding in set.attrpath_values() {
        let first = binding.attrpath()?.attrs().next()?;
        if first.syntax().text() == "inputs" {
            push_tokens(binding.syntax(), &mut out);
            out.push('\n');
        }
    }
    Some(out)
}

fn push_tokens(node: &SyntaxNode, out: &mut String) {
    for element in node.descendants_with_tokens() {
        if let NodeOrToken::Token(t) = element {
            if !matches!(
                t.kind(),
                SyntaxKind::TOKEN_WHITESPACE | SyntaxKind::TOKEN_COMMENT
            ) {
                out.push_str(t.text());
                out.push(' ');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_nix_has_no_errors() {
        assert_eq!(check("{ pkgs ? import <nixpkgs> {} }: pkgs.hello\n"), []);
    }

    #[test]
    fn a_missing_semicolon_is_reported_where_it_is() {
        let src = "{\n  a = 1;\n  b = 2\n}\n";
        let errors = check(src);
        let first = &errors[0];
        assert_eq!((first.line, first.col), (4, 1), "{errors:?}");
        assert!(first.message.contains("semicolon"), "{errors:?}");
    }

    #[test]
    fn unterminated_input_reports_end_of_file() {
        let errors = check("{ a = [ 1 2\n");
        assert!(!errors.is_empty());
        assert!(
            errors.iter().any(|e| e.message.contains("end of file")),
            "{errors:?}"
        );
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_col("é = x", 2), (1, 2));
        assert_eq!(line_col("é = x", 1), (1, 1), "inside a character");
        assert_eq!(line_col("a\nbc", 3), (2, 2));
    }

    #[test]
    fn flake_inputs_ignore_layout_and_outputs() {
        let a = r#"{ inputs.a.url = "x"; outputs = _: { }; }"#;
        let b = "{\n  # pinned\n  inputs.a.url  =  \"x\";\n  outputs = _: { x = 1; };\n}";
        let c = r#"{ inputs.a.url = "y"; outputs = _: { }; }"#;
        let d = r#"{ inputs = { a.url = "x"; }; outputs = _: { }; }"#;
        assert_eq!(flake_inputs(a), flake_inputs(b));
        assert_ne!(flake_inputs(a), flake_inputs(c));
        assert_ne!(flake_inputs(a), flake_inputs(d));
        assert_eq!(flake_inputs("{ outputs = _: {}; }").as_deref(), Some(""));
    }
}
