//! The operations, one module per family, each with its API (methods on `Array`, functions)
//! and its kernels side by side. A new operation is one module here plus its tests.

pub(crate) mod any_math;
pub(crate) mod any_reduce;
pub(crate) mod arith;
pub(crate) mod concat;
pub(crate) mod creation;
pub(crate) mod elementwise;
pub(crate) mod grouped;
pub(crate) mod layout;
pub(crate) mod linalg;
pub(crate) mod math;
pub mod random;
pub(crate) mod rolling;
pub(crate) mod scan;
pub(crate) mod slice;
pub(crate) mod stats;
pub(crate) mod userfn;
