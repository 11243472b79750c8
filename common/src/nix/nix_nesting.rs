//! A linear pre-scan that bounds how deeply Nix source nests, before rnix parses it.
//!
//! rnix 0.12 (src/parser.rs) recurses: `parse_expr` stops at 512 levels, but list
//! elements, unary `-` and `!`, `a.b or c`, and the right-associative `++`, `//`, `->`
//! and `<|` recurse without any limit, so 100,000 nested `[` overflow the stack. And a
//! left-associative chain (`f f f …`, `a+a+a…`) is parsed by a loop into a tree as
//! deep as the chain is long, which rowan then hashes recursively
//! (src/green/node_cache.rs, `node_hash`, on every resize of its node cache:
//! quadratic time as well as stack depth).
//!
//! So the scan runs rnix's own tokenizer (a loop) and counts, on the path from the top
//! of the file to each token, every bracket, string, interpolation, `let`, `with`,
//! `assert` and `inherit`, every operator, lambda and `if`, and every application.
//! Siblings (bindings separated by `;` or `,`, list elements) do not add up. The count
//! bounds both the parser's recursion and the tree's depth at that point.

use rnix::tokenizer::Tokenizer;
use rnix::SyntaxKind::{self, *};

/// Far above hand-written or generated Nix (nixpkgs nests a few dozen levels), and
/// low enough that parsing at this depth fits a 1 MiB stack in a debug build (400
/// nested parentheses, the costliest level, do).
pub const MAX_NESTING: usize = 400;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Frame {
    Paren,
    Bracket,
    Brace,
    /// `${ … }`, in a string, a path or an attribute name.
    Interp,
    Str,
    /// `let` … `in`.
    Let,
    /// `with e;` or `assert e;`: ends at its `;`, and its body nests inside it.
    Body,
    /// `inherit a b;`: its names are siblings, not an application.
    Inherit,
}

#[derive(Default)]
struct Scan {
    bound: usize,
    level: usize,
    /// Each open frame with the level before it opened.
    open: Vec<(Frame, usize)>,
    /// The last token ended an operand, so an operand now is an application.
    after_operand: bool,
}

/// The byte offset where `src` first nests deeper than [`MAX_NESTING`], if it does.
pub fn too_deep(src: &str) -> Option<usize> {
    deeper_than(src, MAX_NESTING)
}

fn deeper_than(src: &str, bound: usize) -> Option<usize> {
    let mut scan = Scan {
        bound,
        ..Scan::default()
    };
    let mut offset = 0;
    for (kind, text) in Tokenizer::new(src) {
        if !kind.is_trivia() && !scan.token(kind) {
            return Some(offset);
        }
        offset += text.len();
    }
    None
}

impl Scan {
    /// One level deeper on the current path; false past the bound.
    fn deeper(&mut self) -> bool {
        self.level += 1;
        self.level <= self.bound
    }

    fn push(&mut self, frame: Frame) -> bool {
        self.open.push((frame, self.level));
        self.deeper()
    }

    fn top(&self) -> Option<Frame> {
        self.open.last().map(|&(f, _)| f)
    }

    /// Accounts for one token; false when it goes past the bound.
    fn token(&mut self, kind: SyntaxKind) -> bool {
        let starts_operand = matches!(
            kind,
            TOKEN_IDENT
                | TOKEN_INTEGER
                | TOKEN_FLOAT
                | TOKEN_PATH
                | TOKEN_URI
                | TOKEN_STRING_START
                | TOKEN_L_PAREN
                | TOKEN_L_BRACK
                | TOKEN_L_BRACE
                | TOKEN_REC
        );
        let application = starts_operand
            && self.after_operand
            && !matches!(
                self.top(),
                Some(Frame::Bracket | Frame::Inherit | Frame::Str)
            );
        if application && !self.deeper() {
            return false;
        }
        self.after_operand = matches!(
            kind,
            TOKEN_IDENT
                | TOKEN_INTEGER
                | TOKEN_FLOAT
                | TOKEN_PATH
                | TOKEN_URI
                | TOKEN_STRING_END
                | TOKEN_R_PAREN
                | TOKEN_R_BRACK
                | TOKEN_R_BRACE
        );
        match kind {
            TOKEN_L_PAREN => self.push(Frame::Paren),
            TOKEN_L_BRACK => self.push(Frame::Bracket),
            TOKEN_L_BRACE => self.push(Frame::Brace),
            TOKEN_INTERPOL_START => self.push(Frame::Interp),
            TOKEN_STRING_START => self.push(Frame::Str),
            TOKEN_LET => self.push(Frame::Let),
            TOKEN_WITH | TOKEN_ASSERT => self.push(Frame::Body),
            TOKEN_INHERIT => self.push(Frame::Inherit),
            TOKEN_R_PAREN | TOKEN_R_BRACK | TOKEN_R_BRACE | TOKEN_INTERPOL_END => {
                self.close_to(|f| {
                    matches!(
                        f,
                        Frame::Paren | Frame::Bracket | Frame::Brace | Frame::Interp
                    )
                });
                true
            }
            TOKEN_STRING_END => {
                self.close_to(|f| f == Frame::Str);
                true
            }
            TOKEN_IN => self.end_let(),
            TOKEN_SEMICOLON => {
                self.semicolon();
                true
            }
            TOKEN_COMMA => {
                if let Some(&(Frame::Brace, before)) = self.open.last() {
                    self.level = before + 1;
                }
                true
            }
            TOKEN_CONCAT | TOKEN_UPDATE | TOKEN_ADD | TOKEN_SUB | TOKEN_MUL | TOKEN_DIV
            | TOKEN_AND_AND | TOKEN_OR_OR | TOKEN_EQUAL | TOKEN_NOT_EQUAL | TOKEN_LESS
            | TOKEN_LESS_OR_EQ | TOKEN_MORE | TOKEN_MORE_OR_EQ | TOKEN_IMPLICATION
            | TOKEN_PIPE_RIGHT | TOKEN_PIPE_LEFT | TOKEN_INVERT | TOKEN_QUESTION | TOKEN_COLON
            | TOKEN_IF | TOKEN_OR => self.deeper(),
            _ => true,
        }
    }

    /// `in`: the body nests inside the `let`, one level below where it began.
    fn end_let(&mut self) -> bool {
        match self.open.last() {
            Some(&(Frame::Let, before)) => {
                self.open.pop();
                self.level = before;
                self.deeper()
            }
            _ => true,
        }
    }

    /// `;` ends a `with`/`assert` head (whose body nests further), an `inherit`, or a
    /// binding: the next binding starts again at its set's level.
    fn semicolon(&mut self) {
        match self.open.last() {
            Some(&(Frame::Body, before)) => {
                self.open.pop();
                self.level = before + 1;
                return;
            }
            Some(&(Frame::Inherit, before)) => {
                self.open.pop();
                self.level = before;
            }
            _ => {}
        }
        if let Some(&(Frame::Let | Frame::Brace, before)) = self.open.last() {
            self.level = before + 1;
        }
    }

    /// Pops frames up to and including the innermost one `closes` accepts (an
    /// unmatched closer is rnix's syntax error to report, not ours).
    fn close_to(&mut self, closes: impl Fn(Frame) -> bool) {
        while let Some((frame, before)) = self.open.pop() {
            self.level = before;
            if closes(frame) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(src: &str) -> bool {
        too_deep(src).is_none()
    }

    #[test]
    fn real_code_is_far_below_the_bound() {
        let src = r#"{ pkgs ? import <nixpkgs> { }, lib ? pkgs.lib }:
let
  # a comment with [ ( { unbalanced
  deps = pkgs.fetchYarnDeps { yarnLock = ./yarn.lock; hash = "sha256-x"; };
  s = ''
    ''${not interpolated} '''quoted''' ${lib.concatStringsSep "," [ "a" "b" ]}
  '';
in
with pkgs; assert lib.versionAtLeast "2" "1";
{
  a = if x then y else if z then w else [ 1 2 (-3) ] ++ [ 4 ] // { b = !c; };
  f = { a, b ? 1, ... }@args: x: y: a -> b || c != d;
  p = ./path/${deps}/x;
}
"#;
        assert_eq!(deeper_than(src, 16), None);
        assert!(
            deeper_than(src, 8).is_some(),
            "the count is not trivially zero"
        );
    }

    #[test]
    fn each_recursing_shape_is_bounded_where_it_goes_too_deep() {
        // (opener, closer, levels per repetition): a string and its `${` are two.
        for (open, close, levels) in [
            ("[", "]", 1),
            ("(", ")", 1),
            ("{ a = ", "; }", 1),
            ("\"${", "}\"", 2),
            ("''${", "}''", 2),
            ("- ", "", 1),
            ("! ", "", 1),
            ("x ++ ", "", 1),
            ("x // ", "", 1),
            ("x -> ", "", 1),
            ("x: ", "", 1),
            ("let a = 1; in ", "", 1),
            ("with a; ", "", 1),
            ("assert a; ", "", 1),
            ("if a then b else ", "", 1),
            ("a.b or ", "", 1),
            ("f ", "", 1),
            ("a+", "", 1),
            ("a ? b && ", "", 2),
        ] {
            let n = MAX_NESTING / levels;
            let ok = format!("{}1{}", open.repeat(n), close.repeat(n));
            assert!(depth_ok(&ok), "{open:?} at the bound");
            let deep = format!("{}1{}", open.repeat(n + 1), close.repeat(n + 1));
            let at = too_deep(&deep).unwrap_or_else(|| panic!("{open:?} past the bound"));
            assert!(at <= open.len() * (n + 1), "{open:?}: reported at {at}");
        }
    }

    #[test]
    fn siblings_do_not_add_up() {
        let many = format!("{{ {} }}", "a = x: [ (b ++ c) ];".repeat(10_000));
        assert!(depth_ok(&many));
        let list = format!("[ {} ]", "(- 1) ".repeat(10_000));
        assert!(depth_ok(&list));
        let closed = format!("[ {} ]", "[ [ ] ] ".repeat(10_000));
        assert!(deeper_than(&closed, 3).is_none());
        let elements = format!("[ {} ]", "f ./a \"s\" ".repeat(10_000));
        assert!(
            depth_ok(&elements),
            "list elements are not applied to each other"
        );
        let inherits = format!("{{ inherit (pkgs) {}; }}", "a ".repeat(10_000));
        assert!(depth_ok(&inherits));
    }
}
