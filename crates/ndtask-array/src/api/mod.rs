//! The handles users hold ([`array::Array`], [`array::Scalar`]) and the triggers that run them:
//! compute, explain, visualize.

pub(crate) mod any;
pub(crate) mod array;
pub(crate) mod compute;
