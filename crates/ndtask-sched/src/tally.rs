//! A count that worker threads add to side by side without slowing each other down.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A counter on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicUsize);

/// Threads beyond this many share counters (a counter per thread modulo this).
const SLOTS: usize = 32;

/// A count kept per worker thread: adding to it costs no contended cache line.
#[derive(Default)]
pub(crate) struct Tally([Padded; SLOTS]);

impl Tally {
    /// Adds one for worker thread `thread`.
    pub(crate) fn add(&self, thread: usize) {
        self.0[thread % SLOTS].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count over every thread.
    pub(crate) fn total(&self) -> usize {
        self.0.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }

    /// Back to zero.
    pub(crate) fn reset(&self) {
        self.0.iter().for_each(|c| c.0.store(0, Ordering::Relaxed));
    }
}
