//! `nix-hooks install` / `uninstall`: a small delegating `pre-commit` in the directory
//! git runs hooks from (`core.hooksPath`, else the common git dir's `hooks/`, which
//! linked worktrees share). A foreign hook already there is moved aside and chained
//! to, never overwritten; uninstall removes the delegate and moves it back.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git2::Repository;
use thiserror::Error;

use crate::atomic_write::write_atomic;
use crate::git::git_message::GitMessage;

/// The first line after the shebang; it is how install and uninstall recognise their own file.
const MARKER: &str =
    "# nix-hooks delegate: written by `nix-hooks install`, removed by `nix-hooks uninstall`.";
const INSTALLED_BIN_PREFIX: &str = "installed_bin=";
/// Where a pre-existing foreign hook is kept while ours is installed.
pub const CHAINED_SUFFIX: &str = ".nix-hooks-chained";
/// The project's tracked shim, relative to the worktree's top.
pub const PROJECT_SHIM: &str = ".nix/githooks/pre-commit";
/// A line in the project's shim, so a copy or symlink of it is recognised wherever it is.
pub const SHIM_MARKER: &str = "# nix-hooks project shim";
/// What to add to a hook nix-hooks must not rewrite.
pub const HOOK_LINE: &str = "nix-hooks pre-commit || exit $?";

#[derive(Debug, Error)]
pub enum InstallError {
    #[error("cannot read the repository's git configuration or index: {}", GitMessage(.0))]
    Config(git2::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("core.hooksPath = {} is outside this repository, so a hook there runs for other repositories too\nfix: rerun with --force to install there anyway (the delegate is harmless elsewhere), or `git config --unset core.hooksPath`", .0.display())]
    SharedHooksDir(PathBuf),
    #[error("{} was written by nix-hooks but has been edited since\nfix: rerun with --force to replace it (move your edits to {}{CHAINED_SUFFIX} to keep them running)", .0.display(), .0.display())]
    Edited(PathBuf),
    #[error("{} is a foreign hook and {}{CHAINED_SUFFIX} already exists, so there is nowhere to move it\nfix: merge or remove one of them, then rerun", .0.display(), .0.display())]
    ChainSlotTaken(PathBuf),
    #[error("core.hooksPath puts {} inside the worktree where git would track it, so installing would commit a machine-specific file\nfix: add this line to that hook (create it if needed) and commit it: {HOOK_LINE}", .0.display())]
    TrackedHooksDir(PathBuf),
    #[error("{} is run by a hook manager or depends on its own name ($0), so moving it aside would silently stop it running\nfix: add this line to {add_to} instead: {HOOK_LINE}", hook.display())]
    CannotChain { hook: PathBuf, add_to: String },
    #[error("{} was written by nix-hooks but has been edited since, so uninstall leaves it alone\nfix: remove it yourself (keep your edits elsewhere), restoring {}{CHAINED_SUFFIX} if it exists", .0.display(), .0.display())]
    EditedNotRemoved(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where git looks for hooks in `repo`, and whether that directory belongs to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HooksDir {
    pub path: PathBuf,
    /// Set through `core.hooksPath` to a directory outside the repository.
    pub shared: bool,
}

pub fn hooks_dir(repo: &Repository) -> Result<HooksDir, InstallError> {
    let config = repo.config().map_err(InstallError::Config)?;
    let configured = match config.get_path("core.hooksPath") {
        Ok(p) => Some(p),
        Err(e) if e.code() == git2::ErrorCode::NotFound => None,
        Err(e) => return Err(InstallError::Config(e)),
    };
    let Some(configured) = configured else {
        return Ok(HooksDir {
            path: repo.commondir().join("hooks"),
            shared: false,
        });
    };
    // A relative hooksPath is relative to where hooks run: the worktree's top.
    let base = repo.workdir().unwrap_or_else(|| repo.path());
    let path = base.join(configured);
    let inside = |root: &Path| {
        let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
        let p = canonical_or_parent(&path);
        p.starts_with(root)
    };
    let shared = !(inside(repo.commondir()) || repo.workdir().is_some_and(inside));
    Ok(HooksDir { path, shared })
}

fn canonical_or_parent(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => canonical_or_parent(parent).join(name),
        _ => path.to_owned(),
    }
}

/// Where Nix keeps store paths: a binary there can be garbage-collected at any time,
/// so the delegate never names it (it falls back to `PATH` and says so when absent).
const NIX_STORE: &str = "/nix/store/";

/// The binary the delegate may fall back to, or `None` for one in the Nix store.
fn fallback_bin(bin: &Path) -> Option<&Path> {
    let in_store = |p: &Path| p.starts_with(NIX_STORE);
    let resolved = fs::canonicalize(bin).unwrap_or_else(|_| bin.to_owned());
    (!in_store(bin) && !in_store(&resolved)).then_some(bin)
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

/// The delegate's text. `bin` is the `nix-hooks` that installed it, used when neither
/// `$NIX_HOOKS_BIN` nor a `nix-hooks` on `PATH` is there (e.g. a commit from an IDE),
/// unless it lives in the Nix store (`nix run .#nix-hooks -- install`), where a garbage
/// collection would delete it. Without any binary the commit goes through after one
/// line, unless `nixci.hook.strict` (or `NIX_HOOKS_STRICT`) asks for the check.
pub fn delegate_script(bin: &Path) -> String {
    delegate_text(fallback_bin(bin))
}

fn delegate_text(fallback: Option<&Path>) -> String {
    let quoted = fallback.map(shell_quote).unwrap_or_default();
    format!(
        r#"#!/bin/sh
{MARKER}
# Skip once with `git commit --no-verify` or NIX_HOOKS_SKIP=1.
{INSTALLED_BIN_PREFIX}{quoted}
chained="$0{CHAINED_SUFFIX}"
if [ -x "$chained" ]; then
  "$chained" "$@" || exit $?
fi
if [ -z "${{NIX_HOOKS_BIN:-}}" ] && ! command -v nix-hooks >/dev/null 2>&1 && [ -n "$installed_bin" ] && [ -x "$installed_bin" ]; then
  NIX_HOOKS_BIN=$installed_bin
  export NIX_HOOKS_BIN
fi
# Hooks run at the top of the worktree; the project's tracked shim wins when present.
# NIX_HOOKS_DELEGATED stops a loop when this file is itself reached through the shim's path.
if [ -z "${{NIX_HOOKS_DELEGATED:-}}" ] && [ -x {PROJECT_SHIM} ]; then
  NIX_HOOKS_DELEGATED=1
  export NIX_HOOKS_DELEGATED
  exec {PROJECT_SHIM} "$@"
fi
bin=${{NIX_HOOKS_BIN:-nix-hooks}}
if ! command -v "$bin" >/dev/null 2>&1; then
  strict=${{NIX_HOOKS_STRICT:-$(git config --bool --get {STRICT_KEY} 2>/dev/null)}}
  case $strict in
    1 | true | yes | on)
      echo "nix-hooks: error: cannot find '$bin' and {STRICT_KEY} requires the check: enter the dev shell (\`nix develop\`) or set NIX_HOOKS_BIN (skip once: git commit --no-verify)" >&2
      exit 1
      ;;
  esac
  echo "nix-hooks: not installed here, so the staged Nix hashes were not checked (enter the dev shell to check them)" >&2
  exit 0
fi
exec "$bin" pre-commit
"#
    )
}

/// The git config key (boolean) that makes a missing `nix-hooks` reject the commit.
pub const STRICT_KEY: &str = "nixci.hook.strict";

/// The delegate as versions before this one wrote it (the installing binary always
/// named, a missing one a raw `exec` failure), so that upgrading does not mistake an
/// untouched old delegate for an edited one.
fn delegate_script_v2(bin: &Path) -> String {
    let quoted = bin.to_string_lossy().replace('\'', r"'\''");
    format!(
        r#"#!/bin/sh
{MARKER}
# Skip once with `git commit --no-verify` or NIX_HOOKS_SKIP=1.
{INSTALLED_BIN_PREFIX}'{quoted}'
chained="$0{CHAINED_SUFFIX}"
if [ -x "$chained" ]; then
  "$chained" "$@" || exit $?
fi
if [ -z "${{NIX_HOOKS_BIN:-}}" ] && ! command -v nix-hooks >/dev/null 2>&1 && [ -x "$installed_bin" ]; then
  NIX_HOOKS_BIN=$installed_bin
  export NIX_HOOKS_BIN
fi
# Hooks run at the top of the worktree; the project's tracked shim wins when present.
# NIX_HOOKS_DELEGATED stops a loop when this file is itself reached through the shim's path.
if [ -z "${{NIX_HOOKS_DELEGATED:-}}" ] && [ -x {PROJECT_SHIM} ]; then
  NIX_HOOKS_DELEGATED=1
  export NIX_HOOKS_DELEGATED
  exec {PROJECT_SHIM} "$@"
fi
exec "${{NIX_HOOKS_BIN:-nix-hooks}}" pre-commit
"#
    )
}

/// The delegate as versions before the NIX_HOOKS_DELEGATED guard wrote it.
fn delegate_script_v1(bin: &Path) -> String {
    delegate_script_v2(bin).replace(
        "# NIX_HOOKS_DELEGATED stops a loop when this file is itself reached through the shim's path.\n\
         if [ -z \"${NIX_HOOKS_DELEGATED:-}\" ] && [ -x .nix/githooks/pre-commit ]; then\n  \
         NIX_HOOKS_DELEGATED=1\n  export NIX_HOOKS_DELEGATED\n",
        "if [ -x .nix/githooks/pre-commit ]; then\n",
    )
}

/// Whether `text` is a delegate exactly as some `nix-hooks install` wrote it.
fn is_pristine_delegate(text: &str) -> bool {
    let Some(line) = text.lines().find(|l| l.starts_with(INSTALLED_BIN_PREFIX)) else {
        return false;
    };
    let rest = &line[INSTALLED_BIN_PREFIX.len()..];
    if rest.is_empty() {
        return text == delegate_text(None);
    }
    let Some(quoted) = rest.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) else {
        return false;
    };
    let bin = PathBuf::from(quoted.replace(r"'\''", "'"));
    text == delegate_text(Some(&bin))
        || text == delegate_script_v2(&bin)
        || text == delegate_script_v1(&bin)
}

/// Whether `text` is the project's shim (or an older copy of it without the marker).
fn is_project_shim(text: &str) -> bool {
    text.lines().any(|l| l == SHIM_MARKER)
}

/// Whether moving `text` to another name would break it: hook managers (husky 4's
/// `husky.sh`, husky 9's `h`) and scripts that look at `$0` dispatch on their own name.
fn depends_on_own_name(text: &str) -> bool {
    ["$0", "${0", "dirname", "basename", "husky"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// Where the user's own pre-commit commands live when `hook` belongs to a manager.
fn where_to_add_the_line(repo: &Repository, hook: &Path, text: &str) -> String {
    let in_husky_internals = hook
        .parent()
        .is_some_and(|d| d.ends_with(".husky/_") || d.ends_with(".husky/_/"));
    match repo.workdir() {
        // husky 9 regenerates .husky/_/ and runs the tracked .husky/pre-commit.
        Some(w) if in_husky_internals => w.join(".husky/pre-commit").display().to_string(),
        // husky 4 runs the "husky" > "hooks" > "pre-commit" command in package.json.
        _ if text.contains("husky.sh") && !text.contains("dirname -- \"$0\")/_/husky.sh") => {
            "the \"husky\" > \"hooks\" > \"pre-commit\" command in package.json".to_owned()
        }
        _ => hook.display().to_string(),
    }
}

/// `path` is the project's shim itself (hooksPath = .nix/githooks, or a symlink to it).
fn is_the_project_shim(repo: &Repository, path: &Path) -> bool {
    let Some(workdir) = repo.workdir() else {
        return false;
    };
    let shim = canonical_or_parent(&workdir.join(PROJECT_SHIM));
    canonical_or_parent(path) == shim
}

/// A hook inside the worktree that git would track (tracked, or untracked and not ignored).
fn is_trackable(repo: &Repository, hook: &Path) -> Result<bool, InstallError> {
    let Some(workdir) = repo.workdir() else {
        return Ok(false);
    };
    let root = canonical_or_parent(workdir);
    let Ok(rel) = canonical_or_parent(hook)
        .strip_prefix(&root)
        .map(Path::to_owned)
    else {
        return Ok(false);
    };
    if canonical_or_parent(hook).starts_with(canonical_or_parent(repo.commondir())) {
        return Ok(false);
    }
    let index = repo.index().map_err(InstallError::Config)?;
    if index.get_path(&rel, 0).is_some() {
        return Ok(true);
    }
    let ignored = repo
        .status_should_ignore(&rel)
        .map_err(InstallError::Config)?;
    Ok(!ignored)
}

fn is_ours(text: &str) -> bool {
    text.lines().nth(1) == Some(MARKER)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    New {
        hook: PathBuf,
    },
    /// A foreign hook was moved to `chained` and runs first.
    Chained {
        hook: PathBuf,
        chained: PathBuf,
    },
    AlreadyInstalled {
        hook: PathBuf,
    },
    /// The delegate chained to the project's shim (nix-hooks ran twice); the shim is back.
    Unchained {
        hook: PathBuf,
    },
    Updated {
        hook: PathBuf,
    },
}

pub fn install(repo: &Repository, bin: &Path, force: bool) -> Result<Installed, InstallError> {
    let dir = hooks_dir(repo)?;
    if dir.shared && !force {
        return Err(InstallError::SharedHooksDir(dir.path));
    }
    let hook = dir.path.join("pre-commit");
    let chained = chained_path(&hook);
    let script = delegate_script(bin);
    let existing = read_if_exists(&hook)?;
    // The tracked shim already runs nix-hooks: chaining to it would run it twice or loop.
    if is_the_project_shim(repo, &hook) || existing.as_deref().is_some_and(is_project_shim) {
        return Ok(Installed::AlreadyInstalled { hook });
    }
    // An older install chained to the shim (or a link to it), so every commit ran the
    // check twice: put the shim back in place of a delegate nobody edited.
    let chained_text = read_if_exists(&chained)?;
    if existing.as_deref().is_some_and(is_pristine_delegate)
        && (is_the_project_shim(repo, &chained)
            || chained_text.as_deref().is_some_and(is_project_shim))
    {
        fs::rename(&chained, &hook).map_err(io_err(&chained))?;
        return Ok(Installed::Unchained { hook });
    }
    if is_trackable(repo, &hook)? && existing.as_deref() != Some(script.as_str()) {
        return Err(InstallError::TrackedHooksDir(hook));
    }
    let outcome = match existing.as_deref() {
        None => Installed::New { hook: hook.clone() },
        Some(text) if text == script => return Ok(Installed::AlreadyInstalled { hook }),
        Some(text) if is_ours(text) => {
            if !is_pristine_delegate(text) && !force {
                return Err(InstallError::Edited(hook));
            }
            Installed::Updated { hook: hook.clone() }
        }
        Some(text) => {
            if depends_on_own_name(text) {
                let add_to = where_to_add_the_line(repo, &hook, text);
                return Err(InstallError::CannotChain { hook, add_to });
            }
            if fs::symlink_metadata(&chained).is_ok() {
                return Err(InstallError::ChainSlotTaken(hook));
            }
            fs::rename(&hook, &chained).map_err(io_err(&hook))?;
            Installed::Chained {
                hook: hook.clone(),
                chained,
            }
        }
    };
    if let Err(e) = write_executable(&hook, &script) {
        // Put the foreign hook back: a failed install leaves things as they were.
        if let Installed::Chained { chained, .. } = &outcome {
            let _ = fs::rename(chained, &hook);
        }
        return Err(e);
    }
    Ok(outcome)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uninstalled {
    Removed {
        hook: PathBuf,
    },
    /// Ours was removed and the foreign hook it chained to put back.
    Restored {
        hook: PathBuf,
    },
    NotInstalled {
        hook: PathBuf,
    },
}

pub fn uninstall(repo: &Repository) -> Result<Uninstalled, InstallError> {
    let hook = hooks_dir(repo)?.path.join("pre-commit");
    match read_if_exists(&hook)? {
        Some(text) if is_ours(&text) && !is_pristine_delegate(&text) => {
            return Err(InstallError::EditedNotRemoved(hook))
        }
        Some(text) if is_ours(&text) => {}
        _ => return Ok(Uninstalled::NotInstalled { hook }),
    }
    let chained = chained_path(&hook);
    if fs::symlink_metadata(&chained).is_ok() {
        // rename replaces ours in one step: there is never a moment without a hook.
        fs::rename(&chained, &hook).map_err(io_err(&chained))?;
        Ok(Uninstalled::Restored { hook })
    } else {
        fs::remove_file(&hook).map_err(io_err(&hook))?;
        Ok(Uninstalled::Removed { hook })
    }
}

fn chained_path(hook: &Path) -> PathBuf {
    let mut name = hook.as_os_str().to_owned();
    name.push(CHAINED_SUFFIX);
    PathBuf::from(name)
}

fn read_if_exists(path: &Path) -> Result<Option<String>, InstallError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn write_executable(path: &Path, text: &str) -> Result<(), InstallError> {
    write_atomic(path, text.as_bytes()).map_err(io_err(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegates_are_recognised_whatever_binary_they_name() {
        let a = delegate_script(Path::new("/opt/it's here/nix-hooks"));
        assert!(is_ours(&a) && is_pristine_delegate(&a));
        let edited = a.replace("exec \"$bin\"", "echo hi\nexec \"$bin\"");
        assert!(is_ours(&edited) && !is_pristine_delegate(&edited));
        assert!(!is_ours("#!/bin/sh\necho foreign\n"));
    }

    #[test]
    fn a_binary_in_the_nix_store_is_never_named() {
        let store =
            Path::new("/nix/store/0c9s8fm5jm2dklx1y3qgm1vhyhbdwc4a-nixci-hooks/bin/nix-hooks");
        let text = delegate_script(store);
        assert!(!text.contains("/nix/store"), "{text}");
        assert!(text.contains("\ninstalled_bin=\n"), "{text}");
        assert!(is_ours(&text) && is_pristine_delegate(&text));
        // An untouched delegate that named one (before this version) is upgraded, not "edited".
        let old = delegate_script_v2(store);
        assert!(is_pristine_delegate(&old) && old != text);
    }

    #[test]
    fn an_untouched_delegate_from_before_the_loop_guard_is_still_pristine() {
        let bin = Path::new("/bin/nix-hooks");
        let old = delegate_script_v1(bin);
        assert_ne!(old, delegate_script_v2(bin));
        assert!(old.contains("if [ -x .nix/githooks/pre-commit ]; then\n  exec"));
        assert!(is_pristine_delegate(&old));
    }

    #[test]
    fn hooks_that_dispatch_on_their_name_are_not_chained() {
        assert!(depends_on_own_name(". \"$(dirname -- \"$0\")/h\"\n"));
        assert!(depends_on_own_name(". \"$(dirname \"$0\")/_/husky.sh\"\n"));
        assert!(!depends_on_own_name("#!/bin/sh\nnpm test\n"));
    }
}
