//! Writing JSON: the "JSON written" section of `docs/RULES.md`.
//!
//! The output is byte for byte what `serde_json` writes (compact, no whitespace), produced
//! directly into a `Vec<u8>` without a fallible writer.

/// The lowercase hex digits serde_json uses in `\u00XX` escapes.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal, quotes included, escaped exactly as serde_json does:
/// `"` → `\"`, `\` → `\\`, U+0008 → `\b`, U+000C → `\f`, U+000A → `\n`, U+000D → `\r`,
/// U+0009 → `\t`, every other code point below U+0020 → `\u00XX` (lowercase hex). Everything
/// else, `/`, U+007F and non-ASCII included, is copied as UTF-8.
///
/// ```
/// let mut out = Vec::new();
/// userstore::core::write_json_string(&mut out, "a\"b\u{1}/😀");
/// assert_eq!(out, "\"a\\\"b\\u0001/😀\"".as_bytes());
/// ```
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Bytes of multi-byte UTF-8 sequences are all >= 0x80, so escaping byte by byte is exact.
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0C => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1F => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0x0F)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `value` in decimal.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20]; // u64::MAX has 20 digits
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Appends one user as `{"id":<id>,"name":"<escaped name>"}`.
pub(crate) fn write_user(out: &mut Vec<u8>, id: u64, name: &str) {
    out.extend_from_slice(b"{\"id\":");
    write_u64(out, id);
    out.extend_from_slice(b",\"name\":");
    write_json_string(out, name);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, s);
        String::from_utf8(out).expect("the output is UTF-8")
    }

    #[test]
    fn short_escapes() {
        assert_eq!(string("\"\\\u{8}\u{c}\n\r\t"), r#""\"\\\b\f\n\r\t""#);
    }

    #[test]
    fn other_control_characters_use_lowercase_hex() {
        assert_eq!(string("\0"), r#""\u0000""#);
        assert_eq!(string("\u{1}\u{b}\u{1f}"), r#""\u0001\u000b\u001f""#);
    }

    #[test]
    fn everything_else_is_copied() {
        assert_eq!(string("/\u{7f} é😀\u{fffd}"), "\"/\u{7f} é😀\u{fffd}\"");
        assert_eq!(string(""), "\"\"");
    }

    #[test]
    fn matches_serde_json_for_every_scalar_value() {
        let all: String = (0..=0x10FFFFu32).filter_map(char::from_u32).collect();
        assert_eq!(string(&all), serde_json::to_string(&all).unwrap());
        // And each character on its own, with neighbours, for the short-string paths.
        for c in (0..0x100u32).filter_map(char::from_u32) {
            let s = format!("a{c}b{c}");
            assert_eq!(
                string(&s),
                serde_json::to_string(&s).unwrap(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn decimal_ids() {
        for value in [0, 1, 9, 10, 99, 100, 12345, i64::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, value);
            assert_eq!(out, value.to_string().as_bytes());
        }
    }

    #[test]
    fn user_object() {
        let mut out = b"x".to_vec();
        write_user(&mut out, 7, "a\"b");
        assert_eq!(out, br#"x{"id":7,"name":"a\"b"}"#);
    }
}
