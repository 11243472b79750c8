//! The part of minimatch 5.1.9 that npm-packlist 5.1.3 and ignore-walk 5.0.1 use: one
//! pattern (no braces, no extglobs) matched with `nocase` and `dot`, by `match` with
//! `matchBase` and `flipNegate` for ignore rules, segment by segment for glob.
//!
//! Read in pnpm@10.34.5's `dist/pnpm.cjs`, module
//! `minimatch@5.1.9/minimatch.js` (`make`, `parseNegate`, `parse`, `match`, `_matchOne`,
//! `_matchGlobstar`, `_matchGlobStarBodySections`). A segment becomes a JavaScript regular
//! expression with the `i` flag and no `u` flag, so it is matched here on UTF-16 code units
//! and folds case for ASCII only (the non-Unicode `Canonicalize` never maps a non-ASCII
//! unit onto an ASCII one). Patterns are refused ([`NotEmulated`]) when they hold what is
//! not emulated: braces, extglobs `?(`/`*(`/`+(`/`@(`/`!(`, nested or escaped class
//! syntax, or non-ASCII characters.

use super::NotEmulated;

/// `packageMustHaves` of npm-packlist: kept as its own kind (braces and an extglob), as
/// its two brace alternatives match a basename.
pub(super) const MUST_HAVES: &str = "@(readme|copying|license|licence){,.*[^~$]}";

/// How a pattern is read: ignore files read comments and `!`; glob passes
/// `nocomment` and `nonegate`.
#[derive(Clone, Copy)]
pub(super) struct Options {
    pub nocomment: bool,
    pub nonegate: bool,
}

pub(super) const IGNORE_RULE: Options = Options {
    nocomment: false,
    nonegate: false,
};
pub(super) const GLOB: Options = Options {
    nocomment: true,
    nonegate: true,
};

#[derive(Debug)]
pub(super) struct Pattern {
    pub negate: bool,
    pub kind: Kind,
}

#[derive(Debug)]
pub(super) enum Kind {
    /// `#…`: matches nothing.
    Comment,
    /// The empty pattern: matches only the empty path.
    Empty,
    /// A segment was invalid (minimatch's `false`): the set is empty, nothing matches.
    Never,
    /// [`MUST_HAVES`].
    MustHaves,
    Parts(Vec<Part>),
}

#[derive(Debug)]
pub(super) enum Part {
    Globstar,
    Segment(Segment),
}

#[derive(Debug)]
pub(super) struct Segment {
    tokens: Vec<Token>,
    /// minimatch's `hasMagic` (a regex with `(?=.)`: never the empty segment).
    magic: bool,
    /// `patternStart` with `dot`: a regex starting with `[` cannot match `.` or `..`.
    no_dot_dirs: bool,
}

#[derive(Debug)]
enum Token {
    Lit(u16),
    /// `?`: one unit.
    One,
    /// `*`: any units.
    Star,
    Class {
        negated: bool,
        ranges: Vec<(u16, u16)>,
    },
    /// A class JavaScript rejects (`[z-a]`): minimatch puts `(?:$.)`, which never matches.
    Nothing,
}

impl Pattern {
    pub fn parse(pattern: &str, opts: Options) -> Result<Self, NotEmulated> {
        if !opts.nocomment && pattern.starts_with('#') {
            return Ok(Self {
                negate: false,
                kind: Kind::Comment,
            });
        }
        if pattern.is_empty() {
            return Ok(Self {
                negate: false,
                kind: Kind::Empty,
            });
        }
        let (negate, rest) = if opts.nonegate {
            (false, pattern)
        } else {
            let rest = pattern.trim_start_matches('!');
            ((pattern.len() - rest.len()) % 2 == 1, rest)
        };
        let unsupported =
            |what: &str| NotEmulated(format!("the pattern {pattern:?}, which uses {what}"));
        if rest == MUST_HAVES {
            return Ok(Self {
                negate,
                kind: Kind::MustHaves,
            });
        }
        if !rest.is_ascii() {
            return Err(unsupported("non-ASCII characters"));
        }
        // `braceExpand` runs when /\{(?:(?!\{).)*\}/ finds a `{` with a later `}`.
        if let Some(open) = rest.find('{') {
            if rest[open..].contains('}') {
                return Err(unsupported("braces"));
            }
        }
        let mut parts = Vec::new();
        for segment in split_slashes(rest) {
            if segment == "**" {
                parts.push(Part::Globstar);
                continue;
            }
            match parse_segment(segment).map_err(unsupported)? {
                Some(s) => parts.push(Part::Segment(s)),
                None => {
                    return Ok(Self {
                        negate,
                        kind: Kind::Never,
                    })
                }
            }
        }
        Ok(Self {
            negate,
            kind: Kind::Parts(parts),
        })
    }

    /// `Minimatch#match(f, partial)` with `flipNegate`: whether the pattern (negation
    /// aside) hits `f`; with `match_base` a one-segment pattern is matched on the basename.
    #[cfg(test)]
    pub fn hits(&self, f: &str, partial: bool, match_base: bool) -> bool {
        self.hits_subject(&Subject::new(f), partial, match_base)
    }

    /// [`Self::hits`] on a path split once for all the rules that try it.
    pub fn hits_subject(&self, f: &Subject, partial: bool, match_base: bool) -> bool {
        let parts = match &self.kind {
            Kind::Comment => return false,
            Kind::Empty => return f.raw_is_empty,
            _ if f.raw_is_slash && partial => return true,
            Kind::Never => return false,
            Kind::MustHaves => return must_have_glob(&f.basename),
            Kind::Parts(parts) => parts,
        };
        if match_base && parts.len() == 1 {
            match_one(std::slice::from_ref(&f.basename_units), parts, partial)
        } else {
            match_one(&f.segments, parts, partial)
        }
    }

    /// The parts, for glob (`None` for a pattern that matches nothing by its kind).
    pub fn parts(&self) -> Option<&[Part]> {
        match &self.kind {
            Kind::Parts(p) => Some(p),
            _ => None,
        }
    }
}

/// A path as `match` splits it: segments (UTF-16) and `filename`.
pub(super) struct Subject {
    raw_is_empty: bool,
    raw_is_slash: bool,
    segments: Vec<Vec<u16>>,
    basename: String,
    basename_units: Vec<u16>,
}

impl Subject {
    pub fn new(f: &str) -> Self {
        let split = split_slashes(f);
        let basename = basename_of(&split).to_owned();
        Self {
            raw_is_empty: f.is_empty(),
            raw_is_slash: f == "/",
            segments: split.iter().map(|s| s.encode_utf16().collect()).collect(),
            basename_units: basename.encode_utf16().collect(),
            basename,
        }
    }
}

/// `f.split(/\/+/)`.
fn split_slashes(f: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = f;
    loop {
        match rest.find('/') {
            None => {
                out.push(rest);
                return out;
            }
            Some(i) => {
                out.push(&rest[..i]);
                rest = rest[i..].trim_start_matches('/');
            }
        }
    }
}

/// minimatch's `filename`: the last non-empty segment (else the first).
fn basename_of<'a>(segments: &[&'a str]) -> &'a str {
    segments
        .iter()
        .rev()
        .find(|s| !s.is_empty())
        .copied()
        .unwrap_or(segments[0])
}

/// [`MUST_HAVES`] on one segment: `@(readme|copying|license|licence)` or the same
/// followed by `.`, `[^/]*?` and one unit that is not `~` or `$`, case-insensitive.
pub(super) fn must_have_glob(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["readme", "copying", "license", "licence"].iter().any(|b| {
        lower.strip_prefix(b).is_some_and(|rest| {
            rest.is_empty()
                || (rest.starts_with('.')
                    && rest.encode_utf16().count() >= 2
                    && !rest.ends_with(['~', '$']))
        })
    })
}

/// minimatch's `parse` of one segment (not `**`): `Ok(None)` for its `false` (never
/// reached for segments split at `/`), `Err` naming what is not emulated.
fn parse_segment(pattern: &str) -> Result<Option<Segment>, &'static str> {
    if pattern.is_empty() {
        return Ok(Some(Segment {
            tokens: Vec::new(),
            magic: false,
            no_dot_dirs: false,
        }));
    }
    let chars: Vec<u8> = pattern.bytes().collect();
    let mut tokens = Vec::new();
    let mut magic = false;
    let mut state: Option<u8> = None;
    let mut i = 0;
    let clear = |state: &mut Option<u8>, tokens: &mut Vec<Token>, magic: &mut bool| {
        if let Some(c) = state.take() {
            match c {
                b'*' => {
                    tokens.push(Token::Star);
                    *magic = true;
                }
                b'?' => {
                    tokens.push(Token::One);
                    *magic = true;
                }
                other => tokens.push(Token::Lit(u16::from(other))),
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            b'\\' => {
                clear(&mut state, &mut tokens, &mut magic);
                match chars.get(i + 1) {
                    Some(&next) => {
                        tokens.push(Token::Lit(u16::from(next)));
                        i += 2;
                    }
                    None => {
                        // A trailing `\` is a literal backslash.
                        tokens.push(Token::Lit(u16::from(b'\\')));
                        i += 1;
                    }
                }
                continue;
            }
            b'?' | b'*' | b'+' | b'@' | b'!' => {
                if !(c == b'*' && state == Some(b'*')) {
                    clear(&mut state, &mut tokens, &mut magic);
                    state = Some(c);
                }
            }
            b'(' if state.is_some() => return Err("extglob patterns"),
            b'[' => {
                clear(&mut state, &mut tokens, &mut magic);
                let (token, end) = parse_class(&chars, i)?;
                tokens.push(token);
                magic = true;
                i = end + 1;
                continue;
            }
            _ => {
                clear(&mut state, &mut tokens, &mut magic);
                tokens.push(Token::Lit(u16::from(c)));
            }
        }
        i += 1;
    }
    clear(&mut state, &mut tokens, &mut magic);
    let no_dot_dirs = !pattern.starts_with('.')
        && matches!(
            tokens.first(),
            Some(Token::Star | Token::One | Token::Class { .. } | Token::Nothing)
        );
    Ok(Some(Segment {
        tokens,
        magic,
        no_dot_dirs,
    }))
}

/// The class opening at `start`: the token and the index of its closing `]`. A `]`
/// right after `[` is a member; `!` or `^` first negates; `a-z` is a range.
fn parse_class(chars: &[u8], start: usize) -> Result<(Token, usize), &'static str> {
    let mut end = None;
    for (j, &c) in chars.iter().enumerate().skip(start + 1) {
        match c {
            b']' if j > start + 1 => {
                end = Some(j);
                break;
            }
            b'[' | b'\\' => return Err("escapes or `[` inside a character class"),
            _ => {}
        }
    }
    let end = end.ok_or("an unclosed character class")?;
    let body = &chars[start + 1..end];
    let (negated, body) = match body.first() {
        Some(b'!' | b'^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut ranges = Vec::new();
    let mut k = 0;
    let mut valid = true;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == b'-' {
            if k + 3 < body.len() && body[k + 3] == b'-' {
                return Err("a character class with a range followed by `-`");
            }
            let (lo, hi) = (u16::from(body[k]), u16::from(body[k + 2]));
            valid &= lo <= hi;
            ranges.push((lo, hi));
            k += 3;
        } else {
            ranges.push((u16::from(body[k]), u16::from(body[k])));
            k += 1;
        }
    }
    if !valid {
        return Ok((Token::Nothing, end));
    }
    Ok((Token::Class { negated, ranges }, end))
}

fn fold(u: u16) -> u16 {
    if (u16::from(b'A')..=u16::from(b'Z')).contains(&u) {
        u + 32
    } else {
        u
    }
}

impl Token {
    /// Whether this one-unit token matches `u` (`/i`, non-Unicode).
    fn matches_unit(&self, u: u16) -> bool {
        let is_ascii_letter = u < 128 && (u as u8).is_ascii_alphabetic();
        match self {
            Token::Lit(c) => fold(*c) == fold(u),
            Token::One => u != u16::from(b'/'),
            Token::Class { negated, ranges } => {
                let inside = |x: u16| ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi);
                let hit = inside(u)
                    || (is_ascii_letter
                        && (inside(fold(u)) || inside(u16::from((u as u8).to_ascii_uppercase()))));
                hit != *negated
            }
            Token::Star | Token::Nothing => false,
        }
    }
}

impl Segment {
    pub fn matches(&self, s: &[u16]) -> bool {
        if self.magic && s.is_empty() {
            return false;
        }
        let dot = u16::from(b'.');
        if self.no_dot_dirs && (s == [dot] || s == [dot, dot]) {
            return false;
        }
        match_tokens(&self.tokens, s)
    }

    /// Whether this segment is exactly the literal `lit` (`.`, `..`).
    pub fn is_literal(&self, lit: &str) -> bool {
        !self.magic
            && self.tokens.len() == lit.len()
            && self
                .tokens
                .iter()
                .zip(lit.bytes())
                .all(|(t, b)| matches!(t, Token::Lit(c) if *c == u16::from(b)))
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// Whole-segment match of tokens against units, `*` backtracking.
fn match_tokens(tokens: &[Token], s: &[u16]) -> bool {
    let (mut t, mut i) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if t < tokens.len() {
            if let Token::Star = tokens[t] {
                backtrack = Some((t, i));
                t += 1;
                continue;
            }
            if i < s.len() && tokens[t].matches_unit(s[i]) {
                t += 1;
                i += 1;
                continue;
            }
        } else if i == s.len() {
            return true;
        }
        // `*` is `[^/]*?`: it may take one more unit unless that unit is `/`.
        match backtrack {
            Some((bt, bi)) if bi < s.len() && s[bi] != u16::from(b'/') => {
                backtrack = Some((bt, bi + 1));
                t = bt + 1;
                i = bi + 1;
            }
            _ => return false,
        }
    }
}

fn is_dot_or_dotdot(f: &[u16]) -> bool {
    let dot = u16::from(b'.');
    f == [dot] || f == [dot, dot]
}

/// `matchOne`.
fn match_one(file: &[Vec<u16>], pattern: &[Part], partial: bool) -> bool {
    let parts: Vec<&Part> = pattern.iter().collect();
    if parts.iter().any(|p| matches!(p, Part::Globstar)) {
        match_globstar(file, &parts, partial)
    } else {
        match_plain(file, &parts, partial, 0)
    }
}

/// `_matchOne`: parts against segments from `fi`, no globstar expected.
fn match_plain(file: &[Vec<u16>], pattern: &[&Part], partial: bool, fi: usize) -> bool {
    let (mut fi, mut pi) = (fi, 0);
    while fi < file.len() && pi < pattern.len() {
        match pattern[pi] {
            Part::Globstar => return false,
            Part::Segment(s) => {
                if !s.matches(&file[fi]) {
                    return false;
                }
            }
        }
        fi += 1;
        pi += 1;
    }
    if fi == file.len() && pi == pattern.len() {
        true
    } else if fi == file.len() {
        partial
    } else {
        // The pattern ran out: only a trailing empty segment (`a/`) may be left.
        fi + 1 == file.len() && file[fi].is_empty()
    }
}

/// `_matchGlobstar`: head before the first `**`, tail after the last, the body sections
/// between matched in order, `**` swallowing no `.`/`..` segment.
fn match_globstar(file: &[Vec<u16>], pattern: &[&Part], partial: bool) -> bool {
    let is_gs = |p: &&Part| matches!(p, Part::Globstar);
    let first = pattern.iter().position(is_gs).unwrap();
    let last = pattern.iter().rposition(is_gs).unwrap();
    let head = &pattern[..first];
    // JavaScript's `slice(first + 1, last)`: empty when there is one globstar.
    let body = if partial {
        &pattern[first + 1..]
    } else {
        &pattern[(first + 1).min(last)..last]
    };
    let tail: &[&Part] = if partial { &[] } else { &pattern[last + 1..] };
    let mut fi = 0;
    if !head.is_empty() {
        let end = head.len().min(file.len());
        if !match_plain(&file[..end], head, partial, 0) {
            return false;
        }
        fi += head.len();
    }
    let mut tail_match = 0;
    if !tail.is_empty() {
        if tail.len() + fi > file.len() {
            return false;
        }
        let tail_start = file.len() - tail.len();
        if match_plain(file, tail, partial, tail_start) {
            tail_match = tail.len();
        } else {
            if !file[file.len() - 1].is_empty() || fi + tail.len() == file.len() {
                return false;
            }
            if !match_plain(file, tail, partial, tail_start - 1) {
                return false;
            }
            tail_match = tail.len() + 1;
        }
    }
    let file_len = file.len() - tail_match;
    if body.is_empty() {
        let mut saw_some = tail_match > 0;
        for f in file.iter().take(file_len).skip(fi) {
            saw_some = true;
            if is_dot_or_dotdot(f) {
                return false;
            }
        }
        return partial || saw_some;
    }
    // The body's sections between globstars, each with the last index it may start at
    // (JavaScript's `fileLength - (nonGsPartsSums[idx--] + length)`, `None` if negative).
    let mut sections: Vec<(Vec<&Part>, Option<usize>)> = vec![(Vec::new(), None)];
    let mut sums = vec![0usize];
    let mut non_gs = 0usize;
    for b in body {
        if matches!(b, Part::Globstar) {
            sums.push(non_gs);
            sections.push((Vec::new(), None));
        } else {
            sections.last_mut().unwrap().0.push(*b);
            non_gs += 1;
        }
    }
    let n = sections.len();
    for (k, s) in sections.iter_mut().enumerate() {
        s.1 = file_len.checked_sub(sums[n - 1 - k] + s.0.len());
    }
    body_sections(file, &sections, fi, 0, partial, tail_match > 0) == Some(true)
}

/// `_matchGlobStarBodySections`: `Some(false)` for "no", `None` for "no, stop trying".
fn body_sections(
    file: &[Vec<u16>],
    sections: &[(Vec<&Part>, Option<usize>)],
    fi: usize,
    k: usize,
    partial: bool,
    saw_tail: bool,
) -> Option<bool> {
    let Some((body, after)) = sections.get(k) else {
        let mut saw_tail = saw_tail;
        for f in file.iter().skip(fi) {
            saw_tail = true;
            if is_dot_or_dotdot(f) {
                return Some(false);
            }
        }
        return Some(saw_tail);
    };
    let mut fi = fi;
    if let Some(after) = *after {
        while fi <= after {
            let end = (fi + body.len()).min(file.len());
            if match_plain(&file[..end], body, partial, fi) {
                let sub = body_sections(file, sections, fi + body.len(), k + 1, partial, saw_tail);
                if sub != Some(false) {
                    return sub;
                }
            }
            if file.get(fi).is_some_and(|f| is_dot_or_dotdot(f)) {
                return Some(false);
            }
            fi += 1;
        }
    }
    if partial {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(pattern: &str, f: &str) -> bool {
        Pattern::parse(pattern, IGNORE_RULE)
            .unwrap()
            .hits(f, false, true)
    }

    #[test]
    fn segments_match_as_minimatch_regexes() {
        assert!(hit("*.orig", "/lib/a.ORIG"));
        assert!(hit(".*.swp", ".a.swp"));
        assert!(!hit(".*.swp", ".swp"));
        assert!(hit("a?c", "abc"));
        assert!(!hit("a?c", "ac"));
        assert!(hit("[a-c]x", "Bx"));
        assert!(!hit("[!a-c]x", "bx"));
        assert!(hit("[^a-c]x", "dx"));
        assert!(!hit("[z-a]", "z"));
        assert!(hit("\\*x", "*x"));
        assert!(!hit("\\*x", "ax"));
        assert!(hit("a+b@c!", "a+b@c!"));
        assert!(!hit("*", ""));
    }

    #[test]
    fn anchors_globstars_and_trailing_slashes() {
        let p = |s: &str| Pattern::parse(s, IGNORE_RULE).unwrap();
        assert!(p("/build/config.gypi").hits("/build/config.gypi", false, true));
        assert!(!p("/build/config.gypi").hits("/a/build/config.gypi", false, true));
        assert!(p("**/.git").hits("/a/b/.git", false, true));
        assert!(p("**/.git/**").hits("/a/.git/x", false, true));
        assert!(!p("**/.git/**").hits("/a/.git", false, true));
        assert!(p("a/**/b").hits("a/b", false, true));
        assert!(p("a/**/b").hits("a/x/y/b", false, true));
        assert!(!p("a/**/b").hits("a/x/y/c", false, true));
        assert!(p("dist/").hits("dist/", false, true));
        assert!(!p("dist/").hits("dist", false, true));
        assert!(!p("dist/").hits("/dist/", false, true));
        // Partial: a directory on the way to what the pattern names.
        assert!(p("/lib/index.js").hits("/lib", true, true));
        assert!(!p("/lib/index.js").hits("/src", true, true));
        assert!(p("x").hits("/", true, true));
    }

    #[test]
    fn negation_comments_and_refusals() {
        let p = Pattern::parse("!!a", IGNORE_RULE).unwrap();
        assert!(!p.negate);
        assert!(Pattern::parse("!a", IGNORE_RULE).unwrap().negate);
        assert!(matches!(
            Pattern::parse("#a", IGNORE_RULE).unwrap().kind,
            Kind::Comment
        ));
        assert!(matches!(
            Pattern::parse("#a", GLOB).unwrap().kind,
            Kind::Parts(_)
        ));
        assert!(!Pattern::parse("!a", GLOB).unwrap().negate);
        for bad in ["{a,b}", "+(a)", "a/@(b|c)", "[a\\]]", "é", "[ab"] {
            assert!(Pattern::parse(bad, IGNORE_RULE).is_err(), "{bad}");
        }
        assert!(hit("a{b", "a{b"));
        assert!(
            must_have_glob("README.md")
                && !must_have_glob("readme.")
                && !must_have_glob("LICENSE~")
        );
        let m = Pattern::parse(&format!("!{MUST_HAVES}"), IGNORE_RULE).unwrap();
        assert!(m.negate && m.hits("/a/Licence.txt", false, true));
    }
}
