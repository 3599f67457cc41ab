//! The worker loop without a budget (the in-order loop is [`crate::Admit`]).
//!
//! [`Workers`] (the threaded scheduler and every MPI rank, without a budget): start source tasks
//! one at a time, in the memory order; after a task, go on with one consumer it made ready
//! (depth-first, so intermediates are freed soon after they are made) and hand the others to
//! the rayon pool. A scheduler adds what it needs after each task through [`AfterTask`] (MPI:
//! report the result to the thread that sends it).

use crate::LocalRun;
use ndtask_core::{panic_message, Chunk, Error, TaskId};
use rayon::{Scope, Yield};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What a scheduler does after each task a worker runs.
pub trait AfterTask: Sync {
    /// Task `t` has run: `result` is its result (`None`: it failed, or was skipped because the
    /// run is stopping), `ready` the consumers it made ready. The hook may remove consumers that
    /// this process does not run, or clear `ready` to stop the chain.
    fn after_task(&self, t: TaskId, result: Option<&Arc<Chunk>>, ready: &mut Vec<TaskId>);

    /// The worker's own book-keeping panicked around task `t` (the run has been failed
    /// already). The default does nothing.
    fn after_panic(&self, t: TaskId) {
        let _ = t;
    }
}

/// Nothing to do after a task (one process).
impl AfterTask for () {
    fn after_task(&self, _: TaskId, _: Option<&Arc<Chunk>>, _: &mut Vec<TaskId>) {}
}

/// The workers of one run.
pub struct Workers<'a, 'g, H> {
    run: &'a LocalRun<'g>,
    roots: &'a [TaskId],
    next_root: AtomicUsize,
    /// Chains running or about to run (incremented before a spawn).
    active: AtomicUsize,
    /// Feeders not yet finished.
    feeders: AtomicUsize,
    hooks: H,
}

impl<'a, 'g, H: AfterTask> Workers<'a, 'g, H> {
    /// Workers for `run` that start the source tasks `roots`, in order, from `feeders` feeding
    /// threads (one per rayon worker).
    pub fn new(run: &'a LocalRun<'g>, roots: &'a [TaskId], feeders: usize, hooks: H) -> Self {
        Workers {
            run,
            roots,
            next_root: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            feeders: AtomicUsize::new(feeders),
            hooks,
        }
    }

    /// The run these workers serve.
    pub fn run(&self) -> &'a LocalRun<'g> {
        self.run
    }

    /// Work spawned and not yet finished (feeders and chains): zero means no task is running or
    /// about to run.
    pub fn outstanding(&self) -> usize {
        // Feeders first: a feeder counts its chain in `active` before it can finish, so once
        // no feeder is left, only running chains (or the MPI thread) raise `active`, and a
        // zero read of it afterwards really means nothing runs.
        let feeders = self.feeders.load(Ordering::Acquire);
        feeders + self.active.load(Ordering::Acquire)
    }

    /// One per rayon worker: starts sources until none are left, draining local work before
    /// each.
    pub fn feed<'s>(&'s self, s: &Scope<'s>) {
        loop {
            while let Some(Yield::Executed) = rayon::yield_local() {}
            let i = self.next_root.fetch_add(1, Ordering::Relaxed);
            let Some(&root) = self.roots.get(i) else {
                break;
            };
            if self.run.skips(root) {
                continue;
            }
            self.active.fetch_add(1, Ordering::AcqRel);
            self.chain(root, &mut |r| self.spawn(s, r));
        }
        self.feeders.fetch_sub(1, Ordering::AcqRel);
    }

    /// Hands task `t` (ready) to the pool.
    pub fn spawn<'s>(&'s self, s: &Scope<'s>, t: TaskId) {
        self.active.fetch_add(1, Ordering::AcqRel);
        s.spawn(move |s| self.chain(t, &mut |r| self.spawn(s, r)));
    }

    /// Runs `t`, then keeps going with the first consumer it made ready and spawns the rest.
    /// The caller counted it in `active`. A panic in this book-keeping (not in a task: those
    /// are caught by `run_task`) fails the run like a task failure.
    fn chain(&self, t: TaskId, spawn: &mut dyn FnMut(TaskId)) {
        let current = Cell::new(t);
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| self.chain_tasks(t, spawn, &current))) {
            let message = format!("a worker panicked: {}", panic_message(p.as_ref()));
            let t = current.get();
            self.run.fail(t, Error::internal(message));
            self.hooks.after_panic(t);
        }
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Runs the chain from `t`; `current` is the task being handled (what a panic is blamed on).
    fn chain_tasks(&self, mut t: TaskId, spawn: &mut dyn FnMut(TaskId), current: &Cell<TaskId>) {
        let mut ready = Vec::new();
        loop {
            current.set(t);
            ready.clear();
            let result = self.run.run(t, &mut ready);
            self.hooks.after_task(t, result.as_ref(), &mut ready);
            drop(result);
            let Some((&first, rest)) = ready.split_first() else {
                break;
            };
            for &r in rest {
                spawn(r);
            }
            t = first;
        }
    }
}
