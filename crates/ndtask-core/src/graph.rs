//! The chunk task graph: what lowering produces and every scheduler runs. A task is an
//! operation ([`Op`]) applied to one output block, reading the results of earlier tasks. Tasks
//! are stored in insertion order, which is a topological order (a task can only depend on tasks
//! added before it), so ids are deterministic and no sort is needed.

use crate::{panic_message, Chunk, DType, Error, Fingerprint, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Identifies a task inside one [`TaskGraph`].
pub type TaskId = u32;

/// What a task's result holds, known before it runs: one array, or (`tuple`) the arrays of a
/// partial state, each with its element type and shape. The MPI scaling model reads it to
/// count the bytes a run moves without running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Whether the arrays make a tuple (a reduction's partial state).
    pub tuple: bool,
    /// The arrays: element type and shape.
    pub parts: Vec<(DType, Vec<usize>)>,
}

impl Layout {
    /// One array of `dtype` and `shape`.
    pub fn array(dtype: DType, shape: Vec<usize>) -> Self {
        Layout {
            tuple: false,
            parts: vec![(dtype, shape)],
        }
    }

    /// The bytes of the arrays' elements.
    pub fn nbytes(&self) -> usize {
        self.parts
            .iter()
            .map(|(d, s)| d.size() * s.iter().product::<usize>())
            .sum()
    }
}

/// An operation that computes chunks. One `Op` serves every task of a layer; the task passes the
/// output block number so the op knows which block to compute.
pub trait Op: Send + Sync {
    /// A short name for plans and error messages ("fused[uniform, add]", "sum-combine").
    fn name(&self) -> String;
    /// Computes block `block` from the results of the task's dependencies, in order.
    ///
    /// # Errors
    /// Whatever the computation reports; panics are caught by [`TaskGraph::run_task`].
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk>;
    /// Names block `block` for error messages (e.g. its multi-index "[2, 0]").
    fn describe_block(&self, block: usize) -> String {
        format!("#{block}")
    }
    /// The number of elements of the chunk that block `block` computes (a partial state counts
    /// its positions), so that the MPI placement keeps work next to its largest input. The
    /// default, 1, counts every result as small.
    fn block_elements(&self, block: usize) -> usize {
        let _ = block;
        1
    }
    /// The elements block `block` processes (reads or makes, whichever is more): the unit of
    /// work of the MPI scaling model. The default is [`Op::block_elements`]; a reduction's
    /// partial counts the chunk it folds.
    fn block_work(&self, block: usize) -> usize {
        self.block_elements(block)
    }
    /// What block `block`'s result holds, if that is known before it runs (`None`: it depends
    /// on the data, as a boolean selection's length does). The default is `None`.
    fn block_layout(&self, block: usize) -> Option<Layout> {
        let _ = block;
        None
    }
    /// Feeds everything that changes the op's results into `h`: its name and every parameter
    /// (seeds, scalars, shapes and chunks, element types, axes, options). MPI ranks compare the
    /// graph's fingerprint before a run, so an op that leaves a parameter out lets ranks that
    /// disagree on it compute a wrong result silently. The default feeds the name only.
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
    }
    /// The rank that must run block `block`, if only one can: a chunk kept on the MPI rank that
    /// computed it (a persisted array). The default, `None`, leaves the placement free.
    fn block_home(&self, block: usize) -> Option<usize> {
        let _ = block;
        None
    }
}

#[derive(Debug, Clone, Copy)]
struct Task {
    op: u32,
    block: usize,
    dep_start: u32,
    dep_len: u32,
}

/// A DAG of chunk tasks with designated outputs.
#[derive(Default, Clone)]
pub struct TaskGraph {
    ops: Vec<Arc<dyn Op>>,
    tasks: Vec<Task>,
    deps: Vec<TaskId>,
    outputs: Vec<TaskId>,
}

impl std::fmt::Debug for TaskGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGraph")
            .field(
                "ops",
                &self.ops.iter().map(|o| o.name()).collect::<Vec<_>>(),
            )
            .field("tasks", &self.tasks.len())
            .field("outputs", &self.outputs.len())
            .finish()
    }
}

impl TaskGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an operation; tasks refer to it by the returned number.
    pub fn add_op(&mut self, op: Arc<dyn Op>) -> u32 {
        self.ops.push(op);
        (self.ops.len() - 1) as u32
    }

    /// Adds a task computing `block` of op `op` from `deps`.
    ///
    /// # Errors
    /// [`Error::Internal`] if a dependency does not exist yet (which would break the topological
    /// order) or the op number is unknown.
    pub fn add_task(&mut self, op: u32, block: usize, deps: &[TaskId]) -> Result<TaskId> {
        let id = self.tasks.len();
        if op as usize >= self.ops.len() || deps.iter().any(|&d| d as usize >= id) {
            return Err(Error::internal(format!(
                "task {id}: bad op {op} or dependency in {deps:?}"
            )));
        }
        let id = TaskId::try_from(id).map_err(|_| Error::internal("more than 2^32 tasks"))?;
        self.tasks.push(Task {
            op,
            block,
            dep_start: self.deps.len() as u32,
            dep_len: deps.len() as u32,
        });
        self.deps.extend_from_slice(deps);
        Ok(id)
    }

    /// Marks the tasks whose results the caller wants back, in order (a task may appear twice).
    pub fn set_outputs(&mut self, outputs: Vec<TaskId>) {
        self.outputs = outputs;
    }

    /// The output tasks.
    pub fn outputs(&self) -> &[TaskId] {
        &self.outputs
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the graph has no tasks.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The dependencies of task `id`.
    pub fn deps(&self, id: TaskId) -> &[TaskId] {
        let t = &self.tasks[id as usize];
        &self.deps[t.dep_start as usize..(t.dep_start + t.dep_len) as usize]
    }

    /// Number of operations.
    pub fn num_ops(&self) -> usize {
        self.ops.len()
    }

    /// The operations, in registration order (task `t`'s is `ops()[op_of(t)]`).
    pub fn ops(&self) -> &[Arc<dyn Op>] {
        &self.ops
    }

    /// The operation names, in registration order.
    pub fn op_names(&self) -> Vec<String> {
        self.ops.iter().map(|o| o.name()).collect()
    }

    /// Number of tasks of each op, in registration order.
    pub fn tasks_per_op(&self) -> Vec<usize> {
        let mut n = vec![0; self.ops.len()];
        self.tasks.iter().for_each(|t| n[t.op as usize] += 1);
        n
    }

    /// The op number of task `id`.
    pub fn op_of(&self, id: TaskId) -> u32 {
        self.tasks[id as usize].op
    }

    /// The block number task `id` computes.
    pub fn block_of(&self, id: TaskId) -> usize {
        self.tasks[id as usize].block
    }

    /// The rank that must run task `id`, if only one can ([`Op::block_home`]).
    pub fn home_of(&self, id: TaskId) -> Option<usize> {
        let t = self.tasks[id as usize];
        self.ops[t.op as usize].block_home(t.block)
    }

    /// The elements task `id` processes ([`Op::block_work`]).
    pub fn work_of(&self, id: TaskId) -> usize {
        let t = self.tasks[id as usize];
        self.ops[t.op as usize].block_work(t.block)
    }

    /// What task `id`'s result holds ([`Op::block_layout`]).
    pub fn layout_of(&self, id: TaskId) -> Option<Layout> {
        let t = self.tasks[id as usize];
        self.ops[t.op as usize].block_layout(t.block)
    }

    /// Names the chunk task `id` computes ([`Op::describe_block`], e.g. "[2, 0]").
    pub fn describe_task(&self, id: TaskId) -> String {
        let t = self.tasks[id as usize];
        self.ops[t.op as usize].describe_block(t.block)
    }

    /// The bytes of every task result whose size is known before the run
    /// ([`Op::block_layout`]), added up.
    pub fn projected_bytes(&self) -> usize {
        (0..self.tasks.len() as TaskId)
            .filter_map(|t| self.layout_of(t))
            .map(|l| l.nbytes())
            .fold(0, usize::saturating_add)
    }

    /// The number of elements task `id` computes ([`Op::block_elements`]).
    pub fn elements_of(&self, id: TaskId) -> usize {
        let t = self.tasks[id as usize];
        self.ops[t.op as usize].block_elements(t.block)
    }

    /// The consumers of every task, as (offsets, ids): the consumers of `t` are
    /// `ids[offsets[t]..offsets[t + 1]]`, in increasing id order.
    pub fn consumers(&self) -> (Vec<u32>, Vec<TaskId>) {
        let n = self.tasks.len();
        let mut offsets = vec![0u32; n + 1];
        for &d in &self.deps {
            offsets[d as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut ids = vec![0; self.deps.len()];
        for (t, task) in self.tasks.iter().enumerate() {
            for &d in &self.deps[task.dep_start as usize..(task.dep_start + task.dep_len) as usize]
            {
                ids[fill[d as usize] as usize] = t as TaskId;
                fill[d as usize] += 1;
            }
        }
        (offsets, ids)
    }

    /// How many times each task's result will be read: once per consuming edge plus once per
    /// appearance among the outputs. A scheduler frees a result when this reaches zero.
    pub fn use_counts(&self) -> Vec<u32> {
        let mut n = vec![0u32; self.tasks.len()];
        self.deps
            .iter()
            .chain(&self.outputs)
            .for_each(|&d| n[d as usize] += 1);
        n
    }

    /// A fingerprint of the graph: every op with all its parameters ([`Op::fingerprint`]),
    /// every task's op, block and dependencies, and the outputs. Identical on every process that
    /// built the same graph; the MPI scheduler compares it across ranks.
    pub fn fingerprint(&self) -> u64 {
        let mut h = Fingerprint::new();
        h.usize(self.ops.len());
        for op in &self.ops {
            op.fingerprint(&mut h);
        }
        h.usize(self.tasks.len());
        for t in &self.tasks {
            h.u64(t.op as u64);
            h.usize(t.block);
            h.u64(t.dep_len as u64);
        }
        h.usize(self.deps.len());
        self.deps.iter().for_each(|&d| h.u64(d as u64));
        h.usize(self.outputs.len());
        self.outputs.iter().for_each(|&d| h.u64(d as u64));
        h.finish()
    }

    /// Removes the tasks that no output needs (e.g. the chunks a slice does not touch), keeping
    /// the order of the rest. Returns the new graph and, for each old task, its new id.
    pub fn cull(self) -> (TaskGraph, Vec<Option<TaskId>>) {
        let n = self.tasks.len();
        let mut needed = vec![false; n];
        self.outputs.iter().for_each(|&o| needed[o as usize] = true);
        for t in (0..n).rev() {
            if needed[t] {
                for &d in self.deps(t as TaskId) {
                    needed[d as usize] = true;
                }
            }
        }
        if needed.iter().all(|&x| x) {
            let map = (0..n as TaskId).map(Some).collect();
            return (self, map);
        }
        let mut map = vec![None; n];
        let mut g = TaskGraph {
            ops: self.ops.clone(),
            ..TaskGraph::default()
        };
        for t in 0..n {
            if needed[t] {
                let deps: Vec<TaskId> = self
                    .deps(t as TaskId)
                    .iter()
                    .filter_map(|&d| map[d as usize])
                    .collect();
                let task = self.tasks[t];
                map[t] = Some(g.tasks.len() as TaskId);
                g.tasks.push(Task {
                    dep_start: g.deps.len() as u32,
                    dep_len: deps.len() as u32,
                    ..task
                });
                g.deps.extend(deps);
            }
        }
        g.outputs = self
            .outputs
            .iter()
            .filter_map(|&o| map[o as usize])
            .collect();
        (g, map)
    }

    /// Runs task `id` on its inputs, turning an error or a panic into an [`Error::Task`] that
    /// names the operation and the chunk (an [`Error::Io`] stays one, with the op and chunk
    /// added to what it names, and keeps its source).
    ///
    /// # Errors
    /// The task's error, or its panic message.
    pub fn run_task(&self, id: TaskId, inputs: &[&Chunk]) -> Result<Chunk> {
        let t = self.tasks[id as usize];
        let op = &self.ops[t.op as usize];
        let fail = |message: String| Error::Task {
            op: op.name(),
            chunk: op.describe_block(t.block),
            message,
        };
        match catch_unwind(AssertUnwindSafe(|| op.run(t.block, inputs))) {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e @ Error::Task { .. })) => Err(e),
            // A failed read keeps its variant and its source, with the task's op and chunk.
            Ok(Err(Error::Io { what, source })) => Err(Error::Io {
                what: format!(
                    "task {} on chunk {}: {what}",
                    op.name(),
                    op.describe_block(t.block)
                ),
                source,
            }),
            Ok(Err(e)) => Err(fail(e.to_string())),
            Err(panic) => Err(fail(format!("panicked: {}", panic_message(panic.as_ref())))),
        }
    }
}
