//! What a run of a task graph carries besides the graph: an [`Observer`] that is told what
//! happens, a [`CancelToken`] that stops it from another thread, and a memory budget. Every
//! scheduler takes a [`RunContext`] ([`crate::Scheduler::execute_with`]).
//!
//! With no observer the cost is one branch per task: events are only made when someone
//! listens.

use crate::{TaskGraph, TaskId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Stops a run from another thread: [`CancelToken::cancel`] makes every worker stop starting
/// tasks, and `compute` returns [`crate::Error::Cancelled`] once the tasks that were running
/// have finished (on MPI, on every rank). Clones share one flag; a cancelled token stays
/// cancelled (make a new one for the next run).
///
/// # Examples
/// ```
/// let token = ndtask_core::CancelToken::new();
/// let remote = token.clone();
/// std::thread::spawn(move || remote.cancel()).join().unwrap();
/// assert!(token.is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the runs holding this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What a run is about to do, told to [`Observer::run_started`].
#[derive(Debug, Clone, Copy)]
pub struct RunInfo<'a> {
    /// The graph being run.
    pub graph: &'a TaskGraph,
    /// The scheduler's name ("sync", "threaded", "mpi").
    pub scheduler: &'a str,
    /// Tasks in the graph (all ranks together).
    pub tasks: usize,
    /// Tasks this process will run (its share on MPI; `tasks` otherwise).
    pub local_tasks: usize,
    /// Worker threads of this process.
    pub threads: usize,
    /// This process's MPI rank (0 without MPI).
    pub rank: usize,
    /// Processes taking part (1 without MPI).
    pub ranks: usize,
    /// The memory budget of each process, if any ([`RunContext::budget`]).
    pub budget: Option<usize>,
}

impl<'a> RunInfo<'a> {
    /// The description of a run of all of `graph` on one process with `threads` threads.
    pub fn local(scheduler: &'a str, graph: &'a TaskGraph, threads: usize) -> Self {
        RunInfo {
            graph,
            scheduler,
            tasks: graph.len(),
            local_tasks: graph.len(),
            threads,
            rank: 0,
            ranks: 1,
            budget: None,
        }
    }

    /// The bytes of all task results whose size is known before the run
    /// ([`TaskGraph::projected_bytes`]; a pass over the tasks, so it is computed on demand).
    pub fn bytes(&self) -> usize {
        self.graph.projected_bytes()
    }
}

/// One task, as an observer sees it.
#[derive(Debug, Clone, Copy)]
pub struct TaskEvent<'a> {
    /// The graph the task belongs to (for [`TaskGraph::describe_task`] and the like).
    pub graph: &'a TaskGraph,
    /// The task.
    pub task: TaskId,
    /// The name of its op ([`crate::Op::name`]).
    pub op: &'a str,
    /// The block of the op's output it computes.
    pub block: usize,
    /// The bytes of its result (0 at the start, and when it failed).
    pub bytes: usize,
    /// The bytes of results this process holds alive: at the start, before the task runs; at
    /// the end, its inputs released and its result stored (counted when this process keeps it
    /// for a reader or as an output).
    pub held: usize,
    /// Whether it succeeded (always true at the start).
    pub ok: bool,
    /// The worker thread running it (0..threads).
    pub thread: usize,
    /// The MPI rank running it (0 without MPI).
    pub rank: usize,
    /// When it started (read only for observers that are [`Observer::timed`]; otherwise the
    /// run's start).
    pub start: Instant,
    /// When it finished (equal to `start` at the start; as `start` for observers that are not
    /// timed).
    pub end: Instant,
}

/// A message between MPI ranks, as an observer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageEvent {
    /// Whether this rank sent it (false: received it).
    pub sent: bool,
    /// The other rank.
    pub peer: usize,
    /// The bytes it carried.
    pub bytes: usize,
}

/// How a run ended, told to [`Observer::run_finished`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Tasks this process ran to completion.
    pub tasks_run: usize,
    /// Whether the run succeeded.
    pub ok: bool,
    /// Seconds from start to end.
    pub seconds: f64,
    /// The most bytes of results this process held alive at once.
    pub peak_bytes: usize,
}

/// Watches runs: told when a run starts and ends, and when each task starts and finishes.
///
/// Every method has an empty default. Task events come from the worker threads while the run
/// goes on, so they must be cheap (an atomic add, a push to a per-thread buffer) and must not
/// block. Observers must not panic; a panic in one fails the run with [`crate::Error::Internal`].
///
/// On MPI every rank has its own observer (each rank runs the same program, so each builds
/// one). Two hooks let rank 0 see the whole run: [`Observer::wants_remote_progress`] makes the
/// other ranks report their finished task counts to rank 0's [`Observer::remote_progress`]
/// while the run goes on, and [`Observer::payload`] / [`Observer::absorb`] carry each rank's
/// collected data (a trace) to rank 0 at the end.
pub trait Observer: Send + Sync {
    /// The run is starting.
    fn run_started(&self, info: &RunInfo<'_>) {
        let _ = info;
    }
    /// Whether task events must carry their start and end times (two reads of the processor's
    /// time-stamp counter per task where it is invariant, of the system clock otherwise;
    /// default: no).
    fn timed(&self) -> bool {
        false
    }
    /// Whether [`Observer::task_started`] must be called (default: yes). An observer that only
    /// looks at finished tasks says no, and spares every task an event.
    fn wants_task_starts(&self) -> bool {
        true
    }
    /// A task is starting (called only when [`Observer::wants_task_starts`]).
    fn task_started(&self, event: &TaskEvent<'_>) {
        let _ = event;
    }
    /// A task has finished (or failed: `event.ok`). It is told once the result is stored, so
    /// on several threads a consumer's event can come before its producer's; the times keep
    /// the order (a producer's `end` is read before its result is stored).
    fn task_finished(&self, event: &TaskEvent<'_>) {
        let _ = event;
    }
    /// An MPI message was sent or received.
    fn message(&self, event: &MessageEvent) {
        let _ = event;
    }
    /// Whether ranks other than 0 should report their progress to rank 0 (default: no).
    fn wants_remote_progress(&self) -> bool {
        false
    }
    /// On rank 0: rank `rank` has finished `tasks_done` of its tasks.
    fn remote_progress(&self, rank: usize, tasks_done: usize) {
        let _ = (rank, tasks_done);
    }
    /// The run has ended.
    fn run_finished(&self, summary: &RunSummary) {
        let _ = summary;
    }
    /// After an MPI run: what this rank sends to rank 0's [`Observer::absorb`] (default: none).
    /// Every rank must answer alike (some bytes or none), as every rank builds the same
    /// observer.
    fn payload(&self) -> Option<Vec<u8>> {
        None
    }
    /// On rank 0 after an MPI run: the [`Observer::payload`] of rank `rank` (rank 0 included).
    fn absorb(&self, rank: usize, payload: &[u8]) {
        let _ = (rank, payload);
    }
}

/// Several observers, told in order.
impl Observer for Vec<Arc<dyn Observer>> {
    fn run_started(&self, info: &RunInfo<'_>) {
        self.iter().for_each(|o| o.run_started(info));
    }
    fn timed(&self) -> bool {
        self.iter().any(|o| o.timed())
    }
    fn wants_task_starts(&self) -> bool {
        self.iter().any(|o| o.wants_task_starts())
    }
    fn task_started(&self, event: &TaskEvent<'_>) {
        self.iter()
            .filter(|o| o.wants_task_starts())
            .for_each(|o| o.task_started(event));
    }
    fn task_finished(&self, event: &TaskEvent<'_>) {
        self.iter().for_each(|o| o.task_finished(event));
    }
    fn message(&self, event: &MessageEvent) {
        self.iter().for_each(|o| o.message(event));
    }
    fn wants_remote_progress(&self) -> bool {
        self.iter().any(|o| o.wants_remote_progress())
    }
    fn remote_progress(&self, rank: usize, tasks_done: usize) {
        self.iter()
            .for_each(|o| o.remote_progress(rank, tasks_done));
    }
    fn run_finished(&self, summary: &RunSummary) {
        self.iter().for_each(|o| o.run_finished(summary));
    }
    /// Each observer's payload, length-prefixed (`u64::MAX` for none), in order.
    fn payload(&self) -> Option<Vec<u8>> {
        let parts: Vec<Option<Vec<u8>>> = self.iter().map(|o| o.payload()).collect();
        if parts.iter().all(Option::is_none) {
            return None;
        }
        let mut out = Vec::new();
        for p in parts {
            let len = p.as_ref().map_or(u64::MAX, |p| p.len() as u64);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend(p.unwrap_or_default());
        }
        Some(out)
    }
    fn absorb(&self, rank: usize, mut payload: &[u8]) {
        for o in self {
            let Some((len, rest)) = payload.split_first_chunk::<8>() else {
                return;
            };
            let len = u64::from_le_bytes(*len);
            payload = rest;
            if len == u64::MAX {
                continue;
            }
            let Some((mine, rest)) = payload.split_at_checked(len as usize) else {
                return;
            };
            o.absorb(rank, mine);
            payload = rest;
        }
    }
}

/// What a run carries besides its graph.
///
/// # Examples
/// ```
/// use ndtask_core::{CancelToken, RunContext};
/// let token = CancelToken::new();
/// let ctx = RunContext::new().cancel_token(token.clone()).memory_budget(64 << 20);
/// assert!(!ctx.is_cancelled());
/// token.cancel();
/// assert!(ctx.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct RunContext {
    observers: Vec<Arc<dyn Observer>>,
    cancel: Option<CancelToken>,
    budget: Option<usize>,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("observers", &self.observers.len())
            .field("cancel", &self.cancel)
            .field("budget", &self.budget)
            .finish()
    }
}

impl RunContext {
    /// No observer, no cancellation, no budget.
    pub const fn new() -> Self {
        RunContext {
            observers: Vec::new(),
            cancel: None,
            budget: None,
        }
    }

    /// Adds an observer (several are told in the order they were added).
    pub fn observe(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Lets `token` cancel the run.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Limits the bytes of live intermediate results (overrides the scheduler's own budget).
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.budget = Some(bytes);
        self
    }

    /// The observers, if any.
    pub fn observer(&self) -> Option<&dyn Observer> {
        match self.observers.as_slice() {
            [] => None,
            [one] => Some(&**one),
            _ => Some(&self.observers),
        }
    }

    /// The same context with `extra` observing too (told after this context's observers).
    pub fn with_observer(&self, extra: Arc<dyn Observer>) -> Self {
        self.clone().observe(extra)
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    /// The cancellation token, if any.
    pub fn token(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// The memory budget, if any.
    pub fn budget(&self) -> Option<usize> {
        self.budget
    }
}
