//! Node's `path.posix.join("/", p).slice(1)`, which pnpm and npm-packlist use to make a
//! path relative and safe: the tarball extractor's entry names, npm-packlist's `files` and
//! bins, and the bins pnpm links.

/// `.` and empty segments dropped, `..` pops (never above the root), a trailing slash
/// kept (on a non-empty result).
pub fn join_root(p: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in p.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut joined = segments.join("/");
    if !joined.is_empty() && p.ends_with('/') {
        joined.push('/');
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_root_matches_node() {
        // node -e 'for (const s of [...]) console.log(require("path").posix.join("/", s).slice(1))'
        assert_eq!(join_root("a/./b"), "a/b");
        assert_eq!(join_root("../../x"), "x");
        assert_eq!(join_root("a/b/../c/"), "a/c/");
        assert_eq!(join_root("./"), "");
        assert_eq!(join_root("a//./b"), "a/b");
    }
}
