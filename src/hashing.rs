//! Hashing for the poll's hot path: a record's content digest (stored, and
//! compared to tell a changed record), and a fast hasher for maps keyed by
//! reconciliation ID (no HashDoS concern at that scale: the IDs of one poll).
//!
//! Record text comes from anyone who can write a ticket, so the digest must
//! not be one a writer can make collide (and so hide a change): it is
//! SipHash-2-4, a keyed pseudo-random function, under a random key kept in
//! the database. It is also fast enough for 100,000 records a poll, which
//! SHA-256 without hardware support is not.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash's multiplier.
const K: u64 = 0x517c_c1b7_2722_0a95;

/// The key of record digests: random, made once per database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestKey(pub [u8; 16]);

impl DigestKey {
    /// A new random key: std seeds every `RandomState` from the operating
    /// system's randomness.
    pub fn random() -> DigestKey {
        use std::hash::BuildHasher;
        let mut key = [0u8; 16];
        for (i, half) in key.chunks_mut(8).enumerate() {
            let word = std::collections::hash_map::RandomState::new().hash_one(i);
            half.copy_from_slice(&word.to_le_bytes());
        }
        DigestKey(key)
    }

    /// The digest of a record's JSON text.
    pub fn digest(&self, bytes: &[u8]) -> i64 {
        let k0 = u64::from_le_bytes(self.0[..8].try_into().expect("eight bytes"));
        let k1 = u64::from_le_bytes(self.0[8..].try_into().expect("eight bytes"));
        // std's SipHasher is SipHash-2-4, fixed by its specification;
        // deprecated only in favour of hashers that cannot take a key.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
        h.write(bytes);
        h.finish() as i64
    }
}

/// FxHash's mixing step (rustc's hasher).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type IdMap<V> = std::collections::HashMap<String, V, BuildHasherDefault<IdHasher>>;
pub type IdSet<'a> = std::collections::HashSet<&'a str, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_follow_siphash_2_4_and_depend_on_the_key() {
        // The reference vector of the SipHash paper: key 00..0f, an empty
        // message gives 0x726fdb47dd0e0e31.
        let key = DigestKey(std::array::from_fn(|i| i as u8));
        assert_eq!(key.digest(b"") as u64, 0x726f_db47_dd0e_0e31);
        assert_ne!(key.digest(b"ab"), key.digest(b"ab\0"));
        assert_ne!(DigestKey::random(), DigestKey::random());
        assert_ne!(DigestKey::random().digest(b"x"), key.digest(b"x"));
    }
}
