//! [`DataArray`]: a lazy ndtask array with named dimensions, coordinates, attributes and a
//! name (Xarray's `DataArray`). Every operation takes dimensions by name and builds a lazy
//! expression; coordinates are small and travel with it in memory.

use crate::attrs::Attrs;
use crate::cf::Encoding;
use crate::coords::{Coordinate, Coords, Label, Labels};
use ndarray::{ArrayD, IxDyn, SliceInfoElem};
use ndtask_array::collection::{Collection, Results, Targets};
use ndtask_array::{from_ndarray, AnyArray, AnyNdArray, AnyOperand, ReduceOptions, Typed};
use ndtask_core::{Chunks, DType, Element, Error, Result};

/// A lazy labelled array: an ndtask array whose axes have names, with coordinates along them.
///
/// # Examples
/// ```
/// use ndtask_labelled::{DataArray, Coordinate, Labels};
/// let x = ndtask_array::from_ndarray(ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [1, 3])?;
/// let da = DataArray::new(x, &["x", "y"])?
///     .with_coord("y", Coordinate::new("y", Labels::F64(vec![10.0, 20.0, 30.0])))?;
/// let m = da.mean(&["x"])?;               // over a dimension, by name
/// assert_eq!(m.dims(), ["y"]);
/// let v = m.compute()?.to_f64()?;
/// assert_eq!(v.into_raw_vec_and_offset().0, vec![2.5, 3.5, 4.5]);
/// let s = da.sel([("y", 20.0.into())])?; // by label
/// assert_eq!(s.dims(), ["x"]);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Clone)]
pub struct DataArray {
    pub(crate) name: Option<String>,
    pub(crate) dims: Vec<String>,
    pub(crate) data: AnyArray,
    pub(crate) coords: Coords,
    pub(crate) attrs: Attrs,
    pub(crate) encoding: Encoding,
}

/// A selection by position along a dimension ([`DataArray::isel`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Isel {
    /// One position (negative from the end); the dimension goes, its label stays as a scalar
    /// coordinate.
    Index(i64),
    /// Positions `start..stop` by `step` (Python's slice: negative from the end, `None` for
    /// the ends).
    Slice {
        /// The first position.
        start: Option<i64>,
        /// One past the last.
        stop: Option<i64>,
        /// The step (not 0; negative runs backwards).
        step: i64,
    },
    /// These positions, in this order.
    Positions(Vec<usize>),
}

impl From<usize> for Isel {
    fn from(i: usize) -> Self {
        Isel::Index(i as i64)
    }
}
impl From<i64> for Isel {
    fn from(i: i64) -> Self {
        Isel::Index(i)
    }
}
impl From<i32> for Isel {
    fn from(i: i32) -> Self {
        Isel::Index(i64::from(i))
    }
}
impl From<std::ops::Range<usize>> for Isel {
    fn from(r: std::ops::Range<usize>) -> Self {
        Isel::Slice {
            start: Some(r.start as i64),
            stop: Some(r.end as i64),
            step: 1,
        }
    }
}
impl From<std::ops::RangeFrom<usize>> for Isel {
    fn from(r: std::ops::RangeFrom<usize>) -> Self {
        Isel::Slice {
            start: Some(r.start as i64),
            stop: None,
            step: 1,
        }
    }
}
impl From<std::ops::RangeTo<usize>> for Isel {
    fn from(r: std::ops::RangeTo<usize>) -> Self {
        Isel::Slice {
            start: None,
            stop: Some(r.end as i64),
            step: 1,
        }
    }
}
impl From<Vec<usize>> for Isel {
    fn from(v: Vec<usize>) -> Self {
        Isel::Positions(v)
    }
}

/// A selection by label along a dimension ([`DataArray::sel`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Sel {
    /// One label: the dimension goes (for a datetime coordinate, a partial datetime string
    /// coarser than its times, as "2013-05" of six-hourly data, selects the span instead and
    /// keeps it).
    Label(Label),
    /// The labels from the first to the last, both included (either end open).
    Slice(Option<Label>, Option<Label>),
    /// These labels, in this order.
    Labels(Vec<Label>),
}

impl Sel {
    /// The labels from `lo` to `hi`, both included.
    pub fn slice(lo: impl Into<Label>, hi: impl Into<Label>) -> Sel {
        Sel::Slice(Some(lo.into()), Some(hi.into()))
    }
}

impl<T: Into<Label>> From<T> for Sel {
    fn from(l: T) -> Self {
        Sel::Label(l.into())
    }
}

/// How [`DataArray::sel_with`] matches labels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Method {
    /// Exactly (the default).
    #[default]
    Exact,
    /// The nearest label, within a tolerance if given (in the coordinate's units; nanoseconds
    /// for datetimes).
    Nearest(Option<f64>),
}

/// A reduction over named dimensions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reduce {
    /// The sum (NaN skipped for floats, as Xarray's `skipna=True`).
    Sum,
    /// The mean.
    Mean,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The variance with `ddof` delta degrees of freedom.
    Var(f64),
    /// The standard deviation with `ddof` delta degrees of freedom.
    Std(f64),
    /// The product.
    Prod,
    /// The number of values that are not NaN (an integer).
    Count,
}

/// The element-wise arithmetic of two labelled operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

/// The right operand of arithmetic: another [`DataArray`] or a number.
pub enum Operand<'a> {
    /// An array, aligned by dimension name.
    Array(&'a DataArray),
    /// A number, as NumPy's weak scalar.
    Scalar(AnyOperand),
}

impl<'a> From<&'a DataArray> for Operand<'a> {
    fn from(d: &'a DataArray) -> Self {
        Operand::Array(d)
    }
}
impl From<f64> for Operand<'_> {
    fn from(v: f64) -> Self {
        Operand::Scalar(v.into())
    }
}
impl From<i64> for Operand<'_> {
    fn from(v: i64) -> Self {
        Operand::Scalar(v.into())
    }
}

/// The error for a dimension that is not there.
pub(crate) fn unknown_dim(dim: &str, dims: &[String]) -> Error {
    Error::InvalidArgument(format!(
        "unknown dimension {dim:?}: the dimensions are {}",
        if dims.is_empty() {
            "none".to_string()
        } else {
            dims.join(", ")
        }
    ))
}

/// An array of one value, of no dimensions.
pub(crate) fn zero_d(v: f64) -> Result<AnyArray> {
    Ok(from_ndarray(ArrayD::from_elem(IxDyn(&[]), v), Chunks::Block(vec![]))?.into())
}

/// An in-memory array as a lazy one of one chunk per `chunks`.
pub(crate) fn lazy(values: AnyNdArray, chunks: Chunks) -> Result<AnyArray> {
    Ok(match values {
        AnyNdArray::F64(a) => from_ndarray(a, chunks)?.into(),
        AnyNdArray::F32(a) => from_ndarray(a, chunks)?.into(),
        AnyNdArray::I64(a) => from_ndarray(a, chunks)?.into(),
        AnyNdArray::Bool(a) => from_ndarray(a, chunks)?.into(),
    })
}

/// Merges attributes as Xarray does for arithmetic: all of them, dropping names whose values
/// disagree.
pub(crate) fn merge_attrs(a: &Attrs, b: &Attrs) -> Attrs {
    let mut out = Attrs::new();
    for (n, v) in a.iter() {
        if b.get(n).is_none_or(|w| w == v) {
            out.set(n, v.clone());
        }
    }
    for (n, v) in b.iter() {
        if a.get(n).is_none() {
            out.set(n, v.clone());
        }
    }
    out
}

impl DataArray {
    /// Names the axes of `data`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for as many names as axes, or a name twice.
    pub fn new(data: impl Into<AnyArray>, dims: &[&str]) -> Result<DataArray> {
        let data = data.into();
        data.check()?;
        let shape = data.shape();
        if dims.len() != shape.len() {
            return Err(Error::InvalidArgument(format!(
                "{} dimension names {dims:?} for an array of shape {shape:?}",
                dims.len()
            )));
        }
        for (i, d) in dims.iter().enumerate() {
            if dims[..i].contains(d) {
                return Err(Error::InvalidArgument(format!(
                    "the dimension {d:?} is named twice"
                )));
            }
        }
        Ok(DataArray {
            name: None,
            dims: dims.iter().map(|d| d.to_string()).collect(),
            data,
            coords: Coords::default(),
            attrs: Attrs::new(),
            encoding: Encoding::default(),
        })
    }

    /// Adds (or replaces) the coordinate `name`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a dimension it does not have, or labels of another
    /// length than the dimension.
    pub fn with_coord(mut self, name: &str, c: Coordinate) -> Result<DataArray> {
        self.check_coord(name, &c)?;
        self.coords.set(name, c);
        Ok(self)
    }

    pub(crate) fn check_coord(&self, name: &str, c: &Coordinate) -> Result<()> {
        match &c.dim {
            Some(d) => {
                let n = self.size(d)?;
                if c.labels.len() != n {
                    return Err(Error::InvalidArgument(format!(
                        "the coordinate {name:?} has {} labels for the dimension {d:?} of size {n}",
                        c.labels.len()
                    )));
                }
            }
            None if c.labels.len() != 1 => {
                return Err(Error::InvalidArgument(format!(
                    "the scalar coordinate {name:?} has {} labels",
                    c.labels.len()
                )))
            }
            None => {}
        }
        Ok(())
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> DataArray {
        self.name = Some(name.into());
        self
    }

    /// Sets an attribute.
    pub fn with_attr(mut self, name: &str, value: impl Into<crate::attrs::AttrValue>) -> DataArray {
        self.attrs.set(name, value);
        self
    }

    /// The name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The dimension names, in axis order.
    pub fn dims(&self) -> &[String] {
        &self.dims
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.data.shape()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// The element type as NumPy names it (`"float64"`, `"float32"`, `"int64"`, `"bool"`), as
    /// Xarray's `DataArray.dtype` prints.
    pub fn dtype_name(&self) -> &'static str {
        numpy_name(self.data.dtype())
    }

    /// The lazy array.
    pub fn data(&self) -> &AnyArray {
        &self.data
    }

    /// The coordinates.
    pub fn coords(&self) -> &Coords {
        &self.coords
    }

    /// The attributes.
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }

    /// The attributes, to change.
    pub fn attrs_mut(&mut self) -> &mut Attrs {
        &mut self.attrs
    }

    /// How it was stored.
    pub fn encoding(&self) -> &Encoding {
        &self.encoding
    }

    /// The encoding, to change how it is written.
    pub fn encoding_mut(&mut self) -> &mut Encoding {
        &mut self.encoding
    }

    /// The axis of `dim`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the dimension and the ones there are.
    pub fn axis(&self, dim: &str) -> Result<usize> {
        self.dims
            .iter()
            .position(|d| d == dim)
            .ok_or_else(|| unknown_dim(dim, &self.dims))
    }

    /// The size of `dim`.
    ///
    /// # Errors
    /// As [`DataArray::axis`].
    pub fn size(&self, dim: &str) -> Result<usize> {
        Ok(self.shape()[self.axis(dim)?])
    }

    /// The chunk sizes along each dimension, by name.
    pub fn chunks(&self) -> Vec<(String, Vec<usize>)> {
        self.dims.iter().cloned().zip(self.data.chunks()).collect()
    }

    /// The coordinate `name`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the coordinates there are.
    pub fn coord(&self, name: &str) -> Result<&Coordinate> {
        self.coords.get(name).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "unknown coordinate {name:?}: the coordinates are {}",
                if self.coords.is_empty() {
                    "none".to_string()
                } else {
                    self.coords.names().join(", ")
                }
            ))
        })
    }

    /// The same labels and attributes around other data (of the same dimensions).
    pub(crate) fn with_data(&self, data: AnyArray) -> DataArray {
        DataArray {
            data,
            ..self.clone()
        }
    }

    /// Applies `f` to the lazy array, keeping the dimensions, coordinates, attributes and
    /// name (for any element-wise operation of [`AnyArray`]: `da.map_data(|x| Ok(x.sqrt()))`).
    ///
    /// # Errors
    /// `f`'s error, or a result of another shape.
    pub fn map_data(&self, f: impl FnOnce(&AnyArray) -> Result<AnyArray>) -> Result<DataArray> {
        let out = f(&self.data)?;
        if out.shape() != self.shape() {
            return Err(Error::Shape(format!(
                "map_data: the result has shape {:?}, not {:?}",
                out.shape(),
                self.shape()
            )));
        }
        Ok(self.with_data(out))
    }

    /// The element type converted (NumPy's `astype`).
    pub fn astype(&self, dtype: DType) -> DataArray {
        self.with_data(self.data.astype(dtype))
    }

    /// Positions for a selection along an axis of size `n`: an index, or the positions kept.
    fn positions(sel: &Isel, n: usize, dim: &str) -> Result<Result<usize, Vec<usize>>> {
        let bad = |what: String| Error::InvalidArgument(format!("isel {dim:?}: {what}"));
        Ok(match sel {
            Isel::Index(i) => {
                let j = if *i < 0 { *i + n as i64 } else { *i };
                if j < 0 || j >= n as i64 {
                    return Err(bad(format!("position {i} is out of range for size {n}")));
                }
                Ok(j as usize)
            }
            Isel::Slice { start, stop, step } => {
                if *step == 0 {
                    return Err(bad("a step of 0".into()));
                }
                let n = n as i64;
                let clamp = |v: i64, lo: i64, hi: i64| v.max(lo).min(hi);
                let norm = |v: i64| if v < 0 { v + n } else { v };
                let pos: Vec<usize> = if *step > 0 {
                    let a = clamp(start.map_or(0, norm), 0, n);
                    let b = clamp(stop.map_or(n, norm), 0, n);
                    (a..b.max(a))
                        .step_by(*step as usize)
                        .map(|x| x as usize)
                        .collect()
                } else {
                    let a = clamp(start.map_or(n - 1, norm), -1, n - 1);
                    let b = clamp(stop.map_or(-1, norm), -1, n - 1);
                    let mut v = Vec::new();
                    let mut x = a;
                    while x > b {
                        v.push(x as usize);
                        x += step;
                    }
                    v
                };
                Err(pos)
            }
            Isel::Positions(p) => {
                if let Some(&bad_pos) = p.iter().find(|&&x| x >= n) {
                    return Err(bad(format!(
                        "position {bad_pos} is out of range for size {n}"
                    )));
                }
                Err(p.clone())
            }
        })
    }

    /// Selects by position along named dimensions (Xarray's `isel`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown dimension or a position out of range.
    pub fn isel<'a>(&self, sel: impl IntoIterator<Item = (&'a str, Isel)>) -> Result<DataArray> {
        let mut out = self.clone();
        for (dim, s) in sel {
            out = out.isel_one(dim, &s)?;
        }
        Ok(out)
    }

    fn isel_one(&self, dim: &str, s: &Isel) -> Result<DataArray> {
        let axis = self.axis(dim)?;
        let n = self.shape()[axis];
        let nd = self.dims.len();
        let full = SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: 1,
        };
        let mut out = self.clone();
        match Self::positions(s, n, dim)? {
            Ok(i) => {
                let info: Vec<SliceInfoElem> = (0..nd)
                    .map(|a| {
                        if a == axis {
                            SliceInfoElem::Index(i as isize)
                        } else {
                            full
                        }
                    })
                    .collect();
                out.data = self.data.slice(info)?;
                out.dims.remove(axis);
                for (_, c) in out.coords.0.iter_mut() {
                    if c.dim.as_deref() == Some(dim) {
                        c.labels = c.labels.take(&[i]);
                        c.dim = None;
                    }
                }
            }
            Err(pos) => {
                out.data = take(&self.data, axis, &pos)?;
                for (_, c) in out.coords.0.iter_mut() {
                    if c.dim.as_deref() == Some(dim) {
                        c.labels = c.labels.take(&pos);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Selects by label along named dimensions, exactly (Xarray's `sel`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown dimension, a dimension without coordinate
    /// labels, or a label not found (naming the coordinate and its range).
    pub fn sel<'a>(&self, sel: impl IntoIterator<Item = (&'a str, Sel)>) -> Result<DataArray> {
        self.sel_with(sel, Method::Exact)
    }

    /// Selects by label with `method` ([`Method::Nearest`] with an optional tolerance).
    ///
    /// # Errors
    /// As [`DataArray::sel`]; a label beyond the tolerance.
    pub fn sel_with<'a>(
        &self,
        sel: impl IntoIterator<Item = (&'a str, Sel)>,
        method: Method,
    ) -> Result<DataArray> {
        let mut isel = Vec::new();
        for (dim, s) in sel {
            self.axis(dim)?;
            isel.push((dim, sel_positions(&self.coords, dim, &s, method)?));
        }
        self.isel(isel)
    }

    /// Reduces over the named dimensions (all of them for none), as Xarray's reductions do:
    /// NaN skipped for floats; the mean, variance and deviation of integers in `f64`; the
    /// attributes kept.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown dimension.
    pub fn reduce(&self, op: Reduce, dims: &[&str]) -> Result<DataArray> {
        let axes: Vec<usize> = if dims.is_empty() {
            (0..self.dims.len()).collect()
        } else {
            dims.iter().map(|d| self.axis(d)).collect::<Result<_>>()?
        };
        let opts = ReduceOptions::axes(&axes);
        let data = reduce_any(&self.data, op, &opts)?;
        let gone: Vec<&String> = axes.iter().map(|&a| &self.dims[a]).collect();
        let mut out = self.with_data(data);
        out.dims = self
            .dims
            .iter()
            .filter(|d| !gone.contains(d))
            .cloned()
            .collect();
        out.coords
            .retain(|_, c| c.dim.as_ref().is_none_or(|d| !gone.contains(&d)));
        out.encoding = Encoding::default();
        Ok(out)
    }

    /// The mean over `dims` (all for none).
    ///
    /// # Errors
    /// As [`DataArray::reduce`].
    pub fn mean(&self, dims: &[&str]) -> Result<DataArray> {
        self.reduce(Reduce::Mean, dims)
    }

    /// The sum over `dims`.
    ///
    /// # Errors
    /// As [`DataArray::reduce`].
    pub fn sum(&self, dims: &[&str]) -> Result<DataArray> {
        self.reduce(Reduce::Sum, dims)
    }

    /// The minimum over `dims`.
    ///
    /// # Errors
    /// As [`DataArray::reduce`].
    pub fn min(&self, dims: &[&str]) -> Result<DataArray> {
        self.reduce(Reduce::Min, dims)
    }

    /// The maximum over `dims`.
    ///
    /// # Errors
    /// As [`DataArray::reduce`].
    pub fn max(&self, dims: &[&str]) -> Result<DataArray> {
        self.reduce(Reduce::Max, dims)
    }

    /// The standard deviation over `dims` (`ddof` 0, as Xarray).
    ///
    /// # Errors
    /// As [`DataArray::reduce`].
    pub fn std(&self, dims: &[&str]) -> Result<DataArray> {
        self.reduce(Reduce::Std(0.0), dims)
    }

    /// The variance over `dims` (`ddof` 0).
    ///
    /// # Errors
    /// As [`DataArray::reduce`].
    pub fn var(&self, dims: &[&str]) -> Result<DataArray> {
        self.reduce(Reduce::Var(0.0), dims)
    }

    /// The number of values that are not NaN over `dims`.
    ///
    /// # Errors
    /// As [`DataArray::reduce`].
    pub fn count(&self, dims: &[&str]) -> Result<DataArray> {
        self.reduce(Reduce::Count, dims)
    }

    /// Element-wise arithmetic or comparison with another array, aligned by dimension name
    /// (the result has this array's dimensions, then the other's new ones), or with a number.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the dimension whose sizes or coordinate labels
    /// differ (no silent outer join).
    pub fn arith<'a>(&self, op: Arith, rhs: impl Into<Operand<'a>>) -> Result<DataArray> {
        match rhs.into() {
            Operand::Scalar(s) => {
                let data = apply(op, &self.data, s)?;
                Ok(self.with_data(data).without_encoding())
            }
            Operand::Array(b) => {
                let (dims, x, y, coords) = align(self, b)?;
                let data = apply(op, &x, AnyOperand::Array(y))?;
                Ok(DataArray {
                    name: if self.name == b.name {
                        self.name.clone()
                    } else {
                        None
                    },
                    dims,
                    data,
                    coords,
                    attrs: merge_attrs(&self.attrs, &b.attrs),
                    encoding: Encoding::default(),
                })
            }
        }
    }

    fn without_encoding(mut self) -> DataArray {
        self.encoding = Encoding::default();
        self
    }

    /// `self + rhs` (see [`DataArray::arith`]).
    ///
    /// # Errors
    /// As [`DataArray::arith`].
    pub fn try_add<'a>(&self, rhs: impl Into<Operand<'a>>) -> Result<DataArray> {
        self.arith(Arith::Add, rhs)
    }

    /// `self - rhs`.
    ///
    /// # Errors
    /// As [`DataArray::arith`].
    pub fn try_sub<'a>(&self, rhs: impl Into<Operand<'a>>) -> Result<DataArray> {
        self.arith(Arith::Sub, rhs)
    }

    /// `self * rhs`.
    ///
    /// # Errors
    /// As [`DataArray::arith`].
    pub fn try_mul<'a>(&self, rhs: impl Into<Operand<'a>>) -> Result<DataArray> {
        self.arith(Arith::Mul, rhs)
    }

    /// `self / rhs`.
    ///
    /// # Errors
    /// As [`DataArray::arith`].
    pub fn try_div<'a>(&self, rhs: impl Into<Operand<'a>>) -> Result<DataArray> {
        self.arith(Arith::Div, rhs)
    }

    /// The values where `cond` holds, NaN elsewhere (Xarray's `da.where(cond)`), aligned by
    /// name; integers become `f64`.
    ///
    /// # Errors
    /// As [`DataArray::arith`].
    pub fn where_(&self, cond: &DataArray) -> Result<DataArray> {
        self.where_or(cond, f64::NAN.into())
    }

    /// The values where `cond` holds, `other` elsewhere (Xarray's `xr.where(cond, self,
    /// other)`).
    ///
    /// # Errors
    /// As [`DataArray::arith`].
    pub fn where_or(&self, cond: &DataArray, other: Operand<'_>) -> Result<DataArray> {
        let (dims, x, c, coords) = align(self, cond)?;
        let other_data = match other {
            Operand::Array(o) => {
                if let Some(d) = o.dims.iter().find(|d| !dims.contains(d)) {
                    return Err(Error::InvalidArgument(format!(
                        "where: the other values have the dimension {d:?}, which neither the \
                         array nor the condition has"
                    )));
                }
                order_data(&o.data, &o.dims, &dims)?
            }
            Operand::Scalar(s) => match s {
                AnyOperand::Scalar(v) => {
                    let d = zero_d(v.to_f64())?;
                    match v.dtype() {
                        DType::F64 | DType::F32 => d,
                        t => d.astype(t),
                    }
                }
                AnyOperand::Array(a) => a,
            },
        };
        let data = AnyArray::where_(&c, &x, &other_data)?;
        let mut out = self.clone().without_encoding();
        out.dims = dims;
        out.coords = coords;
        out.data = data;
        Ok(out)
    }

    /// The dimensions in a new order (all of them, by name).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for names that are not exactly the dimensions.
    pub fn transpose(&self, dims: &[&str]) -> Result<DataArray> {
        let perm: Vec<usize> = dims.iter().map(|d| self.axis(d)).collect::<Result<_>>()?;
        let mut seen = perm.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != self.dims.len() || perm.len() != self.dims.len() {
            return Err(Error::InvalidArgument(format!(
                "transpose needs each of the dimensions {} once, got {dims:?}",
                self.dims.join(", ")
            )));
        }
        let mut out = self.with_data(self.data.permuted_axes(&perm)?);
        out.dims = perm.iter().map(|&a| self.dims[a].clone()).collect();
        Ok(out)
    }

    /// Renames dimensions and coordinates (a dimension's index coordinate with it).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a name that is neither, or a new name already taken.
    pub fn rename(&self, names: &[(&str, &str)]) -> Result<DataArray> {
        let mut out = self.clone();
        for &(old, new) in names {
            let is_dim = out.dims.iter().any(|d| d == old);
            let is_coord = out.coords.get(old).is_some();
            if !is_dim && !is_coord {
                return Err(Error::InvalidArgument(format!(
                    "rename: {old:?} is not a dimension or coordinate: the dimensions are {}, \
                     the coordinates {}",
                    out.dims.join(", "),
                    out.coords.names().join(", ")
                )));
            }
            if old != new && (out.dims.iter().any(|d| d == new) || out.coords.get(new).is_some()) {
                return Err(Error::InvalidArgument(format!(
                    "rename: {new:?} is already taken"
                )));
            }
            for d in out.dims.iter_mut().filter(|d| *d == old) {
                *d = new.to_string();
            }
            for (n, c) in out.coords.0.iter_mut() {
                if c.dim.as_deref() == Some(old) {
                    c.dim = Some(new.to_string());
                }
                if n == old {
                    *n = new.to_string();
                }
            }
        }
        Ok(out)
    }

    /// Adds or replaces coordinates.
    ///
    /// # Errors
    /// As [`DataArray::with_coord`].
    pub fn assign_coords(&self, coords: Vec<(&str, Coordinate)>) -> Result<DataArray> {
        let mut out = self.clone();
        for (n, c) in coords {
            out = out.with_coord(n, c)?;
        }
        Ok(out)
    }

    /// Rechunks by dimension name: a chunk size per named dimension, `-1` for the whole
    /// dimension; dimensions not named keep their chunks.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown dimension or a size of 0.
    pub fn chunk(&self, sizes: &[(&str, i64)]) -> Result<DataArray> {
        let chunks = chunks_by_name(&self.dims, &self.shape(), &self.data.chunks(), sizes)?;
        Ok(self.with_data(self.data.rechunk(Chunks::Explicit(chunks))?))
    }

    /// Computes the values (as [`DataArray::compute`]) and returns them as `f64`.
    ///
    /// # Errors
    /// The computation's error.
    pub fn to_f64(&self) -> Result<ArrayD<f64>> {
        Ok(self.data.compute()?.to_f64())
    }

    /// The values, computed.
    ///
    /// # Errors
    /// The computation's error.
    pub fn values(&self) -> Result<AnyNdArray> {
        self.data.compute()
    }

    ndtask_array::collection_methods!(
        "labelled array (in memory, one chunk per chunk it had)",
        DataArray
    );
}

impl Collection for DataArray {
    type Output = DataArray;
    fn add_targets(&self, targets: &mut Targets) {
        self.data.add_targets(targets);
    }
    fn take_results(&self, results: &mut Results) -> Result<DataArray> {
        let values = self.data.take_results(results)?;
        Ok(self.with_data(lazy(values, Chunks::Explicit(self.data.chunks()))?))
    }
}

/// The positions of a label selection along the dimension `dim`, by its index coordinate in
/// `coords`.
pub(crate) fn sel_positions(coords: &Coords, dim: &str, s: &Sel, method: Method) -> Result<Isel> {
    let labels = coords.index(dim).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "the dimension {dim:?} has no coordinate labels to select by (use isel)"
        ))
    })?;
    label_positions(labels, s, method, dim)
}

/// The positions of a label selection along a coordinate.
fn label_positions(labels: &Labels, s: &Sel, method: Method, dim: &str) -> Result<Isel> {
    let one = |l: &Label| -> Result<usize> {
        match method {
            Method::Exact => labels.position(l, dim),
            Method::Nearest(tol) => labels.nearest(l, tol, dim),
        }
    };
    Ok(match s {
        Sel::Label(l) => {
            if let Some(span) = labels.partial_span(l) {
                let (a, b) = span?;
                if a == b {
                    return Err(Error::InvalidArgument(format!(
                        "the label {l} is not in the coordinate {dim:?} (no times in its span)"
                    )));
                }
                Isel::Slice {
                    start: Some(a as i64),
                    stop: Some(b as i64),
                    step: 1,
                }
            } else {
                Isel::Index(one(l)? as i64)
            }
        }
        Sel::Slice(lo, hi) => {
            let (a, b) = labels.slice(lo.as_ref(), hi.as_ref(), dim)?;
            Isel::Slice {
                start: Some(a as i64),
                stop: Some(b as i64),
                step: 1,
            }
        }
        Sel::Labels(ls) => Isel::Positions(ls.iter().map(one).collect::<Result<_>>()?),
    })
}

/// The positions `pos` along `axis` (runs of consecutive positions as slices, joined).
pub(crate) fn take(data: &AnyArray, axis: usize, pos: &[usize]) -> Result<AnyArray> {
    let nd = data.ndim();
    let slice = |a: usize, b: usize, step: isize| -> Result<AnyArray> {
        let info: Vec<SliceInfoElem> = (0..nd)
            .map(|k| {
                if k == axis {
                    SliceInfoElem::Slice {
                        start: a as isize,
                        end: Some(b as isize),
                        step,
                    }
                } else {
                    SliceInfoElem::Slice {
                        start: 0,
                        end: None,
                        step: 1,
                    }
                }
            })
            .collect();
        data.slice(info)
    };
    if pos.is_empty() {
        return slice(0, 0, 1);
    }
    // An evenly stepped run is one slice.
    if pos.len() >= 2 {
        let step = pos[1] as i64 - pos[0] as i64;
        if step > 0 && pos.windows(2).all(|w| w[1] as i64 - w[0] as i64 == step) {
            return slice(pos[0], pos[pos.len() - 1] + 1, step as isize);
        }
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < pos.len() {
        let mut j = i + 1;
        while j < pos.len() && pos[j] == pos[j - 1] + 1 {
            j += 1;
        }
        parts.push(slice(pos[i], pos[j - 1] + 1, 1)?);
        i = j;
    }
    if parts.len() == 1 {
        return parts.pop().ok_or_else(|| Error::internal("no part"));
    }
    AnyArray::concatenate(&parts, axis)
}

/// A reduction of any element type, as Xarray computes it.
pub(crate) fn reduce_any(x: &AnyArray, op: Reduce, opts: &ReduceOptions) -> Result<AnyArray> {
    macro_rules! float {
        ($a:expr, $t:ty) => {{
            let a = $a;
            let back = |r: ndtask_array::Array<f64>| -> AnyArray { r.astype::<$t>().into() };
            Ok(match op {
                Reduce::Sum => a.nansum_with(opts)?.into(),
                Reduce::Mean => back(a.nanmean_with(opts)?),
                Reduce::Min => a.nanmin_with(opts)?.into(),
                Reduce::Max => a.nanmax_with(opts)?.into(),
                Reduce::Var(d) => back(a.nanvar_with(opts, d)?),
                Reduce::Std(d) => back(a.nanstd_with(opts, d)?),
                Reduce::Prod => {
                    let ones = a.is_nan();
                    let one: AnyArray = zero_d(1.0)?.astype(<$t as Element>::DTYPE);
                    let filled = AnyArray::where_(&ones.into(), &a.clone().into(), &one)?;
                    filled.prod_with(opts)?
                }
                Reduce::Count => a.is_nan().logical_not().count_true_with(opts)?.into(),
            })
        }};
    }
    match x.typed_view() {
        Typed::F64(a) => float!(a, f64),
        Typed::F32(a) => float!(a, f32),
        _ => match op {
            Reduce::Sum => x.sum_with(opts),
            Reduce::Mean => x.mean_with(opts),
            Reduce::Min => x.min_with(opts),
            Reduce::Max => x.max_with(opts),
            Reduce::Var(d) => x.var_with(opts, d),
            Reduce::Std(d) => x.std_with(opts, d),
            Reduce::Prod => x.prod_with(opts),
            Reduce::Count => Ok(x.cast::<bool>().map(|_| true).count_true_with(opts)?.into()),
        },
    }
}

/// `x op rhs` for arithmetic and comparisons.
pub(crate) fn apply(op: Arith, x: &AnyArray, rhs: AnyOperand) -> Result<AnyArray> {
    match op {
        Arith::Add => x.try_add(rhs),
        Arith::Sub => x.try_sub(rhs),
        Arith::Mul => x.try_mul(rhs),
        Arith::Div => x.try_div(rhs),
        Arith::Lt => x.less(rhs),
        Arith::Le => x.less_equal(rhs),
        Arith::Gt => x.greater(rhs),
        Arith::Ge => x.greater_equal(rhs),
        Arith::Eq => x.equal(rhs),
        Arith::Ne => x.not_equal(rhs),
    }
}

/// `data` (of dimensions `have`) with dimensions `want` (a superset), in that order: its own
/// axes permuted, size-1 axes for the others.
pub(crate) fn order_data(data: &AnyArray, have: &[String], want: &[String]) -> Result<AnyArray> {
    let mine: Vec<usize> = want
        .iter()
        .filter_map(|d| have.iter().position(|h| h == d))
        .collect();
    let mut out = if mine.iter().enumerate().all(|(i, &a)| i == a) {
        data.clone()
    } else {
        data.permuted_axes(&mine)?
    };
    for (i, d) in want.iter().enumerate() {
        if !have.contains(d) {
            out = out.expand_dims(i)?;
        }
    }
    Ok(out)
}

/// Aligns two arrays by dimension name: the result's dimensions, both data in them, and the
/// merged coordinates.
pub(crate) fn align(
    a: &DataArray,
    b: &DataArray,
) -> Result<(Vec<String>, AnyArray, AnyArray, Coords)> {
    let mut dims = a.dims.clone();
    for d in &b.dims {
        if !dims.contains(d) {
            dims.push(d.clone());
        }
    }
    for d in a.dims.iter().filter(|d| b.dims.contains(d)) {
        let (na, nb) = (a.size(d)?, b.size(d)?);
        if na != nb {
            return Err(Error::InvalidArgument(format!(
                "the dimension {d:?} has size {na} in one operand and {nb} in the other"
            )));
        }
        if let (Some(la), Some(lb)) = (a.coords.index(d), b.coords.index(d)) {
            if !la.same(lb) {
                return Err(Error::InvalidArgument(format!(
                    "the coordinate labels of the dimension {d:?} differ between the operands \
                     ({} .. {} and {} .. {}); select or reindex one so they match",
                    first_last(la).0,
                    first_last(la).1,
                    first_last(lb).0,
                    first_last(lb).1
                )));
            }
        }
    }
    let coords = merge_coords(&a.coords, &b.coords);
    Ok((
        dims.clone(),
        order_data(&a.data, &a.dims, &dims)?,
        order_data(&b.data, &b.dims, &dims)?,
        coords,
    ))
}

fn first_last(l: &Labels) -> (String, String) {
    if l.is_empty() {
        return ("none".into(), "none".into());
    }
    (l.show(0), l.show(l.len() - 1))
}

/// Coordinates of both operands; a name with different labels is dropped.
pub(crate) fn merge_coords(a: &Coords, b: &Coords) -> Coords {
    let mut out = Coords::default();
    for (n, c) in a.iter() {
        match b.get(n) {
            Some(d) if d.dim != c.dim || !d.labels.same(&c.labels) => {}
            _ => out.set(n, c.clone()),
        }
    }
    for (n, c) in b.iter() {
        if a.get(n).is_none() {
            out.set(n, c.clone());
        }
    }
    out
}

/// Explicit chunks from sizes by dimension name (`-1` whole), the others as they are.
pub(crate) fn chunks_by_name(
    dims: &[String],
    shape: &[usize],
    now: &[Vec<usize>],
    sizes: &[(&str, i64)],
) -> Result<Vec<Vec<usize>>> {
    let mut chunks = now.to_vec();
    for &(d, s) in sizes {
        let a = dims.iter().position(|x| x == d).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "chunks names the dimension {d:?}, which is not one of {}",
                if dims.is_empty() {
                    "none".to_string()
                } else {
                    dims.join(", ")
                }
            ))
        })?;
        let n = shape[a];
        chunks[a] = if s == -1 || (s > 0 && s as usize >= n) {
            if n == 0 {
                Vec::new()
            } else {
                vec![n]
            }
        } else if s > 0 {
            let s = s as usize;
            let mut v = vec![s; n / s];
            if !n.is_multiple_of(s) {
                v.push(n % s);
            }
            v
        } else {
            return Err(Error::InvalidArgument(format!(
                "the chunk size {s} for the dimension {d:?} must be positive or -1 (whole)"
            )));
        };
    }
    Ok(chunks)
}

/// NumPy's name of an element type.
pub(crate) fn numpy_name(d: DType) -> &'static str {
    match d {
        DType::F64 => "float64",
        DType::F32 => "float32",
        DType::I64 => "int64",
        DType::Bool => "bool",
    }
}
