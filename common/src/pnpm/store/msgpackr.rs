//! The bytes msgpackr 1.11.8's `new Packr({ useRecords: true, moreTypes: true }).pack(v)`
//! gives, as @pnpm/store.index 1100.0.0 (`packForStorage`) packs a store index entry and
//! nixpkgs' pnpm-fixup-state-db re-packs it.
//!
//! Read from msgpackr 1.11.8's pack.js (npm tarball): with no shared structures every
//! `pack` call starts again at record id 0x40 (`structures.nextId = sharedLength + 0x40`)
//! and forgets its record definitions when it ends (`resetStructures`), so a buffer
//! depends only on its value. A plain object is a record: the first object with a given
//! key sequence defines it inline (`d4 72 <id>` + the key array), later ones write the
//! id byte; ids cycle through 0x40..=0x7f, a new definition replacing the oldest
//! (`recordIdsToRemove`, 64 own structures, one-byte ids). Because 0x40..=0x7f are
//! record ids, integers 0x40..=0xff take `cc` (`value < 0x40 && !randomAccessStructure`).
//! Integers outside int32/uint32 are float64; strings use the smallest header for their
//! UTF-8 length; `undefined` is `d4 00 00`.

use std::collections::HashMap;

use super::js_value::JsValue;

const FIRST_RECORD_ID: u8 = 0x40;
const OWN_STRUCTURES: usize = 64;

/// `packr.pack(value)`.
pub fn pack(value: &JsValue) -> Vec<u8> {
    let mut packer = Packer::default();
    packer.value(value);
    packer.out
}

#[derive(Default)]
struct Packer {
    out: Vec<u8>,
    /// Key sequence -> record id, for the records this call defined and still holds.
    ids: HashMap<Vec<String>, u8>,
    /// Which key sequence holds each id, by `id - 0x40`.
    slots: Vec<Vec<String>>,
    defined: usize,
}

impl Packer {
    fn value(&mut self, value: &JsValue) {
        match value {
            JsValue::Undefined => self.out.extend([0xd4, 0, 0]),
            JsValue::Null => self.out.push(0xc0),
            JsValue::Bool(b) => self.out.push(if *b { 0xc3 } else { 0xc2 }),
            JsValue::Number(n) => self.number(*n),
            JsValue::String(s) => self.string(s),
            JsValue::Array(items) => {
                self.length(items.len(), 0x90, 0xdc, 0xdd);
                for item in items {
                    self.value(item);
                }
            }
            JsValue::Map(entries) => {
                self.length(entries.len(), 0x80, 0xde, 0xdf);
                for (key, value) in entries {
                    self.value(key);
                    self.value(value);
                }
            }
            JsValue::Object(props) => self.record(props),
        }
    }

    fn number(&mut self, n: f64) {
        // `value >>> 0 === value` (also true for -0), then `value >> 0 === value`.
        if n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&n) {
            let v = n as u32;
            match v {
                0..=0x3f => self.out.push(v as u8),
                0x40..=0xff => self.out.extend([0xcc, v as u8]),
                0x100..=0xffff => {
                    self.out.push(0xcd);
                    self.out.extend((v as u16).to_be_bytes());
                }
                _ => {
                    self.out.push(0xce);
                    self.out.extend(v.to_be_bytes());
                }
            }
        } else if n.fract() == 0.0 && (i32::MIN as f64..0.0).contains(&n) {
            let v = n as i32;
            match v {
                -0x20..=-1 => self.out.push(v as u8),
                -0x80..=-0x21 => self.out.extend([0xd0, v as u8]),
                -0x8000..=-0x81 => {
                    self.out.push(0xd1);
                    self.out.extend((v as i16).to_be_bytes());
                }
                _ => {
                    self.out.push(0xd2);
                    self.out.extend(v.to_be_bytes());
                }
            }
        } else {
            self.out.push(0xcb);
            self.out.extend(n.to_be_bytes());
        }
    }

    fn string(&mut self, s: &str) {
        let len = s.len();
        if len < 0x20 {
            self.out.push(0xa0 | len as u8);
        } else if len < 0x100 {
            self.out.extend([0xd9, len as u8]);
        } else if len < 0x10000 {
            self.out.push(0xda);
            self.out.extend((len as u16).to_be_bytes());
        } else {
            self.out.push(0xdb);
            self.out.extend((len as u32).to_be_bytes());
        }
        self.out.extend_from_slice(s.as_bytes());
    }

    fn length(&mut self, len: usize, fix: u8, b16: u8, b32: u8) {
        if len < 0x10 {
            self.out.push(fix | len as u8);
        } else if len < 0x10000 {
            self.out.push(b16);
            self.out.extend((len as u16).to_be_bytes());
        } else {
            self.out.push(b32);
            self.out.extend((len as u32).to_be_bytes());
        }
    }

    /// msgpackr's `writeRecord`: the record id (defining it first if needed), then the
    /// values in key order.
    fn record(&mut self, props: &[(String, JsValue)]) {
        let keys: Vec<String> = props.iter().map(|(k, _)| k.clone()).collect();
        match self.ids.get(&keys) {
            Some(&id) => self.out.push(id),
            None => {
                let slot = self.defined % OWN_STRUCTURES;
                self.defined += 1;
                let id = FIRST_RECORD_ID + slot as u8;
                if slot < self.slots.len() {
                    let old = std::mem::take(&mut self.slots[slot]);
                    self.ids.remove(&old);
                    self.slots[slot] = keys.clone();
                } else {
                    self.slots.push(keys.clone());
                }
                self.out.extend([0xd4, 0x72, id]);
                self.length(keys.len(), 0x90, 0xdc, 0xdd);
                for key in &keys {
                    self.string(key);
                }
                self.ids.insert(keys, id);
            }
        }
        for (_, value) in props {
            self.value(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> JsValue {
        JsValue::String(v.to_owned())
    }

    #[test]
    fn small_values() {
        assert_eq!(pack(&JsValue::Number(0x3f as f64)), [0x3f]);
        assert_eq!(pack(&JsValue::Number(0x40 as f64)), [0xcc, 0x40]);
        assert_eq!(pack(&JsValue::Number(-0.0)), [0x00]);
        assert_eq!(pack(&JsValue::Number(-33.0)), [0xd0, 0xdf]);
        assert_eq!(pack(&JsValue::Number(4294967296.0))[0], 0xcb);
        assert_eq!(pack(&JsValue::Undefined), [0xd4, 0, 0]);
    }

    #[test]
    fn records_are_defined_once_per_call() {
        let obj = JsValue::Object(vec![("a".into(), JsValue::Bool(true))]);
        let v = JsValue::Array(vec![obj.clone(), obj]);
        assert_eq!(
            pack(&v),
            [0x92, 0xd4, 0x72, 0x40, 0x91, 0xa1, b'a', 0xc3, 0x40, 0xc3]
        );
        let str_obj = JsValue::Object(vec![("k".into(), s("v"))]);
        assert_eq!(pack(&str_obj)[2], 0x40, "a new call starts again at 0x40");
    }
}
