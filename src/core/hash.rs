//! The two hash functions of the store: a multiply-xorshift finaliser for ids and a small
//! word-at-a-time hash for names.
//!
//! Both are fast and well mixed but not keyed: they do not resist inputs chosen to collide
//! (hash flooding). The store trusts its callers to that extent, as the issue asked for speed
//! over SipHash.

/// Mixes a 64-bit value so that every input bit affects every output bit (the finaliser of
/// MurmurHash3, `fmix64`). A bijection: distinct ids give distinct hashes.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

/// The hash of an id: [`mix64`] of it.
#[inline]
pub fn hash_id(id: u64) -> u64 {
    mix64(id)
}

/// The hash of a name's bytes: eight bytes at a time folded with a multiply, then
/// [`mix64`]. The length is mixed in so that names that differ only by trailing NUL bytes
/// differ.
#[inline]
pub fn hash_name(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    mix64(h)
}

/// Maps a well-mixed 64-bit `hash` onto `0..n` using its high bits (Lemire's
/// multiply-shift range reduction), so table sizes need not be powers of two.
#[inline]
pub fn reduce(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_differ_by_trailing_nul_differ() {
        assert_ne!(hash_name(b"a"), hash_name(b"a\0"));
        assert_ne!(hash_name(b""), hash_name(b"\0"));
        assert_ne!(hash_name(b"12345678"), hash_name(b"12345678\0"));
    }

    #[test]
    fn reduce_stays_in_range() {
        for n in [1usize, 2, 7, 1000, 123_457] {
            for h in [0u64, 1, u64::MAX, 0x8000_0000_0000_0000, mix64(42)] {
                assert!(reduce(h, n) < n);
            }
        }
    }
}
