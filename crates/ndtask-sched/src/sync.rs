//! The reference scheduler: one thread, in the memory order.

use crate::{Admit, LocalRun};
use ndtask_core::memory::{memory_order, BudgetPlan};
use ndtask_core::{Chunk, Result, RunContext, RunInfo, Scheduler, TaskGraph};
use std::sync::Arc;

/// Runs every task on the calling thread in the memory order
/// ([`ndtask_core::memory::memory_order`]: depth first from the outputs), so each intermediate is
/// consumed and freed as early as possible and the live bytes are exactly those the plan-time
/// model projects. With a [`RunContext::memory_budget`], a plan that cannot run within it fails
/// before any task runs.
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
        let order = memory_order(graph);
        // One thread in the order is the run the check simulates: it needs no admission.
        if let Some(budget) = ctx.budget() {
            BudgetPlan::local(graph, &order, budget)?;
        }
        let plan = BudgetPlan::unbounded(&order);
        let run = LocalRun::with_context(graph, ctx, 0);
        run.start(|| RunInfo::local(self.name(), graph, 1));
        Admit::new(&run, &plan, 1, ()).work();
        run.finish().map(Some)
    }
}
