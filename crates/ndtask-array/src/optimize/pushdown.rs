//! Source pushdown: a block kernel that reads a source only to select a box of it (a slice
//! with unit steps), to cut it into other chunks (a rechunk) or to permute its axes (a
//! transpose) is replaced by the source itself, reading that box, cut that way or in that
//! order. Every source reads any region directly, so the values are the same and no chunk is
//! read whole to keep a part of it; a random source makes a transposed region in transposed
//! order, so `x.T` costs what `x` does.
//!
//! Through a cheap element-wise expression of sources (see [`super::remat::cheap`]) the
//! kernel moves to the expression's inputs: `(x * 2 + y).rechunk(c)` becomes
//! `x.rechunk(c) * 2 + y.rechunk(c)`, and so the sources cut afresh. An element-wise function
//! gives each element the same value whatever the chunking, so the bits do not change, and a
//! rechunk between very different chunk shapes (1000² chunks to full columns) then holds no
//! old chunk while it gathers a new one.

use super::{LogicalPlan, Pass};
use crate::plan::walk::rewrite;
use crate::plan::{Node, NodeKind, Pushdown};
use ndtask_core::Result;
use std::sync::Arc;

/// The source-pushdown pass.
pub(crate) struct SourcePushdown;

impl Pass for SourcePushdown {
    fn name(&self) -> &'static str {
        "source-pushdown"
    }
    fn run(&self, plan: &mut LogicalPlan) -> Result<()> {
        plan.outputs = rewrite(&plan.outputs, |n| pushed(&n).unwrap_or(n));
        Ok(())
    }
}

/// What replaces `n`, if it is a pushable kernel over a source (the source, reading the
/// region) or over a cheap map of sources (the map over the kernel applied to each input).
fn pushed(n: &Arc<Node>) -> Option<Arc<Node>> {
    let NodeKind::Blocks { inputs, kernel } = &n.kind else {
        return None;
    };
    let [input] = inputs.as_slice() else {
        return None;
    };
    let how = kernel.pushdown()?;
    match &input.kind {
        NodeKind::Source(source) => {
            let source = match how {
                Pushdown::Regrid => source.clone(),
                Pushdown::Window(w) => source.window(&w),
                Pushdown::Permute(perm) => source.permuted(&perm),
            };
            Some(Node::new(NodeKind::Source(source), n.grid.clone(), n.dtype))
        }
        NodeKind::Map {
            kernel: map,
            inputs: args,
        } if super::remat::cheap(input) => {
            // The map's inputs have its shape and grid, so the same kernel selects or cuts
            // each of them as it does the map.
            let args = args
                .iter()
                .map(|a| {
                    let cut = Node::new(
                        NodeKind::Blocks {
                            inputs: vec![a.clone()],
                            kernel: kernel.clone(),
                        },
                        n.grid.clone(),
                        a.dtype,
                    );
                    pushed(&cut).unwrap_or(cut)
                })
                .collect();
            Some(Node::new(
                NodeKind::Map {
                    kernel: map.clone(),
                    inputs: args,
                },
                n.grid.clone(),
                n.dtype,
            ))
        }
        _ => None,
    }
}
