//! The `object-hash` npm package as pnpm uses it for `packageExtensionsChecksum`:
//! pnpm/pnpm v10 `crypto/object-hasher` (`hashObjectNullableWithPrefix`: sha256,
//! base64, `respectType: false`, unordered objects and arrays), over object-hash 3's
//! `typeHasher` serialisation (`object:N:` then `key:value,` per sorted key,
//! `string:LEN:` with LEN in UTF-16 units, `bool:`, `number:`, `Null`, arrays sorted by
//! their entries' serialisations).

use std::cmp::Ordering;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `sha256-<base64>` of `value`, or `None` when it is absent or empty (as pnpm).
pub fn checksum_with_prefix(value: Option<&Value>) -> Option<String> {
    let value = value?;
    let empty = match value {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    };
    if empty {
        return None;
    }
    let digest = Sha256::digest(serialise(value).as_bytes());
    Some(format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ))
}

fn serialise(value: &Value) -> String {
    match value {
        Value::Null => "Null".to_owned(),
        Value::Bool(b) => format!("bool:{b}"),
        Value::Number(n) => format!("number:{n}"),
        Value::String(s) => string(s),
        Value::Array(items) => {
            let mut entries: Vec<String> = items.iter().map(serialise).collect();
            entries.sort_by(|a, b| js_cmp(a, b));
            let mut out = format!("array:{}:", entries.len());
            if items.len() <= 1 {
                // object-hash does not sort (or re-wrap) arrays of one entry.
                return out + &entries.concat();
            }
            for e in &entries {
                out.push_str(&string(e));
            }
            out
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| js_cmp(a, b));
            let mut out = format!("object:{}:", keys.len());
            for k in keys {
                out.push_str(&string(k));
                out.push(':');
                out.push_str(&serialise(&map[k]));
                out.push(',');
            }
            out
        }
    }
}

fn string(s: &str) -> String {
    format!("string:{}:{s}", s.encode_utf16().count())
}

/// JavaScript's default sort order: UTF-16 code units.
fn js_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_checksum_pnpm_wrote_for_ghost() {
        // Ghost 6.65.0's pnpm-workspace.yaml packageExtensions and the
        // packageExtensionsChecksum pnpm wrote into its pnpm-lock.yaml.
        let ext = serde_json::json!({
            "@doist/react-interpolate@2.2.1": {"dependencies": {"@babel/runtime": "^7.26.10"}}
        });
        assert_eq!(
            checksum_with_prefix(Some(&ext)).as_deref(),
            Some("sha256-gFsvptlcVXY90ntXWh9ANUP1/LYyeqXjWoDGw6BCfOY=")
        );
    }

    #[test]
    fn empty_is_none() {
        assert_eq!(checksum_with_prefix(None), None);
        assert_eq!(checksum_with_prefix(Some(&serde_json::json!({}))), None);
    }
}
