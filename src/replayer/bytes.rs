//! Lossless text of the kernel's bytes: a name, path or argument that is not valid UTF-8
//! keeps its exact bytes through the replay and into every output.
//!
//! The kernel's strings are bytes. [`text`] turns them into a `String` that the replay
//! handles like any other (split at `/`, compared, truncated by characters): valid UTF-8
//! stays as it is, and each byte that is not part of valid UTF-8 becomes one character of a
//! reserved block of the Supplementary Private Use Area-B, U+10FE80..=U+10FEFF (the byte
//! `0xNN` as U+10FE`NN`; such bytes are always 0x80 or more). A string whose valid UTF-8
//! holds a character of that block is not left ambiguous: all its bytes are carried that
//! way. [`raw`] gives the exact bytes back.
//!
//! Nothing of the block reaches an output. The outputs follow one rule ([`restore`]):
//!
//! - JSON (`json`, `json-min`, UDP and syslog datagrams): a string that holds such bytes is
//!   written with each of them as `\xNN` (two lowercase hex digits) and each `\` as `\\`,
//!   and a sibling key holds the exact bytes as lowercase hex: `<key>_bytes` after a key
//!   that starts with a lowercase letter (the events view: `path_bytes`), `<Key>Bytes`
//!   otherwise (the records view: `FilePathBytes`). For an array (`argv`, `ProcArgv`) the
//!   sibling is an array of the same length: the hex of each such element, null for the
//!   others. A string that is valid UTF-8 has no sibling and is written as before.
//! - Table: the `\xNN` escape of `output::escape_control`, which already writes each `\`
//!   as `\\`.
//! - Parquet: the text of the JSON rule in its column, and the column `Bytes`: a JSON
//!   object (as text) of the row's keys whose values hold such bytes, each with the shape
//!   of its value (hex for such a string, null for other elements), null when the row has
//!   none.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// The character that stands for the byte 0x80 (the block's first).
const BASE: u32 = 0x10_FE00;

/// The character that carries `byte` (0x80..=0xFF).
fn marker(byte: u8) -> char {
    char::from_u32(BASE + u32::from(byte)).expect("U+10FE80..U+10FEFF are characters")
}

/// The byte `c` carries, if it is one of the reserved characters.
fn unmark(c: char) -> Option<u8> {
    let n = u32::from(c);
    (BASE + 0x80..=BASE + 0xff)
        .contains(&n)
        .then(|| (n - BASE) as u8)
}

/// Whether `s` carries bytes that are not UTF-8 (holds a reserved character).
pub fn has_raw(s: &str) -> bool {
    // Every reserved character's UTF-8 starts with 0xF4: most strings are passed over with
    // one byte search (memchr), not decoded character by character.
    memchr::memchr(0xf4, s.as_bytes()).is_some() && s.contains(has_raw_char)
}

/// Whether `c` is a reserved character: one that carries a byte that is not UTF-8.
pub fn has_raw_char(c: char) -> bool {
    unmark(c).is_some()
}

/// A file name or path as text with its exact bytes ([`text`]): what `Path::display` would
/// show as U+FFFD keeps its bytes.
pub fn path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    text(path.as_os_str().as_bytes())
}

/// Bytes from the kernel as text, losslessly: valid UTF-8 as it is; otherwise each byte
/// outside valid UTF-8 as its reserved character (see the module). [`raw`] reverses it.
pub fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !has_raw(s) => s.to_owned(),
        Ok(_) => bytes.iter().map(|&b| carried(b)).collect(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                let valid = chunk.valid();
                if has_raw(valid) {
                    out.extend(valid.bytes().map(carried));
                } else {
                    out.push_str(valid);
                }
                out.extend(chunk.invalid().iter().map(|&b| marker(b)));
            }
            out
        }
    }
}

/// A byte of a string carried byte by byte: ASCII as itself, any other as its marker.
fn carried(b: u8) -> char {
    if b.is_ascii() {
        char::from(b)
    } else {
        marker(b)
    }
}

/// The exact bytes [`text`] was given.
pub fn raw(s: &str) -> Cow<'_, [u8]> {
    if !has_raw(s) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match unmark(c) {
            Some(b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    Cow::Owned(out)
}

/// `s` as the JSON rule writes a string that carries bytes: each such byte as `\xNN`, each
/// `\` as `\\`; anything else as it is.
pub fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match unmark(c) {
            Some(b) => {
                let _ = write!(out, "\\x{b:02x}");
            }
            None if c == '\\' => out.push_str("\\\\"),
            None => out.push(c),
        }
    }
    out
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The sibling key that holds the bytes of `key`'s value: `<key>_bytes` after a key whose
/// first letter is lowercase, `<key>Bytes` otherwise.
pub fn sibling(key: &str) -> String {
    match key.chars().find(|c| c.is_alphabetic()) {
        Some(c) if c.is_lowercase() => format!("{key}_bytes"),
        _ => format!("{key}Bytes"),
    }
}

/// Whether serialized JSON (or any UTF-8 text) holds a reserved character: the UTF-8 of
/// U+10FE80..=U+10FEFF is `F4 8F BA|BB xx`.
pub fn json_has_raw(text: &[u8]) -> bool {
    memchr::memchr(0xf4, text).is_some()
        && text
            .windows(3)
            .any(|w| w[0] == 0xf4 && w[1] == 0x8f && (w[2] == 0xba || w[2] == 0xbb))
}

/// Whether serialized JSON may hold sibling keys (a key ending in `Bytes"` or `_bytes"`):
/// a quick test before [`absorb`].
pub fn json_has_siblings(text: &[u8]) -> bool {
    text.windows(7)
        .any(|w| w == b"Bytes\":" || w == b"bytes\":")
}

/// Applies the output rule to `v` in place: every string that carries bytes is escaped
/// ([`escaped`]). With `siblings`, each object gets the sibling key ([`sibling`]) of each of
/// its keys whose value (a string, or an array of strings and arrays) carried bytes, right
/// after that key, and the result is `None`. Without, no key is added and the result is the
/// bytes' tree: `v`'s shape pruned to what carried bytes (hex for such a string, null for
/// other array elements, only such keys of an object), `None` when nothing did.
pub fn restore(v: &mut Value, siblings: bool) -> Option<Value> {
    match v {
        Value::String(s) => {
            if !has_raw(s) {
                return None;
            }
            let bytes = hex(&raw(s));
            *s = escaped(s);
            Some(Value::String(bytes))
        }
        Value::Array(items) => {
            let found: Vec<Option<Value>> =
                items.iter_mut().map(|i| restore(i, siblings)).collect();
            found.iter().any(Option::is_some).then(|| {
                Value::Array(
                    found
                        .into_iter()
                        .map(|f| f.unwrap_or(Value::Null))
                        .collect(),
                )
            })
        }
        Value::Object(map) => {
            let mut found = Map::new();
            for (k, item) in map.iter_mut() {
                if let Some(b) = restore(item, siblings) {
                    found.insert(k.clone(), b);
                }
            }
            if found.is_empty() {
                return None;
            }
            if !siblings {
                return Some(Value::Object(found));
            }
            let old = std::mem::take(map);
            for (k, item) in old {
                let bytes = found.remove(&k);
                let key = sibling(&k);
                map.insert(k, item);
                if let Some(b) = bytes {
                    map.insert(key, b);
                }
            }
            None
        }
        _ => None,
    }
}

/// The inverse of [`restore`] with siblings, for a reader of the JSON output (`kellect
/// tree` reads the records view): each key that has a sibling gets back the text [`text`]
/// makes of the sibling's bytes, and the sibling goes. A sibling whose shape or hex does
/// not fit its key is left as it is.
pub fn absorb(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(absorb),
        Value::Object(map) => {
            map.values_mut().for_each(absorb);
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let s = sibling(&k);
                let Some(bytes) = map.get(&s).cloned() else {
                    continue;
                };
                if let Some(item) = map.get_mut(&k) {
                    if put_back(item, &bytes) {
                        map.remove(&s);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Replaces each string of `item` that `bytes` gives hex for (same shape; null: keep) with
/// the text of those bytes; whether the shapes fit.
fn put_back(item: &mut Value, bytes: &Value) -> bool {
    match (item, bytes) {
        (Value::String(s), Value::String(hex)) => match unhex(hex) {
            Some(b) => {
                *s = text(&b);
                true
            }
            None => false,
        },
        (_, Value::Null) => true,
        (Value::Array(items), Value::Array(bs)) if items.len() == bs.len() => {
            items.iter_mut().zip(bs).all(|(i, b)| put_back(i, b))
        }
        _ => false,
    }
}

/// The bytes of lowercase or uppercase hex; `None` when it is not hex.
fn unhex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Serialized JSON (`pretty` or compact) of `item`, with the output rule applied: the
/// plain serialization when nothing carries bytes (the common case, checked on the bytes).
pub fn to_json<T: serde::Serialize + ?Sized>(item: &T, pretty: bool) -> Vec<u8> {
    fn ser<T: serde::Serialize + ?Sized>(item: &T, pretty: bool) -> Vec<u8> {
        let out = if pretty {
            serde_json::to_vec_pretty(item)
        } else {
            serde_json::to_vec(item)
        };
        out.expect("serializing into memory cannot fail")
    }
    let plain = ser(item, pretty);
    if !json_has_raw(&plain) {
        return plain;
    }
    let mut v = serde_json::to_value(item).expect("serializing into memory cannot fail");
    restore(&mut v, true);
    ser(&v, pretty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_utf8_is_unchanged() {
        for s in ["", "/etc/passwd", "naïve \\x41 ✓", "a\u{10FE7F}b"] {
            assert_eq!(text(s.as_bytes()), s);
            assert!(!has_raw(s));
            assert_eq!(&*raw(s), s.as_bytes());
        }
    }

    #[test]
    fn every_byte_string_comes_back_exactly() {
        let cases: [&[u8]; 7] = [
            b"\xff",
            b"a\xc3\x28b",
            b"\x80/x",
            b"caf\xc3",
            b"\xf4\x8f\xba\x80",
            "ok\u{10FE80}".as_bytes(),
            b"\\xff\xfe",
        ];
        for bytes in cases {
            let t = text(bytes);
            assert!(has_raw(&t), "{bytes:?}");
            assert_eq!(&*raw(&t), bytes);
        }
        // Every single byte and every pair.
        for a in 0..=255u8 {
            for b in [0u8, 0x41, 0x80, 0xbf, 0xc3, 0xff] {
                let bytes = [a, b, 0xa9];
                assert_eq!(&*raw(&text(&bytes)), &bytes);
            }
        }
    }

    #[test]
    fn escaped_text_is_reversible_and_never_holds_a_marker() {
        let t = text(b"a\\x41\xff\\");
        let e = escaped(&t);
        assert_eq!(e, "a\\\\x41\\xff\\\\");
        assert!(!json_has_raw(e.as_bytes()));
    }

    #[test]
    fn siblings_follow_their_key_and_the_case_of_the_view() {
        let mut v = serde_json::json!({
            "path": text(b"/tmp/\xff"),
            "ret": 0,
            "argv": ["ls", text(b"\xc3\x28")],
            "Proc": text(b"\x80"),
            "AppRxDns": [{"Name": "x", "_Headers": [{"name": "a", "value": text(b"\xfe")}]}],
            "ok": "plain",
        });
        assert!(json_has_raw(&serde_json::to_vec(&v).unwrap()));
        assert_eq!(restore(&mut v, true), None);
        let want = serde_json::json!({
            "path": "/tmp/\\xff",
            "path_bytes": "2f746d702fff",
            "ret": 0,
            "argv": ["ls", "\\xc3("],
            "argv_bytes": [null, "c328"],
            "Proc": "\\x80",
            "ProcBytes": "80",
            "AppRxDns": [{"Name": "x", "_Headers": [{"name": "a", "value": "\\xfe", "value_bytes": "fe"}]}],
            "ok": "plain",
        });
        assert_eq!(v, want);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            serde_json::to_string(&want).unwrap(),
            "key order"
        );
    }

    #[test]
    fn the_bytes_tree_is_pruned_to_what_carried_bytes() {
        let mut v = serde_json::json!({
            "FilePath": text(b"/\xff/"),
            "ProcArgv": ["a", text(b"\xfe"), "b"],
            "AppRxDns": [{"Name": "x"}, {"Name": text(b"\xfa")}],
            "InfoMonitor": "FILE",
        });
        let tree = restore(&mut v, false).unwrap();
        assert_eq!(
            tree,
            serde_json::json!({
                "FilePath": "2fff2f",
                "ProcArgv": [null, "fe", null],
                "AppRxDns": [null, {"Name": "fa"}],
            })
        );
        assert_eq!(v["FilePath"], "/\\xff/");
        assert!(restore(&mut serde_json::json!({"a": ["b"]}), false).is_none());
    }

    #[test]
    fn absorb_undoes_the_siblings() {
        let orig = serde_json::json!({
            "Proc": text(b"by\xfe"),
            "ProcArgv": ["a", text(b"\xc3(")],
            "AppRxDns": [{"Name": text(b"\xfa"), "n": 1}],
            "File": "lit\\xff",
        });
        let mut v = orig.clone();
        restore(&mut v, true);
        assert_ne!(v, orig);
        absorb(&mut v);
        assert_eq!(v, orig);
        // A sibling that does not fit is left alone.
        let mut odd = serde_json::json!({"a": "x", "a_bytes": "zz"});
        absorb(&mut odd);
        assert_eq!(odd["a_bytes"], "zz");
    }

    #[test]
    fn to_json_is_the_plain_serialization_without_raw_bytes() {
        let item = serde_json::json!({"a": "b\\xff", "n": 1});
        assert_eq!(to_json(&item, false), serde_json::to_vec(&item).unwrap());
        assert_eq!(
            to_json(&item, true),
            serde_json::to_vec_pretty(&item).unwrap()
        );
        let item = serde_json::json!({"a": text(b"\xff")});
        assert_eq!(
            to_json(&item, false),
            br#"{"a":"\\xff","a_bytes":"ff"}"#.to_vec()
        );
    }
}
