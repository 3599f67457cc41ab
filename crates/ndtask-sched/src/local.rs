//! The shared state of one run of a task graph in one process: dependency counters, result slots
//! freed at last use, the first error, the live-bytes counter used for memory back-pressure, and
//! the run's context (observer and cancellation).

use crate::tally::Tally;
use ndtask_core::{
    Chunk, Error, Observer, Result, RunContext, RunInfo, RunSummary, TaskEvent, TaskGraph, TaskId,
};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

impl Watch<'_> {
    /// The time, for timed observers, as a reading of [`clock`]; the run's start otherwise (no
    /// clock read).
    fn now(&self) -> u64 {
        match self.timed {
            true => clock().raw(),
            false => self.start.1,
        }
    }

    /// A reading of [`Watch::now`] as an [`Instant`].
    fn instant(&self, raw: u64) -> Instant {
        self.start.0 + clock().delta(self.start.1, raw)
    }
}

/// The clock of timed runs: the processor's time-stamp counter where it is invariant (a read
/// costs a few nanoseconds and does not stall the pipeline, where the system clock costs about
/// 20), calibrated against the system clock once per process; the system clock elsewhere. The
/// first call calibrates (under a millisecond): observers that time tasks call it when they
/// are made, so that no run pays for it.
pub(crate) fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// The context of a run that has none.
static NO_CONTEXT: RunContext = RunContext::new();

/// Book-keeping for running one graph: which tasks are ready, which results are alive.
///
/// All methods take `&self`, so worker threads share one `LocalRun`.
pub struct LocalRun<'g> {
    graph: &'g TaskGraph,
    cons_off: Vec<u32>,
    cons: Vec<TaskId>,
    pending: Vec<AtomicU32>,
    uses: Vec<AtomicU32>,
    slots: Vec<Mutex<Option<Arc<Chunk>>>>,
    /// Tasks with a lower id may still start (see [`LocalRun::skips`]): `u64::MAX` until a
    /// failure or a cancellation, which is how [`LocalRun::failed`] knows of one.
    limit: AtomicU64,
    cancelled: AtomicBool,
    error: Mutex<Option<(TaskId, Error)>>,
    live_bytes: AtomicUsize,
    peak_bytes: AtomicUsize,
    /// Tasks run to completion, counted per worker thread (counted when the run is observed).
    tasks_run: Tally,
    ended: AtomicBool,
    ctx: &'g RunContext,
    watch: Option<Watch<'g>>,
    rank: usize,
}

/// What an observed run keeps for its events.
struct Watch<'g> {
    observer: &'g dyn Observer,
    op_names: Vec<String>,
    /// The run's start, and the [`clock`]'s reading then (when timed).
    start: (Instant, u64),
    timed: bool,
    /// Whether the observer wants [`Observer::task_started`].
    starts: bool,
}

impl<'g> LocalRun<'g> {
    /// Prepares a run of `graph` with no context: every task waits for its dependencies, every
    /// result is kept until its last use.
    pub fn new(graph: &'g TaskGraph) -> Self {
        Self::with_context(graph, &NO_CONTEXT, 0)
    }

    /// Prepares a run of `graph` under `ctx` on MPI rank `rank` (0 without MPI): tasks are
    /// reported to the context's observer, and its cancellation token stops the run.
    pub fn with_context(graph: &'g TaskGraph, ctx: &'g RunContext, rank: usize) -> Self {
        let (cons_off, cons) = graph.consumers();
        let n = graph.len();
        let pending = (0..n as TaskId)
            .map(|t| AtomicU32::new(graph.deps(t).len() as u32))
            .collect();
        let uses = graph.use_counts().into_iter().map(AtomicU32::new).collect();
        let slots = (0..n).map(|_| Mutex::new(None)).collect();
        LocalRun {
            graph,
            cons_off,
            cons,
            pending,
            uses,
            slots,
            limit: AtomicU64::new(u64::MAX),
            cancelled: AtomicBool::new(false),
            error: Mutex::new(None),
            live_bytes: AtomicUsize::new(0),
            peak_bytes: AtomicUsize::new(0),
            tasks_run: Tally::default(),
            ended: AtomicBool::new(false),
            ctx,
            watch: ctx.observer().map(|observer| {
                let timed = observer.timed();
                Watch {
                    observer,
                    op_names: graph.op_names(),
                    start: (Instant::now(), if timed { clock().raw() } else { 0 }),
                    timed,
                    starts: observer.wants_task_starts(),
                }
            }),
            rank,
        }
    }

    /// The run's context.
    pub fn context(&self) -> &'g RunContext {
        self.ctx
    }

    /// Tells the observer, if any, that the run starts (`info` is made only when there is
    /// one).
    pub fn start<'a>(&self, info: impl FnOnce() -> RunInfo<'a>) {
        if let Some(w) = &self.watch {
            let mut info = info();
            info.budget = info.budget.or(self.ctx.budget());
            w.observer.run_started(&info);
        }
    }

    /// Tasks run to completion so far (counted when the run is observed; 0 otherwise).
    pub fn tasks_run(&self) -> usize {
        self.tasks_run.total()
    }

    /// Whether the run was stopped by its cancellation token.
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// The graph being run.
    pub fn graph(&self) -> &'g TaskGraph {
        self.graph
    }

    /// Tasks with no dependencies, in the memory order ([`ndtask_core::memory::memory_order`]
    /// of `order`, every task of the graph once).
    pub fn roots(&self, order: &[TaskId]) -> Vec<TaskId> {
        order
            .iter()
            .copied()
            .filter(|&t| self.graph.deps(t).is_empty())
            .collect()
    }

    /// Whether every input of task `t` is available.
    pub fn is_ready(&self, t: TaskId) -> bool {
        self.pending[t as usize].load(Ordering::Acquire) == 0
    }

    /// The consumers of task `t`.
    pub fn consumers(&self, t: TaskId) -> &[TaskId] {
        &self.cons[self.cons_off[t as usize] as usize..self.cons_off[t as usize + 1] as usize]
    }

    /// Whether the run is stopping: some task has failed, or the run was cancelled.
    pub fn failed(&self) -> bool {
        self.limit.load(Ordering::Acquire) != u64::MAX || self.check_cancelled()
    }

    /// Whether task `t` must not start: the run was cancelled, or a task with an id no higher
    /// than `t` failed. Tasks below the lowest failure still run, so in one process the lowest
    /// failing task always runs and fails, and the reported error does not depend on timing.
    /// (Across MPI ranks every rank reports the same error, but results not yet sent are
    /// dropped after a failure, so which failure that is can depend on timing.)
    pub fn skips(&self, t: TaskId) -> bool {
        t as u64 >= self.limit.load(Ordering::Acquire) || self.check_cancelled()
    }

    fn check_cancelled(&self) -> bool {
        if self.cancelled.load(Ordering::Acquire) {
            return true;
        }
        if self.ctx.is_cancelled() {
            self.cancelled.store(true, Ordering::Release);
            self.limit.store(0, Ordering::Release);
            return true;
        }
        false
    }

    /// Bytes held by live results.
    pub fn live_bytes(&self) -> usize {
        self.live_bytes.load(Ordering::Relaxed)
    }

    /// The most bytes live results have held at once so far.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes.load(Ordering::Relaxed)
    }

    /// Records a failure (the error of the lowest task id wins, so the reported error does not
    /// depend on timing when several tasks fail). A failure of something that is not a task of
    /// the graph (an id past its end: the MPI layer's own failures) stops every task.
    pub fn fail(&self, task: TaskId, e: Error) {
        let limit = match (task as usize) < self.graph.len() {
            true => task as u64,
            false => 0,
        };
        self.limit.fetch_min(limit, Ordering::AcqRel);
        let mut g = self.error.lock().unwrap_or_else(PoisonError::into_inner);
        if g.as_ref().is_none_or(|(t, _)| task < *t) {
            *g = Some((task, e));
        }
    }

    /// The failure recorded so far (the lowest failed task id and its error), if any.
    pub fn first_error(&self) -> Option<(TaskId, Error)> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stores a result that was computed elsewhere (e.g. received from another rank) and returns
    /// the consumers that became ready.
    pub fn provide(&self, t: TaskId, chunk: Arc<Chunk>, ready: &mut Vec<TaskId>) {
        self.store(t, chunk, ready);
    }

    /// [`LocalRun::provide`], returning the bytes live results held once it was stored.
    fn store(&self, t: TaskId, chunk: Arc<Chunk>, ready: &mut Vec<TaskId>) -> usize {
        let held = match self.uses[t as usize].load(Ordering::Acquire) > 0 {
            true => {
                let b = chunk.nbytes();
                let now = self.live_bytes.fetch_add(b, Ordering::Relaxed) + b;
                self.peak_bytes.fetch_max(now, Ordering::Relaxed);
                *self.slot(t) = Some(chunk);
                now
            }
            false => self.live_bytes(),
        };
        for &c in self.consumers(t) {
            if self.pending[c as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                ready.push(c);
            }
        }
        held
    }

    /// Marks one dependency of `t` as satisfied without a value (used for dependencies that
    /// another rank consumes and this rank never needs). Returns whether `t` became ready.
    pub fn satisfy(&self, t: TaskId) -> bool {
        self.pending[t as usize].fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Adds `n` to the dependency count of `t`.
    pub fn add_pending(&self, t: TaskId, n: u32) {
        self.pending[t as usize].fetch_add(n, Ordering::AcqRel);
    }

    /// Takes away `n` uses of the result of `t` (uses that happen on another rank).
    pub fn drop_uses(&self, t: TaskId, n: u32) {
        if n > 0 && self.uses[t as usize].fetch_sub(n, Ordering::AcqRel) == n {
            self.free(t);
        }
    }

    /// Runs task `t` (whose inputs must all be available), stores its result and pushes the
    /// consumers that became ready onto `ready`. Returns the result too, for a caller that must
    /// send it elsewhere. On failure the error is recorded and `None` returned.
    pub fn run(&self, t: TaskId, ready: &mut Vec<TaskId>) -> Option<Arc<Chunk>> {
        if self.skips(t) {
            return None;
        }
        let watched = self.watch.as_ref().map(|w| {
            let (start, thread) = (w.now(), rayon::current_thread_index().unwrap_or(0));
            if w.starts {
                let event = self.event(w, t, thread, (0, self.live_bytes()), true, (start, start));
                w.observer.task_started(&event);
            }
            (w, start, thread)
        });
        let inputs: Option<Vec<Arc<Chunk>>> = self
            .graph
            .deps(t)
            .iter()
            .map(|&d| self.slot(d).clone())
            .collect();
        let result = match inputs {
            Some(inputs) => {
                let refs: Vec<&Chunk> = inputs.iter().map(|c| &**c).collect();
                let r = self.graph.run_task(t, &refs);
                drop(refs);
                drop(inputs);
                r
            }
            None => Err(Error::internal(format!(
                "task {t} started before its inputs were ready"
            ))),
        };
        let watched = watched.map(|(w, start, thread)| (w, (start, w.now()), thread));
        for &d in self.graph.deps(t) {
            self.release(d);
        }
        // The observer hears of the task once its result is stored, with what is held then.
        match result {
            Ok(chunk) => {
                let chunk = Arc::new(chunk);
                let bytes = chunk.nbytes();
                let held = self.store(t, chunk.clone(), ready);
                if let Some((w, times, thread)) = watched {
                    // Counted for observers only, per thread: one counter that every worker
                    // bumps costs a contended cache line per task.
                    self.tasks_run.add(thread);
                    let event = self.event(w, t, thread, (bytes, held), true, times);
                    w.observer.task_finished(&event);
                }
                Some(chunk)
            }
            Err(e) => {
                if let Some((w, times, thread)) = watched {
                    let event = self.event(w, t, thread, (0, self.live_bytes()), false, times);
                    w.observer.task_finished(&event);
                }
                self.fail(t, e);
                None
            }
        }
    }

    /// Tells the observer, if any, that the run is over (once: later calls do nothing).
    pub fn end(&self, ok: bool) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(w) = &self.watch {
            w.observer.run_finished(&RunSummary {
                tasks_run: self.tasks_run(),
                ok,
                seconds: w.start.0.elapsed().as_secs_f64(),
                peak_bytes: self.peak_bytes(),
            });
        }
    }

    /// Collects the output results, or the recorded error, and tells the observer the run is
    /// over.
    ///
    /// # Errors
    /// [`Error::Cancelled`] if the run was cancelled, the failure recorded by
    /// [`LocalRun::fail`], or [`Error::Internal`] if an output is missing.
    pub fn finish(self) -> Result<Vec<Arc<Chunk>>> {
        let result = self.collect();
        self.end(result.is_ok());
        result
    }

    /// As [`LocalRun::finish`], for a run that kept each output where it was computed: the
    /// outputs this process holds, `None` for the others.
    ///
    /// # Errors
    /// As [`LocalRun::finish`].
    pub fn finish_kept(self) -> Result<Vec<Option<Arc<Chunk>>>> {
        let result = self.failure().map(|()| self.outputs_here());
        self.end(result.is_ok());
        result
    }

    /// Each output's result, where this process holds it.
    fn outputs_here(&self) -> Vec<Option<Arc<Chunk>>> {
        self.graph
            .outputs()
            .iter()
            .map(|&o| {
                self.slots[o as usize]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
    }

    /// The run's failure, if it failed: cancellation, or the error that stopped it.
    fn failure(&self) -> Result<()> {
        if self.cancelled() {
            return Err(Error::Cancelled);
        }
        match self
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    fn collect(&self) -> Result<Vec<Arc<Chunk>>> {
        self.failure()?;
        let outputs = self.graph.outputs().iter();
        outputs
            .zip(self.outputs_here())
            .map(|(&o, c)| {
                c.ok_or_else(|| Error::internal(format!("output task {o} has no result")))
            })
            .collect()
    }

    fn event<'a>(
        &'a self,
        w: &'a Watch<'g>,
        task: TaskId,
        thread: usize,
        (bytes, held): (usize, usize),
        ok: bool,
        (start, end): (u64, u64),
    ) -> TaskEvent<'a> {
        let op = self.graph.op_of(task) as usize;
        let start = w.instant(start);
        TaskEvent {
            graph: self.graph,
            task,
            op: w.op_names.get(op).map_or("", String::as_str),
            block: self.graph.block_of(task),
            bytes,
            held,
            ok,
            thread,
            rank: self.rank,
            start,
            end: w.instant(end),
        }
    }

    fn slot(&self, t: TaskId) -> std::sync::MutexGuard<'_, Option<Arc<Chunk>>> {
        self.slots[t as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn release(&self, d: TaskId) {
        if self.uses[d as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
            self.free(d);
        }
    }

    fn free(&self, d: TaskId) {
        if let Some(c) = self.slot(d).take() {
            self.live_bytes.fetch_sub(c.nbytes(), Ordering::Relaxed);
        }
    }
}
