//! The triggers: computing any collection (through the one protocol,
//! [`crate::collection::Collection`], and a run configuration, [`Config`]), and looking at what
//! a compute would run (`explain`, `visualize`, the memory model). Arrays and scalars take
//! their values from the results here.

use crate::api::any::{AnyArray, AnyNdArray, AnyScalar, AnyValue, Typed};
use crate::api::array::{Array, Scalar};
use crate::collection::{build, Collection, Results, Targets};
use crate::config::Config;
use crate::lower::explain::{self, PlanNode};
use crate::lower::physical::PhysicalPlan;
use ndarray::ArrayD;
use ndtask_core::petgraph::graph::DiGraph;
use ndtask_core::{catch_panic, Element, Error, MemoryReport, Result};

impl<T: Element> Collection for Array<T> {
    type Output = ArrayD<T>;
    fn add_targets(&self, targets: &mut Targets) {
        targets.push(self.node.clone());
    }
    fn take_results(&self, results: &mut Results) -> Result<ArrayD<T>> {
        results.take_array()
    }
}

impl<T: Element> Collection for Scalar<T> {
    type Output = T;
    fn add_targets(&self, targets: &mut Targets) {
        self.0.add_targets(targets);
    }
    fn take_results(&self, results: &mut Results) -> Result<T> {
        let a = self.0.take_results(results)?;
        a.first()
            .copied()
            .ok_or_else(|| Error::internal("scalar result with no element"))
    }
}

impl Collection for AnyArray {
    type Output = AnyNdArray;
    fn add_targets(&self, targets: &mut Targets) {
        targets.push(self.node.clone());
    }
    fn take_results(&self, results: &mut Results) -> Result<AnyNdArray> {
        Ok(match self.typed_view() {
            Typed::F64(x) => AnyNdArray::F64(x.take_results(results)?),
            Typed::F32(x) => AnyNdArray::F32(x.take_results(results)?),
            Typed::I64(x) => AnyNdArray::I64(x.take_results(results)?),
            Typed::Bool(x) => AnyNdArray::Bool(x.take_results(results)?),
        })
    }
}

impl Collection for AnyScalar {
    type Output = AnyValue;
    fn add_targets(&self, targets: &mut Targets) {
        self.0.add_targets(targets);
    }
    fn take_results(&self, results: &mut Results) -> Result<AnyValue> {
        Ok(match self.0.typed_view() {
            Typed::F64(x) => AnyValue::of(Scalar(x).take_results(results)?),
            Typed::F32(x) => AnyValue::of(Scalar(x).take_results(results)?),
            Typed::I64(x) => AnyValue::of(Scalar(x).take_results(results)?),
            Typed::Bool(x) => AnyValue::of(Scalar(x).take_results(results)?),
        })
    }
}

/// Computes `c` — any collection, or a tuple or `Vec` of them, in any mix — over one graph on
/// the default configuration (the threaded scheduler on all cores): an input they share is
/// computed once (Dask's `dask.compute(a, b, ...)`).
///
/// # Errors
/// An invalid expression's error, or the first failing task's.
///
/// # Examples
/// ```
/// let x = ndtask_array::random::uniform::<f64>([1000], [100], 1)?;
/// let (s, m) = ndtask_array::compute((x.sum(), x.mean()))?; // x is generated once
/// assert!((s / 1000.0 - m).abs() < 1e-12);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn compute<C: Collection>(c: C) -> Result<C::Output> {
    Config::default().compute(c)
}

/// The array nodes a compute of `targets` plans (those it names and those its layers read),
/// optimized.
fn plan_of(targets: &Targets, config: &Config) -> Result<Option<PhysicalPlan>> {
    let mut layers = crate::collection::layer::Layers::default();
    targets.each_layer(|l| layers.visit(l));
    let mut nodes = targets.array_nodes();
    for n in layers.arrays {
        if !nodes.iter().any(|m| std::sync::Arc::ptr_eq(m, &n)) {
            nodes.push(n);
        }
    }
    if nodes.is_empty() {
        return Ok(None);
    }
    crate::lower::plan(&nodes, &config.passes()).map(Some)
}

impl Config {
    /// What computing `c` would run, as text: the optimized array plan (one line per node with
    /// its op, shape, chunks, element type and bytes, which nodes fused into one kernel and
    /// which are recomputed instead of held), the ops of the other collections' layers with
    /// their task counts, then the memory model on this configuration's threads.
    ///
    /// # Errors
    /// The expression's build error.
    pub fn explain<C: Collection + ?Sized>(&self, c: &C) -> Result<String> {
        let targets = Targets::of(c);
        catch_panic("optimizing", || {
            let mut text = match plan_of(&targets, self)? {
                Some(plan) => explain::explain(&plan),
                None => String::new(),
            };
            let built = build(&targets, &self.passes())?;
            // The layers' ops by name, in the order they first occur, with their tasks.
            let names = built.graph.op_names();
            let counts = built.graph.tasks_per_op();
            let mut layers: Vec<(&String, usize)> = Vec::new();
            for (name, &n) in names.iter().zip(&counts).skip(built.array_ops) {
                match layers.iter_mut().find(|(m, _)| *m == name) {
                    Some((_, k)) => *k += n,
                    None => layers.push((name, n)),
                }
            }
            if !layers.is_empty() {
                for (name, n) in layers {
                    let s = if n == 1 { "" } else { "s" };
                    text.push_str(&format!("{name}: {n} task{s}\n"));
                }
                text.push_str(&format!(
                    "{} tasks, {} outputs\n",
                    built.graph.len(),
                    built.graph.outputs().len()
                ));
            }
            let memory = MemoryReport::of(&built.graph, self.threads_of());
            Ok(format!("{text}memory: {memory}"))
        })
    }

    /// The memory model of computing `c` on `threads` threads (see [`Array::memory_report`]).
    ///
    /// # Errors
    /// The expression's build error.
    pub fn memory_report<C: Collection + ?Sized>(
        &self,
        c: &C,
        threads: usize,
    ) -> Result<MemoryReport> {
        Ok(MemoryReport::of(&self.task_graph(c)?, threads))
    }

    /// The optimized array plan of `c` as a petgraph graph of [`PlanNode`]s (node `i` is plan
    /// node `i`; edges run from inputs to consumers).
    ///
    /// # Errors
    /// The expression's build error.
    pub fn plan_graph<C: Collection + ?Sized>(&self, c: &C) -> Result<DiGraph<PlanNode, usize>> {
        let targets = Targets::of(c);
        catch_panic("optimizing", || {
            Ok(match plan_of(&targets, self)? {
                Some(plan) => explain::plan_graph(&plan),
                None => DiGraph::new(),
            })
        })
    }

    /// Writes the task graph computing `c` runs to `path` as Graphviz DOT: one node per task up
    /// to [`ndtask_core::MAX_DRAWN_TASKS`] tasks, one node per op (with its task count) beyond,
    /// so even a million-chunk graph gives a readable picture (`dot -Tsvg FILE > graph.svg`).
    ///
    /// # Errors
    /// The expression's build error, or [`Error::Io`] if the file cannot be written.
    pub fn visualize<C: Collection + ?Sized>(
        &self,
        c: &C,
        path: impl AsRef<std::path::Path>,
    ) -> Result<()> {
        let path = path.as_ref();
        let dot = self.task_graph(c)?.to_dot(ndtask_core::MAX_DRAWN_TASKS);
        std::fs::write(path, dot)
            .map_err(|e| Error::io(format!("writing the graph picture {}", path.display()), e))
    }
}

/// The methods every collection has alike: computing it, and looking at what computing it
/// would run, on the default configuration or a given one.
#[macro_export]
#[doc(hidden)]
macro_rules! collection_methods {
    ($what:literal, $out:ty) => {
        #[doc = concat!("Computes this ", $what, " on the default configuration (the threaded scheduler on all cores).")]
        ///
        /// # Errors
        /// The expression's build error, or the first failing task's error (naming op and chunk).
        pub fn compute(&self) -> $crate::__private::Result<$out> {
            $crate::Config::default().compute(self)
        }

        #[doc = concat!("Computes this ", $what, " with `config` (scheduler, memory budget, observers, cancellation, optimizer passes).")]
        ///
        /// # Errors
        /// As `compute`; on an MPI rank that does not receive the results, an
        /// `Error::Scheduler` (use `Config::compute_local` there).
        pub fn compute_with(&self, config: &$crate::Config) -> $crate::__private::Result<$out> {
            config.compute(self)
        }

        #[doc = concat!("The task graph that computing this ", $what, " runs.")]
        ///
        /// # Errors
        /// The expression's build error.
        pub fn task_graph(&self) -> $crate::__private::Result<$crate::__private::TaskGraph> {
            $crate::Config::default().task_graph(self)
        }

        #[doc = concat!("What computing this ", $what, " would run, as text (see `Config::explain`).")]
        ///
        /// # Errors
        /// The expression's build error.
        pub fn explain(&self) -> $crate::__private::Result<String> {
            $crate::Config::default().explain(self)
        }

        #[doc = concat!("The memory model of computing this ", $what, " on `threads` threads:")]
        /// per op, the bytes its tasks hold (inputs and result); the projected peak of live
        /// results when tasks start in the memory order; and the smallest memory budget the
        /// plan runs within (its peak on one thread). A budget below that fails before
        /// anything runs.
        ///
        /// # Errors
        /// The expression's build error.
        pub fn memory_report(
            &self,
            threads: usize,
        ) -> $crate::__private::Result<$crate::__private::MemoryReport> {
            $crate::Config::default().memory_report(self, threads)
        }

        #[doc = concat!("Writes the task graph that computing this ", $what, " runs as Graphviz DOT (see `Config::visualize`).")]
        ///
        /// # Errors
        /// The expression's build error, or `Error::Io` if the file cannot be written.
        pub fn visualize(
            &self,
            path: impl AsRef<std::path::Path>,
        ) -> $crate::__private::Result<()> {
            $crate::Config::default().visualize(self, path)
        }
    };
}

/// The plan inspection of an array expression, alike for every array handle.
macro_rules! plan_methods {
    () => {
        /// The optimized plan as a petgraph graph of [`PlanNode`]s (node `i` is plan node `i`;
        /// edges run from inputs to consumers).
        ///
        /// # Errors
        /// The expression's build error.
        pub fn plan_graph(&self) -> Result<DiGraph<PlanNode, usize>> {
            Config::default().plan_graph(self)
        }
    };
}

impl<T: Element> Array<T> {
    crate::collection_methods!("array", ArrayD<T>);
    plan_methods!();
}

impl<T: Element> Scalar<T> {
    crate::collection_methods!("value", T);
    plan_methods!();
}

impl AnyArray {
    crate::collection_methods!("array", AnyNdArray);
    plan_methods!();
}

impl AnyScalar {
    crate::collection_methods!("value", AnyValue);
    plan_methods!();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn explain_shows_fusion_and_streaming() {
        let x = crate::random::uniform::<f64>([100, 100], [50, 50], 1).unwrap();
        let text = (&x * 2.0).sum().explain().unwrap();
        assert!(text.contains("[fused region, streamed into its reduction]"));
        assert!(text.contains("[fused into #"));
        let centred = &x - &x.mean().into_array();
        let report = (&centred * &centred).mean().memory_report(2).unwrap();
        // x is made again where the centring reads it, not held: a few chunks at a time.
        assert!(report.profile.peak_bytes < 8 * 50 * 50 * 8);
    }
}
