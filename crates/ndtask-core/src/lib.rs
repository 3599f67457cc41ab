//! Core types of ndtask shared by every layer of the pipeline: the error type, element types,
//! chunk grids, chunk values, and the task graph with the [`Scheduler`] trait that runs it.
//!
//! Most users want the `ndtask` crate, which re-exports what they need.

/// The graph library task graphs convert to ([`TaskGraph::to_petgraph`]).
pub use petgraph;

mod chunk;
mod dot;
mod dtype;
mod element;
mod error;
mod fingerprint;
mod graph;
mod grid;
pub mod memory;
mod run;
mod scheduler;
mod value;

pub use chunk::{tile_len, Buf, Chunk, TILE};
pub use dot::{TaskNode, MAX_DRAWN_TASKS};
pub use dtype::DType;
pub use element::{Element, Float, Numeric};
pub use error::{catch_panic, panic_message, try_filled, try_vec, Error, IoSource, Result};
pub use fingerprint::Fingerprint;
pub use graph::{Layout, Op, TaskGraph, TaskId};
pub use grid::{ravel, unravel, AxisSizes, ChunkGrid, Chunks};
pub use memory::{human_bytes, MemoryProfile, MemoryReport};
pub use run::{CancelToken, MessageEvent, Observer, RunContext, RunInfo, RunSummary, TaskEvent};
pub use scheduler::{Kept, Scheduler};
pub use value::{AnyValue, DecodeFn, EncodeFn, Value};
