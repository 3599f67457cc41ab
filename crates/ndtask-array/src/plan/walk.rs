//! Walking and rewriting the logical plan, as every stage does: the nodes the outputs reach in
//! a post-order, who reads each node, and rebuilding a plan bottom-up.

use super::NodeId;
use crate::plan::Node;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The consumers of every node (each consumer once per node it reads, in post-order).
pub(crate) type Consumers = HashMap<NodeId, Vec<Arc<Node>>>;

/// Who reads each node of `order` (a post-order).
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
    let mut done: HashMap<NodeId, Arc<Node>> = HashMap::new();
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
    done: &HashMap<NodeId, Arc<Node>>,
) -> Vec<Arc<Node>> {
    outputs
        .iter()
        .map(|o| done.get(&o.key()).cloned().unwrap_or_else(|| o.clone()))
        .collect()
}
