//! Lazy chunked arrays: the [`Array`] handle, the logical plan behind it, the fusion pass, and
//! lowering to a chunk task graph that a scheduler from `ndtask-sched` (or `ndtask-mpi`) runs.
//!
//! Pipeline: user code builds `Array` handles (O(1) per operation) → logical plan (`plan`) →
//! fusion pass (`fuse`) → lowering (`lower`) → scheduler → assembly (`compute`).
//!
//! Most users want the `ndtask` crate, which re-exports this one.

mod arith;
mod array;
mod blocks;
mod compute;
mod concat;
mod creation;
mod fuse;
mod kernels;
mod linalg;
mod lower;
mod math;
mod ops;
mod optimize;
mod plan;
pub mod random;
pub mod reader;
mod reduce;
mod reductions;
mod scan;
mod slice;
mod stats;
mod userfn;

pub use array::{Array, Scalar};
pub use blocks::stack;
pub use compute::{
    compute, compute_in, compute_local_in, compute_local_with, compute_with, default_scheduler,
    explain, plan_graph, task_graph, visualize, Computable, Results, Targets,
};
pub use concat::concatenate;
pub use creation::{arange, from_ndarray, full, linspace, ones, zeros};
pub use math::where_;
pub use ops::Operand;
pub use optimize::explain::{Fused, PlanNode};
pub use reduce::{ReduceOptions, DEFAULT_SPLIT_EVERY};
pub use stats::Masked;
