//! What runs: the ops of the task graph ([`ops`]), the fused program interpreter
//! ([`program`]), the compiled arithmetic trees ([`trees`]), the reduction driver
//! ([`reduce`]) and the vectorised element-wise kernels ([`kernels`]).

pub(crate) mod kernels;
pub(crate) mod ops;
pub(crate) mod program;
pub(crate) mod reduce;
pub(crate) mod trees;
