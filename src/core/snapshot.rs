//! Snapshots: the whole store in one checksummed binary file (`docs/SNAPSHOT.md`, version 1).
//!
//! This module only encodes and decodes bytes (and reads or replaces a whole file); it never
//! sees a store. [`Store::save`](crate::core::Store::save) encodes one consistent view of the
//! store with an [`Encoder`] and replaces the target file atomically (temporary file in the same
//! directory, `fsync`, rename, `fsync` of the directory).
//! [`Store::open`](crate::core::Store::open) reads a whole file and checks its length, magic,
//! version, checksum and every record ([`users_of`]) before it builds the store, so nothing is
//! ever loaded partially. The Kotlin store implements the same format; the two write
//! byte-identical files for the same content.

use std::fs;
use std::io;
use std::path::Path;

use crate::core::bytes::{u32_at, u64_at, write_atomically};
use crate::core::error::StoreError;
use crate::core::name::name_problem;

/// The first 8 bytes of every snapshot: `\x89USNAP\r\n`.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"\x89USNAP\r\n";

/// The format version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Header: magic, version, flags, total length, user count.
const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 8;

/// The trailing CRC-32.
const CRC_LEN: usize = 4;

/// The smallest snapshot: an empty store.
const MIN_LEN: usize = HEADER_LEN + CRC_LEN;

/// A record without its name: id and name length.
const RECORD_FIXED_LEN: usize = 8 + 2;

/// The most UTF-8 bytes a valid name takes (256 code points of 4 bytes).
const MAX_NAME_BYTES: usize = 1024;

/// Writes a snapshot: the header, then one [`Encoder::push`] per user in ascending id order,
/// then [`Encoder::finish`] patches the header and appends the CRC-32.
pub(crate) struct Encoder {
    out: Vec<u8>,
    count: u64,
}

impl Encoder {
    /// A snapshot with no user yet.
    pub(crate) fn new() -> Encoder {
        let mut out = Vec::new();
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        // Total length and count are patched in once the records are written.
        out.extend_from_slice(&[0; 16]);
        Encoder { out, count: 0 }
    }

    /// Appends the valid user `id`, `name` (ids must come in ascending order).
    pub(crate) fn push(&mut self, id: u64, name: &str) {
        self.out.extend_from_slice(&id.to_le_bytes());
        // A valid name holds at most MAX_NAME_BYTES bytes.
        self.out
            .extend_from_slice(&(name.len() as u16).to_le_bytes());
        self.out.extend_from_slice(name.as_bytes());
        self.count += 1;
    }

    /// The whole snapshot (header, records, CRC-32).
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = self.out;
        let total = (out.len() + CRC_LEN) as u64;
        out[16..24].copy_from_slice(&total.to_le_bytes());
        out[24..32].copy_from_slice(&self.count.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// Replaces the file at `path` with the snapshot `bytes`, atomically: the file holds either its
/// previous content or the complete new snapshot, even if the process dies or the machine loses
/// power meanwhile.
///
/// # Errors
/// [`StoreError::SnapshotIo`] naming `path` if anything fails; the target is then untouched and
/// no temporary file remains.
pub(crate) fn save(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_atomically(path, bytes).map_err(|e| StoreError::SnapshotIo {
        path: path.to_owned(),
        reason: format!("cannot save: {e}"),
    })
}

/// The bytes of the file at `path`.
///
/// # Errors
/// [`StoreError::SnapshotMissing`] if the file does not exist, [`StoreError::SnapshotIo`] if it
/// cannot be read.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::SnapshotMissing {
            path: path.to_owned(),
        },
        _ => StoreError::SnapshotIo {
            path: path.to_owned(),
            reason: format!("cannot read: {e}"),
        },
    })
}

/// The users of the snapshot `bytes` read from `path`, ascending by id, every check of
/// `docs/SNAPSHOT.md` passed; borrowed from `bytes`.
///
/// # Errors
/// [`StoreError::SnapshotCorrupt`] naming `path` and what is wrong.
pub(crate) fn users_of<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<Vec<(u64, &'a str)>, StoreError> {
    parse(bytes).map_err(|reason| StoreError::SnapshotCorrupt {
        path: path.to_owned(),
        reason,
    })
}

/// Checks a whole snapshot and returns its users, or what is wrong with it.
fn parse(bytes: &[u8]) -> Result<Vec<(u64, &str)>, String> {
    let len = bytes.len();
    let magic_len = len.min(SNAPSHOT_MAGIC.len());
    if bytes[..magic_len] != SNAPSHOT_MAGIC[..magic_len] {
        return Err("not a userstore snapshot (wrong magic bytes)".to_owned());
    }
    if len < MIN_LEN {
        return Err(format!(
            "truncated: {len} bytes, a snapshot has at least {MIN_LEN}"
        ));
    }
    let version = u32_at(bytes, 8);
    if version != SNAPSHOT_VERSION {
        return Err(format!(
            "unsupported format version {version} (this build reads version {SNAPSHOT_VERSION})"
        ));
    }
    let flags = u32_at(bytes, 12);
    if flags != 0 {
        return Err(format!("unknown flags 0x{flags:08x}"));
    }
    let total = u64_at(bytes, 16);
    if total != len as u64 {
        return Err(if total > len as u64 {
            format!("truncated: the header says {total} bytes, the file has {len}")
        } else {
            format!("the header says {total} bytes, the file has {len} (bytes after the end)")
        });
    }
    let body_end = len - CRC_LEN;
    let stored = u32_at(bytes, body_end);
    let computed = crc32fast::hash(&bytes[..body_end]);
    if stored != computed {
        return Err(format!(
            "checksum mismatch: stored 0x{stored:08x}, computed 0x{computed:08x}"
        ));
    }
    let count = u64_at(bytes, 24);
    let room = ((body_end - HEADER_LEN) / (RECORD_FIXED_LEN + 1)) as u64;
    if count > room {
        return Err(format!(
            "{count} users cannot fit in {} bytes of records",
            body_end - HEADER_LEN
        ));
    }
    let mut users = Vec::with_capacity(count as usize);
    let mut pos = HEADER_LEN;
    let mut previous: Option<u64> = None;
    for index in 0..count {
        if body_end - pos < RECORD_FIXED_LEN {
            return Err(format!("record {index}: runs past the end of the records"));
        }
        let id = u64_at(bytes, pos);
        let name_len = usize::from(u16::from_le_bytes([bytes[pos + 8], bytes[pos + 9]]));
        pos += RECORD_FIXED_LEN;
        if id > i64::MAX as u64 {
            return Err(format!("record {index}: id {id} is above {}", i64::MAX));
        }
        if let Some(prev) = previous {
            if id <= prev {
                return Err(format!(
                    "record {index}: id {id} does not follow {prev} in ascending order"
                ));
            }
        }
        previous = Some(id);
        if name_len == 0 || name_len > MAX_NAME_BYTES {
            return Err(format!(
                "record {index}: name length {name_len} is not in 1..={MAX_NAME_BYTES} bytes"
            ));
        }
        if body_end - pos < name_len {
            return Err(format!("record {index}: runs past the end of the records"));
        }
        let name = std::str::from_utf8(&bytes[pos..pos + name_len]).map_err(|e| {
            format!(
                "record {index}: the name is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            )
        })?;
        if let Some(problem) = name_problem(name) {
            return Err(format!("record {index}: invalid name: {problem}"));
        }
        pos += name_len;
        users.push((id, name));
    }
    if pos != body_end {
        return Err(format!(
            "{} bytes after the last of {count} records",
            body_end - pos
        ));
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_store_is_36_bytes() {
        let bytes = Encoder::new().finish();
        assert_eq!(bytes.len(), MIN_LEN);
        assert_eq!(&bytes[..8], &SNAPSHOT_MAGIC);
        assert_eq!(u64_at(&bytes, 16), 36);
        assert_eq!(parse(&bytes), Ok(vec![]));
    }

    #[test]
    fn the_layout_matches_the_documentation() {
        let mut encoder = Encoder::new();
        encoder.push(1, "a");
        encoder.push(2, "é");
        let bytes = encoder.finish();
        let mut expected = Vec::new();
        expected.extend_from_slice(b"\x89USNAP\r\n");
        expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&(32u64 + 11 + 12 + 4).to_le_bytes());
        expected.extend_from_slice(&2u64.to_le_bytes());
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&[1, 0, b'a']);
        expected.extend_from_slice(&2u64.to_le_bytes());
        expected.extend_from_slice(&[2, 0, 0xc3, 0xa9]);
        let crc = crc32fast::hash(&expected);
        expected.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes, expected);
    }
}
