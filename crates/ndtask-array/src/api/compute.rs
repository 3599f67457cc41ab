//! Triggers: lowering a plan, running it on a scheduler, and assembling output chunks into
//! ndarrays. Several results can be computed over one shared graph with [`compute`], so an
//! input they share is computed once.

use crate::api::array::{Array, Scalar};
use crate::lower::{lower, Lowered};
use crate::optimize::explain::{self, PlanNode};
use crate::optimize::optimize;
use crate::plan::chunks::{try_array, typed};
use crate::plan::Node;
use ndarray::{ArrayD, IxDyn, Slice};
use ndtask_core::petgraph::graph::DiGraph;
use ndtask_core::{
    catch_panic, Chunk, ChunkGrid, Element, Error, MemoryReport, Result, RunContext, Scheduler,
    TaskGraph, TaskId,
};
use ndtask_sched::ThreadedScheduler;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

/// The scheduler `compute()` uses: a threaded scheduler on all cores, created on first use.
///
/// # Errors
/// [`Error::Scheduler`] if its thread pool cannot be started.
pub fn default_scheduler() -> Result<&'static ThreadedScheduler> {
    static DEFAULT: OnceLock<std::result::Result<ThreadedScheduler, Error>> = OnceLock::new();
    DEFAULT
        .get_or_init(ThreadedScheduler::new)
        .as_ref()
        .map_err(Clone::clone)
}

/// The arrays to compute, collected from a [`Computable`].
#[derive(Default)]
pub struct Targets {
    nodes: Vec<Arc<Node>>,
}

impl Targets {
    /// Adds one array node to compute.
    pub(crate) fn push(&mut self, node: Arc<Node>) {
        self.nodes.push(node);
    }
}

/// The computed chunks of each target, in the order they were added.
pub struct Results {
    outputs: VecDeque<(ChunkGrid, Vec<Arc<Chunk>>)>,
}

impl Results {
    /// The chunks of the next target, in C order of its grid.
    ///
    /// # Errors
    /// [`Error::Internal`] if there are no more results.
    pub fn take_chunks(&mut self) -> Result<Vec<Arc<Chunk>>> {
        self.outputs
            .pop_front()
            .map(|(_, c)| c)
            .ok_or_else(|| Error::internal("missing result"))
    }
}

/// Something that can be computed: an [`Array`], a [`Scalar`], a reference to one, a tuple of
/// up to eight of them, or a `Vec`.
pub trait Computable {
    /// What computing it gives.
    type Output;
    /// Adds the arrays to compute.
    fn add_targets(&self, targets: &mut Targets);
    /// Takes the computed results, in the order `add_targets` added them.
    ///
    /// # Errors
    /// [`Error::Internal`] if the results do not match the targets.
    fn take_results(&self, results: &mut Results) -> Result<Self::Output>;
}

impl<T: Element> Computable for Array<T> {
    type Output = ArrayD<T>;
    fn add_targets(&self, targets: &mut Targets) {
        targets.nodes.push(self.node.clone());
    }
    fn take_results(&self, results: &mut Results) -> Result<ArrayD<T>> {
        let (grid, chunks) = results
            .outputs
            .pop_front()
            .ok_or_else(|| Error::internal("missing result"))?;
        assemble(&grid, chunks)
    }
}

impl<T: Element> Computable for Scalar<T> {
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

impl<C: Computable + ?Sized> Computable for &C {
    type Output = C::Output;
    fn add_targets(&self, targets: &mut Targets) {
        (**self).add_targets(targets);
    }
    fn take_results(&self, results: &mut Results) -> Result<C::Output> {
        (**self).take_results(results)
    }
}

impl<C: Computable> Computable for Vec<C> {
    type Output = Vec<C::Output>;
    fn add_targets(&self, targets: &mut Targets) {
        self.iter().for_each(|c| c.add_targets(targets));
    }
    fn take_results(&self, results: &mut Results) -> Result<Vec<C::Output>> {
        self.iter().map(|c| c.take_results(results)).collect()
    }
}

macro_rules! tuple_computable {
    ($($name:ident),+) => {
        impl<$($name: Computable),+> Computable for ($($name,)+) {
            type Output = ($($name::Output,)+);
            #[allow(non_snake_case)]
            fn add_targets(&self, targets: &mut Targets) {
                let ($($name,)+) = self;
                $($name.add_targets(targets);)+
            }
            #[allow(non_snake_case)]
            fn take_results(&self, results: &mut Results) -> Result<Self::Output> {
                let ($($name,)+) = self;
                Ok(($($name.take_results(results)?,)+))
            }
        }
    };
}
tuple_computable!(A);
tuple_computable!(A, B);
tuple_computable!(A, B, C);
tuple_computable!(A, B, C, D);
tuple_computable!(A, B, C, D, E);
tuple_computable!(A, B, C, D, E, F);
tuple_computable!(A, B, C, D, E, F, G);
tuple_computable!(A, B, C, D, E, F, G, H);

/// The arrays `c` asks for.
pub(crate) fn targets_of<C: Computable>(c: &C) -> Targets {
    let mut t = Targets::default();
    c.add_targets(&mut t);
    t
}

/// Lowers what `c` needs into one task graph (for inspection: op names, task counts).
///
/// # Errors
/// The error of an invalid expression.
pub fn task_graph<C: Computable>(c: &C) -> Result<TaskGraph> {
    let t = targets_of(c);
    catch_panic("lowering", || Ok(lower(&optimize(&t.nodes)?)?.graph))
}

/// Lowers `targets` (collected with [`Computable::add_targets`]) into one task graph, with
/// each target's tasks in C order of its chunk grid: where a collection that reads arrays (a
/// `delayed` task of `ndtask-bag`) starts its own graph, adding its tasks after these.
///
/// # Errors
/// The error of an invalid expression.
pub fn lower_targets(targets: &Targets) -> Result<(TaskGraph, Vec<Vec<TaskId>>)> {
    catch_panic("lowering", || {
        let l = lower(&optimize(&targets.nodes)?)?;
        Ok((l.graph, l.outputs.iter().map(|o| o.to_vec()).collect()))
    })
}

/// The optimized plan of `c` as indented text (see [`Array::explain`]).
///
/// # Errors
/// The error of an invalid expression.
pub fn explain<C: Computable>(c: &C) -> Result<String> {
    let t = targets_of(c);
    catch_panic("optimizing", || {
        let plan = optimize(&t.nodes)?;
        let text = explain::explain(&plan);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory = MemoryReport::of(&lower(&plan)?.graph, threads);
        Ok(format!("{text}memory: {memory}"))
    })
}

/// The memory model of computing `c` on `threads` threads (see [`Array::memory_report`]).
///
/// # Errors
/// The error of an invalid expression.
pub fn memory_report<C: Computable>(c: &C, threads: usize) -> Result<MemoryReport> {
    Ok(MemoryReport::of(&task_graph(c)?, threads))
}

/// The optimized plan of `c` as a petgraph graph (see [`Array::plan_graph`]).
///
/// # Errors
/// The error of an invalid expression.
pub fn plan_graph<C: Computable>(c: &C) -> Result<DiGraph<PlanNode, usize>> {
    let t = targets_of(c);
    catch_panic("optimizing", || {
        Ok(explain::plan_graph(&optimize(&t.nodes)?))
    })
}

/// Writes the task graph of `c` to `path` as Graphviz DOT (see [`Array::visualize`]).
///
/// # Errors
/// As [`Array::visualize`].
pub fn visualize<C: Computable>(c: &C, path: &std::path::Path) -> Result<()> {
    let dot = task_graph(c)?.to_dot(ndtask_core::MAX_DRAWN_TASKS);
    std::fs::write(path, dot)
        .map_err(|e| Error::io(format!("writing the graph picture {}", path.display()), e))
}

/// Computes several results over one shared graph on the default scheduler.
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
pub fn compute<C: Computable>(c: C) -> Result<C::Output> {
    compute_with(c, default_scheduler()?)
}

/// Computes several results over one shared graph on `scheduler`.
///
/// # Errors
/// As [`compute`]; also [`Error::Scheduler`] on a process that does not receive results (an MPI
/// rank other than the root): use [`compute_local_with`] there.
pub fn compute_with<C: Computable>(c: C, scheduler: &dyn Scheduler) -> Result<C::Output> {
    compute_local_with(&c, scheduler)?.ok_or_else(|| not_here(scheduler))
}

/// Computes on `scheduler`; `None` on a process that takes part but does not receive results.
///
/// No panic leaves this function: a panic in lowering, in the scheduler's book-keeping or in
/// assembly is [`Error::Internal`] (a panic inside a task is [`Error::Task`]). On MPI, an
/// expression that fails to build or lower on any rank gives the same error on every rank.
///
/// # Errors
/// As [`compute`].
pub fn compute_local_with<C: Computable>(
    c: &C,
    scheduler: &dyn Scheduler,
) -> Result<Option<C::Output>> {
    compute_local_in(c, scheduler, &RunContext::new())
}

/// Computes on `scheduler` under `ctx`: its observers watch the run (a progress bar, a trace),
/// its token can cancel it from another thread, and its memory budget bounds live results.
///
/// # Errors
/// As [`compute_with`]; [`Error::Cancelled`] when the token cancelled the run.
///
/// # Examples
/// ```
/// use ndtask_core::{CancelToken, RunContext};
/// use ndtask_sched::{observe::ChromeTrace, SyncScheduler};
/// use std::sync::Arc;
/// let x = ndtask_array::random::uniform::<f64>([1000], [100], 1)?;
/// let trace = Arc::new(ChromeTrace::new());
/// let ctx = RunContext::new().observe(trace.clone());
/// let mean = ndtask_array::compute_in(&x.mean(), &SyncScheduler, &ctx)?;
/// assert!((mean - 0.5).abs() < 0.05);
/// assert_eq!(trace.events(), x.mean().task_graph()?.len());
///
/// let token = CancelToken::new();
/// token.cancel();
/// let cancelled = ndtask_array::compute_in(&x.mean(), &SyncScheduler, &RunContext::new().cancel_token(token));
/// assert_eq!(cancelled, Err(ndtask_core::Error::Cancelled));
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn compute_in<C: Computable>(
    c: C,
    scheduler: &dyn Scheduler,
    ctx: &RunContext,
) -> Result<C::Output> {
    compute_local_in(&c, scheduler, ctx)?.ok_or_else(|| not_here(scheduler))
}

fn not_here(scheduler: &dyn Scheduler) -> Error {
    Error::Scheduler(format!(
        "the {} scheduler delivered the results to another process; use compute_local_with on every rank",
        scheduler.name()
    ))
}

/// Lowers `t` for a run on `scheduler` and hands the graph to `run` (a scheduler's entry point):
/// a failure to lower is shared with the run's other processes
/// ([`Scheduler::fail_before_run`]), and a panic in the scheduler is an [`Error::Internal`].
pub(crate) fn run_lowered<R>(
    t: &Targets,
    scheduler: &dyn Scheduler,
    run: impl FnOnce(&TaskGraph) -> Result<R>,
) -> Result<(Lowered, R)> {
    let lowered = match catch_panic("lowering", || lower(&optimize(&t.nodes)?)) {
        Ok(l) => l,
        Err(e) => return Err(scheduler.fail_before_run(e)),
    };
    let got = catch_panic(&format!("the {} scheduler", scheduler.name()), || {
        run(&lowered.graph)
    })?;
    Ok((lowered, got))
}

/// As [`compute_in`]; `None` on a process that takes part but does not receive results (an
/// MPI rank other than the root).
///
/// # Errors
/// As [`compute_in`].
pub fn compute_local_in<C: Computable>(
    c: &C,
    scheduler: &dyn Scheduler,
    ctx: &RunContext,
) -> Result<Option<C::Output>> {
    let t = targets_of(c);
    let (lowered, run) = run_lowered(&t, scheduler, |g| scheduler.execute_with(g, ctx))?;
    let Some(mut chunks) = run else {
        return Ok(None);
    };
    catch_panic("assembling the results", || {
        let mut outputs = VecDeque::with_capacity(t.nodes.len());
        for (node, tasks) in t.nodes.iter().zip(&lowered.outputs) {
            let rest = chunks.split_off(tasks.len().min(chunks.len()));
            outputs.push_back((node.grid.clone(), std::mem::replace(&mut chunks, rest)));
        }
        c.take_results(&mut Results { outputs }).map(Some)
    })
}

/// Puts output chunks (in C order of `grid`) together into one array.
fn assemble<T: Element>(grid: &ChunkGrid, chunks: Vec<Arc<Chunk>>) -> Result<ArrayD<T>> {
    let shape = grid.shape();
    if chunks.len() != grid.num_chunks() {
        return Err(Error::internal(format!(
            "{} chunks for a grid of {}",
            chunks.len(),
            grid.num_chunks()
        )));
    }
    if chunks.len() == 1 {
        let c = chunks
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("no chunk"))?;
        let a = match Arc::try_unwrap(c) {
            Ok(c) => T::from_chunk(c).ok_or_else(|| Error::internal("chunk of the wrong type"))?,
            Err(c) => typed::<T>(&c, "assemble")?.clone(),
        };
        return a
            .into_shape_with_order(IxDyn(&shape))
            .map_err(Error::internal);
    }
    let mut out = try_array::<T>(&shape, "the result")?;
    for (b, c) in chunks.iter().enumerate() {
        let idx = grid.unravel(b);
        let (off, sh) = (grid.chunk_offset(&idx), grid.chunk_shape(&idx));
        let a = typed::<T>(c, "assemble")?;
        let mut dst = out.slice_each_axis_mut(|ax| {
            let i = ax.axis.index();
            Slice::from(off[i]..off[i] + sh[i])
        });
        if dst.shape() != a.shape() {
            return Err(Error::internal(format!(
                "chunk {idx:?} has shape {:?}, expected {sh:?}",
                a.shape()
            )));
        }
        dst.assign(a);
    }
    Ok(out)
}

/// The methods that show what computing an [`Array`] or a [`Scalar`] would run, alike for both.
macro_rules! inspection_methods {
    ($what:literal) => {
        #[doc = concat!("The task graph that computing this ", $what, " runs.")]
        ///
        /// # Errors
        /// The expression's build error.
        pub fn task_graph(&self) -> Result<TaskGraph> {
            task_graph(self)
        }

        #[doc = concat!("The optimized plan of this ", $what, " as indented text: one line per")]
        /// node with its op, shape, chunks, element type and bytes, which nodes fused into one
        /// kernel and which are recomputed instead of held; then the memory model on this
        /// machine's cores (see `memory_report`). The first line lists the optimizer's passes.
        ///
        /// # Errors
        /// The expression's build error.
        ///
        /// # Examples
        /// ```
        /// let x = ndtask_array::random::uniform::<f64>([100, 100], [50, 50], 1)?;
        /// let text = (&x * 2.0).sum().explain()?;
        /// assert!(text.contains("[fused region, streamed into its reduction]"));
        /// assert!(text.contains("[fused into #"));
        /// # Ok::<(), ndtask_core::Error>(())
        /// ```
        pub fn explain(&self) -> Result<String> {
            explain(self)
        }

        #[doc = concat!("The memory model of computing this ", $what, " on `threads` threads:")]
        /// per op, the bytes its tasks hold (inputs and result); the projected peak of live
        /// results when tasks start in the memory order; and the smallest memory budget the
        /// plan runs within (its peak on one thread). A budget below that fails before
        /// anything runs ([`ndtask_core::memory::check_budget`]).
        ///
        /// # Errors
        /// The expression's build error.
        ///
        /// # Examples
        /// ```
        /// let x = ndtask_array::random::uniform::<f64>([1000, 1000], [100, 100], 1)?;
        /// let centred = &x - &x.mean().into_array();
        /// let report = (&centred * &centred).mean().memory_report(2)?;
        /// // x is made again where the centring reads it, not held: a few chunks at a time.
        /// assert!(report.profile.peak_bytes < 8 * 100 * 100 * 8);
        /// # Ok::<(), ndtask_core::Error>(())
        /// ```
        pub fn memory_report(&self, threads: usize) -> Result<MemoryReport> {
            memory_report(self, threads)
        }

        #[doc = concat!("The optimized plan of this ", $what, " as a petgraph graph of")]
        /// [`PlanNode`]s (node `i` is plan node `i`; edges run from inputs to consumers).
        ///
        /// # Errors
        /// The expression's build error.
        pub fn plan_graph(&self) -> Result<DiGraph<PlanNode, usize>> {
            plan_graph(self)
        }

        #[doc = concat!("Writes the task graph that computing this ", $what, " runs as a")]
        /// Graphviz DOT file: one node per task up to [`ndtask_core::MAX_DRAWN_TASKS`] tasks,
        /// one node per op (with its task count) beyond, so even a million-chunk graph gives a
        /// readable picture (`dot -Tsvg FILE > graph.svg`).
        ///
        /// # Errors
        /// The expression's build error, or [`Error::Io`] if the file cannot be written.
        pub fn visualize(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
            visualize(self, path.as_ref())
        }
    };
}

impl<T: Element> Array<T> {
    /// Computes the array on the default (threaded) scheduler.
    ///
    /// # Errors
    /// The expression's build error, or the first failing task's error (naming op and chunk).
    pub fn compute(&self) -> Result<ArrayD<T>> {
        compute(self)
    }

    /// Computes the array on `scheduler`.
    ///
    /// # Errors
    /// As [`Array::compute`].
    pub fn compute_with(&self, scheduler: &dyn Scheduler) -> Result<ArrayD<T>> {
        compute_with(self, scheduler)
    }

    inspection_methods!("array");
}

impl<T: Element> Scalar<T> {
    /// Computes the value on the default (threaded) scheduler.
    ///
    /// # Errors
    /// As [`Array::compute`].
    pub fn compute(&self) -> Result<T> {
        compute(self)
    }

    /// Computes the value on `scheduler`.
    ///
    /// # Errors
    /// As [`Array::compute`].
    pub fn compute_with(&self, scheduler: &dyn Scheduler) -> Result<T> {
        compute_with(self, scheduler)
    }

    inspection_methods!("value");
}
