//! node-semver 7.8.5's `semver.clean(version, { loose: true })`, which pnpm 11 applies to
//! the `version` it keeps in a store index entry's manifest (`normalizeBundledManifest`
//! in pnpm 11.22.0's dist/worker.js; the semver version is the one its bundle names).
//!
//! `clean` trims, drops leading `=`/`v`, matches semver's LOOSE regex
//! (`^[v=\s]*(\d+)\.(\d+)\.(\d+)(?:-?(PRE(?:\.PRE)*))?(?:\+(BUILD(?:\.BUILD)*))?$`,
//! semver/internal/re.js) and formats `major.minor.patch[-prerelease]`: numbers lose their
//! leading zeros, build metadata is dropped. Anything that does not match, is longer than
//! 256 characters or has a part beyond 2^53 - 1 gives `None`.

use std::sync::OnceLock;

use regex::Regex;

/// JavaScript's `\s` (WhiteSpace and LineTerminator), also what `String.prototype.trim`
/// removes.
const JS_SPACE: &str = r"\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}";
const MAX_LENGTH: usize = 256;
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn loose() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // NONNUMERICIDENTIFIER | NUMERICIDENTIFIERLOOSE, tried in that order as JS does.
        let pre = r"(?:[0-9]*[a-zA-Z-][a-zA-Z0-9-]*|[0-9]+)";
        let build = r"[a-zA-Z0-9-]+";
        Regex::new(&format!(
            r"^[v={JS_SPACE}]*([0-9]+)\.([0-9]+)\.([0-9]+)(?:-?({pre}(?:\.{pre})*))?(?:\+({build}(?:\.{build})*))?$"
        ))
        .expect("semver's LOOSE regex")
    })
}

fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `semver.clean(version, { loose: true })`.
pub fn clean_loose(version: &str) -> Option<String> {
    let version = version
        .trim_matches(is_js_space)
        .trim_start_matches(['=', 'v']);
    // The SemVer constructor's length check counts UTF-16 units.
    if version.encode_utf16().count() > MAX_LENGTH {
        return None;
    }
    let m = loose().captures(version.trim_matches(is_js_space))?;
    let part = |i: usize| -> Option<u64> {
        let digits = m.get(i)?.as_str().trim_start_matches('0');
        if digits.len() > 16 {
            return None;
        }
        let n = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        (n <= MAX_SAFE_INTEGER).then_some(n)
    };
    let mut out = format!("{}.{}.{}", part(1)?, part(2)?, part(3)?);
    if let Some(pre) = m.get(4) {
        let ids: Vec<String> = pre.as_str().split('.').map(prerelease_id).collect();
        out.push('-');
        out.push_str(&ids.join("."));
    }
    Some(out)
}

/// A numeric prerelease identifier below 2^53 - 1 becomes a number; others stay text.
fn prerelease_id(id: &str) -> String {
    if id.bytes().all(|b| b.is_ascii_digit()) {
        let digits = id.trim_start_matches('0');
        if digits.is_empty() {
            return "0".to_owned();
        }
        if digits.len() <= 16 {
            if let Ok(n) = digits.parse::<u64>() {
                if n < MAX_SAFE_INTEGER {
                    return n.to_string();
                }
            }
        }
    }
    id.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_as_node_semver_does() {
        for (input, want) in [
            ("1.2.3", Some("1.2.3")),
            (" =v1.2.3 ", Some("1.2.3")),
            ("01.002.3", Some("1.2.3")),
            ("1.2.3beta", Some("1.2.3-beta")),
            ("1.2.3-beta.01+build.7", Some("1.2.3-beta.1")),
            ("1.2.34.5", Some("1.2.3-4.5")),
            ("1.2.3-", Some("1.2.3--")),
            ("1.2", None),
            ("9007199254740992.0.0", None),
            ("1.2.3-9007199254740991", Some("1.2.3-9007199254740991")),
        ] {
            assert_eq!(clean_loose(input).as_deref(), want, "{input:?}");
        }
    }
}
