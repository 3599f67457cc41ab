//! What runs: the ops of the task graph ([`ops`]), the fused program interpreter
//! ([`program`]), the compiled arithmetic trees ([`arith_trees`]), the vectorised element-wise
//! kernels ([`kernels`]) and moving tiles in and out of chunks ([`tiles`]). (How a reduction
//! runs on chunks is `reduce::kernel`.)

pub(crate) mod arith_trees;
pub(crate) mod kernels;
pub(crate) mod ops;
pub(crate) mod program;
pub(crate) mod tiles;
