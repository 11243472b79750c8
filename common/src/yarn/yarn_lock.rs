//! yarn.lock v1, parsed exactly as `@yarnpkg/lockfile` 1.1.0 parses it.
//!
//! nixpkgs' prefetch-yarn-deps vendors that package, so its quirks decide which
//! entries fetchYarnDeps downloads: tokens are produced lazily (an odd indent after the
//! point where the parser stops is never seen), an indented line at the top level ends
//! the parse silently, `key: value` on one line is an error, and a later duplicate key
//! replaces the earlier value but keeps its position. We follow all of that, and turn
//! the inputs on which upstream hangs (an unterminated string, a final comment without
//! newline) into errors. A lockfile with merge-conflict markers is parsed as upstream
//! parses it: both sides, merged, the later side winning.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use thiserror::Error;

/// A parsed value. Objects are shared: `"a@1", "a@^1":` gives both keys one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    /// Digits as written; upstream turns them into a JS number.
    Number(String),
    Bool(bool),
    Object(Rc<Object>),
}

/// A JS object's own string keys: insertion order, last assignment wins.
#[derive(Debug, Default, PartialEq)]
pub struct Object {
    entries: Vec<(String, Value, usize)>,
    index: HashMap<String, usize>,
}

impl Object {
    fn insert(&mut self, key: String, value: Value, line: usize) {
        match self.index.get(&key) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value, line));
            }
        }
    }

    /// `Object.assign` of one property: a later value replaces an earlier one in
    /// place, and its line is the one now shown.
    fn assign(&mut self, key: String, value: Value, line: usize) {
        match self.index.get(&key) {
            Some(&i) => {
                self.entries[i].1 = value;
                self.entries[i].2 = line;
            }
            None => self.insert(key, value, line),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// `(key, value, line of the key's first appearance)` in JS `Object.entries`
    /// order: array-index keys (`"0"`, `"17"`) first, ascending, then the rest in
    /// insertion order. The order decides which entry upstream's de-duplication keeps.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value, usize)> {
        let mut indices: Vec<(u32, usize)> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, (k, _, _))| array_index(k).map(|n| (n, i)))
            .collect();
        indices.sort_unstable();
        let rest = (0..self.entries.len()).filter(|&i| array_index(&self.entries[i].0).is_none());
        indices.into_iter().map(|(_, i)| i).chain(rest).map(|i| {
            let (k, v, l) = &self.entries[i];
            (k.as_str(), v, *l)
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A canonical array index (`0` to 2^32 - 2, no leading zeros): JS orders those first.
fn array_index(key: &str) -> Option<u32> {
    let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
    if !canonical || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

#[derive(Debug)]
pub struct Lockfile {
    pub object: Object,
    /// Set when the parser stopped before the end of the file, as yarn's does at an
    /// indented line at the top level: everything from this line on is ignored by
    /// yarn and by fetchYarnDeps alike.
    pub ignored_from_line: Option<usize>,
    /// Set when the text has merge-conflict markers, to the first `<<<<<<<` line: the
    /// object is then both sides merged, as `@yarnpkg/lockfile` merges them.
    pub merge_conflict_line: Option<usize>,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line}, column {col}: {kind}")]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub kind: ParseErrorKind,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// A Yarn 2+ ("Berry") lockfile: different format, different fetcher.
    Berry,
    /// `# yarn lockfile vN` with N > 1.
    UnsupportedVersion(String),
    OddIndent,
    UnterminatedString,
    CommentWithoutNewline,
    /// Objects nested deeper than [`MAX_NESTING`].
    TooDeep,
    Unexpected(&'static str),
}

/// How deeply objects may nest. yarn writes two levels (an entry and its
/// `dependencies`); the bound is far above that, and keeps the recursive parse (and the
/// recursive drop of the objects) well inside a 1 MiB stack in a debug build, where
/// about 2,000 levels overflowed it.
pub const MAX_NESTING: usize = 100;

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Berry => f.write_str(
                "this is a Yarn 2+ (Berry) lockfile; fetchYarnDeps and this tool handle Yarn v1 \
                 only. Use nixpkgs' `yarn-berry-fetcher` / `fetchYarnBerryDeps` instead",
            ),
            Self::UnsupportedVersion(v) => write!(
                f,
                "`# yarn lockfile v{v}` is not Yarn v1; only v1 lockfiles are supported"
            ),
            Self::OddIndent => f.write_str("invalid number of spaces: indentation must be even"),
            Self::UnterminatedString => f.write_str("string has no closing quote"),
            Self::CommentWithoutNewline => f.write_str(
                "the file ends in a comment without a final newline, on which yarn's parser \
                 (and so fetchYarnDeps) never terminates; add a newline",
            ),
            Self::TooDeep => write!(
                f,
                "objects nested more than {MAX_NESTING} levels deep; yarn writes two, so the \
                 file is corrupt or not a lockfile: regenerate it with `yarn install`"
            ),
            Self::Unexpected(what) => f.write_str(what),
        }
    }
}

/// Lockfile text as upstream reads it: prefetch-yarn-deps reads the file with
/// `fs.readFile(…, 'utf-8')`, which replaces each invalid UTF-8 sequence by U+FFFD
/// (WHATWG "maximal subpart" replacement, as `String::from_utf8_lossy` does), parses
/// that text and writes it back as the output's `yarn.lock`.
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// The line of the first invalid sequence, when there is one.
    pub first_invalid_line: Option<usize>,
}

pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    let first_invalid_line = std::str::from_utf8(bytes).err().map(|e| {
        let before = &bytes[..e.valid_up_to()];
        before.iter().filter(|&&b| b == b'\n').count() + 1
    });
    Decoded {
        text: String::from_utf8_lossy(bytes),
        first_invalid_line,
    }
}

/// Parses lockfile text (after UTF-8 decoding; a leading BOM is skipped as yarn does).
pub fn parse(text: &str) -> Result<Lockfile, ParseError> {
    if let Some(line) = berry_metadata_line(text) {
        return Err(ParseError {
            line,
            col: 1,
            kind: ParseErrorKind::Berry,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if has_merge_conflicts(text) {
        return parse_with_conflict(text);
    }
    parse_text(text)
}

fn parse_text(text: &str) -> Result<Lockfile, ParseError> {
    let mut parser = Parser::new(text)?;
    let object = parser.parse_object(0)?;
    let ignored_from_line = match parser.token.kind {
        TokenKind::Eof => None,
        _ => Some(parser.token.line),
    };
    Ok(Lockfile {
        object,
        ignored_from_line,
        merge_conflict_line: None,
    })
}

fn berry_metadata_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_end() == "__metadata:")
        .map(|i| i + 1)
}

const CONFLICT_START: &str = "<<<<<<<";
const CONFLICT_SEP: &str = "=======";
const CONFLICT_ANCESTOR: &str = "|||||||";
const CONFLICT_END: &str = ">>>>>>>";

/// `hasMergeConflicts`: all three markers anywhere in the text.
fn has_merge_conflicts(text: &str) -> bool {
    [CONFLICT_START, CONFLICT_SEP, CONFLICT_END]
        .iter()
        .all(|m| text.contains(m))
}

/// `parseWithConflict`: `Object.assign({}, parse(ours), parse(theirs))`. Upstream
/// returns an empty object when a side does not parse, and fetchYarnDeps then hashes
/// the lockfile alone; that is never what was meant, so here the error stands, on the
/// line of the file it came from.
fn parse_with_conflict(text: &str) -> Result<Lockfile, ParseError> {
    let merge_conflict_line = text
        .split('\n')
        .position(|l| l.trim_end_matches('\r').starts_with(CONFLICT_START))
        .map(|i| i + 1);
    let mut object = Object::default();
    let mut ignored_from_line = None;
    for (variant, lines) in conflict_variants(text) {
        let original = |line: usize| lines.get(line - 1).copied().unwrap_or(line);
        let side = parse_text(&variant).map_err(|e| ParseError {
            line: original(e.line),
            ..e
        })?;
        ignored_from_line = ignored_from_line.or(side.ignored_from_line.map(original));
        for (key, value, line) in side.object.entries {
            object.assign(key, value, original(line));
        }
    }
    Ok(Lockfile {
        object,
        ignored_from_line,
        merge_conflict_line,
    })
}

/// `extractConflictVariants` of @yarnpkg/lockfile 1.1.0 (src/lockfile/parse.js): the
/// text of each side, lines joined by `\n`, and the file's line number of each line.
fn conflict_variants(text: &str) -> [(String, Vec<usize>); 2] {
    let mut sides: [Vec<(&str, usize)>; 2] = [Vec::new(), Vec::new()];
    // `split(/\r?\n/g)`: a CR stays unless a LF follows it.
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .zip(1..);
    let mut skip = false;
    while let Some((line, n)) = lines.next() {
        if !line.starts_with(CONFLICT_START) {
            sides[0].push((line, n));
            sides[1].push((line, n));
            continue;
        }
        for (line, n) in lines.by_ref() {
            if line == CONFLICT_SEP {
                skip = false;
                break;
            } else if skip || line.starts_with(CONFLICT_ANCESTOR) {
                skip = true;
            } else {
                sides[0].push((line, n));
            }
        }
        for (line, n) in lines.by_ref() {
            if line.starts_with(CONFLICT_END) {
                break;
            }
            sides[1].push((line, n));
        }
    }
    sides.map(|side| {
        let text = side.iter().map(|(l, _)| *l).collect::<Vec<_>>().join("\n");
        (text, side.into_iter().map(|(_, n)| n).collect())
    })
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Newline,
    Indent(usize),
    Str(String),
    Number(String),
    Bool(bool),
    Colon,
    Comma,
    Invalid,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    line: usize,
    col: usize,
    kind: TokenKind,
}

/// Lazy tokenizer over the remaining input, mirroring upstream's generator.
struct Tokenizer<'a> {
    rest: &'a str,
    line: usize,
    col: usize,
    last_newline: bool,
    done: bool,
}

impl<'a> Tokenizer<'a> {
    fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError {
            line: self.line,
            col: self.col + 1,
            kind,
        }
    }

    /// The next token, skipping comments (after checking their lockfile version).
    fn next_token(&mut self) -> Result<Token, ParseError> {
        loop {
            if self.rest.is_empty() {
                self.done = true;
                return Ok(self.token(TokenKind::Eof));
            }
            let (kind, chop) = self.scan()?;
            let token = kind.map(|k| self.token(k));
            let bytes = self.rest.as_bytes();
            let was_newline =
                bytes[0] == b'\n' || (bytes[0] == b'\r' && bytes.get(1) == Some(&b'\n'));
            if matches!(
                token,
                Some(Token {
                    kind: TokenKind::Newline,
                    ..
                })
            ) {
                // Upstream takes "\n\n" as one newline token; count real lines anyway.
                self.line += bytes[..chop].iter().filter(|&&c| c == b'\n').count().max(1);
                self.col = 0;
            } else {
                self.col += chop;
            }
            self.last_newline = was_newline;
            self.rest = &self.rest[chop..];
            if let Some(token) = token {
                return Ok(token);
            }
        }
    }

    fn token(&self, kind: TokenKind) -> Token {
        Token {
            line: self.line,
            col: self.col + 1,
            kind,
        }
    }

    /// One step: the token (None for a comment) and how many bytes it consumed.
    fn scan(&mut self) -> Result<(Option<TokenKind>, usize), ParseError> {
        let s = self.rest;
        let b = s.as_bytes();
        Ok(match b[0] {
            b'\n' | b'\r' => (
                Some(TokenKind::Newline),
                if b.get(1) == Some(&b'\n') { 2 } else { 1 },
            ),
            b'#' => {
                let end = s
                    .find('\n')
                    .ok_or_else(|| self.error(ParseErrorKind::CommentWithoutNewline))?;
                self.check_version_comment(&s[1..end])?;
                (None, end)
            }
            b' ' if self.last_newline => {
                let n = b.iter().take_while(|&&c| c == b' ').count();
                if n % 2 == 1 {
                    return Err(self.error(ParseErrorKind::OddIndent));
                }
                (Some(TokenKind::Indent(n / 2)), n)
            }
            b' ' => (None, 1),
            b'"' => self.scan_quoted()?,
            b'0'..=b'9' => {
                let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
                (Some(TokenKind::Number(s[..n].to_owned())), n)
            }
            _ if s.starts_with("true") => (Some(TokenKind::Bool(true)), 4),
            _ if s.starts_with("false") => (Some(TokenKind::Bool(false)), 5),
            b':' => (Some(TokenKind::Colon), 1),
            b',' => (Some(TokenKind::Comma), 1),
            c if c.is_ascii_alphabetic() || c == b'/' || c == b'-' => {
                let n = b
                    .iter()
                    .position(|c| matches!(c, b':' | b' ' | b'\n' | b'\r' | b','))
                    .unwrap_or(b.len());
                (Some(TokenKind::Str(s[..n].to_owned())), n)
            }
            _ => (Some(TokenKind::Invalid), 0),
        })
    }

    /// A double-quoted string ends at a `"` not escaped by exactly one backslash
    /// (upstream's rule, quirks included); its body is then parsed as JSON.
    fn scan_quoted(&self) -> Result<(Option<TokenKind>, usize), ParseError> {
        let b = self.rest.as_bytes();
        let end = (1..b.len())
            .find(|&i| b[i] == b'"' && !(b[i - 1] == b'\\' && (i < 2 || b[i - 2] != b'\\')))
            .ok_or_else(|| self.error(ParseErrorKind::UnterminatedString))?;
        let literal = &self.rest[..=end];
        let kind = match serde_json::from_str::<String>(literal) {
            Ok(s) => TokenKind::Str(s),
            Err(_) => TokenKind::Invalid,
        };
        Ok((Some(kind), end + 1))
    }

    fn check_version_comment(&self, comment: &str) -> Result<(), ParseError> {
        let comment = comment.trim();
        if let Some(v) = comment.strip_prefix("yarn lockfile v") {
            let digits = v.trim_start_matches('0');
            let above_one = digits.len() > 1 || digits > "1";
            if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) && above_one {
                return Err(self.error(ParseErrorKind::UnsupportedVersion(v.to_owned())));
            }
        }
        Ok(())
    }
}

struct Parser<'a> {
    tokens: Tokenizer<'a>,
    token: Token,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Result<Self, ParseError> {
        let mut tokens = Tokenizer {
            rest: text,
            line: 1,
            col: 0,
            last_newline: false,
            done: false,
        };
        let token = tokens.next_token()?;
        Ok(Self { tokens, token })
    }

    fn advance(&mut self) -> Result<&Token, ParseError> {
        if self.tokens.done {
            return Err(self.unexpected("unexpected end of file"));
        }
        self.token = self.tokens.next_token()?;
        Ok(&self.token)
    }

    fn unexpected(&self, what: &'static str) -> ParseError {
        ParseError {
            line: self.token.line,
            col: self.token.col,
            kind: ParseErrorKind::Unexpected(what),
        }
    }

    fn parse_object(&mut self, indent: usize) -> Result<Object, ParseError> {
        let mut obj = Object::default();
        loop {
            match self.token.kind.clone() {
                TokenKind::Newline => {
                    let next = self.advance()?.kind.clone();
                    if indent == 0 {
                        continue;
                    }
                    match next {
                        TokenKind::Indent(n) if n == indent => {
                            self.advance()?;
                        }
                        _ => break,
                    }
                }
                TokenKind::Indent(n) => {
                    if n == indent {
                        self.advance()?;
                    } else {
                        break;
                    }
                }
                TokenKind::Eof => break,
                TokenKind::Str(first) => {
                    if self.parse_property(&mut obj, first, indent)? {
                        break;
                    }
                }
                _ => return Err(self.unexpected("expected a package key (is a quote missing?)")),
            }
        }
        Ok(obj)
    }

    /// Parses `key[, key…] value` or `key[, key…]:` + nested object. Returns whether the
    /// enclosing object ends here.
    fn parse_property(
        &mut self,
        obj: &mut Object,
        first: String,
        indent: usize,
    ) -> Result<bool, ParseError> {
        let line = self.token.line;
        if first.is_empty() {
            return Err(self.unexpected("empty key"));
        }
        let mut keys = vec![first];
        self.advance()?;
        while self.token.kind == TokenKind::Comma {
            self.advance()?;
            match &self.token.kind {
                TokenKind::Str(k) if !k.is_empty() => keys.push(k.clone()),
                _ => return Err(self.unexpected("expected a key after `,`")),
            }
            self.advance()?;
        }
        let value = match self.token.kind.clone() {
            TokenKind::Colon => {
                if indent >= MAX_NESTING {
                    return Err(ParseError {
                        line: self.token.line,
                        col: self.token.col,
                        kind: ParseErrorKind::TooDeep,
                    });
                }
                self.advance()?;
                let nested = Value::Object(Rc::new(self.parse_object(indent + 1)?));
                for key in keys {
                    obj.insert(key, nested.clone(), line);
                }
                return Ok(indent > 0 && !matches!(self.token.kind, TokenKind::Indent(_)));
            }
            TokenKind::Str(s) => Value::String(s),
            TokenKind::Number(n) => Value::Number(n),
            TokenKind::Bool(b) => Value::Bool(b),
            _ => {
                return Err(self.unexpected(
                    "expected a value (a quoted string, number or boolean) or `:` at the end of the line \
                     (yarn v1 writes `key value`, with no colon between)",
                ))
            }
        };
        for key in keys {
            obj.insert(key, value.clone(), line);
        }
        self.advance()?;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(lock: &'a Lockfile, key: &str) -> &'a Object {
        match lock.object.get(key) {
            Some(Value::Object(o)) => o,
            other => panic!("{key}: {other:?}"),
        }
    }

    const SIMPLE: &str = "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n\"@a/b@^1.0.0\", \"@a/b@^1.1.0\":\n  version \"1.2.0\"\n  resolved \"https://registry.yarnpkg.com/@a/b/-/b-1.2.0.tgz#abc\"\n  integrity sha512-AAAA==\n  dependencies:\n    c \"^2\"\n  optionalDependencies:\n    d \"1\"\n\nc@^2:\n  version \"2.0.0\"\n  resolved \"https://registry.yarnpkg.com/c/-/c-2.0.0.tgz\"\n";

    #[test]
    fn parses_multi_key_entries_and_nested_objects() {
        let lock = parse(SIMPLE).unwrap();
        assert_eq!(lock.ignored_from_line, None);
        let keys: Vec<_> = lock.object.iter().map(|(k, _, l)| (k, l)).collect();
        assert_eq!(keys, [("@a/b@^1.0.0", 5), ("@a/b@^1.1.0", 5), ("c@^2", 14)]);
        let a = entry(&lock, "@a/b@^1.1.0");
        assert_eq!(a.get_str("integrity"), Some("sha512-AAAA=="));
        assert_eq!(
            a.get_str("resolved"),
            Some("https://registry.yarnpkg.com/@a/b/-/b-1.2.0.tgz#abc")
        );
        assert!(matches!(
            a.get("optionalDependencies"),
            Some(Value::Object(_))
        ));
        assert!(Rc::ptr_eq(
            match lock.object.get("@a/b@^1.0.0") {
                Some(Value::Object(o)) => o,
                _ => unreachable!(),
            },
            match lock.object.get("@a/b@^1.1.0") {
                Some(Value::Object(o)) => o,
                _ => unreachable!(),
            },
        ));
    }

    #[test]
    fn crlf_and_bom_parse_like_lf() {
        let crlf = format!("\u{feff}{}", SIMPLE.replace('\n', "\r\n"));
        let a = parse(SIMPLE).unwrap();
        let b = parse(&crlf).unwrap();
        assert_eq!(a.object, b.object);
    }

    #[test]
    fn quoted_strings_use_json_escapes() {
        let lock = parse("\"a\\\"b@1\":\n  resolved \"x\\u0041\"\n").unwrap();
        assert_eq!(entry(&lock, "a\"b@1").get_str("resolved"), Some("xA"));
    }

    #[test]
    fn duplicate_key_keeps_position_and_takes_last_value() {
        let lock =
            parse("a@1:\n  version \"1\"\nb@1:\n  version \"2\"\na@1:\n  version \"3\"\n").unwrap();
        let keys: Vec<_> = lock.object.iter().map(|(k, _, _)| k).collect();
        assert_eq!(keys, ["a@1", "b@1"]);
        assert_eq!(entry(&lock, "a@1").get_str("version"), Some("3"));
    }

    #[test]
    fn array_index_keys_come_first_as_in_js() {
        let lock =
            parse("b@1:\n  v \"1\"\n\"10\":\n  v \"1\"\n\"2\":\n  v \"1\"\n\"02\":\n  v \"1\"\n")
                .unwrap();
        let keys: Vec<_> = lock.object.iter().map(|(k, _, _)| k).collect();
        assert_eq!(keys, ["2", "10", "b@1", "02"]);
    }

    #[test]
    fn indented_line_at_top_level_silently_ends_the_parse() {
        // "\n\n" is one newline token upstream, so it takes three newlines to leave
        // the entry; the odd indent after the stop is never tokenised.
        let lock = parse("a@1:\n  version \"1\"\n\n\n  b@1:\n   odd\n").unwrap();
        assert_eq!(lock.object.len(), 1);
        assert_eq!(lock.ignored_from_line, Some(5));
        let err = parse("a@1:\n  version \"1\"\n\n  b@1:\n   odd\n").unwrap_err();
        assert_eq!((err.line, err.kind), (5, ParseErrorKind::OddIndent));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = parse("a@1:\n  version: \"1\"\n").unwrap_err();
        assert_eq!((err.line, err.col), (2, 15));
        let err = parse("a@1:\n   version \"1\"\n").unwrap_err();
        assert_eq!((err.line, err.kind), (2, ParseErrorKind::OddIndent));
        let err = parse("a@1:\n  version \"1\n").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnterminatedString);
        let err = parse("a@1:\n  version \"1\"\n# end").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::CommentWithoutNewline);
        let err = parse("@a@1:\n").unwrap_err();
        assert_eq!((err.line, err.col), (1, 1));
    }

    #[test]
    fn berry_newer_versions_and_conflicts_are_named() {
        let berry = "# This file is generated by running \"yarn install\" inside your project.\n\n__metadata:\n  version: 6\n";
        assert_eq!(parse(berry).unwrap_err().kind, ParseErrorKind::Berry);
        let v2 = "# yarn lockfile v2\n";
        assert!(matches!(
            parse(v2).unwrap_err().kind,
            ParseErrorKind::UnsupportedVersion(_)
        ));
    }

    #[test]
    fn merge_conflicts_merge_both_sides_the_later_winning() {
        let conflict = "a@1:\n<<<<<<< HEAD\n  version \"1\"\n=======\n  version \"2\"\n>>>>>>> x\nb@1:\n  version \"3\"\n";
        let lock = parse(conflict).unwrap();
        assert_eq!(lock.merge_conflict_line, Some(2));
        assert_eq!(entry(&lock, "a@1").get_str("version"), Some("2"));
        let keys: Vec<_> = lock.object.iter().map(|(k, _, l)| (k, l)).collect();
        assert_eq!(keys, [("a@1", 1), ("b@1", 7)]);
        // diff3: the ancestor section is dropped; entries only on one side are kept, and
        // lines point into the file.
        let diff3 = "<<<<<<< ours\nc@1:\n  v \"c\"\n||||||| base\nz@1:\n  v \"z\"\n=======\nd@1:\n  v \"d\"\n>>>>>>> theirs\n";
        let lock = parse(diff3).unwrap();
        let keys: Vec<_> = lock.object.iter().map(|(k, _, l)| (k, l)).collect();
        assert_eq!(keys, [("c@1", 2), ("d@1", 8)]);
        // A side that does not parse is an error on the file's line.
        let broken = "<<<<<<< ours\na@1:\n  v \"1\"\n=======\na@1:\n   v \"2\"\n>>>>>>> theirs\n";
        let err = parse(broken).unwrap_err();
        assert_eq!((err.line, err.kind), (6, ParseErrorKind::OddIndent));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let d = decode(b"# ok\n# caf\xe9 \xed\xa0\x80\n");
        assert_eq!(d.first_invalid_line, Some(2));
        assert_eq!(d.text, "# ok\n# caf\u{fffd} \u{fffd}\u{fffd}\u{fffd}\n");
        let d = decode(b"fine\n");
        assert!(matches!(d.text, Cow::Borrowed("fine\n")));
        assert_eq!(d.first_invalid_line, None);
    }

    #[test]
    fn nesting_is_bounded_where_it_goes_too_deep() {
        let nested = |levels: usize| {
            let mut text = String::from("# yarn lockfile v1\n\n");
            for level in 0..levels {
                text.push_str(&format!("{}k{level}:\n", "  ".repeat(level)));
            }
            text.push_str(&format!("{}leaf \"x\"\n", "  ".repeat(levels)));
            text
        };
        parse(&nested(MAX_NESTING)).unwrap();
        let err = parse(&nested(MAX_NESTING + 1)).unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::TooDeep);
        assert_eq!(err.line, 3 + MAX_NESTING, "the key one level too deep");
    }
}
