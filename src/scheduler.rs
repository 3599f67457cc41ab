//! Choosing a scheduler by name, as command-line programs do (`--scheduler sync|threaded|mpi`).

use crate::{Error, Result, Scheduler, SyncScheduler, ThreadedScheduler};

/// Which scheduler to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// [`SyncScheduler`].
    Sync,
    /// [`ThreadedScheduler`].
    Threaded,
    /// The MPI scheduler (feature `mpi`).
    Mpi,
}

impl std::str::FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Kind> {
        match s {
            "sync" => Ok(Kind::Sync),
            "threaded" | "threads" => Ok(Kind::Threaded),
            "mpi" => Ok(Kind::Mpi),
            _ => Err(Error::InvalidArgument(format!(
                "unknown scheduler {s:?}: expected sync, threaded or mpi"
            ))),
        }
    }
}

/// Makes a scheduler of `kind`; `threads` sets the pool size of the threaded scheduler (all
/// cores when `None`).
///
/// # Errors
/// [`Error::Scheduler`] for `Kind::Mpi` when ndtask was built without the `mpi` feature, or if
/// a thread pool cannot be started.
///
/// # Examples
/// ```
/// use ndtask::scheduler::{make, Kind};
/// let s = make(Kind::Threaded, Some(2)).unwrap();
/// assert_eq!(s.threads(), 2);
/// ```
pub fn make(kind: Kind, threads: Option<usize>) -> Result<Box<dyn Scheduler>> {
    match kind {
        Kind::Sync => Ok(Box::new(SyncScheduler)),
        Kind::Threaded => Ok(Box::new(match threads {
            Some(n) => ThreadedScheduler::with_threads(n)?,
            None => ThreadedScheduler::new()?,
        })),
        Kind::Mpi => Err(Error::Scheduler(
            "the MPI scheduler is not available: rebuild with `--features mpi` (needs an MPI library)".into(),
        )),
    }
}

/// Picks a scheduler from how the program was launched: MPI when ndtask was built with the
/// `mpi` feature and the process runs under `mpirun`/`srun` with more than one rank, the
/// threaded scheduler otherwise.
///
/// # Errors
/// As [`make`].
pub fn auto(threads: Option<usize>) -> Result<Box<dyn Scheduler>> {
    make(Kind::Threaded, threads)
}
