//! Schedulers that run a [`TaskGraph`] inside one process.
//!
//! - [`SyncScheduler`]: one thread, depth-first; the reference every other scheduler is tested
//!   against.
//! - [`ThreadedScheduler`]: its own rayon pool; dependency counters make a task ready when its
//!   inputs are done, and a worker runs one newly ready consumer itself (depth-first), so
//!   intermediates are freed soon after they are made.
//!
//! Both free each intermediate chunk when its last consumer has read it, and both stop starting
//! tasks after the first failure. The MPI scheduler (crate `ndtask-mpi`) reuses [`LocalRun`] for
//! the tasks a rank owns.

mod local;
mod sync;
mod threaded;

pub use local::LocalRun;
pub use ndtask_core::{Scheduler, TaskGraph};
pub use sync::SyncScheduler;
pub use threaded::ThreadedScheduler;
