//! The optimized plan for people and for programs: [`explain`] as indented text (one line per
//! node), [`plan_graph`] as a [`petgraph`](ndtask_core::petgraph) graph of [`PlanNode`]s.

use crate::lower::physical::{PhysicalPlan, Role};
use crate::plan::chunks::human_bytes;
use crate::plan::NodeId;
use crate::plan::{Node, NodeKind};
use ndtask_core::petgraph::graph::{DiGraph, NodeIndex};
use ndtask_core::DType;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

/// How a node of the optimized plan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fused {
    /// Not fusable: a reduction, a concatenation or a block kernel, lowered on its own.
    No,
    /// The root of a fused region whose chunks are tasks of their own.
    Materialized,
    /// The root of a fused region that the reduction reading it folds tile by tile (its chunks
    /// are never stored).
    Streamed,
    /// The root of a fused region that several reductions, its only readers, fold in one pass
    /// (one task per chunk makes it and folds it into all their states).
    Shared,
    /// Evaluated inside the region of the node with the given id.
    Into(usize),
}

/// A node of the optimized plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanNode {
    /// Its number in the plan (inputs have lower numbers than their consumers).
    pub id: usize,
    /// What it does ("uniform", "multiply", "sum over axes \[0\] (split_every 32)").
    pub op: String,
    /// Its kind: "source", "map", "reduce", "concatenate" or "blocks".
    pub kind: &'static str,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its chunks, described ([`ndtask_core::ChunkGrid::describe`]).
    pub chunks: String,
    /// Its number of chunks.
    pub num_chunks: usize,
    /// Its element type.
    pub dtype: DType,
    /// Its bytes, all chunks together.
    pub bytes: usize,
    /// Whether and how it is fused.
    pub fused: Fused,
    /// Whether it is one of the requested outputs.
    pub output: bool,
    /// Whether it is a copy that the rematerialisation pass made: computed again for its
    /// consumer (which reads it after a barrier) instead of held from where it was first
    /// computed.
    pub recomputed: bool,
}

/// The nodes of the plan, numbered in plan order.
fn nodes(plan: &PhysicalPlan) -> (Vec<PlanNode>, HashMap<NodeId, usize>) {
    let ids: HashMap<NodeId, usize> = plan
        .order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key(), i))
        .collect();
    let outputs: HashSet<NodeId> = plan.outputs.iter().map(|o| o.key()).collect();
    let nodes = plan
        .order
        .iter()
        .enumerate()
        .map(|(id, n)| PlanNode {
            id,
            op: n.label(),
            kind: match n.kind {
                NodeKind::Source(_) => "source",
                NodeKind::Map { .. } => "map",
                NodeKind::Reduce(_) => "reduce",
                NodeKind::Concat { .. } => "concatenate",
                NodeKind::Blocks { .. } => "blocks",
                NodeKind::Invalid(_) => "invalid",
            },
            shape: n.shape(),
            chunks: n.grid.describe(),
            num_chunks: n.grid.num_chunks(),
            dtype: n.dtype,
            bytes: n
                .shape()
                .iter()
                .product::<usize>()
                .saturating_mul(n.dtype.size()),
            fused: match plan.role_of(n) {
                None => Fused::No,
                Some(Role::Materialized) => Fused::Materialized,
                Some(Role::Streamed) => Fused::Streamed,
                Some(Role::Shared) => Fused::Shared,
                Some(Role::Member(root)) => ids.get(&root).map_or(Fused::No, |&r| Fused::Into(r)),
            },
            output: outputs.contains(&n.key()),
            recomputed: plan.recomputed.contains(&n.key()),
        })
        .collect();
    (nodes, ids)
}

/// The plan as a graph: node `i` is plan node `i`, an edge runs from each input to its
/// consumer (weight: the input's position).
pub(crate) fn plan_graph(plan: &PhysicalPlan) -> DiGraph<PlanNode, usize> {
    let (nodes, ids) = nodes(plan);
    let mut g = DiGraph::with_capacity(nodes.len(), 0);
    for n in nodes {
        g.add_node(n);
    }
    for (i, n) in plan.order.iter().enumerate() {
        for (k, input) in n.inputs().into_iter().enumerate() {
            if let Some(&j) = ids.get(&input.key()) {
                g.add_edge(NodeIndex::new(j), NodeIndex::new(i), k);
            }
        }
    }
    g
}

/// The plan as indented text: each output, then the nodes it reads below it, one line per
/// node (a node read twice is shown once, then referred to by its number).
pub(crate) fn explain(plan: &PhysicalPlan) -> String {
    let (nodes, ids) = nodes(plan);
    let mut out = format!("optimized plan (passes: {})\n", plan.passes.join(", "));
    let mut shown = HashSet::new();
    for o in &plan.outputs {
        let mut stack: Vec<(Arc<Node>, usize)> = vec![(o.clone(), 0)];
        while let Some((n, depth)) = stack.pop() {
            let Some(&id) = ids.get(&n.key()) else {
                continue;
            };
            let indent = "  ".repeat(depth);
            if !shown.insert(id) {
                let _ = writeln!(out, "{indent}#{id} (shown above)");
                continue;
            }
            let p = &nodes[id];
            let fused = match p.fused {
                Fused::No => String::new(),
                Fused::Materialized => "  [fused region, materialized]".into(),
                Fused::Streamed => "  [fused region, streamed into its reduction]".into(),
                Fused::Shared => {
                    "  [fused region, streamed into its reductions in one pass]".into()
                }
                Fused::Into(r) => format!("  [fused into #{r}]"),
            };
            let recomputed = match p.recomputed {
                true => "  [recomputed here, not held]",
                false => "",
            };
            let _ = writeln!(
                out,
                "{indent}#{id} {}  shape {:?}  chunks {} ({} chunks)  {}  {}{fused}{recomputed}",
                p.op,
                p.shape,
                p.chunks,
                p.num_chunks,
                p.dtype,
                human_bytes(p.bytes)
            );
            for i in n.inputs().into_iter().rev() {
                stack.push((i.clone(), depth + 1));
            }
        }
    }
    out
}
