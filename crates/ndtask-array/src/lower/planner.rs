//! The physical planner: from the logical plan the optimizer rewrote to what task building
//! reads ([`PhysicalPlan`]). Its passes, in order, each behind the [`Pass`] trait:
//!
//! 1. Culling (always on): only the nodes the outputs reach, inputs before consumers, with
//!    who reads each.
//! 2. [`crate::lower::fusion`] (`fusion`): element-wise chains and the sources they read become
//!    one kernel ([`Program`]) per chunk; a chain read only by a reduction is streamed into it.
//!    Switched off, every fusable node is a region of its own.
//! 3. [`crate::lower::arith_trees`] (`arithmetic-trees`): float arithmetic of depth two inside a
//!    fused kernel becomes one monomorphised step.

use crate::lower::physical::{Pass, PhysicalPlan};
use crate::lower::{arith_trees, fusion};
use crate::optimize::LogicalPlan;
use crate::plan::passes::Enabled;
use crate::plan::walk::{consumers, post_order};
use ndtask_core::Result;
use std::collections::HashMap;

/// The physical passes, in the order they run.
fn passes() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(Cull),
        Box::new(fusion::Fusion),
        Box::new(arith_trees::ArithmeticTrees),
    ]
}

/// The names of the physical passes, in the order they run.
pub(crate) fn pass_names() -> Vec<&'static str> {
    passes().iter().map(|p| p.name()).collect()
}

/// Plans `logical` physically, with the passes `enabled` allows.
///
/// # Errors
/// [`Error::Internal`] if a pass broke the plan.
pub(crate) fn plan(logical: LogicalPlan, enabled: &Enabled) -> Result<PhysicalPlan> {
    let LogicalPlan {
        outputs,
        recomputed,
        passes: logical_passes,
    } = logical;
    let mut plan = PhysicalPlan {
        outputs,
        order: Vec::new(),
        consumers: HashMap::new(),
        role: HashMap::new(),
        regions: HashMap::new(),
        recomputed,
        passes: logical_passes,
    };
    for pass in passes() {
        let on = enabled.runs(pass.name());
        plan.passes.push(match on {
            true => pass.name().to_string(),
            false => format!("{} (off)", pass.name()),
        });
        if on || pass.always_runs() {
            pass.run(&mut plan, enabled)?;
        }
    }
    Ok(plan)
}

/// Culling: only the nodes the outputs reach, in a post-order, with their consumers.
struct Cull;

impl Pass for Cull {
    fn name(&self) -> &'static str {
        "cull"
    }
    fn always_runs(&self) -> bool {
        true
    }
    fn run(&self, plan: &mut PhysicalPlan, _: &Enabled) -> Result<()> {
        plan.order = post_order(&plan.outputs);
        plan.consumers = consumers(&plan.order);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::lower::lower;
    use crate::lower::physical::Role;
    use crate::plan::Node;
    use crate::{arange, concatenate, random, Array};
    use ndtask_core::{Chunk, Element, Scheduler};
    use ndtask_sched::SyncScheduler;
    use std::sync::Arc;

    fn optimize_with(outputs: &[Arc<Node>], enabled: &Enabled) -> Result<PhysicalPlan> {
        crate::lower::plan(outputs, enabled)
    }

    /// The output chunks of `outputs` optimized with `enabled`, run on the sync scheduler.
    fn run(outputs: &[Arc<Node>], enabled: &Enabled) -> Vec<Arc<Chunk>> {
        let plan = optimize_with(outputs, enabled).unwrap();
        let lowered = lower(&plan).unwrap();
        SyncScheduler.execute(&lowered.graph).unwrap().unwrap()
    }

    /// The exact bits of array chunks (NaN and -0.0 included).
    fn bits(chunks: &[Arc<Chunk>]) -> Vec<u64> {
        let mut out = Vec::new();
        for c in chunks {
            if let Some(a) = f64::chunk_ref(c) {
                out.extend(a.iter().map(|v| v.to_bits()));
            } else if let Some(a) = i64::chunk_ref(c) {
                out.extend(a.iter().map(|&v| v as u64));
            } else if let Some(a) = f32::chunk_ref(c) {
                out.extend(a.iter().map(|v| v.to_bits() as u64));
            } else if let Some(a) = bool::chunk_ref(c) {
                out.extend(a.iter().map(|&v| v as u64));
            }
            out.push(u64::MAX); // a chunk boundary
        }
        out
    }

    fn enabled(off: &[&str]) -> Enabled {
        Enabled::with_disabled(off)
    }

    /// Expressions that every pass rewrites: shared reductions, slices and rechunks of
    /// sources, fused chains with arithmetic trees, a concatenation, a user closure.
    fn expressions() -> Vec<Arc<Node>> {
        let rng = random::default_rng(3);
        let x: Array<f64> = rng.uniform([60, 40], [16, 15]).unwrap();
        let y = rng.normal::<f64>(1.0, 2.0, [60, 40], [20, 40]).unwrap();
        let centred = &x - &x.mean().into_array();
        let again = &x - &x.mean().into_array();
        let s = x
            .slice(ndarray::s![5..50, 3..30])
            .unwrap()
            .rechunk([7, 9])
            .unwrap();
        let user = x.map(|v| v * 3.0 + 1.0);
        let cat = concatenate(&[&x, &y], 0).unwrap().sum_axis(0).unwrap();
        let r = arange(0i64, 1000, 3, [50])
            .unwrap()
            .slice(ndarray::s![10..200])
            .unwrap();
        vec![
            (&centred * &centred + &again * &y).mean().into_array().node,
            (&s * &s + 1.0).sum_axis(1).unwrap().node,
            user.std(0.0).into_array().node,
            cat.node,
            r.sum().into_array().node,
            x.mean().into_array().node,
        ]
    }

    #[test]
    fn every_combination_of_passes_gives_the_same_bits() {
        let outputs = expressions();
        let want = bits(&run(&outputs, &enabled(&[])));
        let optional = [
            "share",
            "source-pushdown",
            "rematerialise",
            "fusion",
            "arithmetic-trees",
        ];
        for mask in 1..(1 << optional.len()) {
            let off: Vec<&str> = (0..optional.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| optional[i])
                .collect();
            assert!(
                bits(&run(&outputs, &enabled(&off))) == want,
                "passes off: {off:?}"
            );
        }
    }

    #[test]
    fn switched_off_passes_are_listed_and_change_the_plan() {
        let outputs = expressions();
        let full = optimize_with(&outputs, &enabled(&[])).unwrap();
        assert_eq!(
            full.passes,
            [
                "share",
                "source-pushdown",
                "rematerialise",
                "cull",
                "fusion",
                "arithmetic-trees"
            ]
        );
        let off = optimize_with(&outputs, &enabled(&["share", "fusion"])).unwrap();
        assert_eq!(off.passes[0], "share (off)");
        assert_eq!(off.passes[4], "fusion (off)");
        // Without sharing, the separately built means are two nodes; without fusion every
        // fusable node is a region of its own.
        assert!(off.order.len() > full.order.len());
        assert!(off.regions.len() > full.regions.len());
        let members = |p: &PhysicalPlan| {
            p.role
                .values()
                .filter(|r| matches!(r, Role::Member(_)))
                .count()
        };
        assert!(members(&full) > 0);
        assert_eq!(members(&off), 0);
    }

    #[test]
    fn equal_reductions_built_twice_become_one_and_closures_never_merge() {
        let x: Array<f64> = random::uniform([100], [10], 1).unwrap();
        let a = x.mean().into_array().node;
        let b = x.mean().into_array().node;
        let plan = optimize_with(&[a.clone(), b.clone()], &enabled(&[])).unwrap();
        assert!(Arc::ptr_eq(&plan.outputs[0], &plan.outputs[1]));
        let reductions = |p: &PhysicalPlan| {
            p.order
                .iter()
                .filter(|n| matches!(n.kind, crate::plan::NodeKind::Reduce(_)))
                .count()
        };
        assert_eq!(reductions(&plan), 1);
        // Two user closures with the same name are different functions: never shared.
        let f = x.map(|v| v + 1.0).sum().into_array().node;
        let g = x.map(|v| v * 2.0).sum().into_array().node;
        let plan = optimize_with(&[f.clone(), g.clone()], &enabled(&[])).unwrap();
        assert_eq!(reductions(&plan), 2);
        let got = run(&[f, g], &enabled(&[]));
        assert!(bits(&got[..1]) != bits(&got[1..]));
    }

    #[test]
    fn a_slice_and_a_rechunk_of_a_source_become_the_source() {
        let x: Array<f64> = random::uniform([100, 100], [10, 10], 1).unwrap();
        let s = x
            .slice(ndarray::s![5..17, 20..21])
            .unwrap()
            .rechunk([4, 1])
            .unwrap();
        let plan = optimize_with(std::slice::from_ref(&s.node), &enabled(&[])).unwrap();
        assert_eq!(plan.order.len(), 1);
        assert!(matches!(
            plan.order[0].kind,
            crate::plan::NodeKind::Source(_)
        ));
        let off = optimize_with(
            std::slice::from_ref(&s.node),
            &enabled(&["source-pushdown"]),
        )
        .unwrap();
        assert_eq!(off.order.len(), 3);
    }
}
