//! # ndtask: lazy, chunked n-dimensional arrays
//!
//! ndtask is to [ndarray] what dask.array is to NumPy. You build array expressions far larger
//! than memory — random data, element-wise math, reductions, concatenation — and nothing runs
//! until you call `compute()`. Then the expression is optimised (element-wise chains and their
//! sources fuse into one single-pass kernel per chunk), lowered to a chunk task graph, and run by
//! a scheduler: on all cores (the threaded scheduler, the default), on one thread (the sync
//! scheduler, the reference), or across MPI ranks (feature `mpi`).
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
//! Every lazy value — arrays, scalars, bags, delayed values, writes — computes through one
//! protocol ([`Collection`]): [`compute`] takes any mix of them and runs one graph, in which an
//! input they share runs once. How a compute runs (scheduler, threads, memory budget,
//! observers, cancellation, optimizer passes) is one value, a [`Config`]:
//!
//! ```
//! use ndtask::prelude::*;
//! let x = ndtask::random::uniform::<f64>([1_000, 1_000], [250, 250], 42)?;
//! let counts = ndtask::bag::Bag::range(100, 4)?.count();
//! let cfg = Config::new().scheduler(SyncScheduler).memory_budget(ndtask::parse_bytes("64MiB")?);
//! let (mean, n) = cfg.compute((x.mean(), &counts))?;
//! assert_eq!(n, 100);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! Results are bit-identical on every scheduler and thread count: random chunks are seeded from
//! (seed, array, chunk), and reductions merge partial results in a fixed tree order.
//!
//! ## Crate layout
//!
//! - `ndtask-core`: [`Error`], element types ([`Element`]), chunk grids, the task graph and the
//!   scheduler trait ([`engine`]).
//! - `ndtask-array`: [`Array`], the logical plan, the optimizer, lowering, the collection
//!   protocol and the run configuration.
//! - `ndtask-sched`: the sync and threaded schedulers ([`scheduler`]), observers ([`observe`]).
//! - `ndtask-bag`: [`Bag`] and [`Delayed`].
//! - `ndtask-mpi` (feature `mpi`): the SPMD MPI scheduler.
//!
//! [`for_dask_users`] maps Dask's calls to ndtask's.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The ndarray crate ndtask is built on, so that a downstream crate uses the same version
/// (`ndtask::ndarray::array!`, `ndtask::ndarray::s!`) without a second, possibly mismatched,
/// dependency.
pub use ndarray;

pub use ndtask_array::{
    arange, compute, concatenate, from_ndarray, from_npy, full, linspace, ones, open_npy, random,
    stack, where_, zeros, AnyArray, AnyNdArray, AnyScalar, AnyValue, Array, Collection, Config,
    ReduceOptions, Scalar, Write,
};
/// Zarr stores (feature `zarr`).
#[cfg(feature = "zarr")]
pub use ndtask_array::{from_zarr, open_zarr};
pub use ndtask_bag::{Bag, Delayed};
pub use ndtask_core::memory::parse_bytes;
pub use ndtask_core::{CancelToken, Chunks, DType, Element, Error, Float, Numeric, Result};

/// Everything of arrays beyond the names at the root: the types some operations return
/// ([`array::Masked`], [`array::Typed`]), operands ([`array::Operand`]), NumPy's type promotion
/// ([`array::promote_types`]), plan pictures ([`array::PlanNode`]).
pub use ndtask_array as array;

/// Delayed tasks and bags of records, on the same schedulers as arrays (the `ndtask-bag`
/// crate): [`bag::Bag`], [`delayed::Delayed`].
pub use ndtask_bag as bag;
/// Delayed tasks: any function call as a lazy task ([`Delayed`]).
pub use ndtask_bag::delayed;
/// Labelled arrays and datasets (Xarray's `DataArray` and `Dataset`), NetCDF and Zarr datasets:
/// the `ndtask-labelled` crate.
pub use ndtask_labelled as labelled;

/// Models on chunked arrays (Dask-ML's): scalers and k-means whose results are the same bits
/// for every chunking, scheduler and rank count; the `ndtask-ml` crate (feature `ml`).
#[cfg(feature = "ml")]
pub use ndtask_ml as ml;

/// Reading and writing data: `.npy` files, Zarr stores (feature `zarr`), your own format.
pub mod io {
    pub use ndtask_array::reader::{from_reader, ChunkReader, Subset, TileSource};
    pub use ndtask_array::sink::Sink;
    pub use ndtask_array::{from_npy, npy_shape, open_npy};
    #[cfg(feature = "zarr")]
    pub use ndtask_array::{from_zarr, open_zarr, ZarrCodec, ZarrFill, ZarrFormat, ZarrOptions};
}

/// Watching and stopping runs: the [`observe::Observer`] trait and what it is told, a progress
/// bar and a Chrome-trace writer, and the [`CancelToken`].
pub mod observe {
    pub use ndtask_core::{CancelToken, MessageEvent, Observer, RunInfo, RunSummary, TaskEvent};
    pub use ndtask_sched::observe::*;
}

/// The extension API: what a new collection, scheduler, source or sink builds on. The task
/// graph and its ops ([`engine::TaskGraph`], [`engine::Op`]), chunk values and grids, the
/// [`engine::Scheduler`] trait and the context a run gets ([`engine::RunContext`]), the
/// collection protocol's targets and layers ([`engine::collection`]), sources
/// ([`engine::reader`]) and sinks ([`engine::sink`]), the memory model ([`engine::memory`]).
pub mod engine {
    pub use ndtask_array::{collection, default_scheduler, reader, sink};
    pub use ndtask_core::memory;
    /// The graph library task graphs convert to ([`TaskGraph::to_petgraph`]).
    pub use ndtask_core::petgraph;
    pub use ndtask_core::{
        human_bytes, Chunk, ChunkGrid, Fingerprint, Kept, Layout, MemoryReport, Op, RunContext,
        Scheduler, TaskGraph, TaskId, TaskNode, Value, MAX_DRAWN_TASKS,
    };
}

pub mod for_dask_users;
pub mod scheduler;

/// The names most programs need: `use ndtask::prelude::*;`.
pub mod prelude {
    pub use crate::scheduler::{SyncScheduler, ThreadedScheduler};
    pub use crate::{
        compute, concatenate, random, AnyArray, Array, Bag, Collection, Config, DType, Delayed,
        Element, Error, Float, Numeric, ReduceOptions, Scalar,
    };
}

/// The README's Rust snippets, compiled and run as doc tests (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
