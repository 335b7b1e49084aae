//! Writing JSON: the "JSON written" section of `docs/RULES.md`.
//!
//! The output is byte for byte what `serde_json` writes (compact, no whitespace), produced
//! directly, without a fallible writer, into one of three [`Sink`]s: a growing `Vec<u8>`, a
//! counter (the length the JSON needs, nothing written), or a caller's fixed `&mut [u8]`.

use crate::core::name::MAX_NAME_CODE_POINTS;

/// The lowercase hex digits serde_json uses in `\u00XX` escapes.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Where the JSON writers put their bytes. Infallible: every sink takes every byte it is given.
pub(crate) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// A hint that about `additional` more bytes follow.
    fn reserve(&mut self, _additional: usize) {}
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional);
    }
}

/// Counts the bytes it is given and keeps none.
#[derive(Default)]
struct Counter(usize);

impl Sink for Counter {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// Writes into a fixed slice from its start. The caller makes sure everything fits (by counting
/// first); bytes past the end are counted in `at` but not written, so a mistake truncates
/// instead of panicking.
struct SliceSink<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at.saturating_add(bytes.len());
        if let Some(dest) = self.buf.get_mut(self.at..end) {
            dest.copy_from_slice(bytes);
        }
        self.at = end;
    }
}

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
    json_string(out, s);
}

/// [`write_json_string`] into any [`Sink`].
fn json_string(out: &mut impl Sink, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.put(b"\"");
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
        out.put(&bytes[start..i]);
        out.put(escape);
        start = i + 1;
    }
    out.put(&bytes[start..]);
    out.put(b"\"");
}

/// Appends `value` in decimal.
pub(crate) fn write_u64(out: &mut impl Sink, mut value: u64) {
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
    out.put(&digits[start..]);
}

/// Appends one user as `{"id":<id>,"name":"<escaped name>"}`.
pub(crate) fn write_user(out: &mut impl Sink, id: u64, name: &str) {
    out.put(b"{\"id\":");
    write_u64(out, id);
    out.put(b",\"name\":");
    json_string(out, name);
    out.put(b"}");
}

/// The longest JSON of one stored user: `{"id":` and `,"name":` and `}`, 20 digits, two quotes,
/// and at most 6 bytes per code point of the name (a `\u00XX` escape; UTF-8 takes at most 4).
pub(crate) const MAX_USER_JSON: usize = 6 + 20 + 8 + 2 + 6 * MAX_NAME_CODE_POINTS + 1;

/// Writes one user as [`write_user`] does at the start of `out` if it fits, and returns the
/// length of that JSON either way. When it does not fit, `out` is left untouched. A buffer of
/// at least [`MAX_USER_JSON`] bytes takes one pass; a smaller one has the length counted first,
/// without allocating.
pub(crate) fn write_user_into(out: &mut [u8], id: u64, name: &str) -> usize {
    if out.len() >= MAX_USER_JSON {
        // Every stored name fits (the store holds at most MAX_NAME_CODE_POINTS code points).
        let mut sink = SliceSink { buf: out, at: 0 };
        write_user(&mut sink, id, name);
        return sink.at;
    }
    let mut counter = Counter::default();
    write_user(&mut counter, id, name);
    let needed = counter.0;
    if needed <= out.len() {
        let mut sink = SliceSink { buf: out, at: 0 };
        write_user(&mut sink, id, name);
        debug_assert_eq!(sink.at, needed);
    }
    needed
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
    fn user_into_a_slice_writes_only_what_fits_whole() {
        let name = "a\"b\u{1}é";
        let mut expected = Vec::new();
        write_user(&mut expected, 42, name);
        for len in [0, 1, expected.len() - 1] {
            let mut out = vec![b'#'; len];
            assert_eq!(write_user_into(&mut out, 42, name), expected.len());
            assert!(out.iter().all(|&b| b == b'#'), "untouched at {len}");
        }
        let mut out = vec![b'#'; expected.len() + 3];
        assert_eq!(write_user_into(&mut out, 42, name), expected.len());
        assert_eq!(&out[..expected.len()], &expected[..]);
        assert_eq!(&out[expected.len()..], b"###");
        // A buffer of MAX_USER_JSON bytes takes the one-pass path, with the same bytes.
        let mut out = vec![b'#'; MAX_USER_JSON];
        assert_eq!(write_user_into(&mut out, 42, name), expected.len());
        assert_eq!(&out[..expected.len()], &expected[..]);
        // The longest stored user (max id, 256 escaped control characters) fits it.
        let longest = "\u{1}".repeat(MAX_NAME_CODE_POINTS);
        let mut full = Vec::new();
        write_user(&mut full, u64::MAX, &longest);
        assert!(
            full.len() <= MAX_USER_JSON,
            "{} > {MAX_USER_JSON}",
            full.len()
        );
    }

    #[test]
    fn user_object() {
        let mut out = b"x".to_vec();
        write_user(&mut out, 7, "a\"b");
        assert_eq!(out, br#"x{"id":7,"name":"a\"b"}"#);
    }
}
