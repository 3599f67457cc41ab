//! The shared state of one run of a task graph in one process: dependency counters, result slots
//! freed at last use, the first error, and the live-bytes counter used for memory back-pressure.

use ndtask_core::{Chunk, Error, Result, TaskGraph, TaskId};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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
    failed: AtomicBool,
    error: Mutex<Option<(TaskId, Error)>>,
    live_bytes: AtomicUsize,
}

impl<'g> LocalRun<'g> {
    /// Prepares a run of `graph`: every task waits for its dependencies, every result is kept
    /// until its last use.
    pub fn new(graph: &'g TaskGraph) -> Self {
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
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            live_bytes: AtomicUsize::new(0),
        }
    }

    /// The graph being run.
    pub fn graph(&self) -> &'g TaskGraph {
        self.graph
    }

    /// Tasks with no dependencies, in id order.
    pub fn roots(&self) -> Vec<TaskId> {
        (0..self.graph.len() as TaskId)
            .filter(|&t| self.graph.deps(t).is_empty())
            .collect()
    }

    /// The consumers of task `t`.
    pub fn consumers(&self, t: TaskId) -> &[TaskId] {
        &self.cons[self.cons_off[t as usize] as usize..self.cons_off[t as usize + 1] as usize]
    }

    /// Whether some task has failed.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Bytes held by live results.
    pub fn live_bytes(&self) -> usize {
        self.live_bytes.load(Ordering::Relaxed)
    }

    /// Records a failure (the error of the lowest task id wins, so the reported error does not
    /// depend on timing when several tasks fail).
    pub fn fail(&self, task: TaskId, e: Error) {
        self.failed.store(true, Ordering::Release);
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
        if self.uses[t as usize].load(Ordering::Acquire) > 0 {
            self.live_bytes.fetch_add(chunk.nbytes(), Ordering::Relaxed);
            *self.slot(t) = Some(chunk);
        }
        for &c in self.consumers(t) {
            if self.pending[c as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                ready.push(c);
            }
        }
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
        if self.failed() {
            return None;
        }
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
        for &d in self.graph.deps(t) {
            self.release(d);
        }
        match result {
            Ok(chunk) => {
                let chunk = Arc::new(chunk);
                self.provide(t, chunk.clone(), ready);
                Some(chunk)
            }
            Err(e) => {
                self.fail(t, e);
                None
            }
        }
    }

    /// Collects the output results, or the recorded error.
    ///
    /// # Errors
    /// The failure recorded by [`LocalRun::fail`], or [`Error::Internal`] if an output is missing.
    pub fn finish(self) -> Result<Vec<Arc<Chunk>>> {
        if let Some((_, e)) = self
            .error
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Err(e);
        }
        self.graph
            .outputs()
            .iter()
            .map(|&o| {
                self.slots[o as usize]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                    .ok_or_else(|| Error::internal(format!("output task {o} has no result")))
            })
            .collect()
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
