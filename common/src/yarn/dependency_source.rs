//! Where one lockfile entry's file comes from, decided exactly as prefetch-yarn-deps'
//! `downloadPkg` decides it (same branches, same order).

use crate::yarn::url_to_name::url_to_name;

/// How a `resolved` URL is fetched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Fetch {
    /// Downloaded over HTTPS as is.
    Tarball { url: String },
    /// Cloned at `rev` and packed with GNU tar.
    Git { url: String, rev: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    Fetch {
        name: String,
        fetch: Fetch,
        /// The `#…` after the URL (a sha1 for tarballs, a rev for git).
        fragment: Option<String>,
    },
    /// `file:` URLs are skipped upstream (with a warning).
    SkippedFileUrl,
    /// A git URL without `#rev`: upstream passes `undefined` to nix-prefetch-git and fails.
    GitWithoutRev { url: String },
    /// Neither https, git nor file: upstream throws "don't know how to download".
    Unsupported { url: String },
}

pub fn classify(resolved: &str) -> Classified {
    // `split('#')` destructured to two: text after a second `#` is dropped.
    let mut parts = resolved.split('#');
    let url = parts.next().unwrap_or_default();
    let fragment = parts.next().map(str::to_owned);
    let name = url_to_name(url);
    let segments: Vec<&str> = url.split('/').collect();
    let github = |i: usize| segments.get(i).copied().unwrap_or("undefined");
    let fetch = |fetch| Classified::Fetch {
        name: name.clone(),
        fetch,
        fragment: fragment.clone(),
    };

    if url.starts_with("https://codeload.github.com/") && url.contains("/tar.gz/") {
        fetch(Fetch::Git {
            url: format!("https://github.com/{}/{}.git", github(3), github(4)),
            rev: segments[segments.len() - 1].to_owned(),
        })
    } else if url.starts_with("https://github.com/")
        && url.ends_with(".tar.gz")
        && (segments.len() <= 5 || segments[5] == "archive")
    {
        let last = segments[segments.len() - 1];
        fetch(Fetch::Git {
            url: format!("https://github.com/{}/{}.git", github(3), github(4)),
            rev: last[..last.len() - ".tar.gz".len()].to_owned(),
        })
    } else if is_git_url(url) {
        let git_url = url.strip_prefix("git+").unwrap_or(url).to_owned();
        match &fragment {
            Some(rev) => fetch(Fetch::Git {
                url: git_url,
                rev: rev.clone(),
            }),
            None => Classified::GitWithoutRev {
                url: url.to_owned(),
            },
        }
    } else if url.starts_with("https://") {
        fetch(Fetch::Tarball {
            url: url.to_owned(),
        })
    } else if url.starts_with("file:") {
        Classified::SkippedFileUrl
    } else {
        Classified::Unsupported {
            url: url.to_owned(),
        }
    }
}

/// yarn's git-resolver test, as upstream copied it.
pub fn is_git_url(url: &str) -> bool {
    const GIT_HOSTS: [&str; 4] = ["github.com", "gitlab.com", "bitbucket.com", "bitbucket.org"];
    let no_line_breaks = !url.contains(['\n', '\r', '\u{2028}', '\u{2029}']);
    let http_git = (url.starts_with("https:") && url.len() > "https:.git".len()
        || url.starts_with("http:") && url.len() > "http:.git".len())
        && url.ends_with(".git")
        && no_line_breaks;
    // `/^git\+.+:/`: a colon after at least one character, on the first line.
    let git_plus = url.strip_prefix("git+").is_some_and(|rest| {
        rest.chars()
            .take_while(|c| !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'))
            .skip(1)
            .any(|c| c == ':')
    });
    if url.starts_with("git:") || git_plus || url.starts_with("ssh:") || http_git {
        return true;
    }
    match legacy_host_and_path(url) {
        Some((host, path)) => {
            GIT_HOSTS.contains(&host.as_str())
                && path.split('/').filter(|p| !p.is_empty()).count() == 2
        }
        None => false,
    }
}

/// Node's legacy `url.parse(u).hostname` and `.path` for `scheme://` URLs.
fn legacy_host_and_path(url: &str) -> Option<(String, &str)> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.split(':').next().unwrap_or_default();
    if host.is_empty() {
        return None;
    }
    let path = &rest[end..];
    let path = path.split('#').next().unwrap_or_default();
    Some((host.to_ascii_lowercase(), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(resolved: &str) -> (String, String, String) {
        match classify(resolved) {
            Classified::Fetch {
                name,
                fetch: Fetch::Git { url, rev },
                ..
            } => (name, url, rev),
            other => panic!("{resolved}: {other:?}"),
        }
    }

    #[test]
    fn ghost_git_dependencies() {
        assert_eq!(
            git("https://codeload.github.com/TryGhost/mock-knex/tar.gz/d8b93b1c20d4820323477f2c60db016ab3e73192"),
            (
                "d8b93b1c20d4820323477f2c60db016ab3e73192".into(),
                "https://github.com/TryGhost/mock-knex.git".into(),
                "d8b93b1c20d4820323477f2c60db016ab3e73192".into()
            )
        );
        assert_eq!(
            git("https://github.com/acburdine/google-caja-bower#275cb75249f038492094a499756a73719ae071fd"),
            (
                "acburdine_google_caja_bower".into(),
                "https://github.com/acburdine/google-caja-bower".into(),
                "275cb75249f038492094a499756a73719ae071fd".into()
            )
        );
        assert_eq!(
            git("https://github.com/madrobby/keymaster.git#f8f43dd").1,
            "https://github.com/madrobby/keymaster.git"
        );
        assert_eq!(
            git("git+ssh://git@example.org/a/b.git#v1"),
            (
                "b.git".into(),
                "ssh://git@example.org/a/b.git".into(),
                "v1".into()
            )
        );
        assert_eq!(
            git("https://github.com/o/r/archive/refs/tags/v1.2.tar.gz").2,
            "v1.2"
        );
    }

    #[test]
    fn tarballs_skips_and_refusals() {
        assert!(matches!(
            classify("https://registry.yarnpkg.com/a/-/a-1.0.0.tgz#97fb5d96bfde8973313f20e8288ef9a167fa64ce"),
            Classified::Fetch { fetch: Fetch::Tarball { .. }, fragment: Some(_), .. }
        ));
        // A github.com file that is not a repository root is a plain download.
        assert!(matches!(
            classify("https://github.com/o/r/releases/download/v1/x.tgz"),
            Classified::Fetch {
                fetch: Fetch::Tarball { .. },
                ..
            }
        ));
        assert_eq!(classify("file:../pkg"), Classified::SkippedFileUrl);
        assert!(matches!(
            classify("http://registry.example/a.tgz"),
            Classified::Unsupported { .. }
        ));
        assert!(matches!(
            classify("git+https://example.org/a.git"),
            Classified::GitWithoutRev { .. }
        ));
    }

    #[test]
    fn git_url_detection_follows_yarn() {
        assert!(is_git_url("git://example.org/a"));
        assert!(is_git_url("ssh://git@example.org/a"));
        assert!(is_git_url("https://GitHub.com/a/b"));
        assert!(is_git_url("https://github.com/a/b/"));
        assert!(!is_git_url("https://github.com/a/b/c"));
        assert!(!is_git_url("https://example.org/a/b"));
        assert!(!is_git_url("git+:nothing"));
    }
}
