//! Lazy chunked arrays: the [`Array`] handle, the logical plan behind it, the optimizer, and
//! lowering to a chunk task graph that a scheduler from `ndtask-sched` (or `ndtask-mpi`) runs.
//!
//! The folders are the stages of the pipeline, and imports run one way, from the first to the
//! last: `api` (the handles and the triggers: `compute`, `explain`) → `optimize` (the passes)
//! → `lower` (task graph building, reduction trees) → `exec` (the runtime ops, the fused
//! program interpreter, vectorised kernels) → `plan` (nodes, kernel interfaces, sources). The
//! operations users call live in `ops`, one module per family with its API and its kernels
//! side by side; they build plan nodes and import `api`, `exec` and `plan`, and nothing imports
//! them but each other and the crate's root.
//!
//! Most users want the `ndtask` crate, which re-exports this one.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
pub mod collection;
mod config;
mod exec;
mod io;
mod lower;
mod ops;
mod optimize;
mod plan;
mod reduce;

pub use api::any::{AnyArray, AnyNdArray, AnyScalar, AnyValue, Typed};
pub use api::array::{Array, Scalar};
pub use api::compute::compute;
pub use collection::{Collection, Write};
pub use config::default_scheduler;
pub use config::Config;
pub use io::npy::{from_npy, npy_shape, open_npy};
#[cfg(feature = "zarr")]
pub use io::zarr::{
    from_zarr, open_zarr, read_zarr_text, write_zarr_text, ZarrCodec, ZarrFill, ZarrFormat,
    ZarrOptions,
};
pub use lower::explain::{Fused, PlanNode};
pub use ops::any_math::{promote_types, AnyOperand};
pub use ops::arith::Operand;
pub use ops::concat::{concatenate, stack};
pub use ops::creation::{arange, from_ndarray, full, linspace, ones, zeros};
pub use ops::grouped::{GroupArith, GroupBy, GroupReduce};
pub use ops::math::where_;
pub use ops::random;
pub use ops::rolling::{Rolling, RollingReduce};
pub use ops::stats::Masked;
pub use reduce::options::{ReduceOptions, DEFAULT_SPLIT_EVERY};

/// The sink extension point: [`sink::Sink`], written to by [`Array::to_sink`].
pub mod sink {
    pub use crate::io::sink::{write_many, Sink};
}

/// What the `collection_methods!` macro names from other crates.
#[doc(hidden)]
pub mod __private {
    pub use ndtask_core::{MemoryReport, Result, TaskGraph};
}

/// The source extension point: [`reader::ChunkReader`], and [`reader::from_reader`] to make an
/// array of one.
pub mod reader {
    pub use crate::ops::creation::from_reader;
    pub use crate::plan::reader::{ChunkReader, FileStamp, Subset, TileSource};
}
