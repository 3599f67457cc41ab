//! The reference scheduler: one thread, depth-first.

use crate::{LocalRun, Workers};
use ndtask_core::{Chunk, Result, RunContext, RunInfo, Scheduler, TaskGraph};
use std::sync::Arc;

/// Runs every task on the calling thread, depth-first (the most recently readied task next), so
/// each intermediate is consumed and freed as early as possible. It runs the same worker loop
/// as the other schedulers ([`crate::Workers`]), on one thread.
///
/// # Examples
/// ```
/// use ndtask_sched::{Scheduler, SyncScheduler, TaskGraph};
/// let outputs = SyncScheduler.execute(&TaskGraph::new()).unwrap();
/// assert_eq!(outputs.map(|o| o.len()), Some(0));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncScheduler;

impl Scheduler for SyncScheduler {
    fn name(&self) -> &str {
        "sync"
    }

    fn threads(&self) -> usize {
        1
    }

    fn execute_with(&self, graph: &TaskGraph, ctx: &RunContext) -> Result<Option<Vec<Arc<Chunk>>>> {
        let run = LocalRun::with_context(graph, ctx, 0);
        run.start(|| RunInfo::local(self.name(), graph, 1));
        let roots = run.roots();
        Workers::new(&run, &roots, 1, None, ()).run_here();
        run.finish().map(Some)
    }
}
