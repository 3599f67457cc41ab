//! The threaded scheduler: a rayon pool of its own, dependency counters, depth-first chains.

use crate::LocalRun;
use ndtask_core::{Chunk, Error, Result, Scheduler, TaskGraph, TaskId};
use rayon::{Scope, ThreadPool, Yield};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    /// it, and progress never stops).
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.budget = Some(bytes);
        self
    }

    /// Runs `f` inside this scheduler's pool (used by the MPI scheduler for a rank's tasks).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

struct Shared<'a, 'g> {
    run: &'a LocalRun<'g>,
    roots: Vec<TaskId>,
    next_root: AtomicUsize,
    active: AtomicUsize,
    budget: Option<usize>,
}

impl Scheduler for ThreadedScheduler {
    fn name(&self) -> &str {
        "threaded"
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn execute(&self, graph: &TaskGraph) -> Result<Option<Vec<Arc<Chunk>>>> {
        let run = LocalRun::new(graph);
        let shared = Shared {
            roots: run.roots(),
            run: &run,
            next_root: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            budget: self.budget,
        };
        self.pool
            .scope(|s| s.spawn_broadcast(|s, _| feed(s, &shared)));
        run.finish().map(Some)
    }
}

/// One per worker: starts sources until none are left, draining local work before each.
fn feed<'s>(s: &Scope<'s>, sh: &'s Shared<'s, '_>) {
    loop {
        while let Some(Yield::Executed) = rayon::yield_local() {}
        if sh.run.failed() {
            return;
        }
        if let Some(budget) = sh.budget {
            while sh.run.live_bytes() > budget
                && sh.active.load(Ordering::Acquire) > 0
                && !sh.run.failed()
            {
                if !matches!(rayon::yield_now(), Some(Yield::Executed)) {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
        let i = sh.next_root.fetch_add(1, Ordering::Relaxed);
        let Some(&root) = sh.roots.get(i) else { return };
        chain(s, sh, root);
    }
}

/// Runs `t`, then keeps going with the first consumer it made ready; spawns the rest.
fn chain<'s>(s: &Scope<'s>, sh: &'s Shared<'s, '_>, mut t: TaskId) {
    sh.active.fetch_add(1, Ordering::AcqRel);
    let mut ready = Vec::new();
    loop {
        ready.clear();
        sh.run.run(t, &mut ready);
        let Some((&first, rest)) = ready.split_first() else {
            break;
        };
        for &r in rest {
            s.spawn(move |s| chain(s, sh, r));
        }
        t = first;
    }
    sh.active.fetch_sub(1, Ordering::AcqRel);
}
