//! The one protocol every lazy value computes through: a [`Collection`] names what it needs
//! computed (array nodes, and blocks of [`Layer`]s) into [`Targets`], and takes its value back
//! from the [`Results`]. Arrays, scalars, bags, delayed values, writes (and the dataframes,
//! labelled arrays and models built on them) all implement it, so one `compute` over any mix
//! of them runs one graph, in which an input they share runs once.
//!
//! `build` makes that graph: the arrays the targets name or read are optimized and lowered
//! together, then the layers' tasks are added after theirs.

pub mod layer;
mod write;

use crate::lower::{lower, plan};
use crate::plan::chunks::{try_array, typed};
use crate::plan::passes::Enabled;
use crate::plan::Node;
use crate::plan::NodeId;
use layer::{add_layers, Layer, Layers};
use ndarray::{ArrayD, IxDyn, Slice};
use ndtask_core::{Chunk, ChunkGrid, Element, Error, Result, TaskGraph, TaskId};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

pub use write::Write;

/// A lazy value that can be computed: an `Array`, a `Scalar`, an `AnyArray`, a `Bag`, a
/// `Delayed`, a [`Write`], a reference to one, a `Vec` of them, or a tuple of up to twelve of
/// them, in any mix (Dask's collection protocol, `dask.compute(a, b, ...)`).
///
/// # Examples
/// ```
/// let x = ndtask_array::random::uniform::<f64>([1000], [100], 1)?;
/// let (s, m, v) = ndtask_array::compute((x.sum(), x.mean(), &x))?; // x is generated once
/// assert!((s / 1000.0 - m).abs() < 1e-12);
/// assert_eq!(v.len(), 1000);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub trait Collection {
    /// What computing it gives.
    type Output;
    /// Adds what it needs computed, in order.
    fn add_targets(&self, targets: &mut Targets);
    /// Takes its value from the computed results, in the order `add_targets` added them.
    ///
    /// # Errors
    /// [`Error::Internal`] if the results do not match the targets.
    fn take_results(&self, results: &mut Results) -> Result<Self::Output>;
}

/// One thing a compute computes.
#[derive(Clone)]
enum Target {
    /// Every chunk of an array.
    Array(Arc<Node>),
    /// These blocks of a layer.
    Layer(Arc<Layer>, Vec<usize>),
}

/// What a compute computes, in the order the collections added it.
#[derive(Default, Clone)]
pub struct Targets {
    targets: Vec<Target>,
}

impl Targets {
    /// Adds an array node: all its chunks.
    pub(crate) fn push(&mut self, node: Arc<Node>) {
        self.targets.push(Target::Array(node));
    }

    /// Adds the blocks `blocks` of `layer` (the extension point of collections built on
    /// layers: bags, delayed values, dataframes).
    pub fn push_layer(&mut self, layer: Arc<Layer>, blocks: Vec<usize>) {
        self.targets.push(Target::Layer(layer, blocks));
    }

    /// The targets of `c`.
    pub fn of<C: Collection + ?Sized>(c: &C) -> Targets {
        let mut t = Targets::default();
        c.add_targets(&mut t);
        t
    }

    /// Adds every target of `other`.
    pub fn extend(&mut self, other: &Targets) {
        self.targets.extend(other.targets.iter().cloned());
    }

    /// How many targets.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Calls `f` with each layer among the targets.
    pub(crate) fn each_layer(&self, mut f: impl FnMut(&Arc<Layer>)) {
        for t in &self.targets {
            if let Target::Layer(l, _) = t {
                f(l);
            }
        }
    }

    /// The array nodes among the targets (for the array planner).
    pub(crate) fn array_nodes(&self) -> Vec<Arc<Node>> {
        self.targets
            .iter()
            .filter_map(|t| match t {
                Target::Array(n) => Some(n.clone()),
                Target::Layer(..) => None,
            })
            .collect()
    }
}

/// The computed chunks (or blocks) of one target.
struct Output {
    /// An array's grid (`None` for a layer's blocks).
    grid: Option<ChunkGrid>,
    chunks: Vec<Arc<Chunk>>,
}

/// The computed results of each target, in the order they were added.
pub struct Results {
    outputs: VecDeque<Output>,
}

impl Results {
    fn next(&mut self) -> Result<Output> {
        self.outputs
            .pop_front()
            .ok_or_else(|| Error::internal("missing result"))
    }

    /// The chunks (or blocks) of the next target, in C order of its grid or in the order its
    /// blocks were asked for.
    ///
    /// # Errors
    /// [`Error::Internal`] if there are no more results.
    pub fn take_chunks(&mut self) -> Result<Vec<Arc<Chunk>>> {
        Ok(self.next()?.chunks)
    }

    /// The next target, an array, put together.
    ///
    /// # Errors
    /// [`Error::Internal`] if there are no more results, or they are not an array of `T`.
    pub fn take_array<T: Element>(&mut self) -> Result<ArrayD<T>> {
        let out = self.next()?;
        let grid = out
            .grid
            .ok_or_else(|| Error::internal("an array's result that is a layer's"))?;
        assemble(&grid, out.chunks)
    }
}

/// A task graph for `targets` and, per target, its tasks (an array's chunks in C order, a
/// layer's wanted blocks).
pub(crate) struct Built {
    pub graph: TaskGraph,
    pub tasks: Vec<Vec<TaskId>>,
    /// The ops of the arrays come first in the graph: this many.
    pub array_ops: usize,
}

/// Builds the one graph of `targets`: the arrays they name or read, optimized (with the passes
/// `enabled` allows) and lowered together, then the layers' tasks. The graph's outputs are the
/// targets' tasks, in order.
///
/// # Errors
/// The error of an invalid expression; [`Error::Internal`] for a broken invariant.
pub(crate) fn build(targets: &Targets, enabled: &Enabled) -> Result<Built> {
    let mut layers = Layers::default();
    targets.each_layer(|l| layers.visit(l));
    let mut nodes = targets.array_nodes();
    for n in &layers.arrays {
        if !nodes.iter().any(|m| Arc::ptr_eq(m, n)) {
            nodes.push(n.clone());
        }
    }
    let (mut graph, node_tasks) = if nodes.is_empty() {
        (TaskGraph::new(), Vec::new())
    } else {
        let lowered = lower(&plan(&nodes, enabled)?)?;
        let tasks: Vec<Vec<TaskId>> = lowered.outputs.iter().map(|o| o.to_vec()).collect();
        (lowered.graph, tasks)
    };
    let by_node: HashMap<NodeId, Vec<TaskId>> = nodes
        .iter()
        .zip(&node_tasks)
        .map(|(n, t)| (n.key(), t.clone()))
        .collect();
    let wanted: Vec<(Arc<Layer>, Vec<usize>)> = targets
        .targets
        .iter()
        .filter_map(|t| match t {
            Target::Layer(l, b) => Some((l.clone(), b.clone())),
            Target::Array(_) => None,
        })
        .collect();
    let array_ops = graph.num_ops();
    let mut layer_tasks = add_layers(&mut graph, &layers, &by_node, &wanted)?.into_iter();
    let mut array_tasks = node_tasks.into_iter();
    let tasks = targets
        .targets
        .iter()
        .map(|t| {
            match t {
                Target::Array(_) => array_tasks.next(),
                Target::Layer(..) => layer_tasks.next(),
            }
            .ok_or_else(|| Error::internal("a target without tasks"))
        })
        .collect::<Result<Vec<_>>>()?;
    graph.set_outputs(tasks.concat());
    Ok(Built {
        graph,
        tasks,
        array_ops,
    })
}

impl Built {
    /// The results of a run of this graph, whose output chunks are `chunks` (in the order of
    /// the graph's outputs).
    pub(crate) fn results(&self, targets: &Targets, mut chunks: Vec<Arc<Chunk>>) -> Results {
        let mut outputs = VecDeque::with_capacity(self.tasks.len());
        for (t, tasks) in targets.targets.iter().zip(&self.tasks) {
            let rest = chunks.split_off(tasks.len().min(chunks.len()));
            let grid = match t {
                Target::Array(n) => Some(n.grid.clone()),
                Target::Layer(..) => None,
            };
            outputs.push_back(Output {
                grid,
                chunks: std::mem::replace(&mut chunks, rest),
            });
        }
        Results { outputs }
    }
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

impl<C: Collection + ?Sized> Collection for &C {
    type Output = C::Output;
    fn add_targets(&self, targets: &mut Targets) {
        (**self).add_targets(targets);
    }
    fn take_results(&self, results: &mut Results) -> Result<C::Output> {
        (**self).take_results(results)
    }
}

impl<C: Collection> Collection for Vec<C> {
    type Output = Vec<C::Output>;
    fn add_targets(&self, targets: &mut Targets) {
        self.iter().for_each(|c| c.add_targets(targets));
    }
    fn take_results(&self, results: &mut Results) -> Result<Vec<C::Output>> {
        self.iter().map(|c| c.take_results(results)).collect()
    }
}

macro_rules! tuple_collection {
    ($($name:ident),+) => {
        impl<$($name: Collection),+> Collection for ($($name,)+) {
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
tuple_collection!(A);
tuple_collection!(A, B);
tuple_collection!(A, B, C);
tuple_collection!(A, B, C, D);
tuple_collection!(A, B, C, D, E);
tuple_collection!(A, B, C, D, E, F);
tuple_collection!(A, B, C, D, E, F, G);
tuple_collection!(A, B, C, D, E, F, G, H);
tuple_collection!(A, B, C, D, E, F, G, H, I);
tuple_collection!(A, B, C, D, E, F, G, H, I, J);
tuple_collection!(A, B, C, D, E, F, G, H, I, J, K);
tuple_collection!(A, B, C, D, E, F, G, H, I, J, K, L);
