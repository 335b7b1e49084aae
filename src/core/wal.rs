//! The write-ahead log's file format (`docs/DURABILITY.md`, "The log file", version 1): the
//! 28-byte header, the records (length, its check, CRC-32, payload; types 1 put, 2 remove,
//! 3 import, 4 batch) and the scan that reads a whole log back with the torn-tail rules.
//!
//! This module only encodes and decodes bytes; [`durable`](crate::core::durable) owns the files,
//! the buffer, the group commit and the directory.

use std::collections::HashSet;
use std::path::Path;

use crate::core::bytes::{u32_at, u64_at};
use crate::core::error::StoreError;
use crate::core::name::name_problem;

/// The first 8 bytes of every log: `\x89USWAL\r\n`.
pub const WAL_MAGIC: [u8; 8] = *b"\x89USWAL\r\n";

/// The log format version this build writes and reads.
pub const WAL_VERSION: u32 = 1;

/// Magic, version, flags, generation, CRC-32.
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 4;

/// Before each payload: length, its check, CRC-32.
pub const RECORD_HEADER_LEN: usize = 12;

/// The largest payload: 1 GiB.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// Payload types.
const PUT: u8 = 1;
const REMOVE: u8 = 2;
const IMPORT: u8 = 3;
const BATCH: u8 = 4;

/// A user inside a record: id and name length.
const USER_FIXED_LEN: usize = 8 + 2;

/// The most UTF-8 bytes a valid name takes.
const MAX_NAME_BYTES: usize = 1024;

/// The header of the log of generation `generation`.
pub fn header(generation: u64) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[..8].copy_from_slice(&WAL_MAGIC);
    out[8..12].copy_from_slice(&WAL_VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&0u32.to_le_bytes());
    out[16..24].copy_from_slice(&generation.to_le_bytes());
    let crc = crc32fast::hash(&out[..24]);
    out[24..28].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Starts a record in `buf`: room for its 12-byte header; returns where it starts.
fn begin(buf: &mut Vec<u8>) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&[0; RECORD_HEADER_LEN]);
    at
}

/// Ends the record that [`begin`] started at `at`: fills in its length, check and CRC-32.
fn end(buf: &mut [u8], at: usize) {
    let payload = &buf[at + RECORD_HEADER_LEN..];
    // A payload never exceeds MAX_PAYLOAD (the callers split), so the length fits in a u32.
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    buf[at + 4..at + 8].copy_from_slice(&(len ^ 0xFFFF_FFFF).to_le_bytes());
    buf[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
}

fn push_user(buf: &mut Vec<u8>, id: u64, name: &str) {
    buf.extend_from_slice(&id.to_le_bytes());
    // A valid name holds at most 1024 bytes.
    buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
    buf.extend_from_slice(name.as_bytes());
}

/// Appends a put record of the valid user `id`, `name`.
pub fn encode_put(buf: &mut Vec<u8>, id: u64, name: &str) {
    let at = begin(buf);
    buf.push(PUT);
    push_user(buf, id, name);
    end(buf, at);
}

/// Appends a remove record of `id`.
pub fn encode_remove(buf: &mut Vec<u8>, id: u64) {
    let at = begin(buf);
    buf.push(REMOVE);
    buf.extend_from_slice(&id.to_le_bytes());
    end(buf, at);
}

/// Appends the import records of the `count` valid users `user(0) .. user(count - 1)`, in
/// order: one record, or, when its payload would pass [`MAX_PAYLOAD`], consecutive records each
/// filled greedily up to it. Nothing for `count == 0`.
pub fn encode_import<'a>(buf: &mut Vec<u8>, count: usize, user: impl Fn(usize) -> (u64, &'a str)) {
    encode_import_limited(buf, count, user, MAX_PAYLOAD);
}

/// [`encode_import`] with a payload limit (tests use a small one).
fn encode_import_limited<'a>(
    buf: &mut Vec<u8>,
    count: usize,
    user: impl Fn(usize) -> (u64, &'a str),
    limit: usize,
) {
    let mut i = 0;
    while i < count {
        let at = begin(buf);
        buf.push(IMPORT);
        let count_at = buf.len();
        buf.extend_from_slice(&[0; 4]);
        let mut in_record: u32 = 0;
        while i < count {
            let (id, name) = user(i);
            let payload = buf.len() - at - RECORD_HEADER_LEN;
            // The first user always fits: 1 + 4 + 10 + 1024 bytes at most.
            if in_record > 0 && payload + USER_FIXED_LEN + name.len() > limit {
                break;
            }
            push_user(buf, id, name);
            in_record += 1;
            i += 1;
        }
        buf[count_at..count_at + 4].copy_from_slice(&in_record.to_le_bytes());
        end(buf, at);
    }
}

/// The payload bytes of a batch record of puts whose names take `name_bytes` in all (`puts`
/// users) and `removes` removed ids: type, put count, users, remove count, ids.
pub fn batch_payload_len(puts: usize, name_bytes: usize, removes: usize) -> u64 {
    1 + 4 + (puts as u64) * USER_FIXED_LEN as u64 + name_bytes as u64 + 4 + 8 * removes as u64
}

/// Appends one batch record (`docs/DURABILITY.md`, type 4): the valid users `puts` in order
/// (duplicates included), then the ids `removes`. The caller checked that `puts` and `removes`
/// are not both empty, that no id is in both, and that the payload
/// ([`batch_payload_len`]) is at most [`MAX_PAYLOAD`].
pub fn encode_batch<'a>(
    buf: &mut Vec<u8>,
    puts: impl ExactSizeIterator<Item = (u64, &'a str)>,
    removes: &[u64],
) {
    let at = begin(buf);
    buf.push(BATCH);
    // Both counts fit in a u32: the payload is at most 1 GiB and each entry takes 8 bytes or more.
    buf.extend_from_slice(&(puts.len() as u32).to_le_bytes());
    for (id, name) in puts {
        push_user(buf, id, name);
    }
    buf.extend_from_slice(&(removes.len() as u32).to_le_bytes());
    for id in removes {
        buf.extend_from_slice(&id.to_le_bytes());
    }
    end(buf, at);
}

/// One decoded record, borrowing its names from the log's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    /// `put(id, name)`.
    Put(u64, &'a str),
    /// `remove(id)`.
    Remove(u64),
    /// The users of an import, in order.
    Import(Vec<(u64, &'a str)>),
    /// A batch: its users put in order, then its ids removed.
    Batch {
        /// The users put, in order (an id may repeat: the later wins).
        puts: Vec<(u64, &'a str)>,
        /// The ids removed (none of them put in this batch).
        removes: Vec<u64>,
    },
}

/// How a log's scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// The length of the valid log: header and whole records.
    pub valid_len: usize,
    /// True if bytes after `valid_len` were a torn tail (to be cut).
    pub torn: bool,
}

/// The corruption error for `path` (SnapshotCorrupt names the file and what is wrong).
fn corrupt(path: &Path, reason: String) -> StoreError {
    StoreError::SnapshotCorrupt {
        path: path.to_owned(),
        reason,
    }
}

fn damaged(path: &Path, offset: usize, why: impl std::fmt::Display) -> StoreError {
    corrupt(path, format!("damaged record at offset {offset} ({why})"))
}

/// Checks the header of the log `path` of generation `generation`.
fn check_header(bytes: &[u8], generation: u64, path: &Path) -> Result<(), StoreError> {
    let bad = |why: String| corrupt(path, format!("damaged header ({why})"));
    if bytes.len() < HEADER_LEN {
        return Err(bad(format!(
            "{} bytes, a log has at least {HEADER_LEN}",
            bytes.len()
        )));
    }
    if bytes[..8] != WAL_MAGIC {
        return Err(bad("wrong magic bytes".to_owned()));
    }
    let stored = u32_at(bytes, 24);
    let computed = crc32fast::hash(&bytes[..24]);
    if stored != computed {
        return Err(bad(format!(
            "checksum mismatch: stored 0x{stored:08x}, computed 0x{computed:08x}"
        )));
    }
    let version = u32_at(bytes, 8);
    if version != WAL_VERSION {
        return Err(bad(format!(
            "unsupported format version {version} (this build reads version {WAL_VERSION})"
        )));
    }
    let flags = u32_at(bytes, 12);
    if flags != 0 {
        return Err(bad(format!("unknown flags 0x{flags:08x}")));
    }
    let found = u64_at(bytes, 16);
    if found != generation {
        return Err(bad(format!(
            "generation {found}, the file name says {generation}"
        )));
    }
    Ok(())
}

/// Reads a user (id, name length, name) at `pos` of `payload`; the position after it.
/// Users as a record holds them: id and name (borrowed from the payload).
type Users<'a> = Vec<(u64, &'a str)>;

/// `count` users one after another from `payload[pos..]`, and the position after them. Each user
/// takes at least 11 bytes, so a count the rest of the payload cannot hold is refused before
/// anything is allocated.
fn users_at(payload: &[u8], count: usize, pos: usize) -> Result<(Users<'_>, usize), String> {
    if count > (payload.len() - pos) / (USER_FIXED_LEN + 1) {
        return Err(format!("{count} users cannot fit in the payload"));
    }
    let mut users = Vec::with_capacity(count);
    let mut pos = pos;
    for _ in 0..count {
        let (user, next) = user_at(payload, pos)?;
        users.push(user);
        pos = next;
    }
    Ok((users, pos))
}

fn user_at(payload: &[u8], pos: usize) -> Result<((u64, &str), usize), String> {
    if payload.len() - pos < USER_FIXED_LEN {
        return Err("payload too short".to_owned());
    }
    let id = u64_at(payload, pos);
    if id > i64::MAX as u64 {
        return Err(format!("id {id} is above {}", i64::MAX));
    }
    let n = usize::from(u16::from_le_bytes([payload[pos + 8], payload[pos + 9]]));
    if n == 0 || n > MAX_NAME_BYTES {
        return Err(format!(
            "name length {n} is not in 1..={MAX_NAME_BYTES} bytes"
        ));
    }
    let start = pos + USER_FIXED_LEN;
    if payload.len() - start < n {
        return Err("payload too short".to_owned());
    }
    let name = std::str::from_utf8(&payload[start..start + n])
        .map_err(|_| "the name is not valid UTF-8".to_owned())?;
    if let Some(problem) = name_problem(name) {
        return Err(format!("invalid name: {problem}"));
    }
    Ok(((id, name), start + n))
}

/// Decodes one payload whose CRC matched.
fn decode(payload: &[u8]) -> Result<Entry<'_>, String> {
    let exact = |end: usize| {
        if end == payload.len() {
            Ok(())
        } else {
            Err(format!(
                "payload of {} bytes, its content takes {end}",
                payload.len()
            ))
        }
    };
    match payload[0] {
        PUT => {
            let (user, end) = user_at(payload, 1)?;
            exact(end)?;
            Ok(Entry::Put(user.0, user.1))
        }
        REMOVE => {
            if payload.len() != 9 {
                return Err(format!(
                    "payload of {} bytes, a remove takes 9",
                    payload.len()
                ));
            }
            let id = u64_at(payload, 1);
            if id > i64::MAX as u64 {
                return Err(format!("id {id} is above {}", i64::MAX));
            }
            Ok(Entry::Remove(id))
        }
        IMPORT => {
            if payload.len() < 5 {
                return Err("payload too short".to_owned());
            }
            let count = u32_at(payload, 1) as usize;
            if count == 0 {
                return Err("an import of 0 users".to_owned());
            }
            let (users, pos) = users_at(payload, count, 5)?;
            exact(pos)?;
            Ok(Entry::Import(users))
        }
        BATCH => decode_batch(payload),
        other => Err(format!("unknown record type {other}")),
    }
}

/// Decodes a batch payload (type byte included): put count, users, remove count, ids; at least
/// one of them, no id both put and removed, and exactly as long as its content.
fn decode_batch(payload: &[u8]) -> Result<Entry<'_>, String> {
    let count_at = |pos: usize| {
        if payload.len() - pos < 4 {
            Err("payload too short".to_owned())
        } else {
            Ok(u32_at(payload, pos) as usize)
        }
    };
    let p = count_at(1)?;
    let (puts, mut pos) = users_at(payload, p, 5)?;
    let r = count_at(pos)?;
    pos += 4;
    // A u64 sum: 8 * r cannot overflow it, whatever the stored count.
    let needed = pos as u64 + 8 * r as u64;
    if needed != payload.len() as u64 {
        return Err(format!(
            "payload of {} bytes, its content takes {needed} ({p} users, {r} removed ids)",
            payload.len()
        ));
    }
    if p + r == 0 {
        return Err("a batch of 0 puts and 0 removes".to_owned());
    }
    let mut removes = Vec::with_capacity(r);
    for k in 0..r {
        let id = u64_at(payload, pos + 8 * k);
        if id > i64::MAX as u64 {
            return Err(format!("id {id} is above {}", i64::MAX));
        }
        removes.push(id);
    }
    if !puts.is_empty() && !removes.is_empty() {
        let put_ids: HashSet<u64> = puts.iter().map(|&(id, _)| id).collect();
        if let Some(id) = removes.iter().find(|id| put_ids.contains(id)) {
            return Err(format!("id {id} is both put and removed"));
        }
    }
    Ok(Entry::Batch { puts, removes })
}

/// Scans the whole log `bytes` of generation `generation` (read from `path`), calling `f` for
/// every valid record in order. In the newest log (`newest`) a torn tail ends the scan (see
/// `docs/DURABILITY.md`, "Opening a directory", step 5); anywhere else, and for any other
/// problem, the log is corrupt: [`StoreError::SnapshotCorrupt`] naming `path` and the offset.
pub fn scan<'a>(
    bytes: &'a [u8],
    generation: u64,
    newest: bool,
    path: &Path,
    mut f: impl FnMut(Entry<'a>),
) -> Result<Scanned, StoreError> {
    check_header(bytes, generation, path)?;
    let size = bytes.len();
    let mut o = HEADER_LEN;
    let torn = |o: usize| {
        Ok(Scanned {
            valid_len: o,
            torn: true,
        })
    };
    while o < size {
        let left = size - o;
        if left < RECORD_HEADER_LEN {
            return if newest {
                torn(o)
            } else {
                Err(damaged(path, o, "truncated record"))
            };
        }
        if bytes[o..].iter().all(|&b| b == 0) {
            return if newest {
                torn(o)
            } else {
                Err(damaged(path, o, "zeroed bytes"))
            };
        }
        let len = u32_at(bytes, o);
        let check = u32_at(bytes, o + 4);
        if check != len ^ 0xFFFF_FFFF {
            return Err(damaged(path, o, "length check mismatch"));
        }
        let len = len as usize;
        if len == 0 || len > MAX_PAYLOAD {
            return Err(damaged(
                path,
                o,
                format!("length {len} is not in 1..={MAX_PAYLOAD}"),
            ));
        }
        let end = o + RECORD_HEADER_LEN + len;
        if end > size {
            return if newest {
                torn(o)
            } else {
                Err(damaged(path, o, "truncated record"))
            };
        }
        let payload = &bytes[o + RECORD_HEADER_LEN..end];
        if crc32fast::hash(payload) != u32_at(bytes, o + 8) {
            return if newest && end == size {
                torn(o)
            } else {
                Err(damaged(path, o, "checksum mismatch"))
            };
        }
        f(decode(payload).map_err(|why| damaged(path, o, why))?);
        o = end;
    }
    Ok(Scanned {
        valid_len: size,
        torn: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(bytes: &[u8], newest: bool) -> Result<(Vec<Entry<'_>>, Scanned), StoreError> {
        let mut out = Vec::new();
        let scanned = scan(bytes, 7, newest, Path::new("/d/log-7.wal"), |e| out.push(e))?;
        Ok((out, scanned))
    }

    fn log(records: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut bytes = header(7).to_vec();
        records(&mut bytes);
        bytes
    }

    #[test]
    fn the_header_matches_the_documentation() {
        let h = header(1);
        assert_eq!(&h[..8], &[0x89, 0x55, 0x53, 0x57, 0x41, 0x4C, 0x0D, 0x0A]);
        assert_eq!(&h[8..24], &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(u32_at(&h, 24), crc32fast::hash(&h[..24]));
    }

    #[test]
    fn records_round_trip() {
        let bytes = log(|b| {
            encode_put(b, 1, "Ada");
            encode_remove(b, 1);
            let users = [(3, "Cy"), (2, "Bo")];
            encode_import(b, 2, |i| users[i]);
            encode_import(b, 0, |i| users[i]);
        });
        let (got, scanned) = entries(&bytes, false).unwrap();
        assert_eq!(
            got,
            vec![
                Entry::Put(1, "Ada"),
                Entry::Remove(1),
                Entry::Import(vec![(3, "Cy"), (2, "Bo")])
            ]
        );
        assert_eq!(
            scanned,
            Scanned {
                valid_len: bytes.len(),
                torn: false
            }
        );
    }

    #[test]
    fn an_import_splits_greedily() {
        let users = [(1, "aaaa"), (2, "bbbb"), (3, "cccc")];
        let mut buf = Vec::new();
        // Payload: 1 + 4 + 14 per user; a limit of 33 holds two users.
        encode_import_limited(&mut buf, 3, |i| users[i], 33);
        let bytes = log(|b| b.extend_from_slice(&buf));
        let (got, _) = entries(&bytes, false).unwrap();
        assert_eq!(
            got,
            vec![
                Entry::Import(vec![(1, "aaaa"), (2, "bbbb")]),
                Entry::Import(vec![(3, "cccc")])
            ]
        );
    }

    #[test]
    fn a_torn_tail_is_cut_only_in_the_newest_log() {
        let bytes = log(|b| {
            encode_put(b, 1, "Ada");
            encode_put(b, 2, "Bob");
        });
        let first_end = HEADER_LEN + RECORD_HEADER_LEN + 14;
        for cut in first_end + 1..bytes.len() {
            let (got, scanned) = entries(&bytes[..cut], true).unwrap();
            assert_eq!(got, vec![Entry::Put(1, "Ada")]);
            assert_eq!(
                scanned,
                Scanned {
                    valid_len: first_end,
                    torn: true
                }
            );
            let err = entries(&bytes[..cut], false).unwrap_err().to_string();
            assert!(err.contains(&format!("offset {first_end}")), "{err}");
        }
    }

    #[test]
    fn damage_names_the_offset() {
        let bytes = log(|b| {
            encode_put(b, 1, "Ada");
            encode_put(b, 2, "Bob");
        });
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + RECORD_HEADER_LEN + 3] ^= 1;
        let err = entries(&flipped, true).unwrap_err().to_string();
        assert_eq!(
            err,
            "log /d/log-7.wal is corrupt: damaged record at offset 28 (checksum mismatch)"
        );
        let mut length = bytes.clone();
        length[HEADER_LEN] ^= 1;
        let err = entries(&length, true).unwrap_err().to_string();
        assert!(err.ends_with("offset 28 (length check mismatch)"), "{err}");
    }

    #[test]
    fn unknown_types_and_bad_content_are_damage() {
        let bad = |payload: &[u8]| {
            let bytes = log(|b| {
                let at = begin(b);
                b.extend_from_slice(payload);
                end(b, at);
            });
            entries(&bytes, true).unwrap_err().to_string()
        };
        assert!(bad(&[9]).ends_with("(unknown record type 9)"));
        assert!(bad(&[2, 0, 0, 0, 0, 0, 0, 0, 0x80]).contains("above"));
        assert!(bad(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).contains("name length 0"));
        assert!(bad(&[3, 0, 0, 0, 0]).contains("0 users"));
        assert!(bad(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, b'a', b'b']).contains("payload of 13"));
        assert!(bad(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff]).contains("UTF-8"));
    }

    #[test]
    fn a_batch_record_is_the_documented_bytes_and_round_trips() {
        let mut buf = Vec::new();
        let puts = [(3u64, "Cy"), (5, "Eve"), (3, "C2")];
        encode_batch(&mut buf, puts.iter().copied(), &[2, 1]);
        // type 4, p = 3, three users, r = 2, two ids (docs/DURABILITY.md).
        let mut payload = vec![4, 3, 0, 0, 0];
        for (id, name) in puts {
            payload.extend_from_slice(&id.to_le_bytes());
            payload.extend_from_slice(&(name.len() as u16).to_le_bytes());
            payload.extend_from_slice(name.as_bytes());
        }
        payload.extend_from_slice(&[2, 0, 0, 0]);
        payload.extend_from_slice(&2u64.to_le_bytes());
        payload.extend_from_slice(&1u64.to_le_bytes());
        assert_eq!(payload.len() as u64, batch_payload_len(3, 7, 2));
        assert_eq!(&buf[RECORD_HEADER_LEN..], &payload[..]);
        assert_eq!(u32_at(&buf, 0) as usize, payload.len());
        assert_eq!(u32_at(&buf, 4), !(payload.len() as u32));
        assert_eq!(u32_at(&buf, 8), crc32fast::hash(&payload));
        let bytes = log(|b| {
            b.extend_from_slice(&buf);
            encode_batch(b, std::iter::empty(), &[9]);
            encode_batch(b, [(7, "G")].into_iter(), &[]);
        });
        let (got, _) = entries(&bytes, false).unwrap();
        assert_eq!(
            got,
            vec![
                Entry::Batch {
                    puts: puts.to_vec(),
                    removes: vec![2, 1]
                },
                Entry::Batch {
                    puts: vec![],
                    removes: vec![9]
                },
                Entry::Batch {
                    puts: vec![(7, "G")],
                    removes: vec![]
                },
            ]
        );
    }

    #[test]
    fn a_torn_batch_record_is_cut_only_in_the_newest_log() {
        let bytes = log(|b| {
            encode_put(b, 1, "Ada");
            encode_batch(b, [(2, "Bob"), (3, "Cy")].into_iter(), &[1]);
        });
        let first_end = HEADER_LEN + RECORD_HEADER_LEN + 14;
        for cut in first_end + 1..bytes.len() {
            let (got, scanned) = entries(&bytes[..cut], true).unwrap();
            assert_eq!(got, vec![Entry::Put(1, "Ada")], "cut at {cut}");
            assert_eq!(
                scanned,
                Scanned {
                    valid_len: first_end,
                    torn: true
                }
            );
            assert!(entries(&bytes[..cut], false).is_err());
        }
        // A flipped byte in the last record is a torn tail too; before another record, damage.
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(entries(&flipped, true).unwrap().1.valid_len, first_end);
        let mut more = flipped.clone();
        encode_remove(&mut more, 2);
        let err = entries(&more, true).unwrap_err().to_string();
        assert!(
            err.ends_with(&format!("offset {first_end} (checksum mismatch)")),
            "{err}"
        );
    }

    #[test]
    fn damaged_batch_records_are_refused() {
        let bad = |payload: &[u8]| {
            let bytes = log(|b| {
                let at = begin(b);
                b.extend_from_slice(payload);
                end(b, at);
            });
            entries(&bytes, true).unwrap_err().to_string()
        };
        let user = |id: u64, name: &str| {
            let mut out = id.to_le_bytes().to_vec();
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out
        };
        let batch = |p: u32, users: &[Vec<u8>], r: u32, ids: &[u64]| {
            let mut out = vec![4];
            out.extend_from_slice(&p.to_le_bytes());
            for u in users {
                out.extend_from_slice(u);
            }
            out.extend_from_slice(&r.to_le_bytes());
            for id in ids {
                out.extend_from_slice(&id.to_le_bytes());
            }
            out
        };
        let ada = vec![user(1, "Ada")];
        // p + r == 0.
        let err = bad(&batch(0, &[], 0, &[]));
        assert!(
            err.ends_with("offset 28 (a batch of 0 puts and 0 removes)"),
            "{err}"
        );
        // An id both put and removed.
        let err = bad(&batch(1, &ada, 2, &[7, 1]));
        assert!(err.ends_with("(id 1 is both put and removed)"), "{err}");
        // Bad lengths: a byte more, a byte less, counts that say more or less than there is.
        let mut longer = batch(1, &ada, 1, &[2]);
        longer.push(0);
        assert!(bad(&longer).contains("payload of 31 bytes, its content takes 30"));
        let good = batch(1, &ada, 1, &[2]);
        assert!(bad(&good[..good.len() - 1]).contains("payload of 29 bytes, its content takes 30"));
        assert!(bad(&batch(1, &ada, 2, &[2])).contains("its content takes 38"));
        assert!(bad(&batch(1, &ada, 0, &[2])).contains("its content takes 22"));
        assert!(bad(&batch(2, &ada, 0, &[])).contains("cannot fit"));
        assert!(bad(&batch(u32::MAX, &ada, 0, &[])).contains("cannot fit"));
        assert!(bad(&batch(0, &[], u32::MAX, &[2])).contains("its content takes"));
        // Cut inside the counts.
        assert!(bad(&[4, 1, 0]).contains("payload too short"));
        assert!(bad(&batch(1, &ada, 0, &[])[..20]).contains("payload too short"));
        // The users' and ids' own rules.
        assert!(bad(&batch(1, &[user(1, "")], 0, &[])).contains("name length 0"));
        assert!(bad(&batch(0, &[], 1, &[1 << 63])).contains("above"));
        assert!(bad(&batch(1, &[user(1 << 63, "a")], 0, &[])).contains("above"));
    }

    #[test]
    fn a_bad_header_is_corrupt() {
        let mut bytes = log(|_| {});
        assert_eq!(entries(&bytes, true).unwrap().0, vec![]);
        bytes[16] = 8;
        let err = entries(&bytes, true).unwrap_err().to_string();
        assert!(err.contains("damaged header (checksum mismatch"), "{err}");
        assert!(entries(&bytes[..27], true).is_err());
    }
}
