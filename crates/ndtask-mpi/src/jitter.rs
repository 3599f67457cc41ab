//! A testing aid: random delays injected into a run's messages, to shake out orderings that one
//! MPI's timing hides (issue 33 hung under MPICH only). `NDTASK_MPI_JITTER=MICROSECONDS` makes
//! every report a worker hands to the MPI thread (a finished task, a grant to send) and every
//! round of sends wait a random time below that bound first. Off (and free) when unset.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Random delays below a bound, from a per-rank generator.
#[derive(Debug)]
pub(crate) struct Jitter {
    bound_us: u64,
    state: AtomicU64,
}

impl Jitter {
    /// The jitter `NDTASK_MPI_JITTER` asks for on `rank`, if any (an unreadable value is none).
    pub fn from_env(rank: usize) -> Option<Jitter> {
        let bound_us: u64 = std::env::var("NDTASK_MPI_JITTER")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (bound_us > 0).then(|| Jitter {
            bound_us,
            state: AtomicU64::new(0x9e37_79b9_7f4a_7c15 ^ (rank as u64 + 1)),
        })
    }

    /// Sleeps a random time below the bound.
    pub fn delay(&self) {
        // splitmix64 over a shared counter: threads draw different values without a lock.
        let mut z = self
            .state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        std::thread::sleep(Duration::from_micros(z % self.bound_us));
    }
}

/// Sleeps a random time if `jitter` is set.
pub(crate) fn maybe_delay(jitter: Option<&Jitter>) {
    if let Some(j) = jitter {
        j.delay();
    }
}
