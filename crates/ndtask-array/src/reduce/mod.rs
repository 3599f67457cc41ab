//! Reductions, in one place: what a reduction is ([`reduction`]: the `Reduction` a user of the
//! engine writes once — init, fold a run, merge two states, finish — and the type-erased
//! `ReduceKernel` the plan holds), how one runs on chunks and tiles ([`kernel`]), the options
//! every reduction takes ([`options`]: axes, keepdims, the tree's fan-in), and the reductions
//! themselves ([`statistics`]: sum, prod, mean, var, std, min, max, any, all, counts and their
//! NaN-skipping variants; [`arg`]: argmin, argmax). The tree of partials and combines they
//! lower to is built by lowering (`lower::reduction_tree`).

pub(crate) mod arg;
pub(crate) mod kernel;
pub(crate) mod options;
pub(crate) mod reduction;
pub(crate) mod statistics;
