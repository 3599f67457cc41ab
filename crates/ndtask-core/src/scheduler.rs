//! The executor interface: a [`Scheduler`] runs a [`TaskGraph`] under a [`RunContext`] and
//! hands back its outputs (or keeps them where they were computed, [`Kept`]).

use crate::{Chunk, Error, Result, RunContext, TaskGraph};
use std::sync::Arc;

/// Runs a [`TaskGraph`] and hands back the results of its output tasks.
///
/// # Error handling
/// When a task fails (error or panic), the scheduler stops starting new tasks, lets running ones
/// finish, and returns the failure as [`Error::Task`]. It never hangs and never returns partial
/// results.
///
/// # Run context
/// [`Scheduler::execute_with`] runs under a [`RunContext`]: its observer is told of the run and
/// of every task, its cancellation token stops the run with [`Error::Cancelled`], and its memory
/// budget bounds live results. [`Scheduler::execute`] runs with an empty context.
///
/// The trait does not require `Send`/`Sync`: the MPI scheduler must stay on the thread that
/// initialised MPI.
pub trait Scheduler {
    /// A short name ("sync", "threaded", "mpi").
    fn name(&self) -> &str;
    /// Number of worker threads per process.
    fn threads(&self) -> usize;
    /// Number of processes taking part (MPI ranks; 1 otherwise).
    fn ranks(&self) -> usize {
        1
    }
    /// This process's rank among [`Scheduler::ranks`] (0 when there is one process).
    fn rank(&self) -> usize {
        0
    }
    /// Whether every process taking part receives the results of a run (so that each can
    /// decide alone what to compute next, as a bag's `take` does): true for one process; for
    /// MPI, when the scheduler gathers the outputs to every rank.
    fn delivers_to_all(&self) -> bool {
        self.ranks() == 1
    }
    /// Runs the graph with an empty [`RunContext`]. Returns the results of `graph.outputs()` in
    /// order, or `None` on a process that does not receive outputs (MPI ranks other than the
    /// root, by default).
    ///
    /// # Errors
    /// The first task failure, or a scheduler failure.
    fn execute(&self, graph: &TaskGraph) -> Result<Option<Vec<Arc<Chunk>>>> {
        self.execute_with(graph, &RunContext::default())
    }

    /// Runs the graph under `ctx` (observer, cancellation, memory budget); otherwise as
    /// [`Scheduler::execute`]. A scheduler must implement one of the two; the default runs
    /// [`Scheduler::execute`] and, for a scheduler that knows no context, only honours a
    /// cancellation that came before the start.
    ///
    /// # Errors
    /// As [`Scheduler::execute`]; [`Error::Cancelled`] when `ctx`'s token cancelled the run.
    fn execute_with(&self, graph: &TaskGraph, ctx: &RunContext) -> Result<Option<Vec<Arc<Chunk>>>> {
        if ctx.is_cancelled() {
            return Err(Error::Cancelled);
        }
        self.execute(graph)
    }

    /// Called instead of [`Scheduler::execute`] when this process cannot even build its graph
    /// (the expression was invalid, or lowering failed). Returns the error to report. A
    /// scheduler that runs a graph across processes (MPI) tells the others, so that every
    /// process returns the same error, whichever of them failed, and none waits forever; the
    /// default, for one process, returns `error` as it is.
    fn fail_before_run(&self, error: Error) -> Error {
        error
    }

    /// Runs the graph under `ctx` and keeps each output on the process that computed it, as
    /// `persist` needs: no output is sent anywhere. The default, for one process, holds every
    /// output here. A scheduler of several processes (MPI) returns on each one the outputs it
    /// holds and, for every output, the rank that holds it, the same on every rank.
    ///
    /// # Errors
    /// As [`Scheduler::execute_with`].
    fn execute_kept(&self, graph: &TaskGraph, ctx: &RunContext) -> Result<Kept> {
        let chunks = self.execute_with(graph, ctx)?.ok_or_else(|| {
            Error::Scheduler(format!(
                "the {} scheduler delivered the outputs to another process",
                self.name()
            ))
        })?;
        Ok(Kept {
            homes: vec![self.rank(); chunks.len()],
            chunks: chunks.into_iter().map(Some).collect(),
        })
    }
}

/// The outputs of [`Scheduler::execute_kept`], each where it was computed.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// Each output's result, on the process that holds it (`None` on the others).
    pub chunks: Vec<Option<Arc<Chunk>>>,
    /// The rank that holds each output.
    pub homes: Vec<usize>,
}
