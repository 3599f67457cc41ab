//! The in-order admission loop: the sync scheduler, the threaded scheduler under a memory
//! budget, and every MPI rank under one start the steps of a [`BudgetPlan`] strictly in its
//! order, each when it may.
//!
//! 1. **In order.** The first step not started (the *head*) starts when it fits: a task when
//!    its inputs are done, a take (an MPI rank making room for a result another rank sends it)
//!    at once; either only when its projected bytes fit in the budget beside what the process
//!    holds ([`Ledger`]) and, in one process while anything runs, beside the bytes really alive
//!    ([`LocalRun::live_bytes`], which count results whose size was only known when they ran)
//!    and those being made. The plan-time simulation ([`BudgetPlan::simulate`]) started the same
//!    steps one at a time, so when nothing else is in flight the head fits.
//! 2. **Looking ahead.** While the head waits (for inputs another thread or rank is making), a
//!    later step may start early ([`BudgetPlan::early_step`]) if its bytes, with those still
//!    held of the other steps started early and not yet reached by the head, fit on top of
//!    what the simulation held at every step from the head up to it. Once the head passes it,
//!    the simulation counts it itself.
//!
//! What the process holds is then at most what the simulation held at the head, plus what it
//! holds of steps started early, plus what is in flight (which finishes by itself): the head
//! fits once that has finished, and the run never waits for memory that nothing will free.
//! Without a budget ([`BudgetPlan::unbounded`]) nothing is counted and tasks run in the order.
//! A scheduler adds what differs through [`Hooks`] (MPI: report each result to the thread
//! that sends it, and grant each take).

use crate::{AfterTask, LocalRun};
use ndtask_core::memory::{BudgetPlan, Ledger, Step};
use ndtask_core::{panic_message, Error, TaskId};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long a worker waiting for a step sleeps before it looks again (a safety net: whatever
/// can let a step start wakes the workers at once).
const RECHECK: Duration = Duration::from_millis(5);

/// What a scheduler adds to the admission loop.
pub trait Hooks: AfterTask {
    /// Whether inputs can come from outside this process (MPI). When they can, a failure stops
    /// every step at once (what another rank sends may never come) and a missing input is
    /// waited for; when they cannot, a head whose inputs are missing while nothing runs is a
    /// broken plan, and fails the run.
    fn remote_inputs(&self) -> bool {
        false
    }

    /// This process has made room for the result of `t` (a [`Step::Take`]): grant it to its
    /// owner. Only plans with takes call it.
    fn take(&self, t: TaskId) {
        let _ = t;
    }
}

/// Nothing to add (one process).
impl Hooks for () {}

/// The workers of one run that start the steps of a plan in order (see the module doc).
pub struct Admit<'a, 'g, H> {
    run: &'a LocalRun<'g>,
    plan: &'a BudgetPlan,
    hooks: H,
    state: Mutex<Progress>,
    wake: Condvar,
    /// Workers that have not returned yet.
    working: AtomicUsize,
}

/// Where the run stands in its plan.
struct Progress {
    /// The first step not started.
    head: usize,
    /// Steps past the head started early (the head skips them when it gets there).
    ahead: Vec<bool>,
    /// Tasks running.
    running: usize,
    /// The projected bytes of the results running tasks are making.
    making: usize,
    ledger: Ledger,
}

impl<'a, 'g, H: Hooks> Admit<'a, 'g, H> {
    /// Workers for `run` following `plan`, `threads` of them.
    pub fn new(run: &'a LocalRun<'g>, plan: &'a BudgetPlan, threads: usize, hooks: H) -> Self {
        let early = match plan.held.is_empty() {
            true => 0,
            false => plan.steps.len(),
        };
        Admit {
            run,
            plan,
            hooks,
            state: Mutex::new(Progress {
                head: 0,
                ahead: vec![false; early],
                running: 0,
                making: 0,
                ledger: plan.ledger(),
            }),
            wake: Condvar::new(),
            working: AtomicUsize::new(threads),
        }
    }

    /// Workers that have not returned: zero means no task is running or about to run.
    pub fn outstanding(&self) -> usize {
        self.working.load(Ordering::Acquire)
    }

    /// The most bytes held at once so far, by the projected sizes.
    pub fn peak(&self) -> usize {
        self.lock().ledger.peak()
    }

    /// Something happened that may let a step start (a result arrived, a send completed, the
    /// run failed).
    pub fn notify(&self) {
        // Under the lock, so that a worker between its look at the step and its wait cannot
        // miss the news.
        let c = self.lock();
        self.wake.notify_all();
        drop(c);
    }

    /// Every process that needs the result of `t` has it: its bytes no longer count here.
    pub fn sent(&self, t: TaskId) {
        self.lock().ledger.sent(self.plan, t);
        self.wake.notify_all();
    }

    /// One worker's share: starts steps until none is left, or the run stops. A panic in this
    /// book-keeping (not in a task: those are caught around the task) fails the run like a task
    /// failure, blamed on the task being handled or, between tasks, on none.
    pub fn work(&self) {
        /// Counts the worker out however it leaves (even by a panic in the panic handler).
        struct Leave<'w>(&'w AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _leave = Leave(&self.working);
        let current = Cell::new(TaskId::MAX);
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| self.steps(&current))) {
            let message = format!("a worker panicked: {}", panic_message(p.as_ref()));
            let t = current.get();
            self.run.fail(t, Error::internal(message));
            self.hooks.after_panic(t);
            self.notify();
        }
    }

    /// Runs the steps of [`Admit::work`]; `current` is the task being handled.
    fn steps(&self, current: &Cell<TaskId>) {
        let mut ready = Vec::new();
        loop {
            current.set(TaskId::MAX);
            let Some(t) = self.next_task() else {
                return;
            };
            current.set(t);
            ready.clear();
            let ran = catch_unwind(AssertUnwindSafe(|| {
                let result = self.run.run(t, &mut ready);
                self.hooks.after_task(t, result.as_ref(), &mut ready);
                result.is_some()
            }));
            let made = ran.unwrap_or_else(|p| {
                let message = format!("a worker panicked: {}", panic_message(p.as_ref()));
                self.run.fail(t, Error::internal(message));
                self.hooks.after_panic(t);
                false
            });
            let mut c = self.lock();
            c.running -= 1;
            c.making = c.making.saturating_sub(self.plan.need(t));
            c.ledger.finished(self.run.graph(), self.plan, t);
            if !made && self.plan.sends_result(t) {
                // Nothing will be sent: the hold of the sends ends too.
                c.ledger.sent(self.plan, t);
            }
            drop(c);
            self.wake.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until a step may start (the head, or a later one); takes every take step on the
    /// way and returns the next task to run (`None` when no step is left or the run is
    /// stopping).
    fn next_task(&self) -> Option<TaskId> {
        let (plan, steps) = (self.plan, &self.plan.steps);
        let remote = self.hooks.remote_inputs();
        let mut c = self.lock();
        loop {
            let stopping = self.run.failed();
            if stopping && remote {
                // Inputs from other ranks may never come now.
                c.head = steps.len();
                return None;
            }
            let p = &mut *c;
            // The head passes the steps started early: the simulation counts them from here.
            while p.ahead.get(p.head).copied().unwrap_or(false) {
                p.ahead[p.head] = false;
                p.ledger.reached(plan, steps[p.head].task());
                p.head += 1;
            }
            let &head = steps.get(p.head)?;
            // One process stopping still runs the tasks below the lowest failure (so the
            // lowest failing task always runs and the reported error does not depend on
            // timing), and skips the others.
            if stopping && self.run.skips(head.task()) {
                p.head += 1;
                continue;
            }
            let startable = |step: Step| match step {
                Step::Take(_) => true,
                Step::Run(t) => self.run.is_ready(t),
            };
            // Fits by the ledger (the projected sizes); in one process also by the bytes
            // really alive, which count the results whose size was only known when they ran,
            // as long as anything runs (when nothing does, the ledger's word is enough: the
            // simulation fitted the head there).
            let live = self.run.live_bytes().saturating_add(p.making);
            let fits = |p: &Progress, need: usize| {
                p.ledger.fits(need, plan.budget)
                    && (remote || p.running == 0 || live.saturating_add(need) <= plan.budget)
            };
            let need = plan.need(head.task());
            // One process stopping runs what is left below the lowest failure as it fits, or
            // one at a time: what skipped tasks would have freed stays held.
            let start = match startable(head) && (fits(p, need) || stopping && p.running == 0) {
                true => {
                    p.ledger.hold(need);
                    p.head += 1;
                    Some(head)
                }
                // A later step, only if it fits on top of what the simulation holds at every
                // step before it from the head on.
                false if stopping => None,
                false => {
                    let ahead = &p.ahead;
                    plan.early_step(p.head, p.ledger.early_held(), |q, n| {
                        !ahead[q] && startable(steps[q]) && fits(p, n)
                    })
                }
                .map(|q| {
                    p.ledger.hold_early(plan, steps[q].task());
                    p.ahead[q] = true;
                    steps[q]
                }),
            };
            match start {
                Some(Step::Take(t)) => self.hooks.take(t),
                Some(Step::Run(t)) => {
                    p.running += 1;
                    p.making = p.making.saturating_add(plan.need(t));
                    return Some(t);
                }
                None if p.running == 0 && stopping => {
                    // Its inputs were skipped (a cancellation): it cannot run either.
                    p.head += 1;
                }
                None if p.running == 0 && !remote => {
                    // Every earlier step is done (a ready head would have started), yet an
                    // input of the head is missing: it cannot come.
                    let t = head.task();
                    self.run.fail(
                        t,
                        Error::internal(format!("task {t} is next but its inputs never came")),
                    );
                }
                None => {
                    c = self
                        .wake
                        .wait_timeout(c, RECHECK)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}
