//! The graph under `Delayed` and `Bag`: layers of tasks (one task per block: a delayed value
//! is a layer of one block, a bag a layer of one block per partition), each computed by a
//! kernel from blocks of earlier layers or from the chunks of arrays. Building a graph visits
//! the layers in a deterministic post-order, lowers the arrays they read first (one shared
//! array graph), then adds one op per layer, or per chain of layers fused into one (a
//! partition-wise *stage* absorbs the layer it reads when it is its only reader), and one task
//! per block the outputs need, so every process that builds the same collection gets the same
//! task graph, which the MPI scheduler checks. A fused chain from a source that makes its
//! blocks in pieces into a reduction's fold runs piece by piece.

use ndtask_array::{lower_targets, Computable, Targets};
use ndtask_core::{
    catch_panic, AnyValue, Chunk, Error, Fingerprint, Op, Result, RunContext, Scheduler, TaskGraph,
    TaskId, Value,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// What a task of a bag or a delayed value can hold, also across MPI ranks: any value that
/// serde can encode, shared between threads. Every type with `#[derive(Serialize,
/// Deserialize)]` of such fields is one, as are numbers, strings, `Vec`s, tuples, maps and
/// `serde_json::Value`.
pub trait Data: Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Data for T {}

/// Encodes a [`Data`] value (as [`AnyValue`]) for another rank.
pub(crate) fn encode<T: Data>(v: &AnyValue) -> Result<Vec<u8>> {
    let t = v
        .downcast_ref::<T>()
        .ok_or_else(|| Error::internal("encoding a value of another type"))?;
    rmp_serde::to_vec_named(t).map_err(|e| {
        Error::InvalidArgument(format!(
            "encoding a {} for another rank: {e}",
            std::any::type_name::<T>()
        ))
    })
}

/// Decodes a [`Data`] value that another rank encoded.
pub(crate) fn decode<T: Data>(b: &[u8]) -> Result<T> {
    rmp_serde::from_slice(b).map_err(|e| {
        Error::internal(format!(
            "decoding a {} from another rank ({} bytes): {e}",
            std::any::type_name::<T>(),
            b.len()
        ))
    })
}

/// A task's result holding `v` (of about `nbytes` bytes), encoded by `encode` (if any) when
/// it has to cross ranks.
pub(crate) fn value_chunk<T: Send + Sync + 'static>(
    v: T,
    nbytes: usize,
    encode: Option<ndtask_core::EncodeFn>,
) -> Chunk {
    Chunk::Value(Value::new(v, nbytes, encode))
}

/// A task's result holding the [`Data`] value `v`.
pub(crate) fn data_chunk<T: Data>(v: T, nbytes: usize) -> Chunk {
    value_chunk(v, nbytes, Some(encode::<T>))
}

/// Reads input `c` as a `T` (decoding it with `decode` if it came from another rank).
pub(crate) fn arg<T: Send + Sync + 'static>(
    c: &Chunk,
    decode: Option<ndtask_core::DecodeFn<T>>,
) -> Result<&T> {
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
pub(crate) trait Kernel: Send + Sync {
    /// Computes block `block`.
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk>;
}

impl<F: Fn(usize, &[&Chunk]) -> Result<Chunk> + Send + Sync> Kernel for F {
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        self(block, inputs)
    }
}

/// A layer's input block, for a [`Stage`]: shared with other readers (a result of the graph),
/// or the stage's own (made just before it in the same task, by a layer fused into it).
pub(crate) enum Part<'a> {
    Shared(&'a Chunk),
    Owned(Chunk),
}

/// The input partition as a stage sees it: borrowed, or its own (moved out of a fused
/// predecessor's result without a copy).
pub(crate) enum Held<'a, T> {
    Shared(&'a Vec<T>),
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
    /// The partition of `Vec<T>` this part holds.
    pub fn items<T: Data>(self) -> Result<Held<'a, T>> {
        match self {
            Part::Shared(c) => arg(c, Some(decode::<Vec<T>>)).map(Held::Shared),
            Part::Owned(Chunk::Value(v)) => v.into_shared(Some(decode::<Vec<T>>)).map(Held::Mine),
            Part::Owned(_) => Err(Error::internal("a partition that is an array chunk")),
        }
    }
}

/// A layer that computes block `b` from block `b` of its one input layer alone (a bag's
/// `map`, `filter`, a reduction's partial): one that the graph fuses with the layer before it
/// when it is that layer's only reader, so a chain of them is one task per partition, each
/// stage handed its predecessor's result to own.
pub(crate) trait Stage: Send + Sync {
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
pub(crate) trait Folder: Send + Sync {
    /// Block `block`'s result, folding what `pieces` hands to its argument, in order.
    fn fold(&self, block: usize, pieces: &mut PieceSource<'_>) -> Result<Chunk>;
}

/// Hands each piece of a partition, in order, to the function it is given.
pub(crate) type PieceSource<'a> =
    dyn FnMut(&mut dyn FnMut(Part<'_>) -> Result<()>) -> Result<()> + 'a;

/// A source that can make block `b` in pieces (a file read some lines at a time), each a
/// value of the same type as the whole block.
pub(crate) trait Pieces: Send + Sync {
    fn produce(&self, block: usize, sink: &mut dyn FnMut(Chunk) -> Result<()>) -> Result<()>;
}

impl<F: Fn(usize, &mut dyn FnMut(Chunk) -> Result<()>) -> Result<()> + Send + Sync> Pieces for F {
    fn produce(&self, block: usize, sink: &mut dyn FnMut(Chunk) -> Result<()>) -> Result<()> {
        self(block, sink)
    }
}

/// How many items a piece holds: small enough for a piece and what is made from it to stay
/// in the CPU's caches.
pub(crate) const PIECE: usize = 1024;

/// Which blocks of its inputs each block of a layer reads.
#[derive(Clone)]
pub(crate) enum Deps {
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
pub(crate) enum Input {
    Layer(Arc<Layer>),
    Array(Arc<ArrayInput>),
}

/// An array (or scalar) a layer reads.
pub(crate) struct ArrayInput {
    /// Adds the array to the targets to lower.
    pub add: Box<dyn Fn(&mut Targets) + Send + Sync>,
    /// Its number of chunks.
    pub chunks: usize,
}

impl ArrayInput {
    /// The input reading `c`'s chunks.
    pub fn of<C: Computable + Clone + Send + Sync + 'static>(c: &C, chunks: usize) -> Arc<Self> {
        let c = c.clone();
        Arc::new(ArrayInput {
            add: Box::new(move |t| c.add_targets(t)),
            chunks,
        })
    }
}

/// A layer of tasks: one per block.
pub(crate) struct Layer {
    /// The op's name in plans and errors ("map", "from_vec", "read_text").
    pub name: String,
    /// Feeds everything that changes the layer's results but is not in its name or its inputs
    /// (its data's fingerprint, a file's size and time, parameters).
    pub ident: u64,
    pub blocks: usize,
    pub inputs: Vec<Input>,
    pub deps: Deps,
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
    /// piece by piece into a fused reduction.
    pub fn pieced<T: Data>(
        name: impl Into<String>,
        blocks: usize,
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
            Ok(data_chunk(all, n.saturating_mul(std::mem::size_of::<T>())))
        };
        let pieces = move |b: usize, sink: &mut dyn FnMut(Chunk) -> Result<()>| {
            produce(b, &mut |piece: Vec<T>| {
                let n = piece.len();
                sink(data_chunk(
                    piece,
                    n.saturating_mul(std::mem::size_of::<T>()),
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
            Input::Array(a) => a.chunks,
        }
    }

    /// The (input, block) pairs block `b` reads.
    fn reads(&self, b: usize) -> Vec<(usize, usize)> {
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
struct LayerOp {
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

/// The layers (and which of their blocks) a compute wants, in order.
#[derive(Default)]
pub struct Outputs(pub(crate) Vec<(Arc<Layer>, Vec<usize>)>);

/// The result chunks of each wanted layer, in the order of [`Outputs`].
pub struct Results(pub(crate) VecDeque<Vec<Arc<Chunk>>>);

/// A graph for `outputs` (layers, and which of their blocks): the task graph and, per output,
/// the tasks of the wanted blocks.
pub(crate) fn build(outputs: &[(Arc<Layer>, Vec<usize>)]) -> Result<(TaskGraph, Vec<Vec<TaskId>>)> {
    // Post-order over the layers, each once (by address).
    let mut order: Vec<Arc<Layer>> = Vec::new();
    let mut seen: HashMap<*const Layer, usize> = HashMap::new();
    let mut arrays: Vec<Arc<ArrayInput>> = Vec::new();
    let mut array_index: HashMap<*const ArrayInput, usize> = HashMap::new();
    for (l, _) in outputs {
        visit(l, &mut order, &mut seen, &mut arrays, &mut array_index);
    }
    let mut targets = Targets::default();
    arrays.iter().for_each(|a| (a.add)(&mut targets));
    let (mut graph, array_tasks) = if arrays.is_empty() {
        (TaskGraph::new(), Vec::new())
    } else {
        lower_targets(&targets)?
    };
    // A stage layer absorbs the layer it reads when it is that layer's only reader and the
    // layer is not wanted itself: the two run as one task per block.
    let mut readers = vec![0usize; order.len()];
    for l in &order {
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
    for l in &order {
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
                Input::Array(a) => array_tasks[array_index[&Arc::as_ptr(a)]].get(b).copied(),
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
    graph.set_outputs(wanted.concat());
    Ok((graph, wanted))
}

fn visit(
    l: &Arc<Layer>,
    order: &mut Vec<Arc<Layer>>,
    seen: &mut HashMap<*const Layer, usize>,
    arrays: &mut Vec<Arc<ArrayInput>>,
    array_index: &mut HashMap<*const ArrayInput, usize>,
) {
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
                    array_index.entry(Arc::as_ptr(a)).or_insert_with(|| {
                        arrays.push(a.clone());
                        arrays.len() - 1
                    });
                }
            }
            continue;
        }
        seen.insert(Arc::as_ptr(&layer), order.len());
        order.push(layer);
    }
}

/// Runs `outputs` on `scheduler` under `ctx`: the result chunks of each output, or `None` on a
/// process that does not receive results (an MPI rank other than the root). A graph that cannot
/// be built gives every MPI rank the same error.
pub(crate) fn run(
    outputs: &[(Arc<Layer>, Vec<usize>)],
    scheduler: &dyn Scheduler,
    ctx: &RunContext,
) -> Result<Option<Vec<Vec<Arc<Chunk>>>>> {
    let (graph, wanted) = match catch_panic("building the graph", || build(outputs)) {
        Ok(g) => g,
        Err(e) => return Err(scheduler.fail_before_run(e)),
    };
    let run = catch_panic(&format!("the {} scheduler", scheduler.name()), || {
        scheduler.execute_with(&graph, ctx)
    })?;
    let Some(mut chunks) = run else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(wanted.len());
    for w in &wanted {
        let rest = chunks.split_off(w.len().min(chunks.len()));
        out.push(std::mem::replace(&mut chunks, rest));
    }
    Ok(Some(out))
}

/// The error for a process that takes part in a run but does not receive its results.
pub(crate) fn not_here(scheduler: &dyn Scheduler) -> Error {
    Error::Scheduler(format!(
        "the {} scheduler delivered the results to another process; use compute_local_with on \
         every rank",
        scheduler.name()
    ))
}

/// A fingerprint of `v`'s encoding (the identity of data a layer holds, such as a
/// `from_vec` bag's items, so MPI ranks that hold different data are told so).
pub(crate) fn ident_of<T: Serialize>(v: &T) -> u64 {
    let mut h = Fingerprint::new();
    match rmp_serde::to_vec(v) {
        Ok(bytes) => {
            h.usize(bytes.len());
            bytes.chunks(8).for_each(|w| {
                let mut a = [0u8; 8];
                a[..w.len()].copy_from_slice(w);
                h.u64(u64::from_le_bytes(a));
            });
        }
        Err(e) => h.str(&e.to_string()),
    }
    h.finish()
}
