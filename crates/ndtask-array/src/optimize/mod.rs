//! The optimizer: the logical plan of the requested outputs goes through an ordered list of
//! passes, and lowering only reads the result ([`OptimizedPlan`]). Each pass is one module
//! behind the [`Pass`] trait and can be switched off for debugging (environment variable
//! `NDTASK_OPTIMIZER_DISABLE`, a comma-separated list of pass names). In debug builds every
//! pass is checked to keep each output's shape, element type and chunks.
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
//! 4. Culling (always on): only the nodes the outputs reach, inputs before consumers.
//! 5. [`fusion`] (`fusion`): element-wise chains and the sources they read become one kernel
//!    per chunk; a chain read only by a reduction is streamed into it.
//! 6. [`trees`] (`arithmetic-trees`): float arithmetic of depth two inside a fused kernel
//!    becomes one monomorphised step.

pub mod explain;
pub(crate) mod fusion;
pub(crate) mod pushdown;
pub(crate) mod remat;
pub(crate) mod share;
pub(crate) mod trees;

pub(crate) use crate::lower::input::{Consumers, OptimizedPlan, Region};
use crate::plan::Node;
use ndtask_core::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One optimizer pass.
pub(crate) trait Pass {
    /// Its name, as `NDTASK_OPTIMIZER_DISABLE` and `explain` show it.
    fn name(&self) -> &'static str;
    /// Runs the pass over the plan.
    fn run(&self, plan: &mut OptimizedPlan, enabled: &Enabled) -> Result<()>;
}

/// Which passes run.
#[derive(Debug, Clone)]
pub(crate) struct Enabled {
    disabled: HashSet<String>,
}

impl Enabled {
    /// Every pass except those named in `NDTASK_OPTIMIZER_DISABLE`.
    pub fn from_env() -> Self {
        let disabled = std::env::var("NDTASK_OPTIMIZER_DISABLE")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        Enabled { disabled }
    }

    /// These passes with `off` switched off and then `on` switched on.
    pub fn with(
        mut self,
        off: &std::collections::BTreeSet<String>,
        on: &std::collections::BTreeSet<String>,
    ) -> Self {
        self.disabled.extend(off.iter().cloned());
        on.iter().for_each(|n| {
            self.disabled.remove(n);
        });
        self
    }

    /// Whether the pass named `name` runs.
    pub fn runs(&self, name: &str) -> bool {
        !self.disabled.contains(name)
    }
}

/// The names of the passes, in the order they run.
pub(crate) fn pass_names() -> Vec<&'static str> {
    passes().iter().map(|p| p.name()).collect()
}

/// The passes, in the order they run.
fn passes() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(share::Share),
        Box::new(pushdown::SourcePushdown),
        Box::new(remat::Rematerialise),
        Box::new(Cull),
        Box::new(fusion::Fusion),
        Box::new(trees::ArithmeticTrees),
    ]
}

/// Optimizes the plans of `outputs` for one run, with the passes `enabled` allows.
///
/// # Errors
/// The error of an invalid expression; [`Error::Internal`] if a pass broke the plan.
pub(crate) fn optimize_with(outputs: &[Arc<Node>], enabled: &Enabled) -> Result<OptimizedPlan> {
    if let Some(e) = post_order(outputs).iter().find_map(|n| n.error()) {
        return Err(e.clone());
    }
    let mut plan = OptimizedPlan {
        outputs: outputs.to_vec(),
        order: Vec::new(),
        consumers: HashMap::new(),
        role: HashMap::new(),
        regions: HashMap::new(),
        recomputed: HashSet::new(),
        passes: Vec::new(),
    };
    for pass in passes() {
        // Culling and fusion make what lowering reads: switched off, fusion makes every
        // fusable node a region of its own.
        let essential = matches!(pass.name(), "cull" | "fusion");
        let on = enabled.runs(pass.name());
        plan.passes.push(match on {
            true => pass.name().to_string(),
            false => format!("{} (off)", pass.name()),
        });
        if !essential && !on {
            continue;
        }
        pass.run(&mut plan, enabled)?;
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

/// Culling: only the nodes the outputs reach, in a post-order, with their consumers.
struct Cull;

impl Pass for Cull {
    fn name(&self) -> &'static str {
        "cull"
    }
    fn run(&self, plan: &mut OptimizedPlan, _: &Enabled) -> Result<()> {
        plan.order = post_order(&plan.outputs);
        plan.consumers = consumers(&plan.order);
        Ok(())
    }
}

pub(crate) fn consumers(order: &[Arc<Node>]) -> Consumers {
    let mut consumers: Consumers = HashMap::new();
    for n in order {
        let mut seen = HashSet::new();
        for i in n.inputs() {
            if seen.insert(i.key()) {
                consumers.entry(i.key()).or_default().push(n.clone());
            }
        }
    }
    consumers
}

/// Every node reachable from `outputs`, inputs before consumers, each once (iterative, so deep
/// expression chains cannot overflow the stack).
pub(crate) fn post_order(outputs: &[Arc<Node>]) -> Vec<Arc<Node>> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    for o in outputs {
        let mut stack: Vec<(Arc<Node>, bool)> = vec![(o.clone(), false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                order.push(n);
                continue;
            }
            if !seen.insert(n.key()) {
                continue;
            }
            stack.push((n.clone(), true));
            for i in n.inputs().into_iter().rev() {
                if !seen.contains(&i.key()) {
                    stack.push((i.clone(), false));
                }
            }
        }
    }
    order
}

/// Rebuilds the plan of `outputs` bottom-up: `f` sees each node with its inputs already
/// rewritten (the node itself rebuilt on them when any changed) and may replace it. Each node
/// is visited once, however many consumers it has.
pub(crate) fn rewrite(
    outputs: &[Arc<Node>],
    mut f: impl FnMut(Arc<Node>) -> Arc<Node>,
) -> Vec<Arc<Node>> {
    let mut done: HashMap<*const Node, Arc<Node>> = HashMap::new();
    for n in post_order(outputs) {
        let inputs: Vec<Arc<Node>> = n
            .inputs()
            .into_iter()
            .map(|i| done.get(&i.key()).cloned().unwrap_or_else(|| i.clone()))
            .collect();
        done.insert(n.key(), f(on_inputs(&n, inputs)));
    }
    rewritten(outputs, &done)
}

/// `n` reading `inputs` (in its inputs' order and number): `n` itself when they are its own
/// inputs, a rebuilt node otherwise.
pub(crate) fn on_inputs(n: &Arc<Node>, inputs: Vec<Arc<Node>>) -> Arc<Node> {
    let changed = inputs
        .iter()
        .zip(n.inputs())
        .any(|(new, old)| !Arc::ptr_eq(new, old));
    match changed {
        true => n.with_inputs(inputs),
        false => n.clone(),
    }
}

/// The outputs after a rewrite that maps old nodes to new ones in `done`.
pub(crate) fn rewritten(
    outputs: &[Arc<Node>],
    done: &HashMap<*const Node, Arc<Node>>,
) -> Vec<Arc<Node>> {
    outputs
        .iter()
        .map(|o| done.get(&o.key()).cloned().unwrap_or_else(|| o.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::lower::input::Role;
    use crate::lower::lower;
    use crate::{arange, concatenate, random, Array};
    use ndtask_core::{Chunk, Scheduler};
    use ndtask_sched::SyncScheduler;

    /// The output chunks of `outputs` optimized with `enabled`, run on the sync scheduler.
    fn run(outputs: &[Arc<Node>], enabled: &Enabled) -> Vec<Arc<Chunk>> {
        let plan = optimize_with(outputs, enabled).unwrap();
        let lowered = lower(&plan).unwrap();
        SyncScheduler.execute(&lowered.graph).unwrap().unwrap()
    }

    fn bits(chunks: &[Arc<Chunk>]) -> Vec<u8> {
        let mut out = Vec::new();
        chunks.iter().for_each(|c| c.encode(&mut out));
        out
    }

    fn enabled(off: &[&str]) -> Enabled {
        Enabled {
            disabled: off.iter().map(|s| s.to_string()).collect(),
        }
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
        let members = |p: &OptimizedPlan| {
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
        let reductions = |p: &OptimizedPlan| {
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
