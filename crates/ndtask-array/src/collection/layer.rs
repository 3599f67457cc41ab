//! The graph of collections whose tasks are not array chunks: *layers* of tasks (one task per
//! block: a delayed value is a layer of one block, a bag a layer of one block per partition),
//! each computed by a kernel from blocks of earlier layers or from the chunks of arrays. This
//! is the extension point for collections (bags, delayed values, dataframes, models): a
//! collection is a layer, and `collection::build` turns the layers a compute asks for
//! into tasks after the arrays they read.
//!
//! Building visits the layers in a deterministic post-order, then adds one op per layer, or per
//! chain of layers fused into one (a partition-wise *stage* absorbs the layer it reads when it
//! is its only reader), and one task per block the outputs need, so every process that builds
//! the same collection gets the same task graph, which the MPI scheduler checks. A fused chain
//! from a source that makes its blocks in pieces into a reduction's fold runs piece by piece.

use crate::api::any::AnyArray;
use crate::plan::Node;
use crate::plan::NodeId;
use ndtask_core::{
    Chunk, DecodeFn, EncodeFn, Error, Fingerprint, Op, Result, TaskGraph, TaskId, Value,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A task's result holding `v` (of about `nbytes` bytes), encoded by `encode` (if any) when
/// it has to cross MPI ranks.
pub fn value_chunk<T: Send + Sync + 'static>(
    v: T,
    nbytes: usize,
    encode: Option<EncodeFn>,
) -> Chunk {
    Chunk::Value(Value::new(v, nbytes, encode))
}

/// Reads input `c` as a `T` (decoding it with `decode` if it came from another rank).
///
/// # Errors
/// [`Error::Internal`] if `c` is an array chunk or a value of another type.
pub fn arg<T: Send + Sync + 'static>(c: &Chunk, decode: Option<DecodeFn<T>>) -> Result<&T> {
    match c {
        Chunk::Value(v) => v.get(decode),
        _ => Err(Error::internal(format!(
            "expected a value of type {}, got an array chunk",
            std::any::type_name::<T>()
        ))),
    }
}

/// Computes one block of a layer from its inputs' blocks, in the order the layer's [`Deps`]
/// list them.
pub trait Kernel: Send + Sync {
    /// Computes block `block`.
    ///
    /// # Errors
    /// Whatever stops the computation.
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk>;
}

impl<F: Fn(usize, &[&Chunk]) -> Result<Chunk> + Send + Sync> Kernel for F {
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        self(block, inputs)
    }
}

/// A layer's input block, for a [`Stage`]: shared with other readers (a result of the graph),
/// or the stage's own (made just before it in the same task, by a layer fused into it).
pub enum Part<'a> {
    /// A result of the graph, which other tasks may read too.
    Shared(&'a Chunk),
    /// The stage's own: made just before it in the same task.
    Owned(Chunk),
}

/// The input partition as a stage sees it: borrowed, or its own (moved out of a fused
/// predecessor's result without a copy).
pub enum Held<'a, T> {
    /// Borrowed from a result other tasks may read.
    Shared(&'a Vec<T>),
    /// The stage's own.
    Mine(Arc<Vec<T>>),
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Held::Shared(v) => v,
            Held::Mine(v) => v,
        }
    }
}

impl<T: Clone> Held<'_, T> {
    /// The items by value: moved when they are the stage's own, copied when shared.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Held::Shared(v) => v.clone(),
            Held::Mine(v) => Arc::try_unwrap(v).unwrap_or_else(|v| (*v).clone()),
        }
    }
}

impl<'a> Part<'a> {
    /// The partition of `Vec<T>` this part holds (decoded with `decode` if it came from another
    /// rank).
    ///
    /// # Errors
    /// [`Error::Internal`] if the part is an array chunk or of another type; `decode`'s error.
    pub fn items<T: Send + Sync + 'static>(
        self,
        decode: Option<DecodeFn<Vec<T>>>,
    ) -> Result<Held<'a, T>> {
        match self {
            Part::Shared(c) => arg(c, decode).map(Held::Shared),
            Part::Owned(Chunk::Value(v)) => v.into_shared(decode).map(Held::Mine),
            Part::Owned(_) => Err(Error::internal("a partition that is an array chunk")),
        }
    }
}

/// A layer that computes block `b` from block `b` of its one input layer alone (a bag's
/// `map`, `filter`, a reduction's partial): one that the graph fuses with the layer before it
/// when it is that layer's only reader, so a chain of them is one task per partition, each
/// stage handed its predecessor's result to own.
pub trait Stage: Send + Sync {
    /// Computes block `block` from its input block.
    ///
    /// # Errors
    /// Whatever stops the computation.
    fn apply(&self, block: usize, input: Part<'_>) -> Result<Chunk>;
}

impl<F: Fn(usize, Part<'_>) -> Result<Chunk> + Send + Sync> Stage for F {
    fn apply(&self, block: usize, input: Part<'_>) -> Result<Chunk> {
        self(block, input)
    }
}

/// Folds a partition, handed out in pieces, into one result: the partial of a reduction.
/// Folding the pieces one after another gives the same result as folding the whole partition
/// (the fold goes item by item), so a partition read in pieces is never held whole.
pub trait Folder: Send + Sync {
    /// Block `block`'s result, folding what `pieces` hands to its argument, in order.
    ///
    /// # Errors
    /// Whatever stops the fold.
    fn fold(&self, block: usize, pieces: &mut PieceSource<'_>) -> Result<Chunk>;
}

/// Hands each piece of a partition, in order, to the function it is given.
pub type PieceSource<'a> = dyn FnMut(&mut dyn FnMut(Part<'_>) -> Result<()>) -> Result<()> + 'a;

/// A source that can make block `b` in pieces (a file read some lines at a time), each a
/// value of the same type as the whole block.
pub trait Pieces: Send + Sync {
    /// Makes block `block`, handing each piece to `sink` in order.
    ///
    /// # Errors
    /// Whatever stops the computation, or `sink`'s error.
    fn produce(&self, block: usize, sink: &mut dyn FnMut(Chunk) -> Result<()>) -> Result<()>;
}

impl<F: Fn(usize, &mut dyn FnMut(Chunk) -> Result<()>) -> Result<()> + Send + Sync> Pieces for F {
    fn produce(&self, block: usize, sink: &mut dyn FnMut(Chunk) -> Result<()>) -> Result<()> {
        self(block, sink)
    }
}

/// How many items a piece holds: small enough for a piece and what is made from it to stay
/// in the CPU's caches.
pub const PIECE: usize = 1024;

/// Which blocks of its inputs each block of a layer reads.
#[derive(Clone)]
pub enum Deps {
    /// Block `b` reads block `b` of every input (which all have as many blocks).
    Blockwise,
    /// Every block reads every block of every input, input by input.
    All,
    /// Block `b` reads the listed (input, block) pairs.
    Listed(Vec<Vec<(usize, usize)>>),
}

/// What a layer reads: another layer, or the chunks of an array (its blocks: the chunks in C
/// order of its grid).
#[derive(Clone)]
pub enum Input {
    /// The blocks of another layer.
    Layer(Arc<Layer>),
    /// The chunks of an array, in C order of its grid.
    Array(Arc<ArrayInput>),
}

/// An array (or scalar) a layer reads: its blocks are the array's chunks, in C order of its
/// grid.
pub struct ArrayInput {
    pub(crate) node: Arc<Node>,
}

impl ArrayInput {
    /// The input reading `a`'s chunks (an `Array<T>`, an `AnyArray`, a scalar's 0-d array).
    pub fn of(a: impl Into<AnyArray>) -> Arc<Self> {
        Arc::new(ArrayInput {
            node: a.into().node,
        })
    }

    /// Its number of chunks.
    pub fn chunks(&self) -> usize {
        self.node.grid.num_chunks()
    }
}

/// A layer of tasks: one per block.
pub struct Layer {
    /// The op's name in plans and errors ("map", "from_vec", "read_text").
    pub name: String,
    /// Feeds everything that changes the layer's results but is not in its name or its inputs
    /// (its data's fingerprint, a file's size and time, parameters).
    pub ident: u64,
    /// How many blocks (tasks) the layer has.
    pub blocks: usize,
    /// What it reads.
    pub inputs: Vec<Input>,
    /// Which blocks of its inputs each block reads.
    pub deps: Deps,
    /// Computes a block from the input blocks `deps` lists.
    pub kernel: Arc<dyn Kernel>,
    /// The same computation as a fusable stage, for a layer that reads block `b` of its one
    /// input layer only.
    pub stage: Option<Arc<dyn Stage>>,
    /// Whether the stage works item by item (`f(a ++ b) = f(a) ++ f(b)`, not using positions),
    /// so it can run on pieces of a partition.
    pub itemwise: bool,
    /// The stage as a fold over pieces (a reduction's partial).
    pub folder: Option<Arc<dyn Folder>>,
    /// For a source: how to make a block in pieces.
    pub pieces: Option<Arc<dyn Pieces>>,
    /// Names block `b` in errors ("partition 3").
    pub block_name: &'static str,
}

impl Layer {
    /// A layer of `blocks` blocks reading `inputs` as `deps` says.
    pub fn new(
        name: impl Into<String>,
        blocks: usize,
        inputs: Vec<Input>,
        deps: Deps,
        kernel: impl Kernel + 'static,
    ) -> Arc<Layer> {
        Arc::new(Layer {
            name: name.into(),
            ident: 0,
            blocks,
            inputs,
            deps,
            kernel: Arc::new(kernel),
            stage: None,
            itemwise: false,
            folder: None,
            pieces: None,
            block_name: "partition",
        })
    }

    /// A layer of `blocks` blocks, block `b` computed by `stage` from block `b` of `input`.
    pub fn stage(
        name: impl Into<String>,
        input: &Arc<Layer>,
        stage: impl Stage + 'static,
    ) -> Arc<Layer> {
        let stage: Arc<dyn Stage> = Arc::new(stage);
        let s = stage.clone();
        Layer::new(
            name,
            input.blocks,
            vec![Input::Layer(input.clone())],
            Deps::Blockwise,
            move |b: usize, ins: &[&Chunk]| s.apply(b, Part::Shared(ins[0])),
        )
        .with(|l| l.stage = Some(stage))
    }

    /// A source of `blocks` partitions of `T`, partition `b` made by `produce(b, sink)` in
    /// pieces handed to `sink`: whole (the pieces concatenated) where the partition is held,
    /// piece by piece into a fused reduction. `encode` carries a partition to another rank.
    pub fn pieced<T: Send + Sync + 'static>(
        name: impl Into<String>,
        blocks: usize,
        encode: Option<EncodeFn>,
        produce: impl Fn(usize, &mut dyn FnMut(Vec<T>) -> Result<()>) -> Result<()>
            + Send
            + Sync
            + 'static,
    ) -> Arc<Layer> {
        let produce = Arc::new(produce);
        let p = produce.clone();
        let whole = move |b: usize, _: &[&Chunk]| {
            let mut all: Vec<T> = Vec::new();
            p(b, &mut |mut piece| {
                if all.is_empty() {
                    all = piece;
                    return Ok(());
                }
                all.try_reserve(piece.len()).map_err(|_| {
                    Error::Memory(format!(
                        "no memory for partition {b} past {} items",
                        all.len()
                    ))
                })?;
                all.append(&mut piece);
                Ok(())
            })?;
            let n = all.len();
            Ok(value_chunk(
                all,
                n.saturating_mul(std::mem::size_of::<T>()),
                encode,
            ))
        };
        let pieces = move |b: usize, sink: &mut dyn FnMut(Chunk) -> Result<()>| {
            produce(b, &mut |piece: Vec<T>| {
                let n = piece.len();
                sink(value_chunk(
                    piece,
                    n.saturating_mul(std::mem::size_of::<T>()),
                    encode,
                ))
            })
        };
        Layer::new(name, blocks, Vec::new(), Deps::All, whole)
            .with(|l| l.pieces = Some(Arc::new(pieces)))
    }

    /// A reduction's partial layer: block `b` folds block `b` of `input` with `folder`.
    pub fn folding(
        name: impl Into<String>,
        input: &Arc<Layer>,
        folder: impl Folder + 'static,
    ) -> Arc<Layer> {
        let folder: Arc<dyn Folder> = Arc::new(folder);
        let f = folder.clone();
        Layer::stage(name, input, move |b: usize, part: Part<'_>| {
            let mut part = Some(part);
            f.fold(b, &mut |consume| match part.take() {
                Some(p) => consume(p),
                None => Ok(()),
            })
        })
        .with(|l| l.folder = Some(folder))
    }

    /// The same layer with `ident` in its identity.
    pub fn with_ident(self: Arc<Self>, ident: u64) -> Arc<Self> {
        self.with(|l| l.ident = ident)
    }

    /// The same layer changed by `f` (a copy if it is shared).
    pub fn with(self: Arc<Self>, f: impl FnOnce(&mut Layer)) -> Arc<Self> {
        let mut l = Arc::try_unwrap(self).unwrap_or_else(|l| Layer {
            name: l.name.clone(),
            ident: l.ident,
            blocks: l.blocks,
            inputs: l.inputs.clone(),
            deps: l.deps.clone(),
            kernel: l.kernel.clone(),
            stage: l.stage.clone(),
            itemwise: l.itemwise,
            folder: l.folder.clone(),
            pieces: l.pieces.clone(),
            block_name: l.block_name,
        });
        f(&mut l);
        Arc::new(l)
    }

    fn blocks_of(input: &Input) -> usize {
        match input {
            Input::Layer(l) => l.blocks,
            Input::Array(a) => a.chunks(),
        }
    }

    /// The (input, block) pairs block `b` reads.
    pub(crate) fn reads(&self, b: usize) -> Vec<(usize, usize)> {
        match &self.deps {
            Deps::Blockwise => (0..self.inputs.len()).map(|i| (i, b)).collect(),
            Deps::All => self
                .inputs
                .iter()
                .enumerate()
                .flat_map(|(i, inp)| (0..Self::blocks_of(inp)).map(move |k| (i, k)))
                .collect(),
            Deps::Listed(l) => l.get(b).cloned().unwrap_or_default(),
        }
    }
}

/// One op of the task graph: a layer's kernel, then the stages of the layers fused after it.
pub(crate) struct LayerOp {
    name: String,
    ident: u64,
    block_name: &'static str,
    kernel: Arc<dyn Kernel>,
    stages: Vec<Arc<dyn Stage>>,
    /// Set when the chain can run piece by piece: the source's pieces, passed through the
    /// item-wise stages (all of `stages` but the last) into the last one's fold.
    piecewise: Option<(Arc<dyn Pieces>, Arc<dyn Folder>)>,
}

impl Op for LayerOp {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        if let Some((pieces, folder)) = &self.piecewise {
            let items = &self.stages[..self.stages.len().saturating_sub(1)];
            return folder.fold(block, &mut |consume| {
                pieces.produce(block, &mut |piece| {
                    let mut c = piece;
                    for s in items {
                        c = s.apply(block, Part::Owned(c))?;
                    }
                    consume(Part::Owned(c))
                })
            });
        }
        let mut c = self.kernel.run(block, inputs)?;
        for s in &self.stages {
            c = s.apply(block, Part::Owned(c))?;
        }
        Ok(c)
    }
    fn describe_block(&self, block: usize) -> String {
        format!("{} {block}", self.block_name)
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name);
        h.u64(self.ident);
    }
}

/// The layers a compute reaches, in post-order (inputs first), and the arrays they read.
#[derive(Default)]
pub(crate) struct Layers {
    pub order: Vec<Arc<Layer>>,
    /// Each layer's place in `order`, by address.
    pub seen: HashMap<*const Layer, usize>,
    /// The arrays the layers read, each once, in the order first met.
    pub arrays: Vec<Arc<Node>>,
}

impl Layers {
    /// Adds `l` and every layer it reads.
    pub fn visit(&mut self, l: &Arc<Layer>) {
        visit(l, self);
    }
}

/// Adds the tasks of the layers to `graph` (after the arrays' tasks, `array_tasks`): one op
/// per layer or fused chain, one task per block the `outputs` need. Returns, per output, the
/// tasks of its wanted blocks.
pub(crate) fn add_layers(
    graph: &mut TaskGraph,
    layers: &Layers,
    array_tasks: &HashMap<NodeId, Vec<TaskId>>,
    outputs: &[(Arc<Layer>, Vec<usize>)],
) -> Result<Vec<Vec<TaskId>>> {
    let Layers { order, seen, .. } = layers;
    // A stage layer absorbs the layer it reads when it is that layer's only reader and the
    // layer is not wanted itself: the two run as one task per block.
    let mut readers = vec![0usize; order.len()];
    for l in order {
        for i in &l.inputs {
            if let Input::Layer(c) = i {
                readers[seen[&Arc::as_ptr(c)]] += 1;
            }
        }
    }
    let wanted_layers: Vec<usize> = outputs.iter().map(|(l, _)| seen[&Arc::as_ptr(l)]).collect();
    // A fold (a reduction's partial) ends its chain: what reads its small result runs apart,
    // so the fold still runs piece by piece.
    let mut absorbed = vec![false; order.len()];
    for l in order {
        if let (Some(_), [Input::Layer(p)]) = (&l.stage, &l.inputs[..]) {
            let k = seen[&Arc::as_ptr(p)];
            absorbed[k] =
                readers[k] == 1 && !wanted_layers.contains(&k) && order[k].folder.is_none();
        }
    }
    // Only the blocks the outputs need, from the outputs back (a `take` of the first
    // partitions runs only what they read).
    let mut needed: Vec<Vec<bool>> = order.iter().map(|l| vec![false; l.blocks]).collect();
    for (l, blocks) in outputs {
        let k = seen[&Arc::as_ptr(l)];
        for &b in blocks {
            if let Some(n) = needed[k].get_mut(b) {
                *n = true;
            }
        }
    }
    for k in (0..order.len()).rev() {
        let layer = &order[k];
        for b in 0..layer.blocks {
            if !needed[k][b] {
                continue;
            }
            for (i, kb) in layer.reads(b) {
                if let Some(Input::Layer(c)) = layer.inputs.get(i) {
                    if let Some(n) = needed[seen[&Arc::as_ptr(c)]].get_mut(kb) {
                        *n = true;
                    }
                }
            }
        }
    }
    // Per layer: the layer its fused chain starts with, and the stages after it (kept only
    // while the chain grows: an absorbed layer's chain moves to its one reader).
    let mut chains: Vec<(usize, Vec<usize>)> = Vec::with_capacity(order.len());
    let mut tasks: Vec<Vec<Option<TaskId>>> = Vec::with_capacity(order.len());
    for (k, layer) in order.iter().enumerate() {
        let chain = match (&layer.stage, &layer.inputs[..]) {
            (Some(_), [Input::Layer(p)]) if absorbed[seen[&Arc::as_ptr(p)]] => {
                let (root, mut stages) = std::mem::take(&mut chains[seen[&Arc::as_ptr(p)]]);
                stages.push(k);
                (root, stages)
            }
            _ => (k, Vec::new()),
        };
        if absorbed[k] {
            chains.push(chain);
            tasks.push(vec![None; layer.blocks]);
            continue;
        }
        chains.push((k, Vec::new()));
        let (root, stages) = chain;
        let root = &order[root];
        let mut name = root.name.clone();
        let mut h = Fingerprint::new();
        h.u64(root.ident);
        for &st in &stages {
            name.push('+');
            name.push_str(&order[st].name);
            h.u64(order[st].ident);
        }
        let op = graph.add_op(Arc::new(LayerOp {
            name,
            ident: h.finish(),
            block_name: root.block_name,
            kernel: root.kernel.clone(),
            stages: stages
                .iter()
                .filter_map(|&st| order[st].stage.clone())
                .collect(),
            piecewise: match (&root.pieces, stages.split_last()) {
                (Some(p), Some((&last, items))) if items.iter().all(|&st| order[st].itemwise) => {
                    order[last].folder.clone().map(|f| (p.clone(), f))
                }
                _ => None,
            },
        }));
        let input_task = |i: usize, b: usize| -> Option<TaskId> {
            match root.inputs.get(i)? {
                Input::Layer(l) => *tasks[seen[&Arc::as_ptr(l)]].get(b)?,
                Input::Array(a) => array_tasks.get(&a.node.key())?.get(b).copied(),
            }
        };
        let mut mine = vec![None; layer.blocks];
        for b in (0..layer.blocks).filter(|&b| needed[k][b]) {
            let deps = root
                .reads(b)
                .into_iter()
                .map(|(i, k)| {
                    input_task(i, k).ok_or_else(|| {
                        Error::internal(format!(
                            "{} block {b} reads block {k} of input {i}, which it lacks",
                            root.name
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            mine[b] = Some(graph.add_task(op, b, &deps)?);
        }
        tasks.push(mine);
    }
    let wanted = outputs
        .iter()
        .map(|(l, blocks)| {
            let t = &tasks[seen[&Arc::as_ptr(l)]];
            blocks
                .iter()
                .map(|&b| {
                    t.get(b)
                        .copied()
                        .flatten()
                        .ok_or_else(|| Error::internal(format!("{} has no block {b}", l.name)))
                })
                .collect::<Result<Vec<TaskId>>>()
        })
        .collect::<Result<Vec<Vec<TaskId>>>>()?;
    Ok(wanted)
}

fn visit(l: &Arc<Layer>, layers: &mut Layers) {
    let Layers {
        order,
        seen,
        arrays,
    } = layers;
    // An explicit stack: a long chain of maps must not overflow the thread's stack.
    let mut stack: Vec<(Arc<Layer>, usize)> = vec![(l.clone(), 0)];
    if seen.contains_key(&Arc::as_ptr(l)) {
        return;
    }
    while let Some((layer, next)) = stack.pop() {
        if let Some(input) = layer.inputs.get(next) {
            stack.push((layer.clone(), next + 1));
            match input {
                Input::Layer(child) => {
                    // Layers are `Arc`s made from earlier ones: no cycle can put a child on
                    // the path to itself.
                    if !seen.contains_key(&Arc::as_ptr(child)) {
                        stack.push((child.clone(), 0));
                    }
                }
                Input::Array(a) => {
                    if !arrays.iter().any(|n| Arc::ptr_eq(n, &a.node)) {
                        arrays.push(a.node.clone());
                    }
                }
            }
            continue;
        }
        seen.insert(Arc::as_ptr(&layer), order.len());
        order.push(layer);
    }
}
