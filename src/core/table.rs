//! One shard of the store: a compact open-addressing table of users keyed by id, with its own
//! name index. Single-threaded; [`Store`](crate::core::Store) puts each shard behind its own lock.
//!
//! # Layout
//! - `slots`: linear probing over 24-byte [`Slot`]s (8-byte id + 16 name bytes). An empty slot
//!   has the id [`EMPTY_ID`] (`u64::MAX`, which is not a valid id). A name of at most 15 bytes
//!   lives in the slot itself (`name[0]` = length, then the bytes); a longer one lives in the
//!   shard's byte `arena` and the slot holds the marker [`LONG`], its length and its offset.
//! - `names`: the name index, a `u32` open-addressing multimap with as many entries as `slots`.
//!   An entry is `tag << pos_bits | pos`: `pos` is the slot holding the user and `tag` is a few
//!   bits of the name's hash, so a probe rarely has to look at a slot whose name differs. A hit
//!   is always verified against the stored name. [`NI_EMPTY`] and [`NI_TOMB`] (a removed entry)
//!   can never be a valid entry because `pos < 2^pos_bits - 2`.
//!
//! # Invariants
//! 1. Every live slot is reachable from its home position `reduce(hash_id(id) << SHARD_BITS)`
//!    without crossing an empty slot (kept by backward-shift deletion: no tombstones in `slots`).
//! 2. Ids are unique; `len` counts the live slots; `len <= cap * 7 / 8` after every operation.
//! 3. `names` holds exactly one entry per live slot, reachable from the home of its name's hash
//!    without crossing [`NI_EMPTY`]; `tombs` counts [`NI_TOMB`] entries and stays at most
//!    `cap / 16`, so live entries and tombstones never fill the index (probes terminate).
//! 4. `garbage` counts the arena bytes no slot refers to any more; the arena is compacted when
//!    they are more than half of it.
//!
//! # Growth
//! A table grows when an insert would pass a load of 7/8: to a load of 1/2 while small
//! (under 4 096 slots) and to a load of 3/4 when large, so a big table is never left half
//! empty (the memory per user stays between 28/0.875 = 32 and 28/0.75 = 37.3 bytes, plus long
//! names). It shrinks when less than a quarter full. Because shards grow one at a time, only one
//! shard at a time holds two copies of its table.

use crate::core::hash::{hash_id, hash_name, reduce};

/// The id of an empty slot; not a valid id (ids are `0..=i64::MAX`).
pub const EMPTY_ID: u64 = u64::MAX;
/// `log2` of the number of shards: the top bits of an id's hash pick the shard, the rest its
/// home slot.
pub const SHARD_BITS: u32 = 6;
/// The number of shards.
pub const SHARDS: usize = 1 << SHARD_BITS;
/// The longest name stored inline in a slot, in bytes.
const INLINE_MAX: usize = 15;
/// `name[0]` of a slot whose name lives in the arena.
const LONG: u8 = 0xFF;
/// An empty name index entry.
const NI_EMPTY: u32 = u32::MAX;
/// A removed name index entry (probes go on past it).
const NI_TOMB: u32 = u32::MAX - 1;
/// The most slots a table may have: `pos_bits` must stay at most 32.
const MAX_CAP: usize = 1 << 31;
/// Tables below this many slots grow to half full; larger ones to three quarters full.
const SMALL_CAP: usize = 1 << 12;

/// The shard an id hash belongs to.
#[inline]
pub fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

/// One slot: an id and its name (inline, or a reference to the arena).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    id: u64,
    name: [u8; 16],
}

const EMPTY_SLOT: Slot = Slot {
    id: EMPTY_ID,
    name: [0; 16],
};

/// A shard: see the module documentation for the layout and invariants.
#[derive(Debug, Default)]
pub struct Table {
    slots: Vec<Slot>,
    names: Vec<u32>,
    /// Bits of a name index entry that hold the slot position.
    pos_bits: u32,
    len: usize,
    tombs: usize,
    arena: Vec<u8>,
    garbage: usize,
}

/// The number of bits needed to write `n` in binary.
fn bit_length(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

/// The most users a table of `cap` slots may hold (a load of 7/8).
fn max_len(cap: usize) -> usize {
    cap / 8 * 7 + cap % 8 * 7 / 8
}

impl Table {
    /// An empty table able to hold `users` users without growing (at a load of 4/5).
    pub fn with_capacity(users: usize) -> Table {
        let mut table = Table::default();
        if users > 0 {
            table.resize(Self::cap_for(users, 4, 5));
        }
        table
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

    /// The number of users.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The home slot of an id with the hash `hash` (its low bits; the top bits chose the shard).
    #[inline]
    fn home(&self, hash: u64) -> usize {
        reduce(hash << SHARD_BITS, self.slots.len())
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    /// Reads the id at the home slot of `hash` (or `EMPTY_ID`), so that a batch can start all
    /// its memory loads before it needs any of them.
    #[inline]
    pub fn touch(&self, hash: u64) -> u64 {
        if self.slots.is_empty() {
            return EMPTY_ID;
        }
        self.slots[self.home(hash)].id
    }

    /// The slot of the user `id` (whose hash is `hash`), if any.
    #[inline]
    pub fn find(&self, id: u64, hash: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home(hash);
        loop {
            let slot_id = self.slots[i].id;
            if slot_id == id {
                return Some(i);
            }
            if slot_id == EMPTY_ID {
                return None;
            }
            i = self.next(i);
        }
    }

    /// The name bytes (UTF-8) of the live slot `pos`, without re-checking them.
    #[inline]
    pub fn name_bytes(&self, pos: usize) -> &[u8] {
        let name = &self.slots[pos].name;
        if name[0] == LONG {
            let (len, offset) = long_ref(name);
            &self.arena[offset..offset + len]
        } else {
            &name[1..1 + usize::from(name[0])]
        }
    }

    /// The name of the live slot `pos`.
    #[inline]
    pub fn name_at(&self, pos: usize) -> &str {
        // Invariant: only `&str`s are ever stored, so the bytes are valid UTF-8.
        std::str::from_utf8(self.name_bytes(pos)).expect("stored names are valid UTF-8")
    }

    /// Calls `f(pos, id)` for every live slot, in slot order.
    pub fn for_each_slot(&self, mut f: impl FnMut(usize, u64)) {
        for (pos, slot) in self.slots.iter().enumerate() {
            if slot.id != EMPTY_ID {
                f(pos, slot.id);
            }
        }
    }

    /// Encodes `name` for a slot, appending it to the arena if it is long.
    fn encode_name(&mut self, name: &str) -> [u8; 16] {
        let bytes = name.as_bytes();
        let mut out = [0u8; 16];
        if bytes.len() <= INLINE_MAX {
            out[0] = bytes.len() as u8;
            out[1..1 + bytes.len()].copy_from_slice(bytes);
        } else {
            out[0] = LONG;
            out[4..8].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
            out[8..16].copy_from_slice(&(self.arena.len() as u64).to_le_bytes());
            self.arena.extend_from_slice(bytes);
        }
        out
    }

    /// Forgets the name of slot `pos` (counts its arena bytes as garbage).
    fn free_name(&mut self, pos: usize) {
        let name = self.slots[pos].name;
        if name[0] == LONG {
            self.garbage += long_ref(&name).0;
        }
    }

    /// Inserts the user `id` (hash `hash`) or replaces its name. Returns true if the user is new.
    pub fn insert(&mut self, id: u64, hash: u64, name: &str) -> bool {
        if let Some(pos) = self.find(id, hash) {
            if self.name_bytes(pos) == name.as_bytes() {
                return false;
            }
            self.unindex(pos);
            self.free_name(pos);
            self.slots[pos].name = self.encode_name(name);
            self.index(pos);
            self.maybe_compact();
            return false;
        }
        if self.len + 1 > max_len(self.slots.len()) {
            let cap = self.slots.len();
            let new_cap = if cap < SMALL_CAP {
                Self::cap_for(self.len + 1, 1, 2)
            } else {
                Self::cap_for(self.len + 1, 3, 4)
            };
            self.resize(new_cap);
        }
        let mut i = self.home(hash);
        while self.slots[i].id != EMPTY_ID {
            i = self.next(i);
        }
        let encoded = self.encode_name(name);
        self.slots[i] = Slot { id, name: encoded };
        self.len += 1;
        self.index(i);
        true
    }

    /// Makes room for `more` new users without growing again (used by bulk imports).
    pub fn reserve(&mut self, more: usize) {
        let needed = self.len + more;
        if needed > max_len(self.slots.len()) {
            self.resize(Self::cap_for(needed, 3, 4));
        }
    }

    /// Removes the user `id` (hash `hash`); true if there was one.
    pub fn remove(&mut self, id: u64, hash: u64) -> bool {
        let Some(pos) = self.find(id, hash) else {
            return false;
        };
        self.unindex(pos);
        self.free_name(pos);
        self.len -= 1;
        // Backward-shift deletion: pull later members of the cluster into the hole when the
        // hole lies between their home and their slot.
        let cap = self.slots.len();
        let mut hole = pos;
        let mut j = pos;
        loop {
            j = self.next(j);
            let slot = self.slots[j];
            if slot.id == EMPTY_ID {
                break;
            }
            let home = self.home(hash_id(slot.id));
            let from_home = (j + cap - home) % cap;
            let from_hole = (j + cap - hole) % cap;
            if from_home >= from_hole {
                self.slots[hole] = slot;
                self.moved(j, hole);
                hole = j;
            }
        }
        self.slots[hole] = EMPTY_SLOT;
        if cap > 64 && self.len * 4 < cap {
            self.resize(Self::cap_for(self.len, 1, 2));
        }
        self.maybe_compact();
        true
    }

    /// Rebuilds the table with `cap` slots (and a fresh name index).
    fn resize(&mut self, cap: usize) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; cap]);
        for slot in old {
            if slot.id != EMPTY_ID {
                let mut i = self.home(hash_id(slot.id));
                while self.slots[i].id != EMPTY_ID {
                    i = self.next(i);
                }
                self.slots[i] = slot;
            }
        }
        self.rebuild_names();
    }

    /// Rebuilds the name index from the slots (dropping every tombstone).
    fn rebuild_names(&mut self) {
        let cap = self.slots.len();
        self.pos_bits = bit_length(cap + 1);
        self.names = Vec::new();
        self.names = vec![NI_EMPTY; cap];
        self.tombs = 0;
        for pos in 0..cap {
            if self.slots[pos].id != EMPTY_ID {
                self.index(pos);
            }
        }
    }

    /// The tag bits of a name hash, already shifted into place.
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

    /// The name index entry of slot `pos` whose name hashes to `name_hash`.
    #[inline]
    fn entry(&self, name_hash: u64, pos: usize) -> u32 {
        self.tag(name_hash) | pos as u32
    }

    /// Adds the name index entry of the live slot `pos`.
    fn index(&mut self, pos: usize) {
        let name_hash = hash_name(self.name_bytes(pos));
        let entry = self.entry(name_hash, pos);
        let mut i = reduce(name_hash, self.names.len());
        loop {
            match self.names[i] {
                NI_EMPTY => break,
                NI_TOMB => {
                    self.tombs -= 1;
                    break;
                }
                _ => i = self.next(i),
            }
        }
        self.names[i] = entry;
    }

    /// The position in `names` of the entry of the live slot `pos`.
    fn entry_pos(&self, pos: usize) -> usize {
        let name_hash = hash_name(self.name_bytes(pos));
        let entry = self.entry(name_hash, pos);
        let mut i = reduce(name_hash, self.names.len());
        // Invariant 3: the entry exists and the probe reaches it before an empty entry.
        while self.names[i] != entry {
            debug_assert_ne!(self.names[i], NI_EMPTY, "name index entry missing");
            i = self.next(i);
        }
        i
    }

    /// Removes the name index entry of the live slot `pos`.
    fn unindex(&mut self, pos: usize) {
        let i = self.entry_pos(pos);
        if self.names[self.next(i)] == NI_EMPTY {
            self.names[i] = NI_EMPTY;
        } else {
            self.names[i] = NI_TOMB;
            self.tombs += 1;
            // Live entries (at most 7/8) plus tombstones (at most 1/16) never fill the index,
            // so every probe meets an empty entry.
            if self.tombs > self.names.len() / 16 {
                // Leave the slot's entry out of the rebuild: mark it, rebuild, then drop it.
                self.names[i] = NI_EMPTY;
                let id = self.slots[pos].id;
                let name = self.slots[pos].name;
                self.slots[pos].id = EMPTY_ID;
                self.rebuild_names();
                self.slots[pos] = Slot { id, name };
            }
        }
    }

    /// Updates the name index after the user in slot `from` moved to slot `to`.
    fn moved(&mut self, from: usize, to: usize) {
        let name_hash = hash_name(self.name_bytes(to));
        let old = self.entry(name_hash, from);
        let mut i = reduce(name_hash, self.names.len());
        while self.names[i] != old {
            debug_assert_ne!(self.names[i], NI_EMPTY, "name index entry missing");
            i = self.next(i);
        }
        self.names[i] = self.entry(name_hash, to);
    }

    /// Appends to `out` the ids of the users named `name` (whose hash is `name_hash`).
    pub fn find_name(&self, name: &[u8], name_hash: u64, out: &mut Vec<u64>) {
        if self.names.is_empty() {
            return;
        }
        let tag = self.tag(name_hash);
        let mask = self.pos_mask();
        let mut i = reduce(name_hash, self.names.len());
        loop {
            let entry = self.names[i];
            if entry == NI_EMPTY {
                return;
            }
            if entry != NI_TOMB && entry & !mask == tag {
                let pos = (entry & mask) as usize;
                if self.name_bytes(pos) == name {
                    out.push(self.slots[pos].id);
                }
            }
            i = self.next(i);
        }
    }

    /// Copies the live long names into a fresh arena when more than half of it is garbage.
    fn maybe_compact(&mut self) {
        if self.garbage < 4096 || self.garbage * 2 < self.arena.len() {
            return;
        }
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for slot in &mut self.slots {
            if slot.id != EMPTY_ID && slot.name[0] == LONG {
                let (len, offset) = long_ref(&slot.name);
                slot.name[8..16].copy_from_slice(&(arena.len() as u64).to_le_bytes());
                arena.extend_from_slice(&self.arena[offset..offset + len]);
            }
        }
        self.arena = arena;
        self.garbage = 0;
    }

    /// Checks every invariant of the module documentation; for tests.
    #[cfg(test)]
    pub fn check(&self) {
        let cap = self.slots.len();
        assert_eq!(self.names.len(), cap);
        assert!(self.len <= max_len(cap) || cap == 0);
        let mut live = 0;
        let mut seen = std::collections::HashSet::new();
        let mut long_bytes = 0;
        for pos in 0..cap {
            let slot = self.slots[pos];
            if slot.id == EMPTY_ID {
                continue;
            }
            live += 1;
            assert!(seen.insert(slot.id), "duplicate id {}", slot.id);
            assert_eq!(self.find(slot.id, hash_id(slot.id)), Some(pos));
            if slot.name[0] == LONG {
                long_bytes += long_ref(&slot.name).0;
            }
            let i = self.entry_pos(pos);
            assert_eq!(self.names[i] & self.pos_mask(), pos as u32);
        }
        assert_eq!(live, self.len);
        let entries = self
            .names
            .iter()
            .filter(|&&e| e != NI_EMPTY && e != NI_TOMB)
            .count();
        assert_eq!(entries, self.len);
        let tombs = self.names.iter().filter(|&&e| e == NI_TOMB).count();
        assert_eq!(tombs, self.tombs);
        assert_eq!(long_bytes + self.garbage, self.arena.len());
    }
}

/// The length and arena offset of a long name.
#[inline]
fn long_ref(name: &[u8; 16]) -> (usize, usize) {
    let mut len = [0u8; 4];
    len.copy_from_slice(&name[4..8]);
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&name[8..16]);
    (
        u32::from_le_bytes(len) as usize,
        u64::from_le_bytes(offset) as usize,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(id: u64) -> String {
        if id % 3 == 0 {
            format!("a-rather-long-name-for-user-{}", id % 7)
        } else {
            format!("u{}", id % 5)
        }
    }

    #[test]
    fn slot_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 24);
    }

    #[test]
    fn grows_shrinks_and_keeps_the_index() {
        let mut table = Table::default();
        for id in 0..5000u64 {
            assert!(table.insert(id, hash_id(id), &name_of(id)));
        }
        table.check();
        for id in (0..5000u64).step_by(2) {
            assert!(!table.insert(id, hash_id(id), &name_of(id + 1)));
        }
        table.check();
        for id in 0..4900u64 {
            assert!(table.remove(id, hash_id(id)));
            if id % 97 == 0 {
                table.check();
            }
        }
        table.check();
        assert_eq!(table.len(), 100);
        assert!(table.slots.len() < 1000);
        let mut out = Vec::new();
        let name = name_of(4901);
        table.find_name(name.as_bytes(), hash_name(name.as_bytes()), &mut out);
        out.sort_unstable();
        let expected: Vec<u64> = (4900..5000)
            .filter(|&id| name_of(if id % 2 == 0 { id + 1 } else { id }) == name)
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn capacity_limits() {
        assert!(max_len(Table::cap_for(1000, 3, 4)) >= 1000);
        assert_eq!(bit_length(16), 5);
        assert_eq!(max_len(16), 14);
    }
}
