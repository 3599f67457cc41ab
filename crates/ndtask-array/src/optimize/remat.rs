//! Rematerialisation: a cheap node that one of its consumers can only use after a barrier is
//! computed again for that consumer instead of being held.
//!
//! In `((x - x.mean())²).mean()` every chunk of `x` is read by the mean and by the
//! subtraction, and the subtraction cannot start until the mean has read *every* chunk: held,
//! the whole of `x` would be alive at once. The same happens when a consumer reads the node
//! both directly and through a transpose (`x.T * x`), a rechunk or a broadcast reduction. A
//! node whose chunks are cheap to make again (a source: random numbers, a range, a file's
//! bytes; or an element-wise expression of sources) is instead copied for each such consumer.
//! The copy fuses into its consumer, so each chunk is made twice and never held; the values
//! are the same bits, since the copy runs the same kernels on the same seeds and bytes.
//!
//! The decision, per (node, consumer): the consumer reads, besides the node, an input that
//! depends on the node through anything but element-wise maps (a *barrier*: a reduction, a
//! block kernel, a concatenation); the node is cheap (its sub-plan has only sources and maps,
//! at most [`MAX_RECOMPUTED_NODES`] of them, so recomputing costs a few operations per
//! element); and it has more than one chunk (a single chunk is held at no cost in memory). A
//! copy is marked in the plan, and `explain()` shows it.

use super::{LogicalPlan, Pass};
use crate::plan::walk::{consumers, on_inputs, post_order, rewritten};
use crate::plan::NodeId;
use crate::plan::{Node, NodeKind};
use ndtask_core::Result;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The most nodes (sources and maps) a recomputed sub-plan may have: beyond that, recomputing
/// costs more than reading the chunk back from memory would.
pub(crate) const MAX_RECOMPUTED_NODES: usize = 16;

/// The rematerialisation pass.
pub(crate) struct Rematerialise;

impl Pass for Rematerialise {
    fn name(&self) -> &'static str {
        "rematerialise"
    }
    fn run(&self, plan: &mut LogicalPlan) -> Result<()> {
        let order = post_order(&plan.outputs);
        let copies = copies_wanted(&order);
        if copies.is_empty() {
            return Ok(());
        }
        let (outputs, recomputed) = rebuild(&plan.outputs, &order, &copies);
        plan.outputs = outputs;
        plan.recomputed = recomputed;
        Ok(())
    }
}

/// The (consumer, input) edges along which the input is recomputed, as node keys of `order`.
fn copies_wanted(order: &[Arc<Node>]) -> HashSet<(NodeId, NodeId)> {
    let cons = consumers(order);
    let mut size: HashMap<NodeId, usize> = HashMap::new();
    let mut wanted = HashSet::new();
    for (i, n) in order.iter().enumerate() {
        let Some(nodes) = cheap_size(n, &size) else {
            continue;
        };
        size.insert(n.key(), nodes);
        let readers = cons.get(&n.key()).map_or(&[][..], Vec::as_slice);
        if readers.len() < 2 || nodes > MAX_RECOMPUTED_NODES || n.grid.num_chunks() < 2 {
            continue;
        }
        let behind = behind_barrier(order, i);
        for c in readers {
            let waits = c
                .inputs()
                .into_iter()
                .any(|input| !Arc::ptr_eq(input, n) && behind.contains(&input.key()));
            if waits {
                wanted.insert((c.key(), n.key()));
            }
        }
    }
    wanted
}

/// Whether `n`'s sub-plan is cheap to compute again: only sources and maps, at most
/// [`MAX_RECOMPUTED_NODES`] of them.
pub(crate) fn cheap(n: &Arc<Node>) -> bool {
    let mut size = HashMap::new();
    for m in post_order(std::slice::from_ref(n)) {
        match cheap_size(&m, &size) {
            Some(k) if k <= MAX_RECOMPUTED_NODES => size.insert(m.key(), k),
            _ => return false,
        };
    }
    true
}

/// The nodes of `n`'s sub-plan when it has only sources and maps (counting each node once per
/// path, an upper bound of the recomputation), or `None`.
fn cheap_size(n: &Arc<Node>, size: &HashMap<NodeId, usize>) -> Option<usize> {
    match &n.kind {
        NodeKind::Source(_) => Some(1),
        NodeKind::Map { inputs, .. } => inputs.iter().try_fold(1usize, |acc, i| {
            size.get(&i.key()).map(|s| acc.saturating_add(*s))
        }),
        _ => None,
    }
}

/// The nodes after `order[start]` that depend on it through something other than element-wise
/// maps (which read its chunks one for one, so they never hold it back).
fn behind_barrier(order: &[Arc<Node>], start: usize) -> HashSet<NodeId> {
    // 1: depends on the node through maps only; 2: through a barrier.
    let mut state: HashMap<NodeId, u8> = HashMap::from([(order[start].key(), 1)]);
    for m in &order[start + 1..] {
        let reached = m
            .inputs()
            .into_iter()
            .filter_map(|i| state.get(&i.key()).copied())
            .max();
        if let Some(s) = reached {
            let through_map = matches!(m.kind, NodeKind::Map { .. });
            state.insert(m.key(), if through_map { s } else { 2 });
        }
    }
    state
        .into_iter()
        .filter(|&(_, s)| s == 2)
        .map(|(k, _)| k)
        .collect()
}

/// Rebuilds the plan with a fresh copy of the input along every wanted edge; returns the new
/// outputs and the roots of the copies.
fn rebuild(
    outputs: &[Arc<Node>],
    order: &[Arc<Node>],
    copies: &HashSet<(NodeId, NodeId)>,
) -> (Vec<Arc<Node>>, HashSet<NodeId>) {
    let mut done: HashMap<NodeId, Arc<Node>> = HashMap::new();
    let mut recomputed = HashSet::new();
    for n in order {
        // One copy per consumer, even where it reads the node twice.
        let mut memo = HashMap::new();
        let inputs: Vec<Arc<Node>> = n
            .inputs()
            .into_iter()
            .map(|i| {
                let new = done.get(&i.key()).cloned().unwrap_or_else(|| i.clone());
                match copies.contains(&(n.key(), i.key())) {
                    true => {
                        let copy = deep_copy(&new, &mut memo);
                        recomputed.insert(copy.key());
                        copy
                    }
                    false => new,
                }
            })
            .collect();
        done.insert(n.key(), on_inputs(n, inputs));
    }
    (rewritten(outputs, &done), recomputed)
}

/// A copy of the sources and maps of `n`'s sub-plan that shares no node with it (a node read
/// twice inside the sub-plan is copied once).
fn deep_copy(n: &Arc<Node>, memo: &mut HashMap<NodeId, Arc<Node>>) -> Arc<Node> {
    if let Some(c) = memo.get(&n.key()) {
        return c.clone();
    }
    let inputs = n.inputs().into_iter().map(|i| deep_copy(i, memo)).collect();
    let copy = n.with_inputs(inputs);
    memo.insert(n.key(), copy.clone());
    copy
}
