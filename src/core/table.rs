//! One shard of the store: a compact open-addressing table of users keyed by id, with its own
//! name index, read optimistically (a seqlock) and written under the shard's mutex.
//!
//! # Concurrency
//! A [`Shard`] holds a sequence number `seq`, a writer mutex (holding the writer-side
//! [`Counts`]), and its arrays and arena each behind a
//! [`reclaim::Atomic`](crate::reclaim::Atomic).
//! - Writers hold the mutex. Every mutation that readers could see happens inside a *window*:
//!   `seq` is made odd (store, then `fence(Release)`), the arrays are changed with `Relaxed`
//!   atomic stores, and `seq` is made even again (Release store). Windows nest (an import opens
//!   one window on every shard for its whole duration; the operations inside open none).
//! - Readers take no lock and write nothing shared: they read `seq` (Acquire), read what they need
//!   with `Relaxed` atomic loads (plain `mov`s on x86), `fence(Acquire)` (a compiler fence on
//!   x86), and read `seq` again: equal and even means nothing changed meanwhile, so what they
//!   read is a state the table really had. Otherwise they retry. Every array a reader touches is
//!   made of atomics, so a read racing a write is not a data race, just a value to throw away:
//!   every offset and length read is checked before use, every probe is bounded, and a torn
//!   read yields [`Torn`], never a panic or an out-of-bounds index.
//! - Arrays that are replaced rather than changed in place (growth, shrinking, arena growth and
//!   compaction) go through `reclaim::Atomic::replace`: a reader that loaded the old array under
//!   its guard keeps reading valid (if stale) memory, and its validation fails if it mattered.
//!   Growth builds the new arrays outside any window (they are private until published), so
//!   readers are held up only by the pointer swap.
//!
//! # Layout
//! - `slots`: linear probing over 24-byte slots, three `AtomicU64` words each: the id, then 16
//!   name bytes (little-endian). An empty slot has the id [`EMPTY_ID`] (`u64::MAX`, not a valid
//!   id). A name of at most 15 bytes lives in the slot (`byte 0` = length, then the bytes); a
//!   longer one lives in the shard's arena of `AtomicU64` words, 8-byte aligned, and the slot holds
//!   the marker [`LONG`] in byte 0, the length in bytes 4..8 and the byte offset in bytes 8..16.
//! - `names`: the name index, an `AtomicU32` open-addressing multimap with as many entries as
//!   `slots`. An entry is `tag << pos_bits | pos`: `pos` is the slot holding the user and `tag` is
//!   a few bits of the name's hash. A hit is always verified against the stored name.
//!   [`NI_EMPTY`] and [`NI_TOMB`] (a removed entry) are never valid entries.
//!
//! # Invariants (whenever `seq` is even)
//! 1. Every live slot is reachable from its home `reduce(hash_id(id) << SHARD_BITS)` without
//!    crossing an empty slot (backward-shift deletion: no tombstones in `slots`).
//! 2. Ids are unique; `len` counts the live slots; `len <= max_len(cap)` after every operation.
//! 3. `names` holds exactly one entry per live slot, reachable from the home of its name's hash
//!    without crossing [`NI_EMPTY`]; `tombs` counts [`NI_TOMB`] entries and stays at most
//!    `cap / 16`, so probes terminate.
//! 4. `garbage` counts the arena words no slot refers to any more; the arena is compacted when
//!    they are more than half of it.
//!
//! # Growth and memory
//! 28 bytes per slot (24 + a 4-byte index entry). A table grows when an insert would pass a
//! load of 9/10: to a load of 1/2 while small (under 4 096 slots), to 5/6 when large, so a big
//! table holds 28/0.9 = 31.1 to 28/0.833 = 33.6 bytes per user (plus long names). Linear
//! probing at 0.9 costs on average 5.5 slots (132 bytes, about two cache lines) for a hit and
//! about 50 slots for a miss; growing by a smaller factor means more rehashing per insert
//! (about 12 moves each, amortised). Bulk paths presize at a load of 4/5. A table shrinks when
//! less than a quarter full.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::core::hash::{hash_id, hash_name, reduce};
use crate::reclaim::{Atomic, Guard};

/// The id of an empty slot; not a valid id (ids are `0..=i64::MAX`).
pub const EMPTY_ID: u64 = u64::MAX;
/// `log2` of the number of shards: the top bits of an id's hash pick the shard, the rest its
/// home slot.
pub const SHARD_BITS: u32 = 6;
/// The number of shards.
pub const SHARDS: usize = 1 << SHARD_BITS;
/// The longest name in bytes (256 code points of at most 4 bytes).
pub const MAX_NAME_BYTES: usize = 1024;
/// The longest name stored inline in a slot, in bytes.
const INLINE_MAX: usize = 15;
/// Byte 0 of a slot whose name lives in the arena.
const LONG: u8 = 0xFF;
/// An empty name index entry.
const NI_EMPTY: u32 = u32::MAX;
/// A removed name index entry (probes go on past it).
const NI_TOMB: u32 = u32::MAX - 1;
/// The most slots a table may have: `pos_bits` must stay at most 32.
const MAX_CAP: usize = 1 << 31;
/// Tables below this many slots grow to half full; larger ones to 5/6 full.
const SMALL_CAP: usize = 1 << 12;

/// The shard an id hash belongs to.
#[inline]
pub fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

/// An optimistic read saw data no consistent table holds (a writer was busy): retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Torn;

/// The slots and the name index, replaced together on growth and shrinking.
pub struct Arrays {
    /// Three words per slot: id, name bytes 0..8, name bytes 8..16.
    slots: Box<[AtomicU64]>,
    names: Box<[AtomicU32]>,
    /// Bits of a name index entry that hold the slot position.
    pos_bits: u32,
}

/// Arrays of at least this many bytes give their memory back to the OS when dropped.
const TRIM_BYTES: usize = 1 << 20;

impl Drop for Arrays {
    fn drop(&mut self) {
        let bytes = self.slots.len() * 8 + self.names.len() * 4;
        drop(std::mem::take(&mut self.slots));
        drop(std::mem::take(&mut self.names));
        if bytes >= TRIM_BYTES {
            crate::reclaim::trim_heap();
        }
    }
}

/// The long names, in 8-byte words; replaced when it grows or is compacted.
pub struct Arena {
    words: Box<[AtomicU64]>,
}

/// A shard's content built without any sharing (by `replace_all`), then installed whole.
pub struct Built {
    arrays: Arrays,
    arena: Arena,
    counts: Counts,
}

/// What only the writer (holding the shard mutex) reads and writes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Live users.
    pub len: usize,
    tombs: usize,
    /// Arena words no slot refers to.
    garbage: usize,
    /// Arena words in use (live + garbage); the rest of the arena is free.
    used: usize,
}

/// One shard: see the module documentation.
#[repr(align(128))]
pub struct Shard {
    seq: AtomicU64,
    arrays: Atomic<Arrays>,
    arena: Atomic<Arena>,
    writer: Mutex<Counts>,
}

/// A name copied out of a table: short names in `small`, long ones in `big` (zeroed only when
/// a long name is met, so short reads cost no 1 KiB memset).
#[derive(Default)]
pub struct NameBuf {
    small: [u8; 16],
    big: Option<[u8; MAX_NAME_BYTES]>,
    long: bool,
    len: usize,
}

impl NameBuf {
    /// The name's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        if self.long {
            match &self.big {
                Some(big) => &big[..self.len],
                None => &[],
            }
        } else {
            &self.small[1..1 + self.len]
        }
    }
}

/// The number of bits needed to write `n` in binary.
fn bit_length(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

/// The most users a table of `cap` slots may hold (a load of 9/10).
fn max_len(cap: usize) -> usize {
    cap / 10 * 9 + cap % 10 * 9 / 10
}

/// A capacity that holds `users` at a load of at most `num / den` (and at least 16 slots).
fn cap_for(users: usize, num: usize, den: usize) -> usize {
    let mut cap = (users / num).saturating_mul(den) + den;
    cap = cap.max(16);
    while max_len(cap) < users {
        cap += cap / 8 + 1;
    }
    assert!(cap <= MAX_CAP, "a shard cannot hold {users} users");
    cap
}

/// The arena words a name takes (0 for an inline one): for presizing.
pub fn long_words(name: &str) -> usize {
    if name.len() <= INLINE_MAX {
        0
    } else {
        words_for(name.len())
    }
}

/// Words needed for `len` bytes.
#[inline]
fn words_for(len: usize) -> usize {
    len.div_ceil(8)
}

fn atomics64(n: usize, value: impl Fn(usize) -> u64) -> Box<[AtomicU64]> {
    (0..n).map(|k| AtomicU64::new(value(k))).collect()
}

impl Arrays {
    fn new(cap: usize) -> Arrays {
        Arrays {
            slots: atomics64(cap * 3, |k| if k % 3 == 0 { EMPTY_ID } else { 0 }),
            names: (0..cap).map(|_| AtomicU32::new(NI_EMPTY)).collect(),
            pos_bits: bit_length(cap + 1),
        }
    }

    #[inline]
    fn cap(&self) -> usize {
        self.names.len()
    }

    #[inline]
    fn id(&self, pos: usize) -> u64 {
        self.slots[pos * 3].load(Ordering::Relaxed)
    }

    #[inline]
    fn words(&self, pos: usize) -> (u64, u64) {
        (
            self.slots[pos * 3 + 1].load(Ordering::Relaxed),
            self.slots[pos * 3 + 2].load(Ordering::Relaxed),
        )
    }

    #[inline]
    fn set(&self, pos: usize, id: u64, (w1, w2): (u64, u64)) {
        self.slots[pos * 3].store(id, Ordering::Relaxed);
        self.slots[pos * 3 + 1].store(w1, Ordering::Relaxed);
        self.slots[pos * 3 + 2].store(w2, Ordering::Relaxed);
    }

    #[inline]
    fn set_words(&self, pos: usize, (w1, w2): (u64, u64)) {
        self.slots[pos * 3 + 1].store(w1, Ordering::Relaxed);
        self.slots[pos * 3 + 2].store(w2, Ordering::Relaxed);
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        reduce(hash << SHARD_BITS, self.cap())
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.cap() {
            0
        } else {
            i + 1
        }
    }

    /// The slot of `id`; [`Torn`] if the probe never ends (only while a writer is busy).
    #[inline]
    fn find(&self, id: u64, hash: u64) -> Result<Option<usize>, Torn> {
        let cap = self.cap();
        if cap == 0 {
            return Ok(None);
        }
        let mut i = self.home(hash);
        for _ in 0..cap {
            let slot_id = self.id(i);
            if slot_id == id {
                return Ok(Some(i));
            }
            if slot_id == EMPTY_ID {
                return Ok(None);
            }
            i = self.next(i);
        }
        Err(Torn)
    }

    /// The slot of `id` for the writer, who always sees a consistent table.
    fn find_w(&self, id: u64, hash: u64) -> Option<usize> {
        self.find(id, hash)
            .expect("a consistent table has an empty slot")
    }

    #[inline]
    fn tag(&self, name_hash: u64) -> u32 {
        if self.pos_bits >= 32 {
            0
        } else {
            ((name_hash as u32) >> self.pos_bits) << self.pos_bits
        }
    }

    #[inline]
    fn pos_mask(&self) -> u32 {
        if self.pos_bits >= 32 {
            u32::MAX
        } else {
            (1u32 << self.pos_bits) - 1
        }
    }

    #[inline]
    fn entry(&self, name_hash: u64, pos: usize) -> u32 {
        self.tag(name_hash) | pos as u32
    }

    #[inline]
    fn ni(&self, i: usize) -> u32 {
        self.names[i].load(Ordering::Relaxed)
    }

    #[inline]
    fn set_ni(&self, i: usize, entry: u32) {
        self.names[i].store(entry, Ordering::Relaxed);
    }
}

/// Decodes a slot's name words: `Ok((true, len, byte offset))` for a long name,
/// `Ok((false, len, 0))` for an inline one; [`Torn`] if they make no sense.
#[inline]
fn decode(arena: &Arena, (w1, w2): (u64, u64)) -> Result<(bool, usize, usize), Torn> {
    let b0 = w1 as u8;
    if b0 == LONG {
        let len = (w1 >> 32) as usize;
        let offset = w2 as usize;
        let end_word = (offset / 8).checked_add(words_for(len)).ok_or(Torn)?;
        if len > MAX_NAME_BYTES
            || len <= INLINE_MAX
            || offset % 8 != 0
            || end_word > arena.words.len()
        {
            return Err(Torn);
        }
        Ok((true, len, offset))
    } else if usize::from(b0) <= INLINE_MAX {
        Ok((false, usize::from(b0), 0))
    } else {
        Err(Torn)
    }
}

/// Copies the name of slot `pos` into `buf`.
#[inline]
fn read_name(a: &Arrays, arena: &Arena, pos: usize, buf: &mut NameBuf) -> Result<(), Torn> {
    let words = a.words(pos);
    let (long, len, offset) = decode(arena, words)?;
    buf.long = long;
    buf.len = len;
    if long {
        let big = buf.big.get_or_insert([0; MAX_NAME_BYTES]);
        let first = offset / 8;
        for (k, chunk) in big[..len].chunks_mut(8).enumerate() {
            let word = arena.words[first + k].load(Ordering::Relaxed).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    } else {
        buf.small[..8].copy_from_slice(&words.0.to_le_bytes());
        buf.small[8..].copy_from_slice(&words.1.to_le_bytes());
    }
    Ok(())
}

/// Whether the name of slot `pos` is `name`.
#[inline]
fn name_eq(a: &Arrays, arena: &Arena, pos: usize, name: &[u8]) -> Result<bool, Torn> {
    let words = a.words(pos);
    let (long, len, offset) = decode(arena, words)?;
    if len != name.len() {
        return Ok(false);
    }
    if long {
        let first = offset / 8;
        for (k, chunk) in name.chunks(8).enumerate() {
            let word = arena.words[first + k].load(Ordering::Relaxed).to_le_bytes();
            if word[..chunk.len()] != *chunk {
                return Ok(false);
            }
        }
        Ok(true)
    } else {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&words.0.to_le_bytes());
        bytes[8..].copy_from_slice(&words.1.to_le_bytes());
        Ok(bytes[1..1 + len] == *name)
    }
}

/// The hash of the name of the live slot `pos` (writer side).
fn name_hash_at(a: &Arrays, arena: &Arena, pos: usize) -> u64 {
    let mut buf = NameBuf::default();
    read_name(a, arena, pos, &mut buf).expect("the writer sees consistent names");
    hash_name(buf.bytes())
}

/// Adds the name index entry of the live slot `pos`.
fn index(a: &Arrays, arena: &Arena, counts: &mut Counts, pos: usize) {
    let name_hash = name_hash_at(a, arena, pos);
    let entry = a.entry(name_hash, pos);
    let mut i = reduce(name_hash, a.cap());
    loop {
        match a.ni(i) {
            NI_EMPTY => break,
            NI_TOMB => {
                counts.tombs -= 1;
                break;
            }
            _ => i = a.next(i),
        }
    }
    a.set_ni(i, entry);
}

/// The position in `names` of the entry of the live slot `pos`.
fn entry_pos(a: &Arrays, arena: &Arena, pos: usize) -> usize {
    let name_hash = name_hash_at(a, arena, pos);
    let entry = a.entry(name_hash, pos);
    let mut i = reduce(name_hash, a.cap());
    // Invariant 3: the entry exists and the probe reaches it before an empty entry.
    while a.ni(i) != entry {
        debug_assert_ne!(a.ni(i), NI_EMPTY, "name index entry missing");
        i = a.next(i);
    }
    i
}

/// Rebuilds the name index from the slots (dropping every tombstone).
fn rebuild_names(a: &Arrays, arena: &Arena, counts: &mut Counts) {
    for entry in a.names.iter() {
        entry.store(NI_EMPTY, Ordering::Relaxed);
    }
    counts.tombs = 0;
    for pos in 0..a.cap() {
        if a.id(pos) != EMPTY_ID {
            index(a, arena, counts, pos);
        }
    }
}

/// Removes the name index entry of the live slot `pos`.
fn unindex(a: &Arrays, arena: &Arena, counts: &mut Counts, pos: usize) {
    let i = entry_pos(a, arena, pos);
    if a.ni(a.next(i)) == NI_EMPTY {
        a.set_ni(i, NI_EMPTY);
    } else {
        a.set_ni(i, NI_TOMB);
        counts.tombs += 1;
        if counts.tombs > a.cap() / 16 {
            // Leave the slot's entry out of the rebuild: hide it, rebuild, then restore it.
            a.set_ni(i, NI_EMPTY);
            let id = a.id(pos);
            a.slots[pos * 3].store(EMPTY_ID, Ordering::Relaxed);
            rebuild_names(a, arena, counts);
            a.slots[pos * 3].store(id, Ordering::Relaxed);
        }
    }
}

/// Updates the name index after the user in slot `from` moved to slot `to`.
fn moved(a: &Arrays, arena: &Arena, from: usize, to: usize) {
    let name_hash = name_hash_at(a, arena, to);
    let old = a.entry(name_hash, from);
    let mut i = reduce(name_hash, a.cap());
    while a.ni(i) != old {
        debug_assert_ne!(a.ni(i), NI_EMPTY, "name index entry missing");
        i = a.next(i);
    }
    a.set_ni(i, a.entry(name_hash, to));
}

/// An open write window on `seq` (see the module documentation); closes on drop unless an outer
/// window was already open.
struct Window<'a> {
    seq: &'a AtomicU64,
    opened: bool,
}

impl<'a> Window<'a> {
    fn open(seq: &'a AtomicU64) -> Window<'a> {
        let s = seq.load(Ordering::Relaxed);
        if s & 1 == 1 {
            return Window { seq, opened: false };
        }
        seq.store(s + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        Window { seq, opened: true }
    }
}

impl Drop for Window<'_> {
    fn drop(&mut self) {
        if self.opened {
            let s = self.seq.load(Ordering::Relaxed);
            self.seq.store(s + 1, Ordering::Release);
        }
    }
}

impl Built {
    /// Empty content able to hold `users` users (and `long_words` arena words of long names)
    /// without growing.
    pub fn with_capacity(users: usize, long_words: usize) -> Built {
        let cap = if users == 0 { 0 } else { cap_for(users, 5, 6) };
        Built {
            arrays: Arrays::new(cap),
            arena: Arena {
                words: atomics64(long_words, |_| 0),
            },
            counts: Counts::default(),
        }
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.counts.len
    }

    /// Inserts the user `id` or replaces its name; the capacity asked for in
    /// [`Built::with_capacity`] must cover every user and long name inserted.
    pub fn insert(&mut self, id: u64, hash: u64, name: &str) {
        let (a, arena, counts) = (&self.arrays, &self.arena, &mut self.counts);
        let words = |counts: &mut Counts| {
            if name.len() <= INLINE_MAX {
                encode_inline(name.as_bytes())
            } else {
                write_long(arena, counts, name.as_bytes())
            }
        };
        if let Some(pos) = a.find_w(id, hash) {
            if name_eq(a, arena, pos, name.as_bytes()) != Ok(true) {
                unindex(a, arena, counts, pos);
                Shard::free_name(a, counts, pos);
                a.set_words(pos, words(counts));
                index(a, arena, counts, pos);
            }
            return;
        }
        assert!(counts.len < max_len(a.cap()), "presized too small");
        let mut i = a.home(hash);
        while a.id(i) != EMPTY_ID {
            i = a.next(i);
        }
        a.set(i, id, words(counts));
        counts.len += 1;
        index(a, arena, counts, i);
    }
}

/// The slot words of a name of at most [`INLINE_MAX`] bytes.
fn encode_inline(bytes: &[u8]) -> (u64, u64) {
    let mut out = [0u8; 16];
    out[0] = bytes.len() as u8;
    out[1..1 + bytes.len()].copy_from_slice(bytes);
    let (lo, hi) = out.split_at(8);
    (
        u64::from_le_bytes(lo.try_into().expect("8 bytes")),
        u64::from_le_bytes(hi.try_into().expect("8 bytes")),
    )
}

/// Appends a long name at the end of the used part of `arena` (which must have room) and
/// returns its slot words.
fn write_long(arena: &Arena, counts: &mut Counts, bytes: &[u8]) -> (u64, u64) {
    let first = counts.used;
    for (k, chunk) in bytes.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        arena.words[first + k].store(u64::from_le_bytes(word), Ordering::Relaxed);
    }
    counts.used += words_for(bytes.len());
    (
        u64::from(LONG) | (bytes.len() as u64) << 32,
        (first * 8) as u64,
    )
}

impl Shard {
    /// Encodes `name` for a slot, appending it to the arena if it is long (growing the arena
    /// if needed: call inside a window).
    fn encode_name(&self, g: &Guard, counts: &mut Counts, name: &str) -> (u64, u64) {
        let bytes = name.as_bytes();
        if bytes.len() <= INLINE_MAX {
            return encode_inline(bytes);
        }
        let need = words_for(bytes.len());
        let arena = self.arena.load(g);
        if counts.used + need > arena.words.len() {
            // Grows by a quarter, not double: every word is written when allocated (atomics
            // cannot be calloc'ed in safe code), so unused capacity is resident memory.
            let cap = (arena.words.len() + arena.words.len() / 4)
                .max(counts.used + need)
                .max(64);
            let old = arena;
            let words = atomics64(cap, |k| {
                if k < counts.used {
                    old.words[k].load(Ordering::Relaxed)
                } else {
                    0
                }
            });
            self.arena.replace(Box::new(Arena { words }));
        }
        write_long(self.arena.load(g), counts, bytes)
    }

    /// Counts the arena words of slot `pos`'s name as garbage.
    fn free_name(a: &Arrays, counts: &mut Counts, pos: usize) {
        let (w1, _) = a.words(pos);
        if w1 as u8 == LONG {
            counts.garbage += words_for((w1 >> 32) as usize);
        }
    }

    /// Inserts the user `id` (hash `hash`) or replaces its name; true if the user is new.
    /// The caller holds the writer exclusion of `seq`'s shard.
    pub fn insert(&self, g: &Guard, counts: &mut Counts, id: u64, hash: u64, name: &str) -> bool {
        let a = self.arrays.load(g);
        if let Some(pos) = a.find_w(id, hash) {
            if name_eq(a, self.arena.load(g), pos, name.as_bytes()) == Ok(true) {
                return false;
            }
            {
                let _window = Window::open(&self.seq);
                unindex(a, self.arena.load(g), counts, pos);
                Self::free_name(a, counts, pos);
                let words = self.encode_name(g, counts, name);
                a.set_words(pos, words);
                index(a, self.arena.load(g), counts, pos);
            }
            self.maybe_compact(g, counts);
            return false;
        }
        if counts.len + 1 > max_len(a.cap()) {
            let new_cap = if a.cap() < SMALL_CAP {
                cap_for(counts.len + 1, 1, 2)
            } else {
                cap_for(counts.len + 1, 5, 6)
            };
            self.resize(g, counts, new_cap);
        }
        let a = self.arrays.load(g);
        let _window = Window::open(&self.seq);
        let mut i = a.home(hash);
        while a.id(i) != EMPTY_ID {
            i = a.next(i);
        }
        let words = self.encode_name(g, counts, name);
        a.set(i, id, words);
        counts.len += 1;
        index(a, self.arena.load(g), counts, i);
        true
    }

    /// Makes room for `more` new users without growing again (bulk imports).
    pub fn reserve(&self, g: &Guard, counts: &mut Counts, more: usize) {
        let needed = counts.len + more;
        if needed > max_len(self.arrays.load(g).cap()) {
            self.resize(g, counts, cap_for(needed, 5, 6));
        }
    }

    /// Removes the user `id` (hash `hash`); true if there was one.
    pub fn remove(&self, g: &Guard, counts: &mut Counts, id: u64, hash: u64) -> bool {
        let a = self.arrays.load(g);
        let Some(pos) = a.find_w(id, hash) else {
            return false;
        };
        let arena = self.arena.load(g);
        {
            let _window = Window::open(&self.seq);
            unindex(a, arena, counts, pos);
            Self::free_name(a, counts, pos);
            counts.len -= 1;
            // Backward-shift deletion: pull later members of the cluster into the hole when the
            // hole lies between their home and their slot.
            let cap = a.cap();
            let mut hole = pos;
            let mut j = pos;
            loop {
                j = a.next(j);
                let slot_id = a.id(j);
                if slot_id == EMPTY_ID {
                    break;
                }
                let home = a.home(hash_id(slot_id));
                let from_home = (j + cap - home) % cap;
                let from_hole = (j + cap - hole) % cap;
                if from_home >= from_hole {
                    a.set(hole, slot_id, a.words(j));
                    moved(a, arena, j, hole);
                    hole = j;
                }
            }
            a.set(hole, EMPTY_ID, (0, 0));
        }
        let cap = a.cap();
        if cap > 64 && counts.len * 4 < cap {
            self.resize(g, counts, cap_for(counts.len, 1, 2));
        }
        self.maybe_compact(g, counts);
        true
    }

    /// Rebuilds the arrays with `cap` slots: built privately, then published in a window.
    fn resize(&self, g: &Guard, counts: &mut Counts, cap: usize) {
        let old = self.arrays.load(g);
        let arena = self.arena.load(g);
        let fresh = Arrays::new(cap);
        for pos in 0..old.cap() {
            let id = old.id(pos);
            if id != EMPTY_ID {
                let mut i = fresh.home(hash_id(id));
                while fresh.id(i) != EMPTY_ID {
                    i = fresh.next(i);
                }
                fresh.set(i, id, old.words(pos));
            }
        }
        let mut fresh_counts = *counts;
        rebuild_names(&fresh, arena, &mut fresh_counts);
        let _window = Window::open(&self.seq);
        self.arrays.replace(Box::new(fresh));
        *counts = fresh_counts;
    }

    /// Copies the live long names into a fresh arena when more than half of it is garbage.
    fn maybe_compact(&self, g: &Guard, counts: &mut Counts) {
        if counts.garbage < 512 || counts.garbage * 2 < counts.used {
            return;
        }
        let a = self.arrays.load(g);
        let old = self.arena.load(g);
        let live = counts.used - counts.garbage;
        let words = atomics64(live, |_| 0);
        let _window = Window::open(&self.seq);
        let mut at = 0;
        for pos in 0..a.cap() {
            if a.id(pos) == EMPTY_ID {
                continue;
            }
            let (w1, w2) = a.words(pos);
            if w1 as u8 != LONG {
                continue;
            }
            let n = words_for((w1 >> 32) as usize);
            let first = w2 as usize / 8;
            for k in 0..n {
                words[at + k].store(
                    old.words[first + k].load(Ordering::Relaxed),
                    Ordering::Relaxed,
                );
            }
            a.set_words(pos, (w1, (at * 8) as u64));
            at += n;
        }
        self.arena.replace(Box::new(Arena { words }));
        counts.used = live;
        counts.garbage = 0;
    }

    /// Reads the id at the home slot of `hash` (or `EMPTY_ID`), so that a batch can start all
    /// its memory loads before it needs any of them.
    #[inline]
    pub fn touch(&self, g: &Guard, hash: u64) -> u64 {
        let a = self.arrays.load(g);
        if a.cap() == 0 {
            return EMPTY_ID;
        }
        a.id(a.home(hash))
    }

    /// Copies the name of the user `id` into `buf`: `Ok(true)` if found, `Ok(false)` if not.
    #[inline]
    pub fn read(&self, g: &Guard, id: u64, hash: u64, buf: &mut NameBuf) -> Result<bool, Torn> {
        let a = self.arrays.load(g);
        match a.find(id, hash)? {
            Some(pos) => {
                read_name(a, self.arena.load(g), pos, buf)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Appends to `out` the ids of the users named `name` (whose hash is `name_hash`).
    pub fn find_name(
        &self,
        g: &Guard,
        name: &[u8],
        name_hash: u64,
        out: &mut Vec<u64>,
    ) -> Result<(), Torn> {
        let a = self.arrays.load(g);
        let arena = self.arena.load(g);
        let cap = a.cap();
        if cap == 0 {
            return Ok(());
        }
        let tag = a.tag(name_hash);
        let mask = a.pos_mask();
        let mut i = reduce(name_hash, cap);
        for _ in 0..cap {
            let entry = a.ni(i);
            if entry == NI_EMPTY {
                return Ok(());
            }
            if entry != NI_TOMB && entry & !mask == tag {
                let pos = (entry & mask) as usize;
                if pos >= cap {
                    return Err(Torn);
                }
                if name_eq(a, arena, pos, name)? {
                    out.push(a.id(pos));
                }
            }
            i = a.next(i);
        }
        Err(Torn)
    }

    /// Calls `f(pos, id)` for every live slot.
    pub fn for_each_slot(&self, g: &Guard, mut f: impl FnMut(usize, u64)) {
        let a = self.arrays.load(g);
        for pos in 0..a.cap() {
            let id = a.id(pos);
            if id != EMPTY_ID {
                f(pos, id);
            }
        }
    }

    /// Copies the name of the live slot `pos` into `buf` (consistent view only).
    pub fn name_at(&self, g: &Guard, pos: usize, buf: &mut NameBuf) {
        read_name(self.arrays.load(g), self.arena.load(g), pos, buf).expect("a consistent view");
    }

    /// The bytes of this shard's slots, name index and arena (allocated, used or not).
    pub fn bytes(&self, g: &Guard) -> usize {
        let a = self.arrays.load(g);
        a.slots.len() * 8 + a.names.len() * 4 + self.arena.load(g).words.len() * 8
    }

    /// Checks every invariant of the module documentation; for tests.
    #[cfg(test)]
    pub fn check(&self, g: &Guard, counts: &Counts) {
        let a = self.arrays.load(g);
        let arena = self.arena.load(g);
        let cap = a.cap();
        assert!(counts.len <= max_len(cap) || cap == 0);
        let mut live = 0;
        let mut seen = std::collections::HashSet::new();
        let mut long_words = 0;
        for pos in 0..cap {
            let id = a.id(pos);
            if id == EMPTY_ID {
                continue;
            }
            live += 1;
            assert!(seen.insert(id), "duplicate id {id}");
            assert_eq!(a.find_w(id, hash_id(id)), Some(pos));
            let (w1, _) = a.words(pos);
            if w1 as u8 == LONG {
                long_words += words_for((w1 >> 32) as usize);
            }
            let i = entry_pos(a, arena, pos);
            assert_eq!(a.ni(i) & a.pos_mask(), pos as u32);
        }
        assert_eq!(live, counts.len);
        let entries = (0..cap)
            .filter(|&i| a.ni(i) != NI_EMPTY && a.ni(i) != NI_TOMB)
            .count();
        assert_eq!(entries, counts.len);
        let tombs = (0..cap).filter(|&i| a.ni(i) == NI_TOMB).count();
        assert_eq!(tombs, counts.tombs);
        assert_eq!(long_words + counts.garbage, counts.used);
        assert!(counts.used <= arena.words.len());
    }

    /// The number of slots; for tests.
    #[cfg(test)]
    pub fn cap(&self, g: &Guard) -> usize {
        self.arrays.load(g).cap()
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard {
            seq: AtomicU64::new(0),
            arrays: Atomic::new(Arrays::new(0)),
            arena: Atomic::new(Arena {
                words: Box::new([]),
            }),
            writer: Mutex::new(Counts::default()),
        }
    }
}

impl Shard {
    /// The writer exclusion (a poisoned lock is recovered: no operation leaves the table
    /// inconsistent before it could panic, short of running out of memory, which aborts).
    pub fn lock(&self) -> MutexGuard<'_, Counts> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts an optimistic read: the sequence number, if no writer is inside a window.
    #[inline]
    pub fn begin(&self) -> Option<u64> {
        let s = self.seq.load(Ordering::Acquire);
        (s & 1 == 0).then_some(s)
    }

    /// Ends an optimistic read started with `s`: true if nothing changed meanwhile.
    #[inline]
    pub fn validate(&self, s: u64) -> bool {
        fence(Ordering::Acquire);
        self.seq.load(Ordering::Relaxed) == s
    }

    /// Opens a window that stays open until [`Shard::close`] (imports).
    pub fn open(&self) {
        std::mem::forget(Window::open(&self.seq));
    }

    /// Closes a window opened with [`Shard::open`].
    pub fn close(&self) {
        drop(Window {
            seq: &self.seq,
            opened: true,
        });
    }

    /// Whether the writer lock is poisoned; for tests.
    #[cfg(test)]
    pub fn is_poisoned(&self) -> bool {
        self.writer.is_poisoned()
    }

    /// Installs `built` in place of the current content; the caller holds the writer lock
    /// (`current`). The old arrays are retired.
    pub fn install(&self, current: &mut Counts, built: Built) {
        let _window = Window::open(&self.seq);
        self.arrays.replace(Box::new(built.arrays));
        self.arena.replace(Box::new(built.arena));
        *current = built.counts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reclaim::pin;

    fn name_of(id: u64) -> String {
        if id % 3 == 0 {
            format!("a-rather-long-name-for-user-{}", id % 7)
        } else {
            format!("u{}", id % 5)
        }
    }

    #[test]
    fn grows_shrinks_and_keeps_the_index() {
        let g = pin();
        let parts = Shard::default();
        let mut c = Counts::default();
        for id in 0..5000u64 {
            assert!(parts.insert(&g, &mut c, id, hash_id(id), &name_of(id)));
        }
        parts.check(&g, &c);
        for id in (0..5000u64).step_by(2) {
            assert!(!parts.insert(&g, &mut c, id, hash_id(id), &name_of(id + 1)));
        }
        parts.check(&g, &c);
        for id in 0..4900u64 {
            assert!(parts.remove(&g, &mut c, id, hash_id(id)));
            if id % 97 == 0 {
                parts.check(&g, &c);
            }
        }
        parts.check(&g, &c);
        assert_eq!(c.len, 100);
        assert!(parts.cap(&g) < 1000);
        assert_eq!(parts.seq.load(Ordering::Relaxed) % 2, 0);
        let mut out = Vec::new();
        let name = name_of(4901);
        parts
            .find_name(&g, name.as_bytes(), hash_name(name.as_bytes()), &mut out)
            .unwrap();
        out.sort_unstable();
        let expected: Vec<u64> = (4900..5000)
            .filter(|&id| name_of(if id % 2 == 0 { id + 1 } else { id }) == name)
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn torn_words_are_rejected_not_trusted() {
        let arena = Arena {
            words: atomics64(4, |_| 0),
        };
        // Inline length over 15, long name beyond the arena, long length over the maximum.
        assert_eq!(decode(&arena, (16, 0)), Err(Torn));
        let long = |len: u64| u64::from(LONG) | len << 32;
        assert_eq!(decode(&arena, (long(40), 0)), Err(Torn));
        assert_eq!(decode(&arena, (long(2000), 0)), Err(Torn));
        assert_eq!(decode(&arena, (long(20), 8)), Ok((true, 20, 8)));
        assert_eq!(decode(&arena, (long(20), 3)), Err(Torn));
    }

    #[test]
    fn capacity_limits() {
        assert!(max_len(cap_for(1000, 5, 6)) >= 1000);
        assert_eq!(bit_length(16), 5);
        assert_eq!(max_len(16), 14);
    }
}
