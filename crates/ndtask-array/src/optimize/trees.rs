//! Arithmetic trees: inside every fused kernel, float arithmetic of depth two
//! (`x * x + y * y`, `(x + 1) * 2`) becomes one step, monomorphised for its operators (see
//! `fuse::compile_trees`). The IEEE operations and their order are unchanged, so the bits are.

use super::{Enabled, OptimizedPlan, Pass};
use ndtask_core::Result;

/// The arithmetic-tree pass.
pub(crate) struct ArithmeticTrees;

impl Pass for ArithmeticTrees {
    fn name(&self) -> &'static str {
        "arithmetic-trees"
    }
    fn run(&self, plan: &mut OptimizedPlan, _: &Enabled) -> Result<()> {
        for region in plan.regions.values_mut() {
            region.program = region.program.clone().compiled();
        }
        Ok(())
    }
}
