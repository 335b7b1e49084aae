//! Reading requests the way the Kotlin service (Ktor) does: path and query percent-decoding, the
//! `{id}` segment, and the `PUT` body `{"name":"…"}`. Pure functions, no I/O.
//!
//! Every message here is the Kotlin service's own text (`kotlin-service/.../Requests.kt`), so a
//! client sees the same answer from either service.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// The largest request body read: 64 KiB. A larger one is answered 413 and not parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The message of a 413.
pub const TOO_LARGE: &str = "request body larger than 65536 bytes";

/// The message of a body that is not UTF-8.
pub const NOT_UTF8: &str = "request body is not valid UTF-8";

/// The message of a blank body.
pub const MISSING_BODY: &str = "missing request body: expected {\"name\":\"…\"}";

/// The prefix of a malformed body's message; the JSON parser's first line follows.
pub const INVALID_BODY_PREFIX: &str = "invalid body, expected {\"name\":\"…\"}: ";

/// The message of `GET /users` without `name`.
pub const MISSING_NAME_PARAMETER: &str = "missing query parameter name: GET /users?name=…";

/// The message of a query string with a broken percent escape (Ktor's wording).
pub const BAD_QUERY: &str = "Unable to decode query parameters";

/// The most characters (UTF-16 units, as Kotlin's `take`) of a bad id quoted in a message.
const ID_QUOTE_UNITS: usize = 40;

/// Percent-decodes `s` as Ktor's `decodeURLPart`/`decodeURLQueryComponent` do: `%XX` becomes the
/// byte `XX`, a `%` without two hex digits is an error, `+` becomes a space when `plus_is_space`
/// (query components), and the bytes are read as UTF-8 with U+FFFD for malformed sequences.
/// Borrows `s` when there is nothing to decode.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Result<Cow<'_, str>, BadEscape> {
    let bytes = s.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|&b| hex_value(b));
                let lo = bytes.get(i + 2).and_then(|&b| hex_value(b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(BadEscape),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(Cow::Owned(match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => java_lossy_utf8(e.as_bytes()),
    }))
}

/// `bytes` as UTF-8 with U+FFFD for what is malformed, as the JDK decodes (which Ktor uses): like
/// Rust's lossy decoding, except that an encoded surrogate (`ED A0..BF xx`) is one U+FFFD, not three.
fn java_lossy_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                let skip = match after {
                    [0xED, 0xA0..=0xBF, 0x80..=0xBF, ..] => 3,
                    _ => e.error_len().unwrap_or(after.len()),
                };
                rest = &after[skip..];
            }
        }
    }
    out
}

/// A `%` not followed by two hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadEscape;

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// True if every `%` of the query string is a valid escape: Ktor answers 400 [`BAD_QUERY`] for a
/// matched route whose query it cannot decode.
pub fn query_is_decodable(query: Option<&str>) -> bool {
    let Some(query) = query else { return true };
    let bytes = query.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'%') {
        let at = i + offset;
        let valid = bytes.get(at + 1).and_then(|&b| hex_value(b)).is_some()
            && bytes.get(at + 2).and_then(|&b| hex_value(b)).is_some();
        if !valid {
            return false;
        }
        i = at + 3;
    }
    true
}

/// The first `name` parameter of the query string, decoded (`+` is a space); `None` if there is
/// none. `name` without `=` is the empty string, as in Ktor.
pub fn query_name(query: Option<&str>) -> Result<Option<String>, BadEscape> {
    let Some(query) = query else { return Ok(None) };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(key, true)? == "name" {
            return Ok(Some(percent_decode(value, true)?.into_owned()));
        }
    }
    Ok(None)
}

/// The decoded `{id}` path segment as a store id, by Kotlin's `parseId` rules: ASCII decimal
/// digits only (leading zeros allowed), at most `i64::MAX`. The error is the 400 message.
pub fn parse_id(segment: &str) -> Result<i64, String> {
    if segment.is_empty() {
        return Err("missing user id".to_owned());
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = segment.strip_prefix('-') {
        if !rest.is_empty() && all_digits(rest) {
            return Err(format!(
                "invalid id {segment}: an id must be in 0..{}",
                i64::MAX
            ));
        }
    }
    if !all_digits(segment) {
        return Err(format!(
            "invalid id '{}': an id is a decimal number",
            take_utf16(segment, ID_QUOTE_UNITS)
        ));
    }
    segment.parse::<i64>().map_err(|_| {
        format!(
            "invalid id {}: an id must be in 0..{}",
            take_utf16(segment, ID_QUOTE_UNITS),
            i64::MAX
        )
    })
}

/// The longest prefix of `s` of at most `units` UTF-16 code units (Kotlin's `String.take`), never
/// splitting a character: where Kotlin would keep half a surrogate pair, that half is left out.
fn take_utf16(s: &str, units: usize) -> &str {
    let mut count = 0;
    for (at, c) in s.char_indices() {
        count += c.len_utf16();
        if count > units {
            return &s[..at];
        }
    }
    s
}

/// Kotlin's `Char.isWhitespace` (Java's `isWhitespace || isSpaceChar`), which `String.isBlank`
/// uses: unlike Rust's, it includes U+001C..U+001F and excludes U+0085.
fn kotlin_is_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0B}'
            | '\u{0C}'
            | '\r'
            | '\u{1C}'..='\u{1F}'
            | ' '
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

/// What a `PUT` body yields: the name's UTF-8 bytes for the store, or a 400 message.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body is refused before the store sees it: this message, status 400.
    Refused(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Refused(message) => f.write_str(message),
        }
    }
}

/// The name in a `PUT` body `{"name":"…"}`, as UTF-8 bytes for the store (which checks its
/// length). Mirrors Kotlin's `parsePutBody` with kotlinx.serialization's strict `Json`: UTF-8,
/// not blank, one JSON object whose only key is `name` (it may repeat: the last wins) with a
/// string value, nothing after it. A name holding an unpaired surrogate escape (`"\ud800"`)
/// is refused with the message both JVM stores give (`invalid name: unpaired surrogate U+D800 at
/// index 0`: the index in UTF-16 units, as the JVM counts).
pub fn parse_put_body(body: &[u8]) -> Result<Vec<u8>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::Refused(NOT_UTF8.to_owned()))?;
    if text.chars().all(kotlin_is_whitespace) {
        return Err(BodyError::Refused(MISSING_BODY.to_owned()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let name = deserializer
        .deserialize_map(BodyVisitor)
        .and_then(|name| deserializer.end().map(|()| name))
        .map_err(|e| {
            let message = e.to_string();
            let first = message.lines().next().unwrap_or("malformed JSON");
            BodyError::Refused(format!("{INVALID_BODY_PREFIX}{}", take_chars(first, 200)))
        })?;
    match std::str::from_utf8(&name) {
        Ok(_) => Ok(name),
        Err(_) => match unpaired_surrogate(&name) {
            Some((unit, index)) => Err(BodyError::Refused(format!(
                "invalid name: unpaired surrogate U+{unit:04X} at index {index}"
            ))),
            // Not reached (the body was UTF-8, so only escapes can make it invalid, and those
            // are surrogates); the store refuses the bytes with its own message then.
            None => Ok(name),
        },
    }
}

fn take_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// The first unpaired surrogate in `wtf8` (serde_json's bytes for a string with unpaired
/// surrogate escapes: generalized UTF-8, where every encoded surrogate is unpaired) and its
/// index in UTF-16 units, as the JVM counts it.
fn unpaired_surrogate(wtf8: &[u8]) -> Option<(u32, usize)> {
    let mut index = 0;
    let mut i = 0;
    while i < wtf8.len() {
        let lead = wtf8[i];
        let (len, initial) = match lead {
            0x00..=0x7F => (1, u32::from(lead)),
            0xC0..=0xDF => (2, u32::from(lead & 0x1F)),
            0xE0..=0xEF => (3, u32::from(lead & 0x0F)),
            _ => (4, u32::from(lead & 0x07)),
        };
        let mut cp = initial;
        for &b in wtf8.get(i + 1..i + len)? {
            cp = cp << 6 | u32::from(b & 0x3F);
        }
        if (0xD800..=0xDFFF).contains(&cp) {
            return Some((cp, index));
        }
        index += if cp >= 0x1_0000 { 2 } else { 1 };
        i += len;
    }
    None
}

/// The `PUT` body object: only the key `name`, any number of times, with a string value.
struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {\"name\":\"…\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<u8>, A::Error> {
        let mut name = None;
        while map.next_key_seed(KeySeed)?.is_some() {
            name = Some(map.next_value_seed(NameSeed)?);
        }
        name.ok_or_else(|| de::Error::missing_field("name"))
    }
}

/// A key of the body object: `name` (escapes decoded, as kotlinx does) or an error naming it.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_bytes(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the key \"name\"")
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<(), E> {
        if key == b"name" {
            Ok(())
        } else {
            Err(E::custom(format_args!(
                "unknown key '{}'",
                String::from_utf8_lossy(key)
            )))
        }
    }
}

/// The value of `name`: a JSON string, read as bytes so that an unpaired surrogate escape
/// reaches the check above instead of failing as a syntax error, and raw control characters
/// are let through (kotlinx accepts both; the store then judges the name).
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Vec<u8>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_bytes(NameVisitor)
    }
}

struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"name\" to be a string")
    }

    fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<Vec<u8>, E> {
        Ok(name.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, name: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn refused(body: &str) -> String {
        match parse_put_body(body.as_bytes()) {
            Err(BodyError::Refused(message)) => message,
            Ok(name) => panic!("{body:?} was accepted as {name:?}"),
        }
    }

    #[test]
    fn ids_follow_parse_id() {
        assert_eq!(parse_id("7"), Ok(7));
        assert_eq!(parse_id("0007"), Ok(7));
        assert_eq!(parse_id(&format!("{}7", "0".repeat(30))), Ok(7));
        assert_eq!(parse_id("9223372036854775807"), Ok(i64::MAX));
        let range = "an id must be in 0..9223372036854775807";
        assert_eq!(parse_id("-5"), Err(format!("invalid id -5: {range}")));
        assert_eq!(parse_id("-0"), Err(format!("invalid id -0: {range}")));
        let long_negative = format!("-{}", "9".repeat(60));
        assert_eq!(
            parse_id(&long_negative),
            Err(format!("invalid id {long_negative}: {range}"))
        );
        assert_eq!(
            parse_id("9223372036854775808"),
            Err(format!("invalid id 9223372036854775808: {range}"))
        );
        assert_eq!(
            parse_id(&"9".repeat(60)),
            Err(format!("invalid id {}: {range}", "9".repeat(40)))
        );
        for bad in ["abc", "-", "--1", "+1", "1.5", " 1", "€", "\u{FF11}"] {
            assert_eq!(
                parse_id(bad),
                Err(format!("invalid id '{bad}': an id is a decimal number"))
            );
        }
        assert_eq!(
            parse_id(&"x".repeat(50)),
            Err(format!(
                "invalid id '{}': an id is a decimal number",
                "x".repeat(40)
            ))
        );
        // 39 units, then a pair: Kotlin's take(40) would keep half of it; it is left out.
        let split = format!("{}😀z", "a".repeat(39));
        assert_eq!(
            parse_id(&split),
            Err(format!(
                "invalid id '{}': an id is a decimal number",
                "a".repeat(39)
            ))
        );
    }

    #[test]
    fn percent_decoding_is_ktors() {
        assert_eq!(percent_decode("a%20b", false).as_deref(), Ok("a b"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Ok("a+b"));
        assert_eq!(percent_decode("a+b", true).as_deref(), Ok("a b"));
        assert_eq!(percent_decode("%C3%A9", false).as_deref(), Ok("é"));
        assert_eq!(percent_decode("%FF", false).as_deref(), Ok("\u{FFFD}"));
        assert_eq!(
            percent_decode("%ED%A0%80", false).as_deref(),
            Ok("\u{FFFD}")
        );
        assert_eq!(
            percent_decode("%F0%9F%98", false).as_deref(),
            Ok("\u{FFFD}")
        );
        assert_eq!(
            percent_decode("a%C0%AFb", false).as_deref(),
            Ok("a\u{FFFD}\u{FFFD}b")
        );
        assert_eq!(percent_decode("%", false), Err(BadEscape));
        assert_eq!(percent_decode("%2", false), Err(BadEscape));
        assert_eq!(percent_decode("%zz", false), Err(BadEscape));
        assert!(query_is_decodable(None));
        assert!(query_is_decodable(Some("name=a%20b&x")));
        assert!(!query_is_decodable(Some("x=%zz&name=a")));
        assert!(!query_is_decodable(Some("name=a%2")));
    }

    #[test]
    fn the_first_name_parameter_counts() {
        assert_eq!(query_name(None), Ok(None));
        assert_eq!(query_name(Some("nam=x")), Ok(None));
        assert_eq!(query_name(Some("name")), Ok(Some(String::new())));
        assert_eq!(
            query_name(Some("x=1&name=a+b%26c&name=z")),
            Ok(Some("a b&c".into()))
        );
        assert_eq!(query_name(Some("n%61me=q")), Ok(Some("q".into())));
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_put_body(br#"{"name":"Ada"}"#), Ok(b"Ada".to_vec()));
        assert_eq!(
            parse_put_body(b" \n\t{ \"name\" : \"x\" } \r\n"),
            Ok(b"x".to_vec())
        );
        assert_eq!(
            parse_put_body(br#"{"name":"a","name":"b"}"#),
            Ok(b"b".to_vec())
        );
        assert_eq!(parse_put_body(br#"{"\u006eame":"a"}"#), Ok(b"a".to_vec()));
        assert_eq!(
            parse_put_body(b"{\"name\":\"a\tb\x01\"}"),
            Ok(b"a\tb\x01".to_vec())
        );
        assert_eq!(
            parse_put_body(br#"{"name":"\ud83d\ude00\u0000"}"#),
            Ok("😀\0".as_bytes().to_vec())
        );
        // The store judges emptiness and length.
        assert_eq!(parse_put_body(br#"{"name":""}"#), Ok(Vec::new()));
        assert_eq!(
            parse_put_body(br#"{"name":"\ud800","name":"ok"}"#),
            Ok(b"ok".to_vec())
        );
    }

    #[test]
    fn refused_bodies() {
        assert_eq!(refused(""), MISSING_BODY);
        assert_eq!(refused(" \r\n\t\u{A0}\u{1C}"), MISSING_BODY);
        assert!(refused("\u{85}").starts_with(INVALID_BODY_PREFIX));
        assert_eq!(
            parse_put_body(b"{\"name\":\"caf\xE9\"}"),
            Err(BodyError::Refused(NOT_UTF8.into()))
        );
        for bad in [
            "{",
            "}",
            "garbage",
            "[]",
            "null",
            "\"name\"",
            r#"{"name":"a",}"#,
            r#"{"name":'a'}"#,
            r#"{name:"a"}"#,
            r#"{"name":"a""#,
            r#"{"name":"a\x"}"#,
            r#"{"name":"\u12"}"#,
            "{}",
            r#"{"nam":"a"}"#,
            r#"{"NAME":"a"}"#,
            r#"{"name":null}"#,
            r#"{"name":5}"#,
            r#"{"name":true}"#,
            r#"{"name":["a"]}"#,
            r#"{"name":[97]}"#,
            r#"{"name":{"first":"a"}}"#,
            r#"{"name":"a","extra":1}"#,
            r#"{"extra":1,"name":"a"}"#,
            r#"{"name":"\ud800","x":1}"#,
            r#"{"name":"a"} x"#,
            r#"{"name":"a"}{}"#,
            r#"{"name":"a"},"#,
            "\u{FEFF}{\"name\":\"a\"}",
            "{\"name\":\"a\"}\u{A0}",
        ] {
            let message = refused(bad);
            assert!(message.starts_with(INVALID_BODY_PREFIX), "{bad}: {message}");
            assert!(!message.contains('\n'), "{bad}: {message}");
        }
    }

    #[test]
    fn unpaired_surrogates_are_named_with_their_utf16_index() {
        let cases = [
            (r#"{"name":"\ud800"}"#, "U+D800 at index 0"),
            (r#"{"name":"\uD800"}"#, "U+D800 at index 0"),
            (r#"{"name":"x\udc00"}"#, "U+DC00 at index 1"),
            (r#"{"name":"\ude00\ud83d"}"#, "U+DE00 at index 0"),
            (r#"{"name":"\ud83d\ude00\ud800"}"#, "U+D800 at index 2"),
            (r#"{"name":"é😀\ud800\u0041"}"#, "U+D800 at index 3"),
        ];
        for (body, expected) in cases {
            assert_eq!(
                refused(body),
                format!("invalid name: unpaired surrogate {expected}"),
                "{body}"
            );
        }
    }
}
