//! The shell scripts embedded in Nix files (build phases, `runCommand` bodies, shell hooks,
//! `writeShellApplication` texts), extracted with rnix and shellchecked. Without nixpkgs
//! these scripts cannot run here, so this is the check that reaches them.
//!
//! A `${...}` antiquotation becomes a store-path-like word, which is what Nix puts there.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rnix::SyntaxKind::*;
use rnix::{NodeOrToken, SyntaxNode};
use xshell::{cmd, Shell};

use crate::tool_install;

/// Attributes whose string value stdenv, mkShell or writeShellApplication runs with bash.
const SHELL_ATTRS: &[&str] = &[
    "buildPhase",
    "checkPhase",
    "configurePhase",
    "fakeRootCommands",
    "installPhase",
    "postBuild",
    "postInstall",
    "postUnpack",
    "preBuild",
    "preInstall",
    "shellHook",
    "text",
    "unpackPhase",
];

/// What Nix substitutes for an antiquotation: a single word, like a store path.
pub const PLACEHOLDER: &str = "/nix/store/00000000000000000000000000000000-antiquotation";

#[derive(Debug, PartialEq, Eq)]
pub struct Snippet {
    pub line: usize,
    /// The attribute (`buildPhase`) or `runCommand` the script belongs to.
    pub role: String,
    pub script: String,
}

pub fn check(sh: &Shell, files: &[PathBuf]) -> Result<()> {
    let shellcheck = tool_install::apt_tool(sh, "shellcheck", "shellcheck")?;
    let scratch = tempfile::tempdir()?;
    let mut scripts = Vec::new();
    for file in files {
        let src =
            fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        for (i, snippet) in snippets(&src).into_iter().enumerate() {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            let path = scratch.path().join(format!("{name}-{i}.sh"));
            // stdenv defines $out, $src, $TMPDIR and friends; shellcheck cannot know them.
            let text = format!(
                "#!/usr/bin/env bash\n# {}:{} ({})\n# shellcheck disable=SC2154\n{}\n",
                file.display(),
                snippet.line,
                snippet.role,
                snippet.script
            );
            fs::write(&path, text)?;
            scripts.push(path);
        }
    }
    if !scripts.is_empty() {
        let files = &scripts;
        cmd!(sh, "{shellcheck} --shell=bash {files...}")
            .run()
            .context("shellcheck found problems in a shell script embedded in a .nix file; each file above starts with a comment naming it")?;
    }
    println!(
        "embedded shell: {} scripts in .nix files shellcheck-clean",
        scripts.len()
    );
    Ok(())
}

pub fn snippets(src: &str) -> Vec<Snippet> {
    let root = rnix::Root::parse(src).syntax();
    let mut out = Vec::new();
    for node in root.descendants().filter(|n| n.kind() == NODE_STRING) {
        let Some(role) = role(&node) else { continue };
        let offset = usize::from(node.text_range().start());
        out.push(Snippet {
            line: crate::text_position::line_col(src, offset).0,
            role,
            script: script_text(&node),
        });
    }
    out
}

/// Why this string is a shell script, or None if it is not one.
fn role(string: &SyntaxNode) -> Option<String> {
    let parent = string.parent()?;
    match parent.kind() {
        NODE_ATTRPATH_VALUE => {
            let attrpath = parent.first_child()?;
            let key = attrpath.last_child()?.text().to_string();
            SHELL_ATTRS.contains(&key.as_str()).then_some(key)
        }
        // `runCommand "name" { ... } ''script''`: the string is the last argument.
        NODE_APPLY if parent.last_child().as_ref() == Some(string) => {
            let (mut function, mut arguments) = (parent.first_child()?, 1);
            while function.kind() == NODE_APPLY {
                function = function.first_child()?;
                arguments += 1;
            }
            let name = function.text().to_string();
            let called = name.rsplit('.').next().unwrap_or("");
            let run_command = matches!(called, "runCommand" | "runCommandLocal" | "runCommandCC");
            (run_command && arguments == 3).then(|| called.to_string())
        }
        _ => None,
    }
}

/// The string's text as Nix would produce it, antiquotations replaced by a placeholder.
fn script_text(string: &SyntaxNode) -> String {
    let mut out = String::new();
    for part in string.children_with_tokens() {
        match part {
            NodeOrToken::Token(t) if t.kind() == TOKEN_STRING_CONTENT => {
                out.push_str(&unescape(t.text()))
            }
            NodeOrToken::Node(n) if n.kind() == NODE_INTERPOL => out.push_str(PLACEHOLDER),
            _ => {}
        }
    }
    out
}

/// The escapes of an indented string ('' ... ''); plain strings' escapes are rare in scripts.
fn unescape(content: &str) -> String {
    content
        .replace("''$", "$")
        .replace("'''", "''")
        .replace("''\\n", "\n")
        .replace("''\\t", "\t")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_phases_hooks_and_run_command_bodies() {
        let src = r#"{ pkgs }: {
  a = pkgs.stdenv.mkDerivation {
    buildPhase = ''
      cp -r ${pkgs.hello}/. "$out"
      echo ''${HOME}
    '';
    name = ''not a script'';
  };
  b = pkgs.runCommand "b" { } ''
    touch $out
  '';
  c = pkgs.mkShell { shellHook = "echo hi"; };
}
"#;
        let found = snippets(src);
        let roles: Vec<&str> = found.iter().map(|s| s.role.as_str()).collect();
        assert_eq!(roles, ["buildPhase", "runCommand", "shellHook"]);
        assert_eq!(found[0].line, 3);
        assert!(
            found[0]
                .script
                .contains(&format!("cp -r {PLACEHOLDER}/. \"$out\"")),
            "{}",
            found[0].script
        );
        assert!(
            found[0].script.contains("echo ${HOME}"),
            "{}",
            found[0].script
        );
        assert!(found[1].script.contains("touch $out"));
    }

    #[test]
    fn the_flake_has_its_build_scripts_found() {
        let src = fs::read_to_string(crate::project_root().join("flake.nix")).unwrap();
        let roles: Vec<String> = snippets(&src).into_iter().map(|s| s.role).collect();
        for role in ["buildPhase", "installPhase", "text", "runCommand"] {
            assert!(roles.iter().any(|r| r == role), "no {role} in {roles:?}");
        }
    }
}
