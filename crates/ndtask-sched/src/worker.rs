//! The two worker loops.
//!
//! [`Workers`] (the threaded scheduler and every MPI rank, without a budget): start source tasks
//! one at a time, in the memory order; after a task, go on with one consumer it made ready
//! (depth-first, so intermediates are freed soon after they are made) and hand the others to
//! the rayon pool. A scheduler adds what it needs after each task through [`AfterTask`] (MPI:
//! report the result to the thread that sends it).
//!
//! [`InOrder`] (the sync scheduler, and the threaded scheduler under a memory budget): start
//! every task strictly in the memory order, each when its inputs are done and its result fits
//! in the budget.

use crate::LocalRun;
use ndtask_core::memory::early_step;
use ndtask_core::{panic_message, Chunk, Error, TaskId};
use rayon::{Scope, Yield};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

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

/// Starts tasks in a given order (the memory order), each only once its inputs are done and
/// its result fits in the budget with the results alive and the results being made by running
/// tasks. When nothing runs, the head of the order starts whatever its size, so a run never
/// stalls; with a budget the plan passed [`ndtask_core::memory::plan_budget`], so the head fits
/// then: nothing runs means every earlier task is done, which is the state that check
/// simulated.
///
/// While the head waits for its inputs (being made by other threads), a later task of the next
/// [`ndtask_core::memory::LOOKAHEAD`] whose inputs are done may start early, if its result, with those of the other
/// tasks started early that the head has not reached, fits on top of what the check held at
/// every step from the head up to it. What is alive is at most what the check held at the head
/// plus those early results (plus the results being made), so the head still fits when nothing
/// else runs, and the live results never exceed the budget (for results whose size is known
/// before the run). One thread (the sync scheduler) runs the order as it is.
pub struct InOrder<'a, 'g> {
    run: &'a LocalRun<'g>,
    order: &'a [TaskId],
    bytes: &'a [usize],
    /// What the check held at each step ([`ndtask_core::memory::BudgetPlan::held`]); empty
    /// without a budget (then nothing starts early).
    held: &'a [usize],
    budget: usize,
    cursor: Mutex<Progress>,
    wake: Condvar,
}

#[derive(Default)]
struct Progress {
    /// The position in the order of the next task to start.
    next: usize,
    /// Bytes of the results running tasks are making.
    reserved: usize,
    /// Tasks running.
    running: usize,
    /// Positions past the head started early (the head skips them when it gets there).
    ahead: Vec<bool>,
    /// The result bytes of the tasks started early that the head has not reached.
    early: usize,
}

impl<'a, 'g> InOrder<'a, 'g> {
    /// Runs `run`'s tasks in `order`, with no budget.
    pub fn new(run: &'a LocalRun<'g>, order: &'a [TaskId]) -> Self {
        Self::with_budget(run, order, &[], &[], usize::MAX)
    }

    /// Runs `run`'s tasks in `order`, keeping live results (`bytes` per task, as projected by
    /// [`ndtask_core::memory::plan_budget`], which held `held` at each step) within `budget`.
    pub fn with_budget(
        run: &'a LocalRun<'g>,
        order: &'a [TaskId],
        bytes: &'a [usize],
        held: &'a [usize],
        budget: usize,
    ) -> Self {
        InOrder {
            run,
            order,
            bytes,
            held,
            budget,
            cursor: Mutex::new(Progress {
                ahead: vec![false; held.len()],
                ..Progress::default()
            }),
            wake: Condvar::new(),
        }
    }

    /// One thread's share: starts the next task in order whenever it may, until every task
    /// has been started (or skipped, once the run is stopping).
    pub fn work(&self) {
        let mut ready = Vec::new();
        while let Some(t) = self.next_task() {
            ready.clear();
            let ran = catch_unwind(AssertUnwindSafe(|| {
                self.run.run(t, &mut ready);
            }));
            if let Err(p) = ran {
                let message = format!("a worker panicked: {}", panic_message(p.as_ref()));
                self.run.fail(t, Error::internal(message));
            }
            let mut c = self.lock();
            c.reserved = c.reserved.saturating_sub(self.bytes_of(t));
            c.running -= 1;
            drop(c);
            self.wake.notify_all();
        }
    }

    /// The projected result bytes of `t` (0 without a budget).
    fn bytes_of(&self, t: TaskId) -> usize {
        self.bytes.get(t as usize).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.cursor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the head of the order (or a task past it, see the type's doc) may start and
    /// takes it; `None` when none is left.
    fn next_task(&self) -> Option<TaskId> {
        let mut c = self.lock();
        loop {
            let &t = self.order.get(c.next)?;
            if c.ahead.get(c.next).copied().unwrap_or(false) {
                // Started early: from here the check's own count holds its result.
                let at = c.next;
                c.ahead[at] = false;
                c.early -= self.bytes_of(t);
                c.next += 1;
                continue;
            }
            if self.run.skips(t) {
                c.next += 1;
                continue;
            }
            let need = self.bytes_of(t);
            let fits = self
                .run
                .live_bytes()
                .saturating_add(c.reserved)
                .saturating_add(need)
                <= self.budget;
            if self.run.is_ready(t) && (fits || c.running == 0) {
                c.next += 1;
                c.reserved = c.reserved.saturating_add(need);
                c.running += 1;
                return Some(t);
            }
            if c.running == 0 {
                // Every earlier task is done, yet an input of `t` is missing: it cannot come.
                self.run.fail(
                    t,
                    Error::internal(format!("task {t} is next but its inputs never came")),
                );
                continue;
            }
            if let Some(q) = self.early_start(&c) {
                let t = self.order[q];
                let need = self.bytes_of(t);
                c.ahead[q] = true;
                c.early += need;
                c.reserved = c.reserved.saturating_add(need);
                c.running += 1;
                return Some(t);
            }
            c = self.wake.wait(c).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The position of a task past the head that may start now
    /// ([`ndtask_core::memory::early_step`]): its inputs are done and its result fits beside
    /// what is alive.
    fn early_start(&self, c: &Progress) -> Option<usize> {
        let live = self.run.live_bytes().saturating_add(c.reserved);
        early_step(
            self.held,
            c.next,
            c.early,
            self.budget,
            |q| self.bytes_of(self.order[q]),
            |q, need| {
                let t = self.order[q];
                live.saturating_add(need) <= self.budget
                    && !c.ahead[q]
                    && !self.run.skips(t)
                    && self.run.is_ready(t)
            },
        )
    }
}
