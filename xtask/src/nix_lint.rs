//! Lints in the spirit of statix, on rnix's syntax tree. statix itself cannot be installed
//! here: it is not on crates.io (the crate named `statix` there is an unrelated HTTP file
//! server). The nixpkgs build of statix runs in the flake's `formatting` check.

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rnix::SyntaxKind::*;
use rnix::SyntaxNode;

#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    pub line: usize,
    pub column: usize,
    pub rule: &'static str,
    pub message: String,
}

pub fn check_files(files: &[PathBuf]) -> Result<()> {
    let mut report = Vec::new();
    for file in files {
        let src =
            fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        for f in lint(&src) {
            report.push(format!(
                "{}:{}:{}: [{}] {}",
                file.display(),
                f.line,
                f.column,
                f.rule,
                f.message
            ));
        }
    }
    if !report.is_empty() {
        bail!("{}", report.join("\n"));
    }
    println!("lint: {} files clean", files.len());
    Ok(())
}

pub fn lint(src: &str) -> Vec<Finding> {
    let root = rnix::Root::parse(src).syntax();
    let mut out = Vec::new();
    for node in root.descendants() {
        if let Some((rule, message)) = check_node(&node) {
            let offset = usize::from(node.text_range().start());
            let (line, column) = crate::text_position::line_col(src, offset);
            out.push(Finding {
                line,
                column,
                rule,
                message,
            });
        }
    }
    out
}

fn check_node(node: &SyntaxNode) -> Option<(&'static str, String)> {
    match node.kind() {
        NODE_BIN_OP => bool_comparison(node),
        NODE_LET_IN
            if !node
                .children()
                .any(|c| matches!(c.kind(), NODE_ATTRPATH_VALUE | NODE_INHERIT)) =>
        {
            Some((
                "empty_let_in",
                "`let in` binds nothing: remove the `let ... in`".into(),
            ))
        }
        NODE_LEGACY_LET => Some((
            "legacy_let",
            "`let { ... }` is deprecated: use `let ... in`".into(),
        )),
        NODE_ATTRPATH_VALUE => manual_inherit(node),
        NODE_ATTR_SET => app_without_description(node),
        NODE_LAMBDA => eta_reduction(node),
        NODE_PATTERN
            if !node
                .children()
                .any(|c| matches!(c.kind(), NODE_PAT_ENTRY | NODE_PAT_BIND)) =>
        {
            Some((
                "empty_pattern",
                "a pattern that binds nothing: write `_:`".into(),
            ))
        }
        NODE_IDENT if node.text() == "isNull" => Some((
            "deprecated_is_null",
            "`isNull x` is deprecated: write `x == null`".into(),
        )),
        _ => None,
    }
}

fn bool_comparison(node: &SyntaxNode) -> Option<(&'static str, String)> {
    let is_eq = node
        .children_with_tokens()
        .filter_map(|e| e.into_token())
        .any(|t| matches!(t.kind(), TOKEN_EQUAL | TOKEN_NOT_EQUAL));
    let literal = node
        .children()
        .find(|c| c.kind() == NODE_IDENT && (c.text() == "true" || c.text() == "false"))?;
    is_eq.then(|| {
        (
            "bool_comparison",
            format!("comparison with `{literal}`: use the expression (or `!`) directly"),
        )
    })
}

/// `x = x;` and `x = y.x;` are `inherit x;` and `inherit (y) x;`.
fn manual_inherit(node: &SyntaxNode) -> Option<(&'static str, String)> {
    let mut kids = node.children();
    let name = single_ident(&kids.next()?)?;
    let value = kids.next()?;
    match value.kind() {
        NODE_IDENT if value.text() == name.as_str() => Some((
            "manual_inherit",
            format!("`{name} = {name};`: write `inherit {name};`"),
        )),
        NODE_SELECT => {
            let has_default = value.children_with_tokens().any(|e| e.kind() == TOKEN_OR);
            let mut parts = value.children();
            let from = parts.next()?;
            let selected = single_ident(&parts.next()?)?;
            (from.kind() == NODE_IDENT && selected == name && !has_default).then(|| {
                (
                    "manual_inherit_from",
                    format!("`{name} = {from}.{name};`: write `inherit ({from}) {name};`"),
                )
            })
        }
        _ => None,
    }
}

/// `x: f x` is `f` when `f` does not mention `x` (statix W07, which nixpkgs' statix
/// check in the flake enforces).
fn eta_reduction(node: &SyntaxNode) -> Option<(&'static str, String)> {
    let mut kids = node.children();
    let param = kids.next()?;
    let body = kids.next()?;
    if param.kind() != NODE_IDENT_PARAM || body.kind() != NODE_APPLY {
        return None;
    }
    let name = param.text().to_string();
    let mut parts = body.children();
    let (func, arg) = (parts.next()?, parts.next()?);
    let mentions = func
        .descendants()
        .any(|d| d.kind() == NODE_IDENT && d.text() == name.as_str());
    (arg.kind() == NODE_IDENT && arg.text() == name.as_str() && !mentions).then(|| {
        (
            "eta_reduction",
            format!("`{name}: {func} {name}`: write `{func}`"),
        )
    })
}

/// A flake app (`{ type = "app"; ... }`) needs `meta.description`: `nix flake check`
/// warns without it (NixOS/nix src/nix/flake.cc, the app check), and `nix flake show` has
/// nothing to print.
fn app_without_description(node: &SyntaxNode) -> Option<(&'static str, String)> {
    let bindings: Vec<SyntaxNode> = node
        .children()
        .filter(|c| c.kind() == NODE_ATTRPATH_VALUE)
        .collect();
    let is_app = bindings.iter().any(|b| {
        let mut kids = b.children();
        let key = kids.next().and_then(|k| single_ident(&k));
        let value = kids.next().map(|v| v.text().to_string());
        key.as_deref() == Some("type") && value.as_deref() == Some("\"app\"")
    });
    let described = bindings.iter().any(|b| {
        let mut kids = b.children();
        let (Some(key), Some(value)) = (kids.next(), kids.next()) else {
            return false;
        };
        let path: Vec<String> = key.children().map(|p| p.text().to_string()).collect();
        match path.as_slice() {
            [meta, description] => meta == "meta" && description == "description",
            [meta] if meta == "meta" => {
                value.kind() == NODE_ATTR_SET && binds(&value, "description")
            }
            _ => false,
        }
    });
    (is_app && !described).then(|| {
        (
            "app_without_description",
            "a flake app without `meta.description`: add one (`nix flake check` warns)".into(),
        )
    })
}

/// Whether an attribute set binds `name` (as `name = ...;` or `inherit ... name;`).
fn binds(set: &SyntaxNode, name: &str) -> bool {
    set.children().any(|c| match c.kind() {
        NODE_ATTRPATH_VALUE => c
            .first_child()
            .and_then(|k| single_ident(&k))
            .is_some_and(|k| k == name),
        NODE_INHERIT => c
            .children()
            .any(|i| i.kind() == NODE_IDENT && i.text() == name),
        _ => false,
    })
}

/// The name of an attrpath made of one plain identifier.
fn single_ident(attrpath: &SyntaxNode) -> Option<String> {
    let mut parts = attrpath.children();
    let only = parts.next()?;
    (parts.next().is_none() && only.kind() == NODE_IDENT).then(|| only.text().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(src: &str) -> Vec<&'static str> {
        lint(src).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn flags_each_rule_with_its_position() {
        let f = lint("{\n  a = x == true;\n}\n");
        assert_eq!(
            (f[0].rule, f[0].line, f[0].column),
            ("bool_comparison", 2, 7)
        );
        assert_eq!(rules("let in 1"), ["empty_let_in"]);
        assert_eq!(rules("let { body = 1; }"), ["legacy_let"]);
        assert_eq!(rules("let a = 1; in { a = a; }"), ["manual_inherit"]);
        assert_eq!(
            rules("let s = { v = 1; }; in { v = s.v; }"),
            ["manual_inherit_from"]
        );
        assert_eq!(rules("{ ... }: 1"), ["empty_pattern"]);
        assert_eq!(rules("x: isNull x.a"), ["deprecated_is_null"]);
        assert_eq!(rules("path: type: keep (rel path) type"), ["eta_reduction"]);
        assert_eq!(
            rules(r#"{ type = "app"; program = "/bin/x"; }"#),
            ["app_without_description"]
        );
        assert_eq!(
            rules(r#"{ type = "app"; program = "/bin/x"; meta = { }; }"#),
            ["app_without_description"]
        );
    }

    #[test]
    fn leaves_correct_code_alone() {
        assert!(rules("{ a, ... }@args: { b = a; c = args.d; e = s.e or 1; f = x.y.f; g = x == y; inherit a; }").is_empty());
        assert!(rules("let a = 1; in a").is_empty());
        assert!(rules("{ ... }@args: args").is_empty());
        assert!(
            rules("x: f x x").is_empty(),
            "x is still used by the function"
        );
        assert!(rules("x: x.f x").is_empty());
        assert!(rules("x: f x y").is_empty());
        assert!(rules(r#"{ type = "app"; meta.description = "d"; }"#).is_empty());
        assert!(rules(r#"d: { type = "app"; meta = { description = d; }; }"#).is_empty());
        assert!(
            rules(r#"description: { type = "app"; meta = { inherit description; }; }"#).is_empty()
        );
        assert!(rules(r#"{ type = "derivation"; }"#).is_empty());
    }

    /// `nix run .` needs apps.default (or packages.default's meta.mainProgram); the flake
    /// has both.
    #[test]
    fn the_flake_runs_without_an_attribute_name() {
        let src = fs::read_to_string(crate::project_root().join("flake.nix")).unwrap();
        let root = rnix::Root::parse(&src).syntax();
        let apps = root
            .descendants()
            .filter(|n| n.kind() == NODE_ATTRPATH_VALUE)
            .find(|n| n.first_child().and_then(|k| single_ident(&k)).as_deref() == Some("apps"))
            .expect("flake.nix defines apps");
        let set = apps
            .descendants()
            .find(|n| n.kind() == NODE_ATTR_SET)
            .expect("apps is an attribute set");
        let default_in = |set: &SyntaxNode| binds(set, "default");
        assert!(
            default_in(&set)
                || apps
                    .descendants()
                    .filter(|n| n.kind() == NODE_ATTR_SET)
                    .any(|s| default_in(&s)),
            "flake.nix has no apps.default: `nix run .` fails"
        );
        assert!(
            src.contains("mainProgram = \"update-yarn-hash\""),
            "the tools package has no meta.mainProgram"
        );
    }

    #[test]
    fn the_repository_nix_files_are_clean() {
        let files = crate::nix_check::nix_files(&crate::project_root()).unwrap();
        assert!(
            files.len() >= 6,
            "expected flake.nix, .nix/*.nix, .docker-nix/default.nix, tests"
        );
        check_files(&files).unwrap();
    }
}
