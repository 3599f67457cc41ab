//! What task building reads: the physical plan ([`PhysicalPlan`]: the outputs, the culled
//! order, the fusion roles and regions with their programs) and the [`Pass`] trait of the
//! physical planner's passes (`lower::planner`).

use crate::exec::program::Program;
use crate::plan::passes::Enabled;
use crate::plan::walk::Consumers;
use crate::plan::NodeId;
use crate::plan::{BlockKernel, Node};
use ndtask_core::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// How the pass classified a fusable node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    /// Evaluated inside the region rooted at the given node.
    Member(NodeId),
    /// Roots a region whose chunks are materialised as tasks.
    Materialized,
    /// Roots a region that its one consumer, a reduction (directly or through a concatenation
    /// that only the reduction reads), streams through.
    Streamed,
    /// Roots a region that several reductions, its only readers (each reading it directly),
    /// fold in one pass: one task per chunk makes it once and folds it into every
    /// reduction's partial state.
    Shared,
}

/// A fused region: its kernel and the nodes its leaves read (materialised elsewhere).
#[derive(Clone)]
pub(crate) struct Region {
    pub program: Program,
    pub leaves: Vec<Arc<Node>>,
    /// Per leaf, the block kernel the region reads it through (a broadcast or a transpose
    /// that is not materialised), whose `deps` map the region's blocks to the leaf's.
    pub through: Vec<Option<Arc<dyn BlockKernel>>>,
}

/// What task building reads: the plan the optimizer rewrote, culled, fused and compiled.
pub(crate) struct PhysicalPlan {
    /// The outputs, after the rewriting passes (same shapes, element types and chunks).
    pub outputs: Vec<Arc<Node>>,
    /// Every node the outputs reach, inputs before consumers, each once.
    pub order: Vec<Arc<Node>>,
    /// Who reads each node.
    pub consumers: Consumers,
    /// The role of every fusable node (member of a region, or a region's root).
    pub role: HashMap<NodeId, Role>,
    /// The kernel of every region root (materialised or streamed).
    pub regions: HashMap<NodeId, Region>,
    /// The roots of the copies the rematerialisation pass made (each computed again for its
    /// consumer instead of held).
    pub recomputed: std::collections::HashSet<NodeId>,
    /// The passes of both stages, in order, with "(off)" after one that was switched off.
    pub passes: Vec<String>,
}

/// One physical pass.
pub(crate) trait Pass {
    /// Its name, as `disable_pass`, `NDTASK_OPTIMIZER_DISABLE` and `explain` show it.
    fn name(&self) -> &'static str;
    /// Whether switching it off is allowed (culling is not; fusion switched off still makes a
    /// region of every fusable node, so it runs either way).
    fn always_runs(&self) -> bool {
        false
    }
    /// Runs the pass over the plan.
    fn run(&self, plan: &mut PhysicalPlan, enabled: &Enabled) -> Result<()>;
}

impl PhysicalPlan {
    /// The region rooted at `n`.
    pub fn region(&self, n: &Arc<Node>) -> Result<&Region> {
        self.regions
            .get(&n.key())
            .ok_or_else(|| Error::internal(format!("no fused region is rooted at {}", n.label())))
    }

    /// The role of node `n`, if it is fusable.
    pub fn role_of(&self, n: &Arc<Node>) -> Option<Role> {
        self.role.get(&n.key()).copied()
    }
}
