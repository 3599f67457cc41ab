//! The schedulers, and choosing one by name as command-line programs do
//! (`--scheduler sync|threaded|mpi|auto`). A [`Config`] runs on the scheduler it is given.

#[cfg(feature = "mpi")]
pub use ndtask_mpi::{MpiScheduler, MpiSchedulerBuilder};
pub use ndtask_sched::{SyncScheduler, ThreadedScheduler};

use crate::{Config, Error, Result};
pub use ndtask_core::Scheduler;
use std::rc::Rc;

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
/// a thread pool cannot be started; [`Error::Mpi`] if MPI cannot be initialised (it can be once
/// per process: make one MPI scheduler and reuse it).
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
        #[cfg(feature = "mpi")]
        Kind::Mpi => {
            let mut b = ndtask_mpi::MpiScheduler::builder();
            if let Some(n) = threads {
                b = b.threads(n);
            }
            Ok(Box::new(b.build()?))
        }
        #[cfg(not(feature = "mpi"))]
        Kind::Mpi => Err(Error::Scheduler(
            "the MPI scheduler is not available: rebuild with `--features mpi` (needs an MPI library)".into(),
        )),
    }
}

/// A configuration on the scheduler of `kind` (`None`: [`auto`]) with `threads` threads.
///
/// # Errors
/// As [`make`].
///
/// # Examples
/// ```
/// use ndtask::scheduler::{config, Kind};
/// let cfg = config(Some(Kind::Sync), None)?;
/// assert_eq!(cfg.name(), "sync");
/// # Ok::<(), ndtask::Error>(())
/// ```
pub fn config(kind: Option<Kind>, threads: Option<usize>) -> Result<Config> {
    let s = match kind {
        Some(kind) => make(kind, threads)?,
        None => auto(threads)?,
    };
    Ok(Config::new().shared_scheduler(Rc::from(s)))
}

/// Picks a scheduler from how the program was launched: MPI when ndtask was built with the
/// `mpi` feature and the process runs under `mpirun`/`srun` with more than one rank, the
/// threaded scheduler otherwise.
///
/// # Errors
/// As [`make`].
pub fn auto(threads: Option<usize>) -> Result<Box<dyn Scheduler>> {
    make(auto_kind(), threads)
}

/// The kind [`auto`] makes: [`Kind::Mpi`] when built with the `mpi` feature and launched with
/// more than one rank (`OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`, `PMIX_SIZE`, or `SLURM_NTASKS` inside
/// a `srun` step), [`Kind::Threaded`] otherwise. It reads the environment only: MPI is not
/// initialised.
pub fn auto_kind() -> Kind {
    #[cfg(feature = "mpi")]
    if ndtask_mpi::launched_ranks().is_some_and(|n| n > 1) {
        return Kind::Mpi;
    }
    Kind::Threaded
}
