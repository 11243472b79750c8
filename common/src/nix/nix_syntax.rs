//! Nix source read without Nix: syntax errors with their line and column, and a
//! flake's inputs for comparing two versions of `flake.nix`.

use rnix::ast::{self, HasEntry};
use rnix::{NodeOrToken, Root, SyntaxKind, SyntaxNode, TextRange};
use rowan::ast::AstNode;
use rowan::GreenNode;

use crate::nix::nix_nesting::{self, MAX_NESTING};

/// A syntax error; `line` and `col` are 1-based, `col` counts characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// An rnix parse whose tree is freed without recursion.
///
/// rowan frees a green tree recursively, one call per level, and a left-associative
/// chain (`f f f …`, `a + a + …`) is a tree as deep as it is long: 20,000 applications
/// overflow a 1 MiB stack when the tree is dropped, though parsing them is a loop.
/// Red nodes ([`SyntaxNode`]) taken from it must be dropped before it, as they are
/// when they live in the scope that holds it.
pub struct NixParse {
    green: Option<GreenNode>,
    errors: Vec<rnix::parser::ParseError>,
}

impl NixParse {
    pub fn syntax(&self) -> SyntaxNode {
        SyntaxNode::new_root(self.green.clone().expect("taken only by drop"))
    }

    pub fn tree(&self) -> Root {
        Root::cast(self.syntax()).expect("the parser's root is a Root")
    }

    pub fn errors(&self) -> &[rnix::parser::ParseError] {
        &self.errors
    }
}

impl Drop for NixParse {
    fn drop(&mut self) {
        // Each node is released only after its children are held by the stack, so no
        // release reaches further than one level down.
        let mut stack: Vec<GreenNode> = self.green.take().into_iter().collect();
        while let Some(node) = stack.pop() {
            stack.extend(
                node.children()
                    .filter_map(NodeOrToken::into_node)
                    .map(ToOwned::to_owned),
            );
        }
    }
}

/// `src` parsed by rnix, unless it nests deeper than [`MAX_NESTING`]: then the error
/// points at where, and rnix (whose recursion would overflow the stack) never runs.
pub fn parse(src: &str) -> Result<NixParse, SyntaxError> {
    if let Some(offset) = nix_nesting::too_deep(src) {
        let (line, col) = line_col(src, offset);
        return Err(SyntaxError {
            line,
            col,
            message: format!(
                "nested more than {MAX_NESTING} levels deep (brackets, strings, let, with, \
                 lambdas and operators); no real Nix code nests this deep, is the file generated \
                 wrongly or corrupt?"
            ),
        });
    }
    // `Root::parse`, not the generic `rnix::parser::parse`: instantiated here, the
    // latter would be compiled at this crate's opt-level, and its debug frames are
    // several times larger.
    let parse = Root::parse(src);
    let green = parse.syntax().green().into_owned();
    let errors = parse.errors().to_vec();
    // Now `green` holds the tree alone, and `NixParse` frees it.
    drop(parse);
    Ok(NixParse {
        green: Some(green),
        errors,
    })
}

/// The syntax errors in `src`, in source order; empty when it parses.
pub fn check(src: &str) -> Vec<SyntaxError> {
    match parse(src) {
        Ok(parse) => errors(src, &parse),
        Err(too_deep) => vec![too_deep],
    }
}

/// The syntax errors of a parse of `src`, in source order.
pub fn errors(src: &str, parse: &NixParse) -> Vec<SyntaxError> {
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
    let parse = parse(src).ok()?;
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
pub(crate) mod tests {
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

    /// Runs `f` on a thread with a 1 MiB stack, as `ulimit -s 1024` gives the main one.
    pub(crate) fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(1 << 20)
                .spawn_scoped(s, f)
                .unwrap()
                .join()
                .unwrap()
        })
    }

    #[test]
    fn left_associative_chains_parse_to_the_bound_and_are_refused_past_it() {
        // The parser loops over these, but rowan hashes and frees the tree they give
        // recursively, one level per link.
        for link in ["f ", "a + ", "a+"] {
            let src = format!("{}1", link.repeat(MAX_NESTING));
            assert_eq!(on_small_stack(|| check(&src)), [], "{link:?}");
            let src = format!("{}1", link.repeat(200_000));
            let errors = on_small_stack(|| check(&src));
            assert!(errors[0].message.contains("nested more than"), "{errors:?}");
        }
    }

    #[test]
    fn a_deep_tree_is_freed_without_recursion() {
        // Built by hand (no node cache, which would hash it recursively): a tree far
        // deeper than the nesting bound lets through.
        use rowan::{GreenToken, Language};
        let kind = rnix::NixLanguage::kind_to_raw;
        let x = GreenToken::new(kind(SyntaxKind::TOKEN_IDENT), "x");
        let mut green = GreenNode::new(kind(SyntaxKind::NODE_IDENT), [NodeOrToken::Token(x)]);
        for _ in 0..200_000 {
            green = GreenNode::new(kind(SyntaxKind::NODE_PAREN), [NodeOrToken::Node(green)]);
        }
        on_small_stack(move || {
            drop(NixParse {
                green: Some(green),
                errors: Vec::new(),
            })
        });
    }

    #[test]
    fn too_deep_nesting_is_an_error_at_its_position_on_a_small_stack() {
        let src = format!("{{\n  x = {};\n}}\n", "[".repeat(100_000));
        let errors = on_small_stack(|| check(&src));
        let first = &errors[0];
        assert_eq!((first.line, first.col), (2, 6 + MAX_NESTING), "{errors:?}");
        assert!(first.message.contains("nested more than"), "{errors:?}");
        assert_eq!(flake_inputs(&src), None);
    }
}
