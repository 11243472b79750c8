//! JSON text exactly as nixpkgs' fixup leaves an index file: `jq --sort-keys` (jq 1.8.2,
//! nixpkgs pkgs/by-name/jq/jq/package.nix at 072bd877d3fad342972fa957688facc16fa04ec0)
//! pretty-printing what pnpm wrote with `JSON.stringify`.
//!
//! jq's printer (src/jv_print.c): two-space indent, `"key": value`, `{}` and `[]` for empty
//! containers, object keys in byte order of their UTF-8, a newline after the document.
//! Strings escape `"`, `\`, `\b \f \n \r \t`, other control characters and DEL as `\u00xx`
//! (lowercase hex); everything else, `/` and non-ASCII included, is written raw. Numbers
//! keep the literal pnpm's `JSON.stringify` wrote, except that jq 1.8 prints a literal with
//! an exponent in decNumber's canonical form, which for JavaScript's output is the same
//! text with `E` for `e` (`1e+21` -> `1E+21`). All verified against the real jq 1.8.2 and
//! Node in common/tests/it/pnpm_store.rs.

use serde_json::Value;

/// `jq --sort-keys .` output for a value that went through `JSON.parse`/`JSON.stringify`.
pub fn jq_pretty(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out.push('\n');
    out
}

/// jq's `del(.. | .checkedAt?)`: the key `checkedAt` removed from every object at any depth.
pub fn delete_checked_at(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("checkedAt");
            map.values_mut().for_each(delete_checked_at);
        }
        Value::Array(items) => items.iter_mut().for_each(delete_checked_at),
        _ => {}
    }
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, level + 1);
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(out, level + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
    }
}

fn indent(out: &mut String, level: usize) {
    out.push_str(&" ".repeat(level * 2));
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as JavaScript's `JSON.stringify` writes it after `JSON.parse` (a double), then
/// as jq 1.8 prints that literal.
fn number_text(n: &serde_json::Number) -> String {
    if let Some(u) = n.as_u64().filter(|&u| u < (1 << 53)) {
        return u.to_string();
    }
    if let Some(i) = n.as_i64().filter(|&i| i > -(1 << 53)) {
        return i.to_string();
    }
    js_number(n.as_f64().unwrap_or(f64::NAN)).replace('e', "E")
}

/// ECMAScript `Number::toString` for a finite double (JSON has no NaN or Infinity).
fn js_number(x: f64) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Rust's `{:e}` gives the shortest round-tripping digits, as ECMAScript requires.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e >= 0 {
            format!("+{e}")
        } else {
            e.to_string()
        };
        match digits.len() {
            1 => format!("{digits}e{e}"),
            _ => format!("{}.{}e{e}", &digits[..1], &digits[1..]),
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout_and_escapes() {
        let v = json!({"b": {"x": [], "y": [1, {}]}, "a": "\u{7f}\u{1f}\t/é", "Z": true});
        assert_eq!(
            jq_pretty(&v),
            "{\n  \"Z\": true,\n  \"a\": \"\\u007f\\u001f\\t/é\",\n  \"b\": {\n    \"x\": [],\n    \"y\": [\n      1,\n      {}\n    ]\n  }\n}\n"
        );
    }

    #[test]
    fn javascript_numbers() {
        assert_eq!(js_number(1.5), "1.5");
        assert_eq!(js_number(1e21), "1e+21");
        assert_eq!(js_number(1e20), "100000000000000000000");
        assert_eq!(js_number(1e-7), "1e-7");
        assert_eq!(js_number(0.000001), "0.000001");
        assert_eq!(js_number(-123.456), "-123.456");
        assert_eq!(js_number(1.2345e-10), "1.2345e-10");
    }

    #[test]
    fn checked_at_goes_at_any_depth() {
        let mut v = json!({"checkedAt": 1, "files": {"checkedAt": {"a": 1}, "x": {"checkedAt": 2, "mode": 420}}});
        delete_checked_at(&mut v);
        assert_eq!(v, json!({"files": {"x": {"mode": 420}}}));
    }
}
