//! Compiled arithmetic trees: small trees of float arithmetic (`(x + 1) * 2`, `a - x * x`,
//! `x * x + y * y`) run as one kernel monomorphised for their operators.
//!
//! A fused program is interpreted one tile at a time: every step is a vectorised loop that
//! loads its input tiles and stores an output tile, so a chain of operators costs loads and a
//! store per element per operator even though the tiles stay in L1 cache. A compiled tree does
//! better: one loop, one store, intermediate values in registers, scalars in registers, and a
//! tile that both operands of an operator read (`x * x`) loaded once. The loop runs on blocks
//! of [`LANES`] values. The operations and their order are those of the tree, so the results
//! are the same bits as step by step.

use crate::exec::kernels::{input, wide};
use crate::plan::arith::{op, ArithOp, ADD, DIV, MUL, SUB};
use crate::plan::MapKernel;
use ndtask_core::{Buf, DType, Error, Fingerprint, Numeric, Result};
use std::sync::Arc;

/// Which operands of the root of a depth-two tree are themselves operators.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum TreeShape {
    /// `o2(o1(a, b), c)`
    Left,
    /// `o2(a, o1(b, c))`
    Right,
    /// `o3(o1(a, b), o2(c, d))`
    Both,
}

const LEFT: u8 = TreeShape::Left as u8;
const RIGHT: u8 = TreeShape::Right as u8;
const BOTH: u8 = TreeShape::Both as u8;

/// A leaf of a compiled tree, as the fusion pass describes it.
pub(crate) enum TreeLeaf {
    /// The kernel's input tile number `k`.
    Input(usize),
    /// A scalar (a tile of one value), kept in a register.
    Scalar(Buf),
    /// The same value as the other operand of its operator (`x * x`): read once.
    Partner,
}

/// A leaf of a compiled tree, typed.
#[derive(Clone, Copy)]
enum Leaf<T> {
    Input(usize),
    Scalar(T),
    Partner,
}

/// A leaf resolved for one tile.
#[derive(Clone, Copy)]
enum Src<'a, T> {
    Tile(&'a [T]),
    Splat(T),
    Partner,
}

/// Lanes per block of a compiled tree: the leaves of a block are fetched (or splatted) once,
/// then the tree runs on them lane by lane, vectorised.
const LANES: usize = 16;

/// The block of `src` at `j`; `partner` is the block of the other operand of its operator.
#[inline(always)]
fn fetch<T: Copy>(src: Src<'_, T>, j: usize, partner: [T; LANES]) -> [T; LANES] {
    match src {
        Src::Tile(t) => {
            let t = &t[j..j + LANES];
            std::array::from_fn(|l| t[l])
        }
        Src::Splat(v) => [v; LANES],
        Src::Partner => partner,
    }
}

/// The value of `src` at `i`; `partner` is the other operand's.
#[inline(always)]
fn at<T: Copy>(src: Src<'_, T>, i: usize, partner: T) -> T {
    match src {
        Src::Tile(t) => t[i],
        Src::Splat(v) => v,
        Src::Partner => partner,
    }
}

/// A depth-two tree of operators compiled as one kernel. `leaves` are its operands left to
/// right (three, or four for [`TreeShape::Both`]). `O3` is the root's operator for `Both` and
/// unused otherwise (`O2` is the root's operator of the other two shapes).
struct Tree<T, const S: u8, const O1: u8, const O2: u8, const O3: u8> {
    name: String,
    leaves: [Leaf<T>; 4],
}

impl<T: Numeric, const S: u8, const O1: u8, const O2: u8, const O3: u8> Tree<T, S, O1, O2, O3> {
    /// The tree on one set of operand values.
    #[inline(always)]
    fn eval(a: T, b: T, c: T, d: T) -> T {
        match S {
            LEFT => op::<T, O2>(op::<T, O1>(a, b), c),
            RIGHT => op::<T, O2>(a, op::<T, O1>(b, c)),
            _ => op::<T, O3>(op::<T, O1>(a, b), op::<T, O2>(c, d)),
        }
    }

    /// Operand values fetched in order, each `Partner` taking the value fetched before it (the
    /// other operand of its operator: the pass only marks a second operand).
    #[inline(always)]
    fn operands<V: Copy>(
        src: [Src<'_, T>; 4],
        get: impl Fn(Src<'_, T>, V) -> V,
        none: V,
    ) -> [V; 4] {
        let a = get(src[0], none);
        let b = get(src[1], a);
        let c = get(src[2], b);
        let d = get(src[3], c);
        [a, b, c, d]
    }
}

impl<T: Numeric, const S: u8, const O1: u8, const O2: u8, const O3: u8> MapKernel
    for Tree<T, S, O1, O2, O3>
{
    fn name(&self) -> String {
        self.name.clone()
    }

    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("tree");
        h.str(T::DTYPE.name());
        [S, O1, O2, O3].iter().for_each(|&c| h.u8(c));
        for leaf in &self.leaves {
            match *leaf {
                Leaf::Input(k) => {
                    h.u8(0);
                    h.usize(k);
                }
                Leaf::Scalar(v) => {
                    h.u8(1);
                    h.scalar(v);
                }
                Leaf::Partner => h.u8(2),
            }
        }
    }

    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()> {
        let mut src = [Src::Splat(T::ZERO); 4];
        for (s, leaf) in src.iter_mut().zip(&self.leaves) {
            *s = match *leaf {
                Leaf::Input(k) => {
                    let b = inputs.get(k).ok_or_else(|| {
                        Error::internal(format!("{}: missing input {k}", self.name))
                    })?;
                    Src::Tile(&input::<T>(&self.name, b)?[..n])
                }
                Leaf::Scalar(v) => Src::Splat(v),
                Leaf::Partner => Src::Partner,
            };
        }
        let out = T::buf_mut(out);
        out.resize(n, T::ZERO);
        let out = &mut out[..n];
        let whole = n - n % LANES;
        wide(|| {
            for (j, o) in (0..whole).step_by(LANES).zip(out.chunks_exact_mut(LANES)) {
                let [a, b, c, d] = Self::operands(src, |s, p| fetch(s, j, p), [T::ZERO; LANES]);
                for l in 0..LANES {
                    o[l] = Self::eval(a[l], b[l], c[l], d[l]);
                }
            }
            for (i, o) in out.iter_mut().enumerate().skip(whole) {
                let [a, b, c, d] = Self::operands(src, |s, p| at(s, i, p), T::ZERO);
                *o = Self::eval(a, b, c, d);
            }
        });
        Ok(())
    }
}

/// The compiled kernel of a depth-two tree of float operators: `ops` are the inner operators
/// left to right, then the root's; `leaves` the operands left to right. `None` for element
/// types other than `f64` and `f32` (integer arithmetic keeps one kernel per operator) or a
/// malformed description.
pub(crate) fn compile_tree(
    dtype: DType,
    shape: TreeShape,
    ops: &[ArithOp],
    leaves: &[TreeLeaf],
    name: String,
) -> Option<Arc<dyn MapKernel>> {
    fn typed<T: Numeric>(
        shape: TreeShape,
        ops: &[ArithOp],
        leaves: &[TreeLeaf],
        name: String,
    ) -> Option<Arc<dyn MapKernel>> {
        let mut typed = [Leaf::Scalar(T::ZERO); 4];
        for (t, leaf) in typed.iter_mut().zip(leaves) {
            *t = match leaf {
                TreeLeaf::Input(k) => Leaf::Input(*k),
                TreeLeaf::Scalar(b) => Leaf::Scalar(*T::buf_ref(b)?.first()?),
                TreeLeaf::Partner => Leaf::Partner,
            };
        }
        let k = (name, typed);
        match (shape, ops, leaves.len()) {
            (TreeShape::Left, &[o1, o2], 3) => Some(two::<T, LEFT>(o1, o2, k)),
            (TreeShape::Right, &[o1, o2], 3) => Some(two::<T, RIGHT>(o1, o2, k)),
            (TreeShape::Both, &[o1, o2, o3], 4) => Some(three::<T>(o1, o2, o3, k)),
            _ => None,
        }
    }
    match dtype {
        DType::F64 => typed::<f64>(shape, ops, leaves, name),
        DType::F32 => typed::<f32>(shape, ops, leaves, name),
        DType::I64 | DType::Bool => None,
    }
}

/// What a compiled tree holds besides its type: its name and leaves.
type Parts<T> = (String, [Leaf<T>; 4]);

/// Turns run-time operators into the const-generic code `$O` for the expression `$e`.
macro_rules! with_code {
    ($op:expr, $O:ident => $e:expr) => {
        match $op {
            ArithOp::Add => {
                const $O: u8 = ADD;
                $e
            }
            ArithOp::Sub => {
                const $O: u8 = SUB;
                $e
            }
            ArithOp::Mul => {
                const $O: u8 = MUL;
                $e
            }
            ArithOp::Div => {
                const $O: u8 = DIV;
                $e
            }
        }
    };
}

fn two<T: Numeric, const S: u8>(o1: ArithOp, o2: ArithOp, k: Parts<T>) -> Arc<dyn MapKernel> {
    with_code!(o1, O1 => with_code!(o2, O2 => tree::<T, S, O1, O2, ADD>(k)))
}

fn three<T: Numeric>(o1: ArithOp, o2: ArithOp, o3: ArithOp, k: Parts<T>) -> Arc<dyn MapKernel> {
    with_code!(o1, O1 => with_code!(o2, O2 => with_code!(o3, O3 => tree::<T, BOTH, O1, O2, O3>(k))))
}

fn tree<T: Numeric, const S: u8, const O1: u8, const O2: u8, const O3: u8>(
    (name, leaves): Parts<T>,
) -> Arc<dyn MapKernel> {
    Arc::new(Tree::<T, S, O1, O2, O3> { name, leaves })
}
