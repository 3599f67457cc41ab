//! Source pushdown: a block kernel that reads a source only to select a box of it (a slice
//! with unit steps) or to cut it into other chunks (a rechunk) is replaced by the source
//! itself, reading that box or cut that way. Every source reads any region directly, so the
//! values are the same and no chunk is read whole to keep a part of it.

use super::{rewrite, Enabled, OptimizedPlan, Pass};
use crate::plan::{Node, NodeKind, Pushdown};
use ndtask_core::Result;
use std::sync::Arc;

/// The source-pushdown pass.
pub(crate) struct SourcePushdown;

impl Pass for SourcePushdown {
    fn name(&self) -> &'static str {
        "source-pushdown"
    }
    fn run(&self, plan: &mut OptimizedPlan, _: &Enabled) -> Result<()> {
        plan.outputs = rewrite(&plan.outputs, |n| pushed(&n).unwrap_or(n));
        Ok(())
    }
}

/// The source that replaces `n`, if it is a pushable kernel over a source.
fn pushed(n: &Arc<Node>) -> Option<Arc<Node>> {
    let NodeKind::Blocks { inputs, kernel } = &n.kind else {
        return None;
    };
    let [input] = inputs.as_slice() else {
        return None;
    };
    let NodeKind::Source(source) = &input.kind else {
        return None;
    };
    let source = match kernel.pushdown()? {
        Pushdown::Regrid => source.clone(),
        Pushdown::Window(w) => source.window(&w),
    };
    Some(Node::new(NodeKind::Source(source), n.grid.clone(), n.dtype))
}
