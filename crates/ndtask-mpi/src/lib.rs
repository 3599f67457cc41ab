//! ndtask's SPMD MPI scheduler: the same program that runs on threads runs across the ranks
//! started by `mpirun -n N` or `srun`, every rank a worker.
//!
//! ## How to use
//!
//! Build with the facade's `mpi` feature, create one [`MpiScheduler`] per process, put it in a
//! run configuration, and compute on every rank with `Config::compute_local`: rank 0 gets the
//! result, the others `None`.
//!
//! ```no_run
//! use ndtask_mpi::MpiScheduler;
//! let cfg = ndtask_array::Config::new().scheduler(MpiScheduler::new()?);
//! let x = ndtask_array::random::uniform::<f64>([100_000_000], [1_000_000], 7)?;
//! if let Some(s) = cfg.compute_local(&x.sum())? {
//!     println!("{s}");
//! }
//! # Ok::<(), ndtask_core::Error>(())
//! ```
//!
//! ## How it works
//!
//! 1. Every rank lowers the same plan to the same [`TaskGraph`](ndtask_core::TaskGraph) and the
//!    ranks compare its fingerprint (two allreduces); a mismatch is an error on every rank.
//! 2. [`Placement`] gives every task an owner rank, the same on every rank: each array's chunks
//!    in contiguous balanced blocks, every other task where its first input is.
//! 3. Each rank runs its own tasks on a local rayon pool. A finished result goes once to each
//!    other rank that owns one of its consumers (and to rank 0 if it is an output). Uses on other
//!    ranks do not keep a result alive here.
//! 4. The thread that created the scheduler runs the communication loop: immediate synchronous
//!    sends, probing for messages while they are in flight, a non-blocking barrier at the end.
//!    A failed task's rank sends the error to every rank, and every rank returns it.
//! 5. Under a memory budget (`ndtask::Config::memory_budget`) each rank starts its steps
//!    in the global memory order, each when it fits, and a result is sent only to ranks that
//!    have made room for it (a grant); a plan that cannot fit fails on every rank before it
//!    runs.
//!
//! ## Crate layout
//!
//! - `placement`: owners, and what each rank sends and waits for.
//! - `wire`: the messages (a result, a failure, a progress report, a grant) as bytes.
//! - `exchange`: one run on one rank: workers, the communication loop, ending and failing.
//! - `flow`: flow control under a memory budget per rank: each rank's steps in the global
//!   memory order, grants before sends, and the plan-time check.
//! - `scheduler`: MPI set-up, the agreement check, the `Scheduler` implementation.
//! - `scaling`: [`predict`], every rank's tasks, messages and bytes for any rank count, without
//!   running.

#![warn(missing_docs)]

mod exchange;
mod flow;
mod jitter;
mod placement;
mod scaling;
mod scheduler;
mod wire;

/// The rsmpi crate this scheduler is built on, for programs that make MPI calls of their own.
pub use exchange::RunStats;
pub use mpi;
pub use placement::Placement;
pub use scaling::{predict, predict_under_budget};
pub use scheduler::{MpiScheduler, MpiSchedulerBuilder};

/// The number of ranks the launcher started, read from its environment variables without
/// touching MPI: `OMPI_COMM_WORLD_SIZE` (Open MPI's `mpirun`), `PMI_SIZE` (MPICH's Hydra, Intel
/// MPI), `PMIX_SIZE`, or, inside a `srun` step (`SLURM_STEP_ID` set), `SLURM_STEP_NUM_TASKS` /
/// `SLURM_NTASKS`. `None` when the process was started directly.
///
/// # Examples
/// ```
/// // Run directly (not under mpirun), there is no launcher.
/// if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_none() && std::env::var_os("PMI_SIZE").is_none()
///     && std::env::var_os("PMIX_SIZE").is_none() && std::env::var_os("SLURM_STEP_ID").is_none()
/// {
///     assert_eq!(ndtask_mpi::launched_ranks(), None);
/// }
/// ```
pub fn launched_ranks() -> Option<usize> {
    launched_ranks_from(|k| std::env::var(k).ok())
}

fn launched_ranks_from(var: impl Fn(&str) -> Option<String>) -> Option<usize> {
    let num = |k: &str| var(k).and_then(|v| v.trim().parse::<usize>().ok());
    num("OMPI_COMM_WORLD_SIZE")
        .or_else(|| num("PMI_SIZE"))
        .or_else(|| num("PMIX_SIZE"))
        .or_else(|| {
            var("SLURM_STEP_ID")?;
            num("SLURM_STEP_NUM_TASKS").or_else(|| num("SLURM_NTASKS"))
        })
}

#[cfg(test)]
mod tests {
    use super::launched_ranks_from;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn launchers_are_recognised() {
        assert_eq!(launched_ranks_from(env(&[])), None);
        assert_eq!(
            launched_ranks_from(env(&[("OMPI_COMM_WORLD_SIZE", "4")])),
            Some(4)
        );
        assert_eq!(launched_ranks_from(env(&[("PMI_SIZE", "2")])), Some(2));
        // A batch script has SLURM_NTASKS but is not a step: not launched.
        assert_eq!(launched_ranks_from(env(&[("SLURM_NTASKS", "8")])), None);
        assert_eq!(
            launched_ranks_from(env(&[("SLURM_NTASKS", "8"), ("SLURM_STEP_ID", "0")])),
            Some(8)
        );
        assert_eq!(launched_ranks_from(env(&[("PMI_SIZE", "x")])), None);
    }
}
