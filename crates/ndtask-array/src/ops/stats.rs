//! Counting and selecting: histogram and bincount (per-chunk counts summed by the reduction
//! tree), and boolean-mask selection of a 1-D array.

use crate::api::array::Array;
use crate::collection::{Collection, Results, Targets};
use crate::ops::layout::blocks;
use crate::plan::chunks::typed;
use crate::plan::BlockKernel;
use ndarray::{Array1, ArrayD, IxDyn};
use ndtask_core::{try_filled, Chunk, ChunkGrid, Element, Error, Fingerprint, Numeric, Result};
use std::marker::PhantomData;

/// Counts per input chunk, as one row `[1, bins]` per chunk; rows are then summed by the
/// reduction tree.
struct Counts<T, F> {
    bins: usize,
    name: &'static str,
    bin_of: F,
    /// The input's grid, to name input chunks in errors.
    from: ChunkGrid,
    /// The parameters `bin_of` captures (a histogram's range), for the MPI fingerprint.
    params: Vec<f64>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element, F: Fn(T) -> Result<Option<usize>> + Send + Sync> BlockKernel for Counts<T, F> {
    fn name(&self) -> String {
        self.name.into()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        vec![(0, block[0])]
    }
    fn describe_block(&self, block: &[usize]) -> String {
        // Row `i` holds the counts of input chunk `i`: name that chunk.
        format!("{:?}", self.from.unravel(block[0]))
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(self.name);
        h.str(T::DTYPE.name());
        h.usize(self.bins);
        self.params.iter().for_each(|&p| h.f64(p));
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let a = typed::<T>(inputs[0], self.name)?;
        let mut counts = try_filled(self.bins, 0i64, format_args!("{} bins", self.bins))?;
        for &x in a.iter() {
            if let Some(b) = (self.bin_of)(x)? {
                *counts
                    .get_mut(b)
                    .ok_or_else(|| Error::internal(format!("bin {b} of {}", self.bins)))? += 1;
            }
        }
        let out =
            ArrayD::from_shape_vec(IxDyn(&[1, self.bins]), counts).map_err(Error::internal)?;
        Ok(i64::into_chunk(out))
    }
}

impl<T: Element> Array<T> {
    fn counts(
        &self,
        name: &'static str,
        bins: usize,
        params: Vec<f64>,
        bin_of: impl Fn(T) -> Result<Option<usize>> + Send + Sync + 'static,
    ) -> Result<Array<i64>> {
        self.check()?;
        let grid = ChunkGrid::from_sizes(vec![vec![1; self.num_chunks()], vec![bins]])?;
        let kernel = Counts {
            bins,
            name,
            bin_of,
            from: self.node.grid.clone(),
            params,
            _t: PhantomData,
        };
        let rows: Array<i64> = blocks(vec![self.node.clone()], grid, kernel);
        rows.sum_axis(0)
    }
}

impl<T: Numeric> Array<T> {
    /// Counts of the elements in `bins` equal-width bins over `[lo, hi]` (the last bin includes
    /// `hi`), with NumPy's bin assignment; values outside the range and NaN are not counted.
    /// Returns the lazy counts and the lazy bin edges (`bins + 1` values, NumPy's
    /// `linspace(lo, hi, bins + 1)`). Nothing is allocated per bin until compute, so a huge
    /// `bins` is an [`Error::Memory`] from `compute`, not an abort.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `bins > 0` and `lo < hi` are finite; [`Error::Shape`]
    /// if `bins + 1` edges cannot be an array.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0.0, 10.0, 1.0, [3])?;
    /// let (counts, edges) = x.histogram(2, (0.0, 10.0))?;
    /// assert_eq!(counts.compute()?.iter().copied().collect::<Vec<_>>(), vec![5, 5]);
    /// assert_eq!(edges.compute()?.iter().copied().collect::<Vec<_>>(), vec![0.0, 5.0, 10.0]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn histogram(&self, bins: usize, range: (f64, f64)) -> Result<(Array<i64>, Array<f64>)> {
        let (lo, hi) = range;
        if bins == 0 || lo >= hi || !lo.is_finite() || !hi.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "histogram needs bins > 0 and a finite range lo < hi, got bins={bins}, range=({lo}, {hi})"
            )));
        }
        let n_edges = bins.checked_add(1).ok_or_else(|| {
            Error::InvalidArgument(format!("histogram: {bins} bins have too many edges"))
        })?;
        let edges = crate::ops::creation::linspace(lo, hi, n_edges, true, [n_edges])?;
        // Edge i as `linspace` computes it, without a table of edges.
        let step = (hi - lo) / bins as f64;
        let edge = move |i: usize| if i == bins { hi } else { lo + i as f64 * step };
        let norm = bins as f64 / (hi - lo);
        let counts = self.counts("histogram", bins, vec![lo, hi], move |x| {
            let v = x.to_f64();
            if !(lo..=hi).contains(&v) {
                return Ok(None);
            }
            // NumPy's computation: scale, truncate, then correct by one near the edges.
            let mut i = (((v - lo) * norm) as usize).min(bins - 1);
            if v < edge(i) {
                i = i.saturating_sub(1);
            } else if i + 1 < bins && v >= edge(i + 1) {
                i += 1;
            }
            Ok(Some(i))
        })?;
        Ok((counts, edges))
    }
}

impl Array<i64> {
    /// Occurrences of each value `0..length` (NumPy's `bincount` with `minlength = length`; the
    /// length is fixed when the expression is built, so values must be below it).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `length` is zero; at compute time, a task error naming the
    /// chunk if a value is negative or not below `length`.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0i64, 6, 1, [4])?.map(|v| v % 3);
    /// assert_eq!(x.bincount(4)?.compute()?.iter().copied().collect::<Vec<_>>(), vec![2, 2, 2, 0]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn bincount(&self, length: usize) -> Result<Array<i64>> {
        if length == 0 {
            return Err(Error::InvalidArgument(
                "bincount needs a length of at least 1".into(),
            ));
        }
        self.counts("bincount", length, Vec::new(), move |v| {
            if v < 0 || v as usize >= length {
                return Err(Error::InvalidArgument(format!(
                    "bincount: value {v} is outside 0..{length}"
                )));
            }
            Ok(Some(v as usize))
        })
    }
}

/// Keeps the elements of each chunk where the mask chunk is true; the output chunks vary in
/// length, so the result is only ever assembled (never used as an `Array`).
struct Compress<T> {
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> BlockKernel for Compress<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        "compress".into()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        vec![(0, block[0]), (1, block[0])]
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let a = typed::<T>(inputs[0], "compress")?;
        let m = typed::<bool>(inputs[1], "compress")?;
        let kept: Vec<T> = a
            .iter()
            .zip(m.iter())
            .filter(|(_, &k)| k)
            .map(|(&v, _)| v)
            .collect();
        let n = kept.len();
        Ok(T::into_chunk(
            ArrayD::from_shape_vec(IxDyn(&[n]), kept).map_err(Error::internal)?,
        ))
    }
    fn fixed_shape(&self) -> bool {
        false
    }
}

/// The elements of a 1-D array where a mask is true (NumPy's `x[mask]`). Its length is known
/// only after computing, so it is computed on its own (or in a tuple with others), not combined
/// further.
pub struct Masked<T>(Array<T>);

impl<T: Element> Array<T> {
    /// Selects the elements where `mask` is true (1-D arrays of one length; the mask is
    /// rechunked to match if needed). Lazy; compute it to get the selected values.
    ///
    /// # Errors
    /// [`Error::Shape`] unless both arrays are 1-D of the same length.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0i64, 10, 1, [4])?;
    /// let odd = x.compress(&x.map(|v| v % 2 == 1))?;
    /// assert_eq!(ndtask_array::compute(&odd)?.to_vec(), vec![1, 3, 5, 7, 9]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn compress(&self, mask: &Array<bool>) -> Result<Masked<T>> {
        self.check()?;
        mask.check()?;
        if self.ndim() != 1 || self.shape() != mask.shape() {
            return Err(Error::Shape(format!(
                "boolean mask selection needs 1-D arrays of one length, got shapes {:?} and {:?}",
                self.shape(),
                mask.shape()
            )));
        }
        let mask = mask.rechunk(ndtask_core::Chunks::Explicit(self.chunks()))?;
        let grid = self.node.grid.clone();
        let kernel = Compress::<T> { _t: PhantomData };
        Ok(Masked(blocks(
            vec![self.node.clone(), mask.node.clone()],
            grid,
            kernel,
        )))
    }
}

impl<T: Element> Collection for Masked<T> {
    type Output = Array1<T>;
    fn add_targets(&self, targets: &mut Targets) {
        self.0.add_targets(targets);
    }
    fn take_results(&self, results: &mut Results) -> Result<Array1<T>> {
        let chunks = results.take_chunks()?;
        let mut out = Vec::new();
        for c in chunks {
            out.extend(typed::<T>(&c, "compress")?.iter().copied());
        }
        Ok(Array1::from(out))
    }
}
