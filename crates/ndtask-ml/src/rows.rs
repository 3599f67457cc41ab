//! Chunks of whole rows: the data of every model rechunked so that a chunk holds all the
//! columns of its rows, and the two shapes of work on them — a pass whose per-chunk numbers
//! come back to the caller (fitting), and a lazy map of each chunk's rows (predicting).

use crate::exact::join;
use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, Ix2, IxDyn};
use ndtask_array::{arange, Array, Config};
use ndtask_core::{Chunks, Element, Error, Result};

/// The rows of a chunk: `f` values each, one after another.
pub(crate) type Rows<'a> = std::slice::ChunksExact<'a, f64>;

/// `f` on the rows of a chunk (its values in row-major order, copied only if the chunk's view
/// is not contiguous).
pub(crate) fn with_rows<R>(
    chunk: &ArrayViewD<'_, f64>,
    width: usize,
    f: impl Fn(Rows<'_>) -> R,
) -> R {
    match chunk.as_slice() {
        Some(v) => f(v.chunks_exact(width.max(1))),
        None => {
            let v: Vec<f64> = chunk.iter().copied().collect();
            f(v.chunks_exact(width.max(1)))
        }
    }
}

/// `f` of each row of a block, in order (the rows borrowed where the block is contiguous).
pub(crate) fn each_row<R>(block: ArrayView2<'_, f64>, mut f: impl FnMut(&[f64]) -> R) -> Vec<R> {
    let width = block.ncols().max(1);
    match block.as_slice() {
        Some(v) => v.chunks_exact(width).map(f).collect(),
        None => block.rows().into_iter().map(|r| f(&r.to_vec())).collect(),
    }
}

/// Each row's position (0, 1, ...) as a column (rows x 1) in these row chunks.
pub(crate) fn positions(rows: Vec<usize>) -> Result<Array<f64>> {
    let n: usize = rows.iter().sum();
    arange(0.0, n as f64, 1.0, Chunks::Explicit(vec![rows]))?.reshape([n, 1])
}

/// `x` (2-D) rechunked so each chunk holds whole rows, keeping its row chunks.
pub(crate) fn whole_rows(x: &Array<f64>) -> Result<Array<f64>> {
    let shape = x.shape();
    x.rechunk(Chunks::Explicit(vec![
        x.chunks()[0].clone(),
        vec![shape[1]],
    ]))
}

/// A 2-D array of samples in chunks of whole rows, to pass over while fitting.
pub(crate) struct RowChunks {
    pub x: Array<f64>,
    /// Columns.
    pub f: usize,
    /// The rows of the longest chunk.
    pub longest: usize,
    /// Row chunks.
    pub chunks: usize,
}

impl RowChunks {
    /// `x` (2-D) in chunks of whole rows.
    pub(crate) fn new(x: &Array<f64>) -> Result<RowChunks> {
        let rows = x.chunks()[0].clone();
        Ok(RowChunks {
            x: whole_rows(x)?,
            f: x.shape()[1],
            longest: rows.iter().copied().max().unwrap_or(0),
            chunks: rows.len(),
        })
    }

    /// One task per row chunk: `f(chunk)` gives `width` numbers; the rows of the result are the
    /// chunks in order.
    pub(crate) fn pass<O: Element + Default>(
        &self,
        width: usize,
        config: &Config,
        f: impl Fn(Rows<'_>) -> Vec<O> + Send + Sync + 'static,
    ) -> Result<Array2<O>> {
        let features = self.f;
        let out = self.x.map_blocks_with_chunks(
            [self.chunks, width],
            Chunks::Explicit(vec![vec![1; self.chunks], vec![width]]),
            move |chunk| {
                let mut v = with_rows(&chunk, features, &f);
                v.resize(width, O::default());
                ArrayD::from_shape_vec(IxDyn(&[1, width]), v)
                    .unwrap_or_else(|_| ArrayD::default(IxDyn(&[1, width])))
            },
        )?;
        config
            .compute(&out)?
            .into_dimensionality::<Ix2>()
            .map_err(Error::internal)
    }
}

/// Exact sums over the rows of `(hi, lo)` word pairs a pass gave: `n` sums from the first
/// `2n` columns.
pub(crate) fn totals(parts: &Array2<i64>, n: usize) -> Vec<i128> {
    let mut t = vec![0i128; n];
    for row in parts.rows() {
        for (i, s) in t.iter_mut().enumerate() {
            *s += join(row[2 * i], row[2 * i + 1]);
        }
    }
    t
}

/// Lazily, `width` outputs for each row of `x` (samples x `features`): `f` maps one chunk of
/// whole rows to its chunk of outputs (one task per row chunk). 1-D when `width` is `None`.
///
/// # Errors
/// [`Error::InvalidArgument`] naming `who` if `x` is not 2-D with `features` columns.
pub(crate) fn map_rows<O: Element>(
    x: &Array<f64>,
    features: usize,
    width: Option<usize>,
    who: &str,
    f: impl Fn(ArrayView2<'_, f64>) -> Result<Array2<O>> + Send + Sync + 'static,
) -> Result<Array<O>> {
    x.check()?;
    let shape = x.shape();
    if shape.len() != 2 || shape[1] != features {
        return Err(Error::InvalidArgument(format!(
            "{who} was fitted on {features} features; the data have shape {shape:?}"
        )));
    }
    let rows = x.chunks()[0].clone();
    let w = width.unwrap_or(1);
    let who = who.to_string();
    let out = whole_rows(x)?.try_map_blocks_with_chunks(
        [shape[0], w],
        Chunks::Explicit(vec![rows, vec![w]]),
        move |chunk| {
            let block = chunk
                .into_dimensionality::<Ix2>()
                .map_err(Error::internal)?;
            let n = block.nrows();
            let out = f(block)?;
            if out.dim() != (n, w) {
                return Err(Error::InvalidArgument(format!(
                    "{who} gave {:?} outputs for a chunk of {n} rows; expected {:?}",
                    out.dim(),
                    (n, w)
                )));
            }
            Ok(out.into_dyn())
        },
    )?;
    match width {
        Some(_) => Ok(out),
        None => out.reshape([shape[0]]),
    }
}
