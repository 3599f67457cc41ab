//! The logical optimizer: rewrites of the logical plan (array nodes), before any physical
//! choice. The plan of the requested outputs goes through an ordered list of passes, each one
//! module behind the [`Pass`] trait, and the result ([`LogicalPlan`]) is what the physical
//! planner (`lower`) reads. This stage imports nothing below `plan`. Each pass can be switched
//! off (the run configuration's `disable_pass`, or the environment variable
//! `NDTASK_OPTIMIZER_DISABLE`); in debug builds every pass is checked to keep each output's
//! shape, element type and chunks.
//!
//! The passes, in order:
//!
//! 1. [`share`] (`share`): common subexpressions. Two structurally equal sub-plans built
//!    separately (`x.mean()` written twice) become one node, so they are computed once.
//! 2. [`pushdown`] (`source-pushdown`): a slice with unit steps of a source asks the source for
//!    the selected region only, and a rechunk of a source cuts the source afresh.
//! 3. [`remat`] (`rematerialise`): a cheap node (sources and maps) that a consumer reads only
//!    after a barrier (the global mean in `x - x.mean()`, a transpose in `x.T * x`) is copied
//!    for that consumer and computed again there instead of being held.
//!
//! The physical planner then culls, fuses and compiles arithmetic trees (`lower::physical`).

pub(crate) mod pushdown;
pub(crate) mod remat;
pub(crate) mod share;

use crate::plan::passes::Enabled;
use crate::plan::walk::post_order;
use crate::plan::Node;
use crate::plan::NodeId;
use ndtask_core::{Error, Result};
use std::collections::HashSet;
use std::sync::Arc;

/// The logical plan after the rewrites: what the physical planner reads.
pub(crate) struct LogicalPlan {
    /// The outputs, after the rewriting passes (same shapes, element types and chunks).
    pub outputs: Vec<Arc<Node>>,
    /// The roots of the copies the rematerialisation pass made (each computed again for its
    /// consumer instead of held).
    pub recomputed: HashSet<NodeId>,
    /// The passes, in order, with "(off)" after one that was switched off.
    pub passes: Vec<String>,
}

/// One logical pass.
pub(crate) trait Pass {
    /// Its name, as `disable_pass`, `NDTASK_OPTIMIZER_DISABLE` and `explain` show it.
    fn name(&self) -> &'static str;
    /// Runs the pass over the plan.
    fn run(&self, plan: &mut LogicalPlan) -> Result<()>;
}

/// The logical passes, in the order they run.
fn passes() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(share::Share),
        Box::new(pushdown::SourcePushdown),
        Box::new(remat::Rematerialise),
    ]
}

/// The names of the logical passes, in the order they run.
pub(crate) fn pass_names() -> Vec<&'static str> {
    passes().iter().map(|p| p.name()).collect()
}

/// Rewrites the plans of `outputs` for one run, with the passes `enabled` allows.
///
/// # Errors
/// The error of an invalid expression; [`Error::Internal`] if a pass broke the plan.
pub(crate) fn optimize(outputs: &[Arc<Node>], enabled: &Enabled) -> Result<LogicalPlan> {
    if let Some(e) = post_order(outputs).iter().find_map(|n| n.error()) {
        return Err(e.clone());
    }
    let mut plan = LogicalPlan {
        outputs: outputs.to_vec(),
        recomputed: HashSet::new(),
        passes: Vec::new(),
    };
    for pass in passes() {
        let on = enabled.runs(pass.name());
        plan.passes.push(match on {
            true => pass.name().to_string(),
            false => format!("{} (off)", pass.name()),
        });
        if !on {
            continue;
        }
        pass.run(&mut plan)?;
        if cfg!(debug_assertions) {
            check_outputs(pass.name(), outputs, &plan.outputs)?;
        }
    }
    Ok(plan)
}

/// A pass must keep every output's shape, element type and chunks.
fn check_outputs(pass: &str, before: &[Arc<Node>], after: &[Arc<Node>]) -> Result<()> {
    if before.len() != after.len() {
        return Err(Error::internal(format!(
            "the {pass} pass turned {} outputs into {}",
            before.len(),
            after.len()
        )));
    }
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        if b.grid != a.grid || b.dtype != a.dtype {
            return Err(Error::internal(format!(
                "the {pass} pass changed output {i} from {} {:?} to {} {:?}",
                b.dtype, b.grid, a.dtype, a.grid
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::random;
    use crate::Array;

    #[test]
    fn a_pass_that_changes_an_output_is_caught() {
        let x: Array<f64> = random::uniform([10], [5], 1).unwrap();
        let y: Array<f64> = random::uniform([10], [2], 1).unwrap();
        let e = check_outputs(
            "broken",
            std::slice::from_ref(&x.node),
            std::slice::from_ref(&y.node),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("the broken pass changed output 0"),
            "{e}"
        );
    }
}
