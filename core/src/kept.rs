//! What was worked out recently, kept for the same question again: a
//! bounded cache that holds nothing when its capacity is zero, so a host
//! (or a benchmark) can turn keeping off and have every answer made afresh.

use std::hash::Hash;

/// Entries kept of each kind by default (a few KiB each at most).
pub const DEFAULT_CAPACITY: usize = 4096;

/// A bounded cache of `V` by `K`; with capacity 0 it keeps nothing.
pub(crate) struct Kept<K, V>(Option<quick_cache::sync::Cache<K, V>>);

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    /// Keeps at most `capacity` entries (0: none).
    pub(crate) fn new(capacity: usize) -> Self {
        Kept((capacity > 0).then(|| quick_cache::sync::Cache::new(capacity)))
    }

    /// The entry kept for `key`.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.0.as_ref()?.get(key)
    }

    /// Keeps `value` for `key`, unless keeping is off.
    pub(crate) fn insert(&self, key: K, value: V) {
        if let Some(cache) = &self.0 {
            cache.insert(key, value);
        }
    }

    /// The entry kept for `key`, or `make`'s, kept for next time.
    pub(crate) fn get_or_make<E>(
        &self,
        key: &K,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E>
    where
        K: Clone,
    {
        match &self.0 {
            Some(cache) => cache.get_or_insert_with(key, make),
            None => make(),
        }
    }
}

/// Appends one part of a key, length-prefixed, so that no two keys made of
/// different parts run together.
pub(crate) fn push_part(key: &mut Vec<u8>, part: &[u8]) {
    key.extend_from_slice(&(part.len() as u64).to_le_bytes());
    key.extend_from_slice(part);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_capacity_every_answer_is_made_afresh() {
        let kept: Kept<u8, u32> = Kept::new(0);
        kept.insert(1, 10);
        assert_eq!(kept.get(&1), None);
        let mut made = 0;
        for _ in 0..2 {
            let v = kept.get_or_make(&1, || {
                made += 1;
                Ok::<_, ()>(made)
            });
            assert_eq!(v, Ok(made));
        }
        assert_eq!(made, 2);
    }

    #[test]
    fn with_capacity_the_same_key_is_answered_from_what_was_kept() {
        let kept: Kept<u8, u32> = Kept::new(8);
        assert_eq!(kept.get_or_make(&1, || Ok::<_, ()>(10)), Ok(10));
        assert_eq!(kept.get_or_make(&1, || Ok::<_, ()>(99)), Ok(10));
        kept.insert(2, 20);
        assert_eq!(kept.get(&2), Some(20));
    }
}
