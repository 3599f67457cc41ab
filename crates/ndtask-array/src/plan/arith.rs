//! The four arithmetic operators as the optimizer sees into them: each operator, its meaning
//! (`op`, shared by the kernels and the compiled trees), and the view of an arithmetic kernel
//! that the arithmetic-trees pass reads.

use ndtask_core::{Buf, Numeric};

/// An arithmetic operator.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl ArithOp {
    /// NumPy's name of the operator ("add", "subtract", ...).
    pub fn name(self) -> &'static str {
        match self {
            ArithOp::Add => "add",
            ArithOp::Sub => "subtract",
            ArithOp::Mul => "multiply",
            ArithOp::Div => "divide",
        }
    }
}

// The operators as const-generic codes, so a compiled tree names them in its type.
pub(crate) const ADD: u8 = ArithOp::Add as u8;
pub(crate) const SUB: u8 = ArithOp::Sub as u8;
pub(crate) const MUL: u8 = ArithOp::Mul as u8;
pub(crate) const DIV: u8 = ArithOp::Div as u8;

/// `a op b` for the operator with code `O` (resolved at compile time).
#[inline(always)]
pub(crate) fn op<T: Numeric, const O: u8>(a: T, b: T) -> T {
    match O {
        ADD => T::add(a, b),
        SUB => T::sub(a, b),
        MUL => T::mul(a, b),
        _ => T::div(a, b),
    }
}

/// An operand of an arithmetic kernel as the optimizer sees it.
pub(crate) enum ArithInput {
    /// The kernel's input number `k`.
    Input(usize),
    /// A scalar: a tile of one value.
    Scalar(Buf),
}

/// What an arithmetic kernel computes: `operands[0] op operands[1]`.
pub(crate) struct ArithView {
    pub op: ArithOp,
    pub operands: [ArithInput; 2],
}
