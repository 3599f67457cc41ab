//! Schedulers that run a [`TaskGraph`] inside one process.
//!
//! - [`SyncScheduler`]: one thread, tasks in the memory order; the reference every other
//!   scheduler is tested against.
//! - [`ThreadedScheduler`]: its own rayon pool; dependency counters make a task ready when its
//!   inputs are done, and a worker runs one newly ready consumer itself (depth-first), so
//!   intermediates are freed soon after they are made.
//!
//! Both start tasks in the memory order of [`ndtask_core::memory`] ([`Workers`], [`Admit`]),
//! hold a memory budget as a real bound, free each intermediate chunk when its last consumer
//! has read it, and stop starting tasks after the first failure or a cancellation. The MPI
//! scheduler (crate `ndtask-mpi`) runs the same loop and [`LocalRun`] for the tasks a rank owns.
//!
//! Observers of runs live in [`observe`]: a progress bar and a Chrome trace writer.

mod admit;
mod local;
pub mod observe;
mod sync;
mod tally;
mod threaded;
mod worker;

pub use admit::{Admit, Hooks};
pub use local::LocalRun;
pub use ndtask_core::{Scheduler, TaskGraph};
pub use sync::SyncScheduler;
pub use threaded::ThreadedScheduler;
pub use worker::{AfterTask, Workers};
