//! Common subexpressions: two structurally equal sub-plans built separately become one node,
//! so that what they compute is computed once (`x.mean()` written twice, the mean that `std`
//! and a centring both need).
//!
//! Two nodes are equal when they do the same thing to the same inputs: the same kind, kernel
//! (every parameter, compared exactly by the bytes of its fingerprint, not its hash), grid and
//! element type, over inputs that are already one node. A node whose kernel is not identified
//! completely by its fingerprint (a user's closure, known by its name only) is never merged,
//! nor is a source (a reader's fingerprint may be a sample).

use super::{LogicalPlan, Pass};
use crate::plan::walk::rewrite;
use crate::plan::Node;
use crate::plan::NodeId;
use ndtask_core::{Fingerprint, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// The common-subexpression pass.
pub(crate) struct Share;

impl Pass for Share {
    fn name(&self) -> &'static str {
        "share"
    }
    fn run(&self, plan: &mut LogicalPlan) -> Result<()> {
        let mut seen: HashMap<(Vec<u8>, Vec<NodeId>), Arc<Node>> = HashMap::new();
        plan.outputs = rewrite(&plan.outputs, |n| {
            let mut h = Fingerprint::recording();
            if !n.identity(&mut h) {
                return n;
            }
            let inputs = n.inputs().iter().map(|i| i.key()).collect();
            let bytes = h.bytes().unwrap_or_default().to_vec();
            seen.entry((bytes, inputs)).or_insert(n).clone()
        });
        Ok(())
    }
}
