//! The threaded scheduler: a rayon pool of its own, dependency counters, depth-first chains.

use crate::{LocalRun, Workers};
use ndtask_core::{Chunk, Error, Result, RunContext, RunInfo, Scheduler, TaskGraph};
use rayon::ThreadPool;
use std::sync::Arc;

/// Runs tasks on a rayon thread pool of its own.
///
/// Each worker starts source tasks one at a time. After a task, the worker runs one consumer
/// that became ready itself and hands the others to the pool, and it drains that local work
/// before it starts another source: depth-first, so memory stays bounded by a few chunks per
/// worker. With a memory budget, workers also hold back new sources while the results alive
/// exceed the budget and other work is running.
///
/// # Examples
/// ```
/// use ndtask_sched::{Scheduler, ThreadedScheduler};
/// let s = ThreadedScheduler::with_threads(2).unwrap().memory_budget(64 << 20);
/// assert_eq!(s.threads(), 2);
/// ```
#[derive(Clone)]
pub struct ThreadedScheduler {
    pool: Arc<ThreadPool>,
    threads: usize,
    budget: Option<usize>,
}

impl std::fmt::Debug for ThreadedScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadedScheduler")
            .field("threads", &self.threads)
            .field("budget", &self.budget)
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
            budget: None,
        })
    }

    /// Limits the bytes of live intermediate results: sources are held back while more than
    /// `bytes` are alive and other tasks are running (a soft limit: one task's result can exceed
    /// it, and progress never stops). A [`RunContext::memory_budget`] overrides it for one run.
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.budget = Some(bytes);
        self
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
        let run = LocalRun::with_context(graph, ctx, 0);
        run.start(|| RunInfo::local(self.name(), graph, self.threads));
        let roots = run.roots();
        let budget = ctx.budget().or(self.budget);
        let workers = Workers::new(&run, &roots, self.threads, budget, ());
        self.pool
            .scope(|s| s.spawn_broadcast(|s, _| workers.feed(s)));
        run.finish().map(Some)
    }
}
