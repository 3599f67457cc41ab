//! The reference scheduler: one thread, depth-first.

use crate::LocalRun;
use ndtask_core::{Chunk, Result, Scheduler, TaskGraph};
use std::sync::Arc;

/// Runs every task on the calling thread, depth-first (the most recently readied task next), so
/// each intermediate is consumed and freed as early as possible.
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

    fn execute(&self, graph: &TaskGraph) -> Result<Option<Vec<Arc<Chunk>>>> {
        let run = LocalRun::new(graph);
        let mut roots = run.roots();
        roots.reverse();
        let mut stack = Vec::new();
        // Start sources one at a time, draining everything they make ready before the next.
        while let Some(root) = roots.pop() {
            stack.push(root);
            while let Some(t) = stack.pop() {
                let before = stack.len();
                if run.run(t, &mut stack).is_none() {
                    return run.finish().map(Some);
                }
                // Newly ready tasks were pushed in id order; run the lowest id first.
                stack[before..].reverse();
            }
        }
        run.finish().map(Some)
    }
}
