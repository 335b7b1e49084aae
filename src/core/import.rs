//! Reading JSON for `import_json`: the "JSON read" section of `docs/RULES.md`, rules 1 to 8.
//!
//! [`parse_records`] validates the whole input and returns every record, or the first problem
//! found; it never touches a store, so the caller can apply the result all at once.
//!
//! How the rules map onto serde_json (1.0.x, default features):
//!
//! 1. The input is checked with [`std::str::from_utf8`] before parsing, because serde_json
//!    does not check UTF-8 inside strings it skips when reading from a byte slice. A byte
//!    order mark is then an "expected value" syntax error.
//! 2. serde_json is a strict RFC 8259 parser; [`serde_json::Deserializer::end`] rejects
//!    anything but whitespace after the value.
//! 3. serde_json's own recursion limit does not apply to values skipped with
//!    [`IgnoredAny`] (it skips iteratively, without limit), and where it applies it allows only
//!    127 levels. So the depth is checked by [`check_structure`], a byte scan run after
//!    serde_json has accepted the syntax, which rejects level 129.
//! 4. The top level goes through `deserialize_seq` and each element through
//!    `deserialize_map`, so anything else is an "invalid type" error.
//! 5. Keys are read as unescaped bytes (`deserialize_bytes`), which keeps an unpaired
//!    surrogate escape in an ignored key (as WTF-8) instead of failing, and every key of a
//!    record is remembered, so any duplicate is caught. serde_json lets raw control
//!    characters through in keys read this way; [`check_structure`] rejects them.
//! 6. Values of other keys are skipped with [`IgnoredAny`], which checks only syntax: any
//!    escape in a string, any size of number.
//! 7. `"id"` is read with `deserialize_u64`: serde_json calls `visit_u64` only for an integer
//!    without sign, fraction or exponent that fits in `u64` (`-0` becomes `visit_f64(-0.0)`,
//!    larger integers become `visit_f64`), and values above `i64::MAX` are refused here.
//! 8. `"name"` is read with `deserialize_string`, for which serde_json refuses unpaired
//!    surrogate escapes; then its length is checked.

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::core::error::StoreError;
use crate::core::name::name_problem;

/// The deepest nesting of arrays and objects accepted, the top-level array counting as one.
pub const MAX_DEPTH: usize = 128;

/// One record of an import, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The id, `0..=i64::MAX`.
    pub id: u64,
    /// The name, 1 to 256 code points.
    pub name: Arc<str>,
}

/// Validates `json` against every rule and returns its records in input order.
pub fn parse_records(json: &[u8]) -> Result<Vec<Record>, StoreError> {
    let text = std::str::from_utf8(json).map_err(|e| {
        let offset = e.valid_up_to();
        let mut scan = Scanner::default();
        scan.feed(&json[..offset]);
        StoreError::json_at(
            scan.record_index(),
            format!("the input is not valid UTF-8 (invalid byte at offset {offset})"),
        )
    })?;

    // The index of the record being parsed, so errors serde_json raises inside it can name it.
    let current = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let records = deserializer
        .deserialize_seq(RecordsVisitor { current: &current })
        .and_then(|records| deserializer.end().map(|()| records))
        .map_err(|e| StoreError::json_at(current.get(), e.to_string()))?;

    check_structure(json)?;
    Ok(records)
}

/// Checks what serde_json does not, on an input serde_json has accepted: nesting of at most
/// [`MAX_DEPTH`] levels and no raw control character inside any string (keys included).
///
/// The scan only tracks strings and brackets, so it is exact for syntactically valid JSON,
/// which is why it runs after serde_json.
fn check_structure(json: &[u8]) -> Result<(), StoreError> {
    let mut scan = Scanner::default();
    for (offset, &byte) in json.iter().enumerate() {
        let problem = match scan.step(byte) {
            Ok(()) => continue,
            Err(problem) => problem,
        };
        let (line, column) = line_column(json, offset);
        let reason = match problem {
            Problem::TooDeep => {
                format!("nesting deeper than {MAX_DEPTH} levels at line {line} column {column}")
            }
            Problem::ControlCharacter => format!(
                "control character (\\u0000-\\u001F) found while parsing a string at line \
                 {line} column {column}"
            ),
        };
        return Err(StoreError::json_at(scan.record_index(), reason));
    }
    Ok(())
}

/// The one-based line and byte column of `offset`, as serde_json counts them.
fn line_column(json: &[u8], offset: usize) -> (usize, usize) {
    let before = &json[..offset];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - line_start + 1)
}

/// What [`Scanner::step`] refuses.
enum Problem {
    TooDeep,
    ControlCharacter,
}

/// A byte-level scan of JSON that tracks strings, nesting depth and the index of the current
/// element of the top-level array.
#[derive(Default)]
struct Scanner {
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Top-level commas seen so far: the index of the current top-level element.
    element: usize,
}

impl Scanner {
    fn step(&mut self, byte: u8) -> Result<(), Problem> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            } else if byte < 0x20 {
                return Err(Problem::ControlCharacter);
            }
            return Ok(());
        }
        match byte {
            b'"' => self.in_string = true,
            b'[' | b'{' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(Problem::TooDeep);
                }
            }
            b']' | b'}' => self.depth = self.depth.saturating_sub(1),
            b',' if self.depth == 1 => self.element += 1,
            _ => {}
        }
        Ok(())
    }

    /// Scans `bytes`, ignoring problems (used only to locate a position).
    fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            // Problems are irrelevant here; the caller reports its own.
            let _ = self.step(byte);
        }
    }

    /// The index of the top-level element the scan is inside, if it is inside one.
    fn record_index(&self) -> Option<usize> {
        (self.depth >= 2 || (self.depth == 1 && self.in_string)).then_some(self.element)
    }
}

/// Visits the top-level array.
struct RecordsVisitor<'a> {
    current: &'a Cell<Option<usize>>,
}

impl<'de> Visitor<'de> for RecordsVisitor<'_> {
    type Value = Vec<Record>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of {\"id\":…,\"name\":…} objects at the top level")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(record) = seq.next_element_seed(RecordSeed {
            index: records.len(),
            current: self.current,
        })? {
            records.push(record);
        }
        Ok(records)
    }
}

/// Deserializes the element at `index` of the top-level array.
struct RecordSeed<'a> {
    index: usize,
    current: &'a Cell<Option<usize>>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Record, D::Error> {
        self.current.set(Some(self.index));
        let record = deserializer.deserialize_map(RecordVisitor)?;
        self.current.set(None);
        Ok(record)
    }
}

/// Visits one record object.
struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object {\"id\":…,\"name\":…}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut id = None;
        let mut name = None;
        // Other keys, unescaped; created on the first one.
        let mut others: Option<HashSet<Vec<u8>>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Key::Id => {
                    if id.is_some() {
                        return Err(duplicate(b"id"));
                    }
                    id = Some(map.next_value::<IdValue>()?.0);
                }
                Key::Name => {
                    if name.is_some() {
                        return Err(duplicate(b"name"));
                    }
                    let value = map.next_value::<NameValue>()?.0;
                    if let Some(problem) = name_problem(&value) {
                        return Err(de::Error::custom(format_args!(
                            "\"name\" is not a valid name: {problem}"
                        )));
                    }
                    name = Some(value);
                }
                Key::Other(key) => {
                    let seen = others.get_or_insert_with(HashSet::new);
                    if seen.contains(&key) {
                        return Err(duplicate(&key));
                    }
                    seen.insert(key);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = id.ok_or_else(|| de::Error::custom("missing key \"id\""))?;
        let name = name.ok_or_else(|| de::Error::custom("missing key \"name\""))?;
        Ok(Record { id, name })
    }
}

/// The error for a key that occurs twice in one record.
fn duplicate<E: de::Error>(key: &[u8]) -> E {
    E::custom(format_args!(
        "duplicate key {:?}",
        String::from_utf8_lossy(key)
    ))
}

/// A key of a record object.
enum Key {
    Id,
    Name,
    /// Any other key, unescaped (an unpaired surrogate escape is kept as WTF-8).
    Other(Vec<u8>),
}

/// Reads a key as unescaped bytes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_bytes(KeySeed)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<Key, E> {
        Ok(match key {
            b"id" => Key::Id,
            b"name" => Key::Name,
            other => Key::Other(other.to_vec()),
        })
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        self.visit_bytes(key.as_bytes())
    }
}

/// The value of `"id"`: only a JSON integer `0..=i64::MAX` without sign, fraction or exponent.
struct IdValue(u64);

impl<'de> de::Deserialize<'de> for IdValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IdValue, D::Error> {
        deserializer.deserialize_u64(IdVisitor)
    }
}

/// Accepts only [`Visitor::visit_u64`] up to `i64::MAX`.
struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = IdValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"id\" to be an integer from 0 to 9223372036854775807")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<IdValue, E> {
        if i64::try_from(value).is_ok() {
            Ok(IdValue(value))
        } else {
            Err(E::custom(format_args!(
                "\"id\" {value} is too large (at most 9223372036854775807)"
            )))
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<IdValue, E> {
        // serde_json calls this only for negative integers.
        Err(E::custom(format_args!(
            "\"id\" must not be negative, got {value}"
        )))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<IdValue, E> {
        // serde_json calls this for a fraction, an exponent, -0, or an integer beyond u64.
        Err(E::custom(format_args!(
            "\"id\" must be written as an integer without sign, fraction or exponent \
             (got the number {value:?})"
        )))
    }
}

/// The value of `"name"`: a JSON string without unpaired surrogate escapes.
struct NameValue(Arc<str>);

impl<'de> de::Deserialize<'de> for NameValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<NameValue, D::Error> {
        deserializer.deserialize_string(NameVisitor)
    }
}

/// Accepts only strings.
struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = NameValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"name\" to be a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<NameValue, E> {
        Ok(NameValue(Arc::from(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Vec<Record>, StoreError> {
        parse_records(json.as_bytes())
    }

    fn record(id: u64, name: &str) -> Record {
        Record {
            id,
            name: Arc::from(name),
        }
    }

    fn error_index(json: &str) -> Option<usize> {
        match parse(json) {
            Err(StoreError::InvalidJson { index, .. }) => index,
            other => panic!("expected InvalidJson for {json:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_records_in_order() {
        assert_eq!(
            parse(r#" [ {"id":2,"name":"b"} , {"name":"a","id":1} ] "#),
            Ok(vec![record(2, "b"), record(1, "a")])
        );
        assert_eq!(parse("[]"), Ok(vec![]));
    }

    #[test]
    fn errors_name_the_record() {
        assert_eq!(
            error_index(r#"[{"id":1,"name":"a"},{"id":-1,"name":"a"}]"#),
            Some(1)
        );
        assert_eq!(error_index(r#"[{"id":1,"name":"a"},{"id":1}]"#), Some(1));
        assert_eq!(error_index(r#"[{"id":1,"name":"a"},1]"#), Some(1));
        assert_eq!(error_index(r#"[{"id":1,"name":"a","x":"\q"}]"#), Some(0));
        assert_eq!(
            error_index("[{\"id\":1,\"name\":\"a\",\"x\u{1}\":1}]"),
            Some(0)
        );
        assert_eq!(error_index(r#"[{"id":1,"name":"a"},]"#), None);
        assert_eq!(error_index(r#"{}"#), None);
        assert_eq!(error_index(r#"[] []"#), None);
    }

    #[test]
    fn invalid_utf8_names_the_record() {
        let err = parse_records(b"[{\"id\":1,\"name\":\"a\"},{\"x\":\"\xff\"}]").unwrap_err();
        assert_eq!(
            err,
            StoreError::json_at(
                Some(1),
                "the input is not valid UTF-8 (invalid byte at offset 27)"
            )
        );
    }

    #[test]
    fn error_messages_say_what_failed() {
        let message = parse(r#"[{"id":1,"name":"a"},{"id":-1,"name":"a"}]"#)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("record 1: \"id\" must not be negative"),
            "{message}"
        );
        let message = parse(r#"[{"id":1,"name":"a","\u0069d":2}]"#)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("record 0: duplicate key \"id\""),
            "{message}"
        );
        let message = parse(r#"[{"name":"a"}]"#).unwrap_err().to_string();
        assert!(
            message.starts_with("record 0: missing key \"id\""),
            "{message}"
        );
        let message = parse("[").unwrap_err().to_string();
        assert!(message.starts_with("invalid JSON: EOF"), "{message}");
    }

    #[test]
    fn depth_limit() {
        let nested = |levels: usize| {
            // The top-level array and the record object are two levels.
            let inner = levels - 2;
            format!(
                r#"[{{"id":1,"name":"a","x":{}{}}}]"#,
                "[".repeat(inner),
                "]".repeat(inner)
            )
        };
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(error_index(&nested(MAX_DEPTH + 1)), Some(0));
    }

    #[test]
    fn scanner_ignores_brackets_in_strings() {
        let json = format!(r#"[{{"id":1,"name":"{}","x":"\"[{{"}}]"#, "[".repeat(200));
        assert_eq!(parse(&json).unwrap(), vec![record(1, &"[".repeat(200))]);
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_column(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_column(b"ab\ncd", 4), (2, 2));
    }
}
