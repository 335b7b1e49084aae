//! Encodings shared by both bindings (JNI in `jni.rs`, the C ABI in `ffi.rs`): how a name is
//! written into the caller's buffer so the JVM builds its `String` with the least work, how a
//! batch's puts arrive ([`read_puts`]) and how a page of [`Store::scan`] leaves
//! ([`write_page`]). The JVM side of the last two is `NativeWire` (Kotlin).
//!
//! Hand-written rather than a serialisation library: each is a flat run of fixed-size
//! little-endian fields and bytes that the Kotlin side reads and writes with a `ByteBuffer`; a
//! library would add a dependency to both sides for a dozen lines each.

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

/// A batch's puts as the JVM encodes them (`NativeWire.encodePuts`): back to back, per user, its
/// id (`i64`, little-endian), the byte length `n` of its name (`i32`, little-endian) and the
/// name's `n` bytes of UTF-8 (not validated here: the core does it). Borrows the names.
///
/// # Errors
/// A description of the first malformed entry (a bug on the JVM side, not bad input).
pub(crate) fn read_puts(mut wire: &[u8]) -> Result<Vec<(i64, &[u8])>, String> {
    let mut puts = Vec::new();
    let whole = wire.len();
    while !wire.is_empty() {
        let at = whole - wire.len();
        let (Some(id), Some(len)) = (wire.get(..8), wire.get(8..12)) else {
            return Err(format!("batch wire: entry at byte {at} is cut short"));
        };
        let id = i64::from_le_bytes(id.try_into().map_err(|_| "batch wire: id".to_owned())?);
        let len = i32::from_le_bytes(len.try_into().map_err(|_| "batch wire: len".to_owned())?);
        let name = usize::try_from(len)
            .ok()
            .and_then(|n| wire.get(12..12 + n))
            .ok_or_else(|| format!("batch wire: entry at byte {at} has a bad length {len}"))?;
        puts.push((id, name));
        wire = &wire[12 + name.len()..];
    }
    Ok(puts)
}

/// A page of `store.scan_utf8_with(from, limit)` in the form the JVM reads
/// (`NativeWire.decodePage`): per user in id order, its id (`i64`, little-endian), its name's
/// length word (`i32`, little-endian, as [`write_name`]: the byte count, plus [`LATIN1`] for
/// Latin-1 bytes) and the name's bytes.
///
/// # Errors
/// [`StoreError::InvalidId`] if `from` is negative.
pub(crate) fn write_page(store: &Store, from: i64, limit: usize) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    store.scan_utf8_with(from, limit, |id, name| {
        out.extend_from_slice(&id.to_le_bytes());
        let word_at = out.len();
        out.resize(word_at + 4 + name.len(), 0);
        let word = write_name(name, &mut out[word_at + 4..]);
        out[word_at..word_at + 4].copy_from_slice(&word.to_le_bytes());
        // Latin-1 may be shorter than the UTF-8 room reserved for it.
        out.truncate(word_at + 4 + (word & (LATIN1 - 1)) as usize);
    })?;
    Ok(out)
}

/// `StoreStats` as the JVM reads it, [`crate::abi::STATS_FIELDS`] values: users, table bytes,
/// durable (1 or 0), the current log's bytes and the checkpoints since open (both 0 for a store
/// that is not durable).
pub(crate) fn stats_of(store: &Store) -> [i64; crate::abi::STATS_FIELDS as usize] {
    let log = store.log_stats();
    [
        store.len(),
        store.table_bytes(),
        u64::from(log.is_some()),
        log.map_or(0, |l| l.log_bytes),
        log.map_or(0, |l| l.checkpoints),
    ]
    .map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::{read_puts, stats_of, write_name, write_page, LATIN1};
    use crate::core::Store;

    #[test]
    fn puts_are_read_from_the_wire() {
        let mut wire = Vec::new();
        for (id, name) in [(7i64, "Zoë"), (-1, ""), (i64::MAX, "日本")] {
            wire.extend_from_slice(&id.to_le_bytes());
            wire.extend_from_slice(&(name.len() as i32).to_le_bytes());
            wire.extend_from_slice(name.as_bytes());
        }
        let puts = read_puts(&wire).unwrap();
        assert_eq!(
            puts,
            vec![
                (7, "Zoë".as_bytes()),
                (-1, &b""[..]),
                (i64::MAX, "日本".as_bytes())
            ]
        );
        assert_eq!(read_puts(&[]).unwrap(), vec![]);
        assert!(read_puts(&wire[..wire.len() - 1]).is_err());
        assert!(read_puts(&wire[..5]).is_err());
        let mut negative = 1i64.to_le_bytes().to_vec();
        negative.extend_from_slice(&(-2i32).to_le_bytes());
        assert!(read_puts(&negative).unwrap_err().contains("bad length -2"));
    }

    #[test]
    fn a_page_is_ids_and_length_words_and_names() {
        let store = Store::new();
        store.put(9, "日本".as_bytes()).unwrap();
        store.put(2, "Zoë".as_bytes()).unwrap();
        store.put(5, b"Al").unwrap();
        let page = write_page(&store, 2, 2).unwrap();
        let mut expected = 2i64.to_le_bytes().to_vec();
        expected.extend_from_slice(&(3 | LATIN1).to_le_bytes());
        expected.extend_from_slice(&[b'Z', b'o', 0xEB]);
        expected.extend_from_slice(&5i64.to_le_bytes());
        expected.extend_from_slice(&(2 | LATIN1).to_le_bytes());
        expected.extend_from_slice(b"Al");
        assert_eq!(page, expected);
        let last = write_page(&store, 6, 10).unwrap();
        assert_eq!(last.len(), 8 + 4 + 6);
        assert_eq!(&last[8..12], &6i32.to_le_bytes());
        assert_eq!(&last[12..], "日本".as_bytes());
        assert!(write_page(&store, 10, 10).unwrap().is_empty());
        assert!(write_page(&store, -1, 10).is_err());
        let stats = stats_of(&store);
        assert_eq!((stats[0], stats[2], stats[3], stats[4]), (3, 0, 0, 0));
        assert_eq!(stats[1] as u64, store.table_bytes());
    }

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
