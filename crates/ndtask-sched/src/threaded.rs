//! The threaded scheduler: a rayon pool of its own, dependency counters, depth-first chains.

use crate::{Admit, LocalRun, Workers};
use ndtask_core::memory::{memory_order, BudgetPlan};
use ndtask_core::{Chunk, Error, Result, RunContext, RunInfo, Scheduler, TaskGraph};
use rayon::ThreadPool;
use std::sync::Arc;

/// Runs tasks on a rayon thread pool of its own.
///
/// Each worker starts source tasks one at a time, in the memory order
/// ([`ndtask_core::memory::memory_order`]). After a task, the worker runs one consumer that
/// became ready itself and hands the others to the pool, and it drains that local work before
/// it starts another source: depth-first, so memory stays bounded by a few chunks per worker.
///
/// With a memory budget (the run context's: `ndtask::Config::memory_budget`), tasks start in
/// the memory order, each only when its result fits in
/// the budget beside the results alive and those being made, a later one early only where the
/// plan-time check leaves room for it ([`crate::Admit`]), so the live results never exceed
/// it; a plan that cannot run within the budget at all fails before any task runs, naming the
/// task that does not fit ([`ndtask_core::memory::check_budget`]).
///
/// # Examples
/// ```
/// use ndtask_sched::{Scheduler, ThreadedScheduler};
/// let s = ThreadedScheduler::with_threads(2).unwrap();
/// assert_eq!(s.threads(), 2);
/// ```
#[derive(Clone)]
pub struct ThreadedScheduler {
    pool: Arc<ThreadPool>,
    threads: usize,
}

impl std::fmt::Debug for ThreadedScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadedScheduler")
            .field("threads", &self.threads)
            .finish()
    }
}

impl ThreadedScheduler {
    /// A scheduler with one thread per available core.
    ///
    /// # Errors
    /// [`Error::Scheduler`] if the thread pool cannot be created.
    pub fn new() -> Result<Self> {
        Self::with_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// A scheduler with `threads` worker threads.
    ///
    /// # Errors
    /// [`Error::Scheduler`] if `threads` is zero or the pool cannot be created.
    pub fn with_threads(threads: usize) -> Result<Self> {
        if threads == 0 {
            return Err(Error::Scheduler(
                "the threaded scheduler needs at least 1 thread, got 0".into(),
            ));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ndtask-worker-{i}"))
            .build()
            .map_err(|e| Error::Scheduler(format!("cannot start {threads} threads: {e}")))?;
        Ok(ThreadedScheduler {
            pool: Arc::new(pool),
            threads,
        })
    }

    /// Runs `f` inside this scheduler's pool (used by the MPI scheduler for a rank's tasks).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

impl Scheduler for ThreadedScheduler {
    fn name(&self) -> &str {
        "threaded"
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn execute_with(&self, graph: &TaskGraph, ctx: &RunContext) -> Result<Option<Vec<Arc<Chunk>>>> {
        let order = memory_order(graph);
        let budget = match ctx.budget() {
            Some(b) => Some(BudgetPlan::local(graph, &order, b)?),
            None => None,
        };
        let run = LocalRun::with_context(graph, ctx, 0);
        run.start(|| RunInfo::local(self.name(), graph, self.threads));
        match &budget {
            Some(plan) => {
                let in_order = Admit::new(&run, plan, self.threads, ());
                self.pool.broadcast(|_| in_order.work());
            }
            None => {
                let roots = run.roots(&order);
                let workers = Workers::new(&run, &roots, self.threads, ());
                self.pool
                    .scope(|s| s.spawn_broadcast(|s, _| workers.feed(s)));
            }
        }
        run.finish().map(Some)
    }
}
