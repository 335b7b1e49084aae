//! Decoding of PostgreSQL's `pgoutput` logical replication messages, protocol version 1
//! (<https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html>): Begin,
//! Commit, Relation, Insert, Update, Delete and Truncate; Origin, Type and Message are recognised
//! and skipped.
//!
//! Hand-written because pgwire-replication (which carries the stream) hands over each message's
//! bytes undecoded (it parses only Begin and Commit for its own events), and no maintained crate
//! decodes pgoutput without also owning the connection. The format is small and fixed; every read
//! is bounds-checked, and a malformed message is an error, never a panic.

use std::fmt;

/// One column of a tuple.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// SQL NULL.
    Null,
    /// A TOASTed value that did not change (an update that left it alone): not sent.
    Unchanged,
    /// The value in text format.
    Text(Vec<u8>),
    /// The value in binary format (only with the `binary` option, which is not asked for).
    Binary(Vec<u8>),
}

/// A column of a relation: its name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationColumn {
    pub name: String,
    pub type_oid: u32,
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Begin {
        final_lsn: u64,
        commit_time_micros: i64,
        xid: u32,
    },
    Commit {
        lsn: u64,
        end_lsn: u64,
        commit_time_micros: i64,
    },
    Relation {
        oid: u32,
        namespace: String,
        name: String,
        columns: Vec<RelationColumn>,
    },
    Insert {
        oid: u32,
        new: Vec<Column>,
    },
    Update {
        oid: u32,
        /// The old key (`K`) or old row (`O`), sent when the key changed (or with REPLICA
        /// IDENTITY FULL).
        old: Option<Vec<Column>>,
        new: Vec<Column>,
    },
    Delete {
        oid: u32,
        old: Vec<Column>,
    },
    Truncate {
        oids: Vec<u32>,
    },
    /// Origin, Type, logical decoding Message: nothing for a replica of one table.
    Ignored(u8),
}

/// A message that does not follow the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed pgoutput message: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                DecodeError(format!(
                    "needs {n} bytes at offset {}, has {}",
                    self.at,
                    self.bytes.len() - self.at
                ))
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn cstr(&mut self) -> Result<String, DecodeError> {
        let rest = &self.bytes[self.at..];
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| DecodeError("unterminated string".to_owned()))?;
        let text = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.at += len + 1;
        Ok(text)
    }

    fn count(&mut self, what: &str) -> Result<usize, DecodeError> {
        let n = self.i16()?;
        usize::try_from(n).map_err(|_| DecodeError(format!("negative {what} count {n}")))
    }

    fn tuple(&mut self) -> Result<Vec<Column>, DecodeError> {
        let n = self.count("column")?;
        let mut columns = Vec::with_capacity(n);
        for _ in 0..n {
            columns.push(match self.u8()? {
                b'n' => Column::Null,
                b'u' => Column::Unchanged,
                kind @ (b't' | b'b') => {
                    let len = self.i32()?;
                    let len = usize::try_from(len)
                        .map_err(|_| DecodeError(format!("negative value length {len}")))?;
                    let value = self.take(len)?.to_vec();
                    if kind == b't' {
                        Column::Text(value)
                    } else {
                        Column::Binary(value)
                    }
                }
                other => return Err(DecodeError(format!("unknown column kind {other:#04x}"))),
            });
        }
        Ok(columns)
    }

    fn tagged_tuple(&mut self, expected: &[u8]) -> Result<(u8, Vec<Column>), DecodeError> {
        let tag = self.u8()?;
        if !expected.contains(&tag) {
            return Err(DecodeError(format!("unexpected tuple tag {tag:#04x}")));
        }
        Ok((tag, self.tuple()?))
    }
}

/// Decodes one pgoutput (protocol 1) message: the payload of one XLogData.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Reader { bytes, at: 0 };
    let message = match r.u8()? {
        b'B' => Message::Begin {
            final_lsn: r.u64()?,
            commit_time_micros: r.i64()?,
            xid: r.u32()?,
        },
        b'C' => {
            let _flags = r.u8()?;
            Message::Commit {
                lsn: r.u64()?,
                end_lsn: r.u64()?,
                commit_time_micros: r.i64()?,
            }
        }
        b'R' => {
            let oid = r.u32()?;
            let namespace = r.cstr()?;
            let name = r.cstr()?;
            let _replica_identity = r.u8()?;
            let n = r.count("column")?;
            let mut columns = Vec::with_capacity(n);
            for _ in 0..n {
                let _flags = r.u8()?;
                let name = r.cstr()?;
                let type_oid = r.u32()?;
                let _type_modifier = r.i32()?;
                columns.push(RelationColumn { name, type_oid });
            }
            Message::Relation {
                oid,
                namespace,
                name,
                columns,
            }
        }
        b'I' => {
            let oid = r.u32()?;
            let (_, new) = r.tagged_tuple(b"N")?;
            Message::Insert { oid, new }
        }
        b'U' => {
            let oid = r.u32()?;
            let (tag, tuple) = r.tagged_tuple(b"KON")?;
            if tag == b'N' {
                Message::Update {
                    oid,
                    old: None,
                    new: tuple,
                }
            } else {
                let (_, new) = r.tagged_tuple(b"N")?;
                Message::Update {
                    oid,
                    old: Some(tuple),
                    new,
                }
            }
        }
        b'D' => {
            let oid = r.u32()?;
            let (_, old) = r.tagged_tuple(b"KO")?;
            Message::Delete { oid, old }
        }
        b'T' => {
            let n = r.i32()?;
            let n = usize::try_from(n)
                .map_err(|_| DecodeError(format!("negative relation count {n}")))?;
            let _options = r.u8()?;
            let oids = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Message::Truncate { oids }
        }
        tag @ (b'O' | b'Y' | b'M') => return Ok(Message::Ignored(tag)),
        other => return Err(DecodeError(format!("unknown message type {other:#04x}"))),
    };
    if r.at != bytes.len() {
        return Err(DecodeError(format!(
            "{} bytes left over after the message",
            bytes.len() - r.at
        )));
    }
    Ok(message)
}

#[cfg(test)]
pub mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Builds pgoutput messages as PostgreSQL writes them (for the decoder's tests).
    #[derive(Default)]
    pub struct Writer(pub Vec<u8>);

    impl Writer {
        pub fn u8(mut self, v: u8) -> Self {
            self.0.push(v);
            self
        }
        pub fn i16(mut self, v: i16) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        pub fn i32(mut self, v: i32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        pub fn u32(mut self, v: u32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        pub fn i64(mut self, v: i64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        pub fn cstr(mut self, v: &str) -> Self {
            self.0.extend_from_slice(v.as_bytes());
            self.0.push(0);
            self
        }
        pub fn text(self, v: &str) -> Self {
            let mut w = self.u8(b't').i32(v.len() as i32);
            w.0.extend_from_slice(v.as_bytes());
            w
        }
        /// A tuple (id, name) in text format, with `tag` before it.
        pub fn row(self, tag: u8, id: i64, name: Option<&str>) -> Self {
            let w = self.u8(tag).i16(2).text(&id.to_string());
            match name {
                Some(name) => w.text(name),
                None => w.u8(b'u'),
            }
        }
    }

    #[test]
    fn begin_and_commit() {
        let begin = Writer::default()
            .u8(b'B')
            .i64(0x1_0000_0010)
            .i64(777)
            .u32(42)
            .0;
        assert_eq!(
            decode(&begin).unwrap(),
            Message::Begin {
                final_lsn: 0x1_0000_0010,
                commit_time_micros: 777,
                xid: 42
            }
        );
        let commit = Writer::default()
            .u8(b'C')
            .u8(0)
            .i64(100)
            .i64(164)
            .i64(999)
            .0;
        assert_eq!(
            decode(&commit).unwrap(),
            Message::Commit {
                lsn: 100,
                end_lsn: 164,
                commit_time_micros: 999
            }
        );
    }

    #[test]
    fn relation() {
        let bytes = Writer::default()
            .u8(b'R')
            .u32(16384)
            .cstr("public")
            .cstr("users")
            .u8(b'd')
            .i16(2)
            .u8(1)
            .cstr("id")
            .u32(20)
            .i32(-1)
            .u8(0)
            .cstr("name")
            .u32(25)
            .i32(-1)
            .0;
        assert_eq!(
            decode(&bytes).unwrap(),
            Message::Relation {
                oid: 16384,
                namespace: "public".into(),
                name: "users".into(),
                columns: vec![
                    RelationColumn {
                        name: "id".into(),
                        type_oid: 20
                    },
                    RelationColumn {
                        name: "name".into(),
                        type_oid: 25
                    }
                ]
            }
        );
    }

    #[test]
    fn insert_update_delete() {
        let insert = Writer::default()
            .u8(b'I')
            .u32(7)
            .row(b'N', 5, Some("ann"))
            .0;
        assert_eq!(
            decode(&insert).unwrap(),
            Message::Insert {
                oid: 7,
                new: vec![Column::Text(b"5".to_vec()), Column::Text(b"ann".to_vec())]
            }
        );
        let update = Writer::default().u8(b'U').u32(7).row(b'N', 5, None).0;
        assert_eq!(
            decode(&update).unwrap(),
            Message::Update {
                oid: 7,
                old: None,
                new: vec![Column::Text(b"5".to_vec()), Column::Unchanged]
            }
        );
        let key_change = Writer::default()
            .u8(b'U')
            .u32(7)
            .u8(b'K')
            .i16(2)
            .text("5")
            .u8(b'n')
            .row(b'N', 6, Some("bo"))
            .0;
        assert_eq!(
            decode(&key_change).unwrap(),
            Message::Update {
                oid: 7,
                old: Some(vec![Column::Text(b"5".to_vec()), Column::Null]),
                new: vec![Column::Text(b"6".to_vec()), Column::Text(b"bo".to_vec())]
            }
        );
        let delete = Writer::default()
            .u8(b'D')
            .u32(7)
            .u8(b'K')
            .i16(2)
            .text("6")
            .u8(b'n')
            .0;
        assert_eq!(
            decode(&delete).unwrap(),
            Message::Delete {
                oid: 7,
                old: vec![Column::Text(b"6".to_vec()), Column::Null]
            }
        );
    }

    #[test]
    fn truncate_and_ignored() {
        let bytes = Writer::default().u8(b'T').i32(2).u8(0).u32(7).u32(8).0;
        assert_eq!(
            decode(&bytes).unwrap(),
            Message::Truncate { oids: vec![7, 8] }
        );
        assert_eq!(
            decode(&Writer::default().u8(b'O').i64(1).cstr("x").0).unwrap(),
            Message::Ignored(b'O')
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(b"Z").is_err());
        // Truncated in the middle of a value.
        let mut insert = Writer::default()
            .u8(b'I')
            .u32(7)
            .row(b'N', 5, Some("ann"))
            .0;
        insert.pop();
        assert!(decode(&insert).is_err());
        // A length past the end, a negative length, an unknown column kind, an unterminated name.
        let huge = Writer::default()
            .u8(b'I')
            .u32(7)
            .u8(b'N')
            .i16(1)
            .u8(b't')
            .i32(i32::MAX)
            .0;
        assert!(decode(&huge).is_err());
        let negative = Writer::default()
            .u8(b'I')
            .u32(7)
            .u8(b'N')
            .i16(1)
            .u8(b't')
            .i32(-5)
            .0;
        assert!(decode(&negative).is_err());
        let kind = Writer::default().u8(b'I').u32(7).u8(b'N').i16(1).u8(b'x').0;
        assert!(decode(&kind).is_err());
        let unterminated = Writer::default().u8(b'R').u32(1).0;
        let mut unterminated = unterminated;
        unterminated.extend_from_slice(b"public");
        assert!(decode(&unterminated).is_err());
        // Bytes after a complete message.
        let mut extra = Writer::default().u8(b'T').i32(0).u8(0).0;
        extra.push(1);
        assert!(decode(&extra).is_err());
        // An insert whose tuple tag is not N.
        let tag = Writer::default().u8(b'I').u32(7).row(b'K', 5, Some("a")).0;
        assert!(decode(&tag).is_err());
    }
}
