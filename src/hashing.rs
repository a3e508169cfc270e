//! Hashing for the poll's hot path: a record's content digest (stored, and
//! compared to tell a changed record: record text comes from anyone who can
//! write a ticket, so it is SHA-256, which nobody can make collide), and a
//! fast hasher for maps keyed by reconciliation ID (no HashDoS concern at
//! that scale: a map of the IDs of one poll).

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash's multiplier.
const K: u64 = 0x517c_c1b7_2722_0a95;

/// The digest of a record's JSON text: SHA-256's first 128 bits.
pub type Digest = [u8; 16];

pub fn content_digest(bytes: &[u8]) -> Digest {
    use sha2::Digest as _;
    let full = sha2::Sha256::digest(bytes);
    full[..16].try_into().expect("SHA-256 has 32 bytes")
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
    fn content_digest_is_stable() {
        // Stored in databases: this value must never change.
        assert_eq!(
            content_digest(b"abc"),
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23
            ]
        );
        assert_ne!(content_digest(b"ab"), content_digest(b"ab\0"));
    }
}
