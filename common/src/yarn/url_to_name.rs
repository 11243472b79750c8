//! nixpkgs' `urlToName`: the file name a tarball gets inside the fetchYarnDeps output.
//!
//! The name is part of the hash, so the quirks are the contract: only a host ending in
//! `com/` is stripped (`(.)*(.com)\/` is greedy and its `.` is any character, so the
//! match runs to the last `?com/` in the URL), `registry.npmjs.org` keeps its host, and
//! git URLs (and codeload tarballs) are named by their last path segment.

use std::sync::OnceLock;

use regex::Regex;

pub fn url_to_name(url: &str) -> String {
    let is_codeload = url.starts_with("https://codeload.github.com/") && url.contains("/tar.gz/");
    if url.starts_with("git+") || is_codeload {
        return posix_basename(url).to_owned();
    }
    static HOST: OnceLock<Regex> = OnceLock::new();
    // JS `.` matches anything but line terminators.
    let host = HOST.get_or_init(|| {
        Regex::new(r"https://[^\n\r\u{2028}\u{2029}]*[^\n\r\u{2028}\u{2029}]com/").unwrap()
    });
    host.replace_all(url, "")
        .chars()
        .map(|c| {
            if matches!(c, '@' | '/' | '%' | ':' | '-') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Node's `path.posix.basename`: the last segment, trailing slashes ignored.
pub fn posix_basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_nixpkgs() {
        let cases = [
            (
                "https://registry.yarnpkg.com/@babel/core/-/core-7.0.0.tgz",
                "_babel_core___core_7.0.0.tgz",
            ),
            (
                "https://registry.npmjs.org/lit-html/-/lit-html-1.4.1.tgz",
                "https___registry.npmjs.org_lit_html___lit_html_1.4.1.tgz",
            ),
            // Greedy: the match runs to the last `?com/`.
            (
                "https://registry.yarnpkg.com/dotcom/-/dotcom-1.0.0.tgz",
                "__dotcom_1.0.0.tgz",
            ),
            (
                "https://codeload.github.com/TryGhost/mock-knex/tar.gz/d8b93b1c20d4820323477f2c60db016ab3e73192",
                "d8b93b1c20d4820323477f2c60db016ab3e73192",
            ),
            ("git+https://github.com/a/b.git", "b.git"),
            ("https://github.com/acburdine/google-caja-bower", "acburdine_google_caja_bower"),
            ("https://github.com/madrobby/keymaster.git", "madrobby_keymaster.git"),
            ("http://example.com/a", "http___example.com_a"),
        ];
        for (url, name) in cases {
            assert_eq!(url_to_name(url), name, "{url}");
        }
    }

    #[test]
    fn basename_follows_node() {
        assert_eq!(posix_basename("a/b/"), "b");
        assert_eq!(posix_basename("/"), "");
        assert_eq!(posix_basename("//"), "");
        assert_eq!(posix_basename(""), "");
        assert_eq!(posix_basename("x"), "x");
        assert_eq!(posix_basename("git+https://h/a/.."), "..");
    }
}
