//! A `patchedDependencies` patch applied to a package's files as pnpm 11 applies it
//! (`applyPatchToDir` -> @pnpm/patch-package 0.0.1's `parsePatchFile` and
//! `executeEffects`, bundled in pnpm 11.22.0's dist/pnpm.mjs).
//!
//! Parsing: the text split at `\n` (a final empty line dropped); `diff --git`, `---`,
//! `+++`, mode and rename headers; hunks of context/deletion/insertion parts (a blank line
//! is context) with `\ No newline at end of file`; each hunk's counts must match its
//! header. Applying a hunk: at `start - 1 + offset` for offsets 0, -1, 1, … -20, 20 (the
//! first at which every context and deleted line equals the file's, trailing whitespace
//! ignored), else the patch fails; the file is split at `\n`, spliced, joined with `\n`.
//! Only content changes are emulated: a patch that creates, deletes, renames or changes
//! the mode of a file is refused (update-pnpm-hash says so; no verified project has one).

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("bad hunk header line {0:?}")]
    BadHeader(String),
    #[error("bad `diff --git` line {0:?}")]
    BadDiffLine(String),
    #[error("hunk lines before a hunk header")]
    NoHunkHeader,
    #[error("unrecognized pragma {0:?}")]
    Pragma(String),
    #[error("a hunk's line counts do not match its header")]
    Integrity,
    #[error("it {0} {1}: update-pnpm-hash emulates only patches that change file contents")]
    Unsupported(&'static str, String),
    #[error("it patches {0}, which the package does not have")]
    Missing(String),
    #[error("hunk {hunk} does not apply to {path} (pnpm fails with \"Cant apply hunk\")")]
    Hunk { hunk: usize, path: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartType {
    Context,
    Deletion,
    Insertion,
}

#[derive(Debug, Clone)]
struct Part {
    kind: PartType,
    lines: Vec<String>,
    no_newline_at_eof: bool,
}

#[derive(Debug, Clone)]
struct Hunk {
    original_start: usize,
    original_len: usize,
    patched_len: usize,
    parts: Vec<Part>,
}

/// One file's content changes.
#[derive(Debug, Clone)]
pub struct FilePatch {
    pub path: String,
    hunks: Vec<Hunk>,
}

#[derive(Default)]
struct Header {
    diff_to: Option<String>,
    to_path: Option<String>,
    old_mode: Option<String>,
    new_mode: Option<String>,
    deleted: bool,
    created: bool,
    rename: bool,
}

/// `parsePatchFile`: the files the patch changes, in order.
pub fn parse(text: &str) -> Result<Vec<FilePatch>, PatchError> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    match parse_lines(&lines, false) {
        Err(PatchError::Integrity) => parse_lines(&lines, true),
        other => other,
    }
}

fn parse_lines(lines: &[&str], legacy: bool) -> Result<Vec<FilePatch>, PatchError> {
    let mut out = Vec::new();
    let mut header = Header::default();
    let mut hunks: Option<Vec<Hunk>> = None;
    let mut hunk: Option<Hunk> = None;
    let mut part: Option<Part> = None;
    let mut in_hunks = false;
    let mut has_diff_line = false;
    let commit_hunk =
        |hunk: &mut Option<Hunk>, part: &mut Option<Part>, hunks: &mut Option<Vec<Hunk>>| {
            if let Some(mut h) = hunk.take() {
                if let Some(p) = part.take() {
                    h.parts.push(p);
                }
                hunks.get_or_insert_with(Vec::new).push(h);
            }
        };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if !in_hunks {
            if line.starts_with("@@") {
                in_hunks = true;
                hunks = Some(Vec::new());
                continue;
            } else if line.starts_with("diff --git ") {
                if has_diff_line {
                    commit_hunk(&mut hunk, &mut part, &mut hunks);
                    out.push(interpret(std::mem::take(&mut header), hunks.take())?);
                }
                let rest = line.trim_end_matches(char::is_whitespace);
                let (_, to) = split_diff_line(rest)
                    .ok_or_else(|| PatchError::BadDiffLine(line.to_owned()))?;
                header.diff_to = Some(to);
                has_diff_line = true;
            } else if let Some(m) = line.strip_prefix("old mode ") {
                header.old_mode = Some(m.trim().to_owned());
            } else if let Some(m) = line.strip_prefix("new mode ") {
                header.new_mode = Some(m.trim().to_owned());
            } else if line.starts_with("deleted file mode ") {
                header.deleted = true;
            } else if line.starts_with("new file mode ") {
                header.created = true;
            } else if line.starts_with("rename from ") || line.starts_with("rename to ") {
                header.rename = true;
            } else if line.starts_with("+++ ") {
                header.to_path = Some(line.get("+++ b/".len()..).unwrap_or("").trim().to_owned());
            }
        } else {
            if legacy && line.starts_with("--- a/") {
                in_hunks = false;
                commit_hunk(&mut hunk, &mut part, &mut hunks);
                out.push(interpret(std::mem::take(&mut header), hunks.take())?);
                has_diff_line = false;
                continue;
            }
            let kind = match line.chars().next() {
                Some('@') => None,
                Some('-') => Some(PartType::Deletion),
                Some('+') => Some(PartType::Insertion),
                Some(' ') | Some('\r') | None => Some(PartType::Context),
                Some('\\') => {
                    if !line.starts_with("\\ No newline at end of file") {
                        return Err(PatchError::Pragma(line.to_owned()));
                    }
                    match part.as_mut() {
                        Some(p) => p.no_newline_at_eof = true,
                        None => return Err(PatchError::NoHunkHeader),
                    }
                    i += 1;
                    continue;
                }
                Some(_) => {
                    in_hunks = false;
                    commit_hunk(&mut hunk, &mut part, &mut hunks);
                    out.push(interpret(std::mem::take(&mut header), hunks.take())?);
                    has_diff_line = false;
                    continue;
                }
            };
            match kind {
                None => {
                    commit_hunk(&mut hunk, &mut part, &mut hunks);
                    hunk = Some(parse_hunk_header(line)?);
                }
                Some(kind) => {
                    let Some(h) = hunk.as_mut() else {
                        return Err(PatchError::NoHunkHeader);
                    };
                    if part.as_ref().is_some_and(|p| p.kind != kind) {
                        h.parts.extend(part.take());
                    }
                    let p = part.get_or_insert_with(|| Part {
                        kind,
                        lines: Vec::new(),
                        no_newline_at_eof: false,
                    });
                    p.lines.push(
                        line.get(line.chars().next().map_or(0, char::len_utf8)..)
                            .unwrap_or("")
                            .to_owned(),
                    );
                }
            }
        }
        i += 1;
    }
    commit_hunk(&mut hunk, &mut part, &mut hunks);
    out.push(interpret(header, hunks)?);
    for h in out.iter().flat_map(|f| &f.hunks) {
        verify(h)?;
    }
    // Files with no hunks and no mode change are no effect at all.
    out.retain(|f| !f.hunks.is_empty());
    Ok(out)
}

/// `^diff --git a\/(.*?) b\/(.*?)\s*$`: the lazy groups split at the first ` b/`.
fn split_diff_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("diff --git a/")?;
    let at = rest.find(" b/")?;
    Some((rest[..at].to_owned(), rest[at + 3..].to_owned()))
}

fn parse_hunk_header(line: &str) -> Result<Hunk, PatchError> {
    let bad = || PatchError::BadHeader(line.to_owned());
    let rest = line.trim().strip_prefix("@@ -").ok_or_else(bad)?;
    let (ranges, _) = rest.split_once(" @@").ok_or_else(bad)?;
    let (orig, patched) = ranges.split_once(" +").ok_or_else(bad)?;
    let range = |r: &str| -> Option<(usize, usize)> {
        let (start, len) = match r.split_once(',') {
            Some((s, l)) => (s, Some(l)),
            None => (r, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(start) || len.is_some_and(|l| !digits(l)) {
            return None;
        }
        // `Number(match[3] || 1)`: an explicit 0 is 0.
        Some((
            start.parse().ok()?,
            len.map_or(Some(1), |l| l.parse().ok())?,
        ))
    };
    let (o_start, o_len) = range(orig).ok_or_else(bad)?;
    let (_, p_len) = range(patched).ok_or_else(bad)?;
    Ok(Hunk {
        original_start: o_start.max(1),
        original_len: o_len,
        patched_len: p_len,
        parts: Vec::new(),
    })
}

fn interpret(header: Header, hunks: Option<Vec<Hunk>>) -> Result<FilePatch, PatchError> {
    let path = header
        .to_path
        .clone()
        .or(header.diff_to.clone())
        .unwrap_or_default();
    if header.rename {
        return Err(PatchError::Unsupported("renames", path));
    }
    if header.deleted {
        return Err(PatchError::Unsupported("deletes", path));
    }
    if header.created {
        return Err(PatchError::Unsupported("creates", path));
    }
    if header.old_mode.is_some() && header.new_mode.is_some() && header.old_mode != header.new_mode
    {
        return Err(PatchError::Unsupported("changes the mode of", path));
    }
    Ok(FilePatch {
        path,
        hunks: hunks.unwrap_or_default(),
    })
}

fn verify(h: &Hunk) -> Result<(), PatchError> {
    let (mut orig, mut patched) = (0, 0);
    for p in &h.parts {
        match p.kind {
            PartType::Context => {
                orig += p.lines.len();
                patched += p.lines.len();
            }
            PartType::Deletion => orig += p.lines.len(),
            PartType::Insertion => patched += p.lines.len(),
        }
    }
    if orig != h.original_len || patched != h.patched_len {
        return Err(PatchError::Integrity);
    }
    Ok(())
}

enum Modification<'a> {
    Splice {
        index: usize,
        delete: usize,
        insert: &'a [String],
    },
    Pop,
    Push,
}

/// `applyPatch`: the file's new text (read as UTF-8 with replacement, as `toString()`).
pub fn apply(patch: &FilePatch, content: &[u8]) -> Result<Vec<u8>, PatchError> {
    let text = String::from_utf8_lossy(content);
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let mut planned = Vec::new();
    for (n, hunk) in patch.hunks.iter().enumerate() {
        let mut offset: i64 = 0;
        loop {
            if let Some(mods) = evaluate(hunk, &lines, offset) {
                planned.push(mods);
                break;
            }
            offset = if offset < 0 { -offset } else { -offset - 1 };
            if offset.abs() > 20 {
                return Err(PatchError::Hunk {
                    hunk: n,
                    path: patch.path.clone(),
                });
            }
        }
    }
    let mut diff: i64 = 0;
    for mods in planned {
        for m in mods {
            match m {
                Modification::Splice {
                    index,
                    delete,
                    insert,
                } => {
                    let at = (index as i64 + diff) as usize;
                    let end = (at + delete).min(lines.len());
                    lines.splice(at.min(lines.len())..end, insert.iter().cloned());
                    diff += insert.len() as i64 - delete as i64;
                }
                Modification::Pop => {
                    lines.pop();
                }
                Modification::Push => lines.push(String::new()),
            }
        }
    }
    Ok(lines.join("\n").into_bytes())
}

/// JavaScript's `s.replace(/\s+$/, "")`.
fn trim_right(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

fn evaluate<'a>(hunk: &'a Hunk, lines: &[String], offset: i64) -> Option<Vec<Modification<'a>>> {
    let start = hunk.original_start as i64 - 1 + offset;
    if start < 0 {
        return None;
    }
    let mut index = start as usize;
    if lines.len() < index + hunk.original_len {
        return None;
    }
    let mut out = Vec::new();
    for part in &hunk.parts {
        match part.kind {
            PartType::Context | PartType::Deletion => {
                for line in &part.lines {
                    let original = lines.get(index)?;
                    if trim_right(original) != trim_right(line) {
                        return None;
                    }
                    index += 1;
                }
                if part.kind == PartType::Deletion {
                    out.push(Modification::Splice {
                        index: index - part.lines.len(),
                        delete: part.lines.len(),
                        insert: &[],
                    });
                    if part.no_newline_at_eof {
                        out.push(Modification::Push);
                    }
                }
            }
            PartType::Insertion => {
                out.push(Modification::Splice {
                    index,
                    delete: 0,
                    insert: &part.lines,
                });
                if part.no_newline_at_eof {
                    out.push(Modification::Pop);
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "diff --git a/lib/a.js b/lib/a.js\nindex 1..2 100644\n--- a/lib/a.js\n+++ b/lib/a.js\n@@ -1,3 +1,4 @@\n one\n-two\n+TWO\n+2b\n three\n";

    #[test]
    fn applies_with_fuzz_and_trailing_whitespace() {
        let files = parse(PATCH).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, "lib/a.js");
        let out = apply(&files[0], b"zero\none\ntwo  \nthree\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "zero\none\nTWO\n2b\nthree\n"
        );
        assert!(matches!(
            apply(&files[0], b"x\n"),
            Err(PatchError::Hunk { .. })
        ));
    }

    #[test]
    fn no_newline_at_end_of_file() {
        let p = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n";
        let files = parse(p).unwrap();
        assert_eq!(apply(&files[0], b"a").unwrap(), b"b");
    }

    #[test]
    fn file_creation_is_refused() {
        let p =
            "diff --git a/n b/n\nnew file mode 100644\n--- /dev/null\n+++ b/n\n@@ -0,0 +1 @@\n+x\n";
        assert!(matches!(
            parse(p),
            Err(PatchError::Unsupported("creates", _))
        ));
    }
}
