//! The operations, one module per family, each with its API (methods on `Array`, functions)
//! and its kernels side by side. A new operation is one module here plus its tests.

pub(crate) mod any_math;
pub(crate) mod any_reduce;
pub(crate) mod arith;
pub(crate) mod concat;
pub(crate) mod creation;
pub(crate) mod elementwise;
pub(crate) mod layout;
pub(crate) mod linalg;
pub(crate) mod math;
pub(crate) mod npy;
pub(crate) mod persist;
pub mod random;
pub(crate) mod reduce;
pub(crate) mod reductions;
pub(crate) mod scan;
pub(crate) mod sink;
pub(crate) mod slice;
pub(crate) mod spill;
pub(crate) mod stats;
pub(crate) mod userfn;
#[cfg(feature = "zarr")]
pub(crate) mod zarr;
