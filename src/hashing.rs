//! Fast, stable hashing for the poll's hot path: a record's content hash
//! (stored, so it must not change between versions, unlike std's), and a
//! hasher for maps keyed by reconciliation ID (no HashDoS concern: the IDs
//! come from the operator's own systems, and speed over 100,000 records
//! matters more).

use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0x517c_c1b7_2722_0a95;

/// A 64-bit hash of a record's JSON text, eight bytes at a time.
pub fn content_hash(bytes: &[u8]) -> i64 {
    let mut h = IdHasher::default();
    h.write(bytes);
    // Mix in the length, and scramble the last round's bits downwards.
    let h = (h.finish() ^ bytes.len() as u64).wrapping_mul(K);
    (h ^ (h >> 29)) as i64
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
    fn content_hash_is_stable_and_sensitive() {
        // Stored in databases: this value must never change.
        assert_eq!(
            content_hash(br#"{"sys_id":"a1"}"#),
            content_hash(br#"{"sys_id":"a1"}"#)
        );
        assert_ne!(
            content_hash(br#"{"sys_id":"a1"}"#),
            content_hash(br#"{"sys_id":"a2"}"#)
        );
        // Trailing zero bytes and lengths are told apart.
        assert_ne!(content_hash(b"ab"), content_hash(b"ab\0"));
        assert_ne!(content_hash(b""), content_hash(b"\0"));
    }
}
