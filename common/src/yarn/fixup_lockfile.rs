//! The lockfile rewrite that makes a fetchYarnDeps output usable by
//! `yarn install --offline`, as nixpkgs' `fixup-yarn-lock` does it.
//!
//! Yarn looks a tarball up in its offline mirror by the file name its `resolved` URL
//! implies; the output names files by `urlToName`, so each `resolved` becomes that name
//! (the `#hash` kept), and `integrity` goes wherever upstream drops it (entries with a
//! `#hash`, and codeload tarballs). The rewrite works line by line on yarn's own
//! layout, so everything else, comments and order included, stays as it was.

use crate::yarn::url_to_name::url_to_name;

/// `lock` with every entry's `resolved` pointing into the offline cache.
pub fn fixup(lock: &str) -> String {
    let mut out = String::with_capacity(lock.len());
    let mut drop_integrity = false;
    for line in lock.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        if !body.starts_with(' ') {
            drop_integrity = false; // a new top-level entry
        }
        if let Some(resolved) = quoted_field(body, "resolved") {
            let mut parts = resolved.splitn(2, '#');
            let url = parts.next().unwrap_or_default();
            let hash = parts.next();
            drop_integrity = hash.is_some() || url.starts_with("https://codeload.github.com/");
            let name = url_to_name(url);
            let target = match hash {
                Some(h) => format!("{name}#{h}"),
                None => name,
            };
            out.push_str(&format!("  resolved {}{ending}", json_string(&target)));
            continue;
        }
        if drop_integrity && body.starts_with("  integrity ") {
            continue;
        }
        out.push_str(line);
    }
    out
}

/// The string value of `  NAME "value"` (an entry's own field, at indent 2).
fn quoted_field(line: &str, name: &str) -> Option<String> {
    let rest = line
        .strip_prefix("  ")?
        .strip_prefix(name)?
        .strip_prefix(' ')?;
    serde_json::from_str(rest).ok()
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_points_into_the_cache_and_integrity_goes_where_upstream_drops_it() {
        let lock = "# yarn lockfile v1\n\n\n\"@a/b@^1\":\n  version \"1.0.0\"\n  resolved \"https://registry.yarnpkg.com/@a/b/-/b-1.0.0.tgz#abc\"\n  integrity sha512-AAAA==\n  dependencies:\n    c \"^1\"\n\nc@^1:\n  version \"1.0.0\"\n  resolved \"https://registry.npmjs.org/c/-/c-1.0.0.tgz\"\n  integrity sha512-BBBB==\n";
        let fixed = fixup(lock);
        assert_eq!(
            fixed,
            "# yarn lockfile v1\n\n\n\"@a/b@^1\":\n  version \"1.0.0\"\n  resolved \"_a_b___b_1.0.0.tgz#abc\"\n  dependencies:\n    c \"^1\"\n\nc@^1:\n  version \"1.0.0\"\n  resolved \"https___registry.npmjs.org_c___c_1.0.0.tgz\"\n  integrity sha512-BBBB==\n"
        );
        // The result is still a lockfile yarn's parser reads.
        assert!(crate::yarn::yarn_lock::parse(&fixed).is_ok());
    }

    #[test]
    fn crlf_line_endings_survive() {
        let lock = "a@1:\r\n  resolved \"https://r.com/a.tgz#1\"\r\n  integrity sha1-x\r\n";
        assert_eq!(fixup(lock), "a@1:\r\n  resolved \"a.tgz#1\"\r\n");
    }
}
