//! Encodings shared by both bindings (JNI in `jni.rs`, the C ABI in `ffi.rs`): how a name is
//! written into the caller's buffer so the JVM builds its `String` with the least work.

use std::borrow::Borrow;

use crate::core::{Store, StoreError};

pub(crate) use crate::abi::LATIN1;

/// The size of the buffer a name may need ([`crate::abi::NAME_BUFFER_BYTES`]), as a length.
pub(crate) const NAME_BUFFER_BYTES: usize = crate::abi::NAME_BUFFER_BYTES as usize;

/// Writes the stored name `utf8` at the start of `out` and returns its length word: the byte
/// count, with [`LATIN1`] set when every character is at most U+00FF and the bytes written are
/// Latin-1 (so the JVM builds the String with a plain copy, no UTF-8 decoding). `out` must hold
/// `utf8.len()` bytes.
pub(crate) fn write_name(utf8: &[u8], out: &mut [u8]) -> i32 {
    if utf8.is_ascii() {
        out[..utf8.len()].copy_from_slice(utf8);
        return utf8.len() as i32 | LATIN1;
    }
    match std::str::from_utf8(utf8) {
        // Every char below U+0100: each two-byte sequence becomes one byte, ASCII stays.
        Ok(name) if name.chars().all(|c| (c as u32) < 0x100) => {
            let mut n = 0;
            for c in name.chars() {
                out[n] = c as u32 as u8;
                n += 1;
            }
            n as i32 | LATIN1
        }
        _ => {
            out[..utf8.len()].copy_from_slice(utf8);
            utf8.len() as i32
        }
    }
}

/// Looks up `ids` in `store` (one batched lookup) and writes into `out`, per id in order, a
/// native-order `i32` length word (see [`write_name`]; -1 when missing) followed by the name's
/// bytes. Returns the bytes the entries need: more than `out.len()` means they are incomplete and
/// the caller retries with a larger buffer. Allocates nothing.
///
/// # Errors
/// [`StoreError::InvalidId`] for the first negative id (nothing is looked up).
pub(crate) fn write_entries<I>(store: &Store, ids: I, out: &mut [u8]) -> Result<usize, StoreError>
where
    I: IntoIterator,
    I::Item: Borrow<i64>,
    I::IntoIter: Clone,
{
    let (mut at, mut fits) = (0usize, true);
    store.get_many_utf8_with(ids, |_, name| {
        let need = 4 + name.map_or(0, <[u8]>::len);
        if fits && at + need <= out.len() {
            let word = name.map_or(-1, |n| write_name(n, &mut out[at + 4..]));
            out[at..at + 4].copy_from_slice(&word.to_ne_bytes());
            // Latin-1 may be shorter than the UTF-8 room reserved for it.
            at += 4 + name.map_or(0, |_| (word & (LATIN1 - 1)) as usize);
        } else {
            // Out of room: count what the whole answer needs (UTF-8 sizes, an upper bound).
            fits = false;
            at = at.saturating_add(need);
        }
    })?;
    Ok(if fits { at } else { at.max(out.len() + 1) })
}

#[cfg(test)]
mod tests {
    use super::{write_name, LATIN1};

    fn written(name: &str) -> (i32, Vec<u8>) {
        let mut out = [0u8; 64];
        let word = write_name(name.as_bytes(), &mut out);
        (word, out[..(word & (LATIN1 - 1)) as usize].to_vec())
    }

    #[test]
    fn ascii_names_are_latin1_as_they_are() {
        assert_eq!(written("Ada\0"), (4 | LATIN1, b"Ada\0".to_vec()));
    }

    #[test]
    fn names_below_u0100_become_one_byte_per_char() {
        assert_eq!(
            written("Zoë ÿ"),
            (5 | LATIN1, vec![b'Z', b'o', 0xEB, b' ', 0xFF])
        );
    }

    #[test]
    fn other_names_stay_utf8() {
        for name in ["ĀB", "日本", "a😀", "é😀"] {
            assert_eq!(written(name), (name.len() as i32, name.as_bytes().to_vec()));
        }
    }
}
