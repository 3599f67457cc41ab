//! Fusion: the fusable nodes (sources and element-wise maps) are partitioned into regions,
//! each evaluated as one kernel per chunk (see `fuse.rs` for the rules). Switched off, every
//! fusable node is a region of its own (materialised), which is how a plan runs unfused.

use super::{Enabled, OptimizedPlan, Pass, Region};
use crate::fuse::{assign_regions, build_program, Role};
use ndtask_core::Result;

/// The fusion pass.
pub(crate) struct Fusion;

impl Pass for Fusion {
    fn name(&self) -> &'static str {
        "fusion"
    }
    fn run(&self, plan: &mut OptimizedPlan, enabled: &Enabled) -> Result<()> {
        let fuse = enabled.runs(self.name());
        plan.role = assign_regions(&plan.order, &plan.consumers, &plan.outputs, fuse);
        for n in &plan.order {
            if matches!(
                plan.role.get(&n.key()),
                Some(Role::Materialized | Role::Streamed)
            ) {
                let (program, leaves) = build_program(n, &plan.role);
                plan.regions.insert(n.key(), Region { program, leaves });
            }
        }
        Ok(())
    }
}
