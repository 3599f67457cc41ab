//! Sources that are not random: constants, ranges, and in-memory ndarrays cut into chunks.
//! Each is a tile source, so it fuses into the kernels that read it.

use crate::api::array::Array;
use crate::plan::reader::{ChunkReader, Subset, TileSource};
use crate::plan::{Node, NodeKind, SourceNode};
use ndarray::{ArrayD, Dimension, Slice};
use ndtask_core::{Buf, ChunkGrid, Chunks, DType, Element, Error, Fingerprint, Numeric, Result};
use std::sync::Arc;

/// A lazy array of `shape`, cut into `chunks`, whose chunks `reader` reads when a task needs
/// them. It fuses with what reads it, and a slice of it asks the reader for the selected region
/// only.
///
/// # Errors
/// [`Error::InvalidArgument`] if the reader's element type is not `T`; [`Error::Chunks`] if
/// `chunks` does not fit `shape`.
pub fn from_reader<T: Element>(
    reader: impl ChunkReader,
    shape: impl AsRef<[usize]>,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    if reader.dtype() != T::DTYPE {
        return Err(Error::InvalidArgument(format!(
            "the reader {} gives {} values, not {}",
            reader.name(),
            reader.dtype(),
            T::DTYPE
        )));
    }
    source(shape.as_ref(), chunks.into(), Arc::new(reader))
}

/// The array of a built-in reader (its element type is known to be `T`).
pub(crate) fn source<T: Element>(
    shape: &[usize],
    chunks: Chunks,
    reader: Arc<dyn ChunkReader>,
) -> Result<Array<T>> {
    let grid = ChunkGrid::new(shape, chunks)?;
    let node = SourceNode::new(reader, grid.shape());
    Ok(Array::from_node(Node::new(
        NodeKind::Source(Arc::new(node)),
        grid,
        T::DTYPE,
    )))
}

struct Full<T>(T);

impl<T: Element> ChunkReader for Full<T> {
    fn name(&self) -> String {
        format!("full({})", self.0)
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("full");
        h.scalar(self.0);
    }
    fn dtype(&self) -> DType {
        T::DTYPE
    }
    fn stream<'a>(&'a self, _: &Subset) -> Option<Box<dyn TileSource + 'a>> {
        Some(Box::new(FullCursor(self.0)))
    }
}

struct FullCursor<T>(T);

impl<T: Element> TileSource for FullCursor<T> {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        let v = T::buf_mut(out);
        v.clear();
        v.resize(n, self.0);
        Ok(())
    }
}

/// An array of `shape` filled with `value`.
///
/// # Errors
/// [`Error::Chunks`] if `chunks` does not fit `shape`.
///
/// # Examples
/// ```
/// let x = ndtask_array::full([3, 4], [2, 2], 7i64)?;
/// assert_eq!(x.sum().compute()?, 84);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn full<T: Element>(
    shape: impl AsRef<[usize]>,
    chunks: impl Into<Chunks>,
    value: T,
) -> Result<Array<T>> {
    source(shape.as_ref(), chunks.into(), Arc::new(Full(value)))
}

/// An array of zeros.
///
/// # Errors
/// [`Error::Chunks`] if `chunks` does not fit `shape`.
pub fn zeros<T: Numeric>(
    shape: impl AsRef<[usize]>,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    full(shape, chunks, T::ZERO)
}

/// An array of ones.
///
/// # Errors
/// [`Error::Chunks`] if `chunks` does not fit `shape`.
pub fn ones<T: Numeric>(shape: impl AsRef<[usize]>, chunks: impl Into<Chunks>) -> Result<Array<T>> {
    full(shape, chunks, T::ONE)
}

/// `start + i * step` for `i` in `0..len`, computed per element (not by accumulation) so every
/// chunk is exact on its own.
struct Ramp<T> {
    start: T,
    step: T,
    /// For linspace with endpoint: the exact last value and its index.
    last: Option<(usize, T)>,
}

impl<T: Numeric> ChunkReader for Ramp<T> {
    fn name(&self) -> String {
        "arange".into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("arange");
        h.scalar(self.start);
        h.scalar(self.step);
        if let Some((i, v)) = self.last {
            h.usize(i);
            h.scalar(v);
        }
    }
    fn dtype(&self) -> DType {
        T::DTYPE
    }
    fn stream<'a>(&'a self, region: &Subset) -> Option<Box<dyn TileSource + 'a>> {
        Some(Box::new(RampCursor {
            ramp: self,
            next: region.start.first().copied().unwrap_or(0),
        }))
    }
}

struct RampCursor<'a, T> {
    ramp: &'a Ramp<T>,
    next: usize,
}

impl<T: Numeric> TileSource for RampCursor<'_, T> {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        let v = T::buf_mut(out);
        v.clear();
        let Ramp { start, step, last } = *self.ramp;
        v.extend((self.next..self.next + n).map(|i| match last {
            Some((li, lv)) if li == i => lv,
            _ => T::add(start, T::mul(T::cast_from(i as i64), step)),
        }));
        self.next += n;
        Ok(())
    }
}

/// Evenly spaced values `start, start + step, ...` below `stop` (1-D, NumPy's `arange`).
///
/// The length is exact for `i64` (`ceil((stop - start) / step)` in integers) and NumPy's for
/// floats (the same in `f64`).
///
/// # Errors
/// [`Error::InvalidArgument`] if `step` is zero or not finite; [`Error::Shape`] if the length
/// is more than an array can hold; [`Error::Chunks`] for bad chunks.
///
/// # Examples
/// ```
/// let x = ndtask_array::arange(1.0, 2.0, 0.25, [3])?;
/// assert_eq!(x.compute()?.iter().copied().collect::<Vec<_>>(), vec![1.0, 1.25, 1.5, 1.75]);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn arange<T: Numeric>(
    start: T,
    stop: T,
    step: T,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    let (a, b, s) = (start.to_f64(), stop.to_f64(), step.to_f64());
    if s == 0.0 || !s.is_finite() || !a.is_finite() || !b.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "arange({start}, {stop}, {step}): step must be finite and non-zero, bounds finite"
        )));
    }
    let too_long = |n: String| {
        Error::Shape(format!(
            "arange({start}, {stop}, {step}) has {n} elements, more than an array can hold ({})",
            ChunkGrid::MAX_ELEMENTS
        ))
    };
    let len = if T::DTYPE == DType::I64 {
        // Exact: ceil((stop - start) / step) in 128-bit integers.
        let (a, b, s) = (
            start.to_i64() as i128,
            stop.to_i64() as i128,
            step.to_i64() as i128,
        );
        let span = if s > 0 { b - a } else { a - b };
        let n = if span <= 0 {
            0
        } else {
            (span + s.abs() - 1) / s.abs()
        };
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= ChunkGrid::MAX_ELEMENTS)
            .ok_or_else(|| too_long(n.to_string()))?
    } else {
        // NumPy's length for floats: ceil((stop - start) / step) in f64, checked before the
        // conversion (which would saturate).
        let n = ((b - a) / s).ceil().max(0.0);
        if n.is_nan() || n > ChunkGrid::MAX_ELEMENTS as f64 {
            return Err(too_long(format!("{n:e}")));
        }
        n as usize
    };
    source(
        &[len],
        chunks.into(),
        Arc::new(Ramp {
            start,
            step,
            last: None,
        }),
    )
}

/// `num` evenly spaced values from `start` to `stop` (inclusive when `endpoint`), 1-D, NumPy's
/// `linspace`.
///
/// # Errors
/// [`Error::InvalidArgument`] if a bound is not finite; [`Error::Chunks`] for bad chunks.
///
/// # Examples
/// ```
/// let x = ndtask_array::linspace(0.0, 1.0, 5, true, [2])?;
/// assert_eq!(x.compute()?.iter().copied().collect::<Vec<_>>(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn linspace(
    start: f64,
    stop: f64,
    num: usize,
    endpoint: bool,
    chunks: impl Into<Chunks>,
) -> Result<Array<f64>> {
    if !start.is_finite() || !stop.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "linspace({start}, {stop}, {num}): bounds must be finite"
        )));
    }
    let div = if endpoint { num.saturating_sub(1) } else { num };
    let step = if div > 0 {
        (stop - start) / div as f64
    } else {
        0.0
    };
    let last = (endpoint && num > 1).then(|| (num - 1, stop));
    source(&[num], chunks.into(), Arc::new(Ramp { start, step, last }))
}

struct FromNdarray<T>(ArrayD<T>);

impl<T: Element> ChunkReader for FromNdarray<T> {
    fn name(&self) -> String {
        "from_ndarray".into()
    }
    /// The shape, the element type and the values: all of them up to 2^16 elements, an even
    /// sample of 2^16 beyond (hashing gigabytes on every compute would cost more than it saves).
    fn fingerprint(&self, h: &mut Fingerprint) {
        const SAMPLE: usize = 1 << 16;
        h.str("from_ndarray");
        self.0.shape().iter().for_each(|&d| h.usize(d));
        let n = self.0.len();
        let stride = n.div_ceil(SAMPLE).max(1);
        self.0.iter().step_by(stride).for_each(|&v| h.scalar(v));
    }
    fn dtype(&self) -> DType {
        T::DTYPE
    }
    fn stream<'a>(&'a self, region: &Subset) -> Option<Box<dyn TileSource + 'a>> {
        let (off, shape) = (&region.start, &region.shape);
        let view = self.0.slice_each_axis(|ax| {
            let i = ax.axis.index();
            Slice::from(off[i]..off[i] + shape[i])
        });
        Some(Box::new(ViewCursor(Box::new(view.into_iter().copied()))))
    }
}

struct ViewCursor<'a, T>(Box<dyn Iterator<Item = T> + 'a>);

impl<T: Element> TileSource for ViewCursor<'_, T> {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        let v = T::buf_mut(out);
        v.clear();
        v.extend(self.0.by_ref().take(n));
        Ok(())
    }
}

/// Wraps an in-memory ndarray as a chunked array. The data is shared, not copied, until a task
/// reads its chunk.
///
/// # Errors
/// [`Error::Chunks`] if `chunks` does not fit the array's shape.
///
/// # Examples
/// ```
/// use ndarray::array;
/// let x = ndtask_array::from_ndarray(array![[1.0, 2.0], [3.0, 4.0]], [1, 2])?;
/// assert_eq!(x.sum().compute()?, 10.0);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn from_ndarray<T: Element, D: Dimension>(
    array: ndarray::Array<T, D>,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    let a = array.into_dyn();
    let shape = a.shape().to_vec();
    source(&shape, chunks.into(), Arc::new(FromNdarray(a)))
}
