//! Matrix products of chunked arrays. Every pair of blocks that meet in the contraction gives a
//! partial product; partial products are summed with the same fixed-order reduction tree as
//! `sum`, so results are deterministic on every scheduler.

use crate::api::array::Array;
use crate::ops::layout::blocks;
use crate::plan::chunks::typed;
use crate::plan::BlockKernel;
use crate::reduce::options::ReduceOptions;
use ndarray::{Axis, Ix1, Ix2, LinalgScalar};
use ndtask_core::{Chunk, ChunkGrid, Chunks, Error, Numeric, Result};
use std::marker::PhantomData;

/// Block (i, j, k) of the partial products: A(i, k) · B(k, j), with a length-1 third axis
/// (matrix-vector: block (i, k) = A(i, k) · b(k)).
struct BlockProducts<T> {
    a: ChunkGrid,
    b: ChunkGrid,
    vector: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric + LinalgScalar> BlockKernel for BlockProducts<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        "matmul-block".into()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        if self.vector {
            let (i, k) = (block[0], block[1]);
            vec![(0, self.a.ravel(&[i, k])), (1, self.b.ravel(&[k]))]
        } else {
            let (i, j, k) = (block[0], block[1], block[2]);
            vec![(0, self.a.ravel(&[i, k])), (1, self.b.ravel(&[k, j]))]
        }
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let dim = |e: ndarray::ShapeError| Error::internal(e);
        let a = typed::<T>(inputs[0], "matmul")?
            .view()
            .into_dimensionality::<Ix2>()
            .map_err(dim)?;
        let b = typed::<T>(inputs[1], "matmul")?;
        let p = if self.vector {
            a.dot(&b.view().into_dimensionality::<Ix1>().map_err(dim)?)
                .into_dyn()
        } else {
            a.dot(&b.view().into_dimensionality::<Ix2>().map_err(dim)?)
                .into_dyn()
        };
        let last = p.ndim();
        Ok(T::into_chunk(p.insert_axis(Axis(last))))
    }
}

impl<T: Numeric + LinalgScalar> Array<T> {
    /// The matrix product of a 2-D array with a 2-D array or a 1-D vector (NumPy's `dot` /
    /// `matmul` for these ranks). `other` is rechunked along the contracted axis to match `self`
    /// if needed.
    ///
    /// # Errors
    /// [`Error::Shape`] if the ranks are not 2 and 1 or 2, or the contracted lengths differ.
    ///
    /// # Examples
    /// ```
    /// use ndarray::array;
    /// let a = ndtask_array::from_ndarray(array![[1.0, 2.0], [3.0, 4.0]], [1, 1])?;
    /// let b = ndtask_array::from_ndarray(array![[5.0], [6.0]], [1, 1])?;
    /// assert_eq!(a.dot(&b)?.compute()?.iter().copied().collect::<Vec<_>>(), vec![17.0, 39.0]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn dot(&self, other: &Array<T>) -> Result<Array<T>> {
        self.check()?;
        other.check()?;
        let (sa, sb) = (self.shape(), other.shape());
        let vector = sb.len() == 1;
        if sa.len() != 2 || !(1..=2).contains(&sb.len()) || sa[1] != sb[0] {
            return Err(Error::Shape(format!(
                "cannot multiply matrices of shapes {sa:?} and {sb:?}: need [m, k] with [k, n] or [k]"
            )));
        }
        let mut want = other.chunks();
        want[0] = self.chunks()[1].clone();
        let b = other.rechunk(Chunks::Explicit(want))?;
        let nk = self.node.grid.nblocks()[1];
        let mut sizes = vec![self.chunks()[0].clone()];
        if !vector {
            sizes.push(b.chunks()[1].clone());
        }
        sizes.push(vec![1; nk]);
        let grid = ChunkGrid::from_sizes(sizes)?;
        let kernel = BlockProducts::<T> {
            a: self.node.grid.clone(),
            b: b.node.grid.clone(),
            vector,
            _t: PhantomData,
        };
        let products: Array<T> = blocks(vec![self.node.clone(), b.node.clone()], grid, kernel);
        let last = products.ndim() - 1;
        products.sum_with(&ReduceOptions::axes([last]))
    }

    /// Same as [`Array::dot`].
    ///
    /// # Errors
    /// As [`Array::dot`].
    pub fn matmul(&self, other: &Array<T>) -> Result<Array<T>> {
        self.dot(other)
    }
}
