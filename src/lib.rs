//! # ndtask: lazy, chunked n-dimensional arrays
//!
//! ndtask is to [ndarray] what dask.array is to NumPy. You build array expressions far larger
//! than memory — random data, element-wise math, reductions, concatenation — and nothing runs
//! until you call `compute()`. Then the expression is optimised (element-wise chains and their
//! sources fuse into one single-pass kernel per chunk), lowered to a chunk task graph, and run by
//! a scheduler: on all cores ([`ThreadedScheduler`], the default), on one thread
//! ([`SyncScheduler`], the reference), or across MPI ranks (feature `mpi`).
//!
//! ## How to use
//!
//! ```
//! use ndtask::prelude::*;
//! let x = ndtask::random::uniform::<f64>([10_000, 10_000], [1_000, 1_000], 42)?; // lazy, 100 chunks
//! let m = x.mean();                     // lazy scalar
//! println!("{x}");                      // shape, chunks, dtype, number of chunks, bytes
//! # let x = ndtask::random::uniform::<f64>([1_000, 1_000], [250, 250], 42)?;
//! # let m = x.mean();
//! let v: f64 = m.compute()?;            // threaded scheduler on all cores
//! assert!((v - 0.5).abs() < 1e-2);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! Results are bit-identical on every scheduler and thread count: random chunks are seeded from
//! (seed, array, chunk), and reductions merge partial results in a fixed tree order.
//!
//! ## Crate layout
//!
//! - `ndtask-core`: [`Error`], element types ([`Element`]), [`ChunkGrid`], the [`TaskGraph`] and
//!   the [`Scheduler`] trait.
//! - `ndtask-array`: [`Array`], the logical plan, the fusion pass, lowering, `compute`.
//! - `ndtask-sched`: [`SyncScheduler`] and [`ThreadedScheduler`].
//! - `ndtask-mpi` (feature `mpi`): the SPMD MPI scheduler.

/// The ndarray crate ndtask is built on, so that a downstream crate uses the same version
/// (`ndtask::ndarray::array!`, `ndtask::ndarray::s!`) without a second, possibly mismatched,
/// dependency.
pub use ndarray;

/// The graph library task graphs convert to ([`TaskGraph::to_petgraph`]).
pub use ndtask_core::petgraph;

/// Reading data: the [`reader::ChunkReader`] extension point and [`reader::from_reader`].
pub use ndtask_array::reader;
pub use ndtask_array::{
    arange, compute, compute_in, compute_local_in, compute_local_with, compute_with, concatenate,
    default_scheduler, explain, from_ndarray, from_npy, full, linspace, memory_report, npy_shape,
    ones, open_npy, plan_graph, promote_types, random, stack, task_graph, visualize, where_, zeros,
    AnyArray, AnyNdArray, AnyOperand, AnyScalar, AnyValue, Array, Computable, Fused, Masked,
    Operand, PlanNode, ReduceOptions, Scalar, Typed, DEFAULT_SPLIT_EVERY,
};
/// Zarr stores (feature `zarr`).
#[cfg(feature = "zarr")]
pub use ndtask_array::{from_zarr, open_zarr, ZarrCodec, ZarrFormat, ZarrOptions};
/// The memory model: the order tasks start in, the projected peak of a run, the plan-time
/// budget check ([`Array::memory_report`] shows it for an expression).
pub use ndtask_core::memory;
pub use ndtask_core::{
    human_bytes, CancelToken, Chunk, ChunkGrid, Chunks, DType, Element, Error, Fingerprint, Float,
    Layout, MemoryReport, MessageEvent, Numeric, Observer, Result, RunContext, RunInfo, RunSummary,
    Scheduler, TaskEvent, TaskGraph, TaskNode, MAX_DRAWN_TASKS,
};
#[cfg(feature = "mpi")]
pub use ndtask_mpi::MpiScheduler;
pub use ndtask_sched::{observe, SyncScheduler, ThreadedScheduler};

/// Delayed tasks and bags of records, on the same schedulers as arrays (the `ndtask-bag`
/// crate): [`bag::Bag`], [`delayed::Delayed`].
pub use ndtask_bag as bag;
/// Delayed tasks: any function call as a lazy task ([`Delayed`]).
pub use ndtask_bag::delayed;
pub use ndtask_bag::{Bag, Delayed};

pub mod scheduler;

/// The names most programs need: `use ndtask::prelude::*;`.
pub mod prelude {
    pub use crate::{
        compute, compute_local_with, compute_with, concatenate, random, Array, Element, Error,
        Numeric, ReduceOptions, Scalar, Scheduler, SyncScheduler, ThreadedScheduler,
    };
}
