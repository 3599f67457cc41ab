//! The graph fingerprint that MPI ranks compare before a run: a 64-bit FNV-1a hash fed with
//! typed, length-prefixed fields, so that two different sequences of fields (`"ab", "c"` and
//! `"a", "bc"`) never feed the same bytes.

/// A running hash of everything that changes a graph's results.
///
/// # Examples
/// ```
/// use ndtask_core::Fingerprint;
/// let (mut a, mut b) = (Fingerprint::new(), Fingerprint::new());
/// a.str("ab");
/// a.str("c");
/// b.str("a");
/// b.str("bc");
/// assert_ne!(a.finish(), b.finish());
/// ```
#[derive(Debug, Clone)]
pub struct Fingerprint {
    hash: u64,
    /// Every byte fed, for a fingerprint that must compare exactly ([`Fingerprint::recording`]).
    bytes: Option<Vec<u8>>,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Self::new()
    }
}

impl Fingerprint {
    const PRIME: u64 = 0x100_0000_01b3;

    /// A hash of nothing yet.
    pub fn new() -> Self {
        Fingerprint {
            hash: 0xcbf2_9ce4_8422_2325,
            bytes: None,
        }
    }

    /// A fingerprint that also keeps every byte fed, so that two can be compared exactly
    /// ([`Fingerprint::bytes`]) rather than by their hash.
    pub fn recording() -> Self {
        Fingerprint {
            bytes: Some(Vec::new()),
            ..Self::new()
        }
    }

    /// The bytes fed so far, if this fingerprint records them.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.bytes.as_deref()
    }

    fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hash = (self.hash ^ b as u64).wrapping_mul(Self::PRIME);
        }
        if let Some(v) = &mut self.bytes {
            v.extend_from_slice(bytes);
        }
    }

    /// Feeds one byte (a tag).
    pub fn u8(&mut self, x: u8) {
        self.eat(&[x]);
    }

    /// Feeds a 64-bit integer.
    pub fn u64(&mut self, x: u64) {
        self.eat(&x.to_le_bytes());
    }

    /// Feeds a size or index.
    pub fn usize(&mut self, x: usize) {
        self.u64(x as u64);
    }

    /// Feeds a float by its bits (so `0.0` and `-0.0` differ, as their results may).
    pub fn f64(&mut self, x: f64) {
        self.u64(x.to_bits());
    }

    /// Feeds a string, prefixed by its length.
    pub fn str(&mut self, s: &str) {
        self.usize(s.len());
        self.eat(s.as_bytes());
    }

    /// Feeds an element value exactly, whatever its type (its `f64` bits and its `i64` value:
    /// together they tell apart every value of every element type).
    pub fn scalar<T: crate::Element>(&mut self, v: T) {
        self.str(T::DTYPE.name());
        self.f64(v.to_f64());
        self.u64(v.to_i64() as u64);
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.hash
    }
}
