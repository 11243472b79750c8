//! Secrets out of anything shown to people: URLs with credentials in their userinfo
//! (`https://user:token@host/`) or their query (`?token=…`), in messages, notes, logs
//! and JSON. Every tool shows URLs through [`url`] (one URL) or [`text`] (free text that
//! may contain URLs, such as a lockfile key `pkg@https://u:p@host/pkg.tgz`).
//!
//! Only what is shown is redacted: what is fetched, and file names derived from a URL
//! (fetchYarnDeps' `urlToName`), keep the URL as written.

/// What stands in for a secret.
pub const REDACTED: &str = "<redacted>";

/// `scheme://user:pass@host/p?k=v&flag#frag` as `scheme://<redacted>@host/p?k=<redacted>&<redacted>#frag`.
/// The fragment is kept: in a lockfile it is the tarball's public `#sha1`. Text without
/// `://` is returned as is.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    let (before_fragment, fragment) = match tail.find('#') {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    };
    let path_and_query = match before_fragment.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_query(query)),
        None => before_fragment.to_owned(),
    };
    format!("{scheme}://{host}{path_and_query}{fragment}")
}

/// Keys stay (they say what was configured), values go. An empty query stays empty.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) => format!("{key}={REDACTED}"),
            None if pair.is_empty() => String::new(),
            None => REDACTED.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Free text with every `scheme://…` in it passed through [`url`]. A URL ends at
/// whitespace or at a character that cannot be part of one in our messages (quotes,
/// brackets, `<`, `>`, `,`).
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        let start = rest[..sep]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[sep..]
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(
                        c,
                        '"' | '\'' | '`' | '<' | '>' | '(' | ')' | '[' | ']' | ','
                    )
            })
            .map_or(rest.len(), |i| sep + i);
        out.push_str(&rest[..start]);
        out.push_str(&url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_query_values_are_redacted() {
        assert_eq!(
            url("https://user:s3cr3t@registry.example/a/-/a-1.tgz"),
            "https://<redacted>@registry.example/a/-/a-1.tgz"
        );
        assert_eq!(
            url("https://tok3n@h/x?token=s3cr3t&priority=40&bare#sha1"),
            "https://<redacted>@h/x?token=<redacted>&priority=<redacted>&<redacted>#sha1"
        );
        assert_eq!(
            url("https://cache.example/a@b"),
            "https://cache.example/a@b"
        );
        assert_eq!(url("file:///tmp/cache"), "file:///tmp/cache");
        assert_eq!(url("not a url"), "not a url");
        assert_eq!(url("https://h/x?"), "https://h/x?");
    }

    #[test]
    fn urls_inside_text_are_found() {
        assert_eq!(
            text("\"pkg@https://u:pw@h/p.tgz?t=1\" and git+ssh://git:pw@h/r.git, done"),
            "\"pkg@https://<redacted>@h/p.tgz?t=<redacted>\" and git+ssh://<redacted>@h/r.git, done"
        );
        assert_eq!(text("no urls here"), "no urls here");
        assert_eq!(text("end https://a:b@h"), "end https://<redacted>@h");
    }
}
