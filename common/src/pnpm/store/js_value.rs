//! A JavaScript value as pnpm 11 holds a store index entry before msgpackr packs it: the
//! shapes `JSON.parse` gives for a `package.json` (objects keep JavaScript's property
//! order), plus `Map` (pnpm's `files`) and `undefined` (an absent manifest).
//!
//! Property order matters because msgpackr writes an object as a record whose keys are
//! listed in `for … in` order: array-index keys (`"0"`, `"12"`) first in ascending
//! numeric order, then the other keys in insertion order (ECMA-262
//! OrdinaryOwnPropertyKeys). `JSON.parse` gives a repeated key the last value at the
//! first position.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

#[derive(Debug, Clone, PartialEq)]
pub enum JsValue {
    Undefined,
    Null,
    Bool(bool),
    /// Every JSON number is an IEEE double in JavaScript.
    Number(f64),
    String(String),
    Array(Vec<JsValue>),
    /// A plain object (`constructor === Object`), properties in `for … in` order.
    Object(Vec<(String, JsValue)>),
    /// A `Map`, entries in insertion order.
    Map(Vec<(JsValue, JsValue)>),
}

impl JsValue {
    /// `JSON.parse(text)`.
    pub fn parse_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// An object from properties given in insertion order, reordered as JavaScript
    /// enumerates them; a repeated key keeps its first position and its last value.
    pub fn object(properties: Vec<(String, JsValue)>) -> Self {
        let mut out: Vec<(String, JsValue)> = Vec::with_capacity(properties.len());
        for (key, value) in properties {
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => out.push((key, value)),
            }
        }
        // Stable: the non-index keys keep their insertion order.
        out.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
        Self::Object(out)
    }

    /// The value of property `key` of an object.
    pub fn get(&self, key: &str) -> Option<&JsValue> {
        match self {
            Self::Object(props) => props.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// JavaScript truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Self::Undefined | Self::Null => false,
            Self::Bool(b) => *b,
            Self::Number(n) => *n != 0.0 && !n.is_nan(),
            Self::String(s) => !s.is_empty(),
            _ => true,
        }
    }

    /// `value != null`.
    pub fn is_nullish(&self) -> bool {
        matches!(self, Self::Undefined | Self::Null)
    }
}

/// The index of an array-index property key: the canonical decimal form of an integer in
/// `0..2^32 - 1`.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

impl<'de> Deserialize<'de> for JsValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = JsValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<JsValue, E> {
        Ok(JsValue::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<JsValue, E> {
        Ok(JsValue::Bool(v))
    }

    // An integer literal beyond 2^53 rounds to the nearest double, as `JSON.parse` does.
    fn visit_u64<E>(self, v: u64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v as f64))
    }

    fn visit_i64<E>(self, v: i64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<JsValue, E> {
        Ok(JsValue::Number(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<JsValue, E> {
        Ok(JsValue::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<JsValue, E> {
        Ok(JsValue::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsValue, A::Error> {
        let mut props = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, JsValue>()? {
            props.push((key, value));
        }
        Ok(JsValue::object(props))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_parse_keeps_javascript_property_order() {
        let v = JsValue::parse_json(r#"{"b":1,"10":2,"a":3,"2":4,"01":5,"b":6,"4294967295":7}"#)
            .unwrap();
        let JsValue::Object(props) = v else { panic!() };
        let keys: Vec<&str> = props.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["2", "10", "b", "a", "01", "4294967295"]);
        assert_eq!(props[2].1, JsValue::Number(6.0));
    }

    #[test]
    fn numbers_are_doubles() {
        let v = JsValue::parse_json("[9007199254740993, -1, 1.5, 1e400]");
        // 1e400 is Infinity in JavaScript; serde_json refuses it (an accepted difference:
        // no package.json on the registry has one).
        assert!(v.is_err());
        let v = JsValue::parse_json("[9007199254740993, -1, 1.5]").unwrap();
        assert_eq!(
            v,
            JsValue::Array(vec![
                JsValue::Number(9007199254740992.0),
                JsValue::Number(-1.0),
                JsValue::Number(1.5)
            ])
        );
    }
}
