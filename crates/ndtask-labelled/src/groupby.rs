//! Group-wise work by label: `groupby` over a coordinate or a datetime component
//! (`"time.month"`, `"time.season"`), `resample` of a datetime dimension into bins, and
//! `rolling` windows. Each runs on ndtask's group-wise kernels: one task per input chunk and a
//! short merge tree, whatever the number of groups (as flox does for Dask).

use crate::attrs::Attrs;
use crate::cf::Encoding;
use crate::coords::{Coordinate, Labels};
use crate::dataarray::{order_data, DataArray, Reduce};
use crate::time::{self, Component, Freq, SEASONS};
use ndtask_array::{AnyArray, Array, GroupArith, GroupReduce, RollingReduce, Typed};
use ndtask_core::{DType, Error, Float, Result};

/// A labelled array split into groups along one dimension ([`DataArray::groupby`],
/// [`DataArray::resample`]).
#[derive(Clone)]
pub struct GroupBy {
    obj: DataArray,
    /// The dimension the groups run along.
    dim: String,
    /// The dimension of the result ("month" for "time.month"; the dimension itself for a
    /// resample).
    out_dim: String,
    /// The label of each group.
    labels: Labels,
    /// The group of each position.
    codes: Vec<Option<usize>>,
}

/// The group labels and codes of `values` (sorted unique labels, as pandas' factorize).
fn factorize_i64(values: &[i64], skip: i64) -> (Vec<i64>, Vec<Option<usize>>) {
    let mut uniq: Vec<i64> = values.iter().copied().filter(|&v| v != skip).collect();
    uniq.sort_unstable();
    uniq.dedup();
    let codes = values
        .iter()
        .map(|v| {
            if *v == skip {
                None
            } else {
                uniq.binary_search(v).ok()
            }
        })
        .collect();
    (uniq, codes)
}

fn factorize_f64(values: &[f64]) -> (Vec<f64>, Vec<Option<usize>>) {
    let mut uniq: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    uniq.sort_by(f64::total_cmp);
    uniq.dedup();
    let codes = values
        .iter()
        .map(|v| uniq.binary_search_by(|u| u.total_cmp(v)).ok())
        .collect();
    (uniq, codes)
}

fn factorize_str(values: &[String]) -> (Vec<String>, Vec<Option<usize>>) {
    let mut uniq: Vec<String> = values.to_vec();
    uniq.sort();
    uniq.dedup();
    let codes = values.iter().map(|v| uniq.binary_search(v).ok()).collect();
    (uniq, codes)
}

/// The array as a float array: its own float type, or `f64` for integers and booleans.
pub(crate) enum Floats {
    F64(Array<f64>),
    F32(Array<f32>),
}

pub(crate) fn floats(a: &AnyArray) -> Floats {
    match a.typed_view() {
        Typed::F32(x) => Floats::F32(x),
        Typed::F64(x) => Floats::F64(x),
        _ => Floats::F64(a.cast::<f64>()),
    }
}

fn group_reduce(op: Reduce) -> GroupReduce {
    match op {
        Reduce::Sum => GroupReduce::Sum,
        Reduce::Mean => GroupReduce::Mean,
        Reduce::Min => GroupReduce::Min,
        Reduce::Max => GroupReduce::Max,
        Reduce::Var(d) => GroupReduce::Var(d),
        Reduce::Std(d) => GroupReduce::Std(d),
        Reduce::Prod => GroupReduce::Prod,
        Reduce::Count => GroupReduce::Count,
    }
}

fn run_group<T: Float>(
    x: &Array<T>,
    axis: usize,
    codes: &[Option<usize>],
    n: usize,
    op: Reduce,
) -> Result<AnyArray> {
    let g = x.group_by(axis, codes, n)?;
    Ok(match op {
        Reduce::Count => g.count()?.into(),
        op => g.reduce(group_reduce(op))?.into(),
    })
}

impl DataArray {
    /// Splits into groups by a coordinate (`"x"`, or a non-index coordinate along a
    /// dimension) or a datetime component of one (`"time.month"`, `"time.season"`,
    /// `"time.dayofyear"`, `"time.hour"`, ...): the groups are its unique values, sorted (a
    /// dimension's own unique, monotonic labels keep their order, as in Xarray).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown coordinate or component, a scalar coordinate,
    /// or a component of labels that are not datetimes.
    pub fn groupby(&self, key: &str) -> Result<GroupBy> {
        let (name, component) = match key.split_once('.') {
            Some((c, comp)) if self.coords.get(key).is_none() => (c, Some(comp)),
            _ => (key, None),
        };
        let coord = self.coord(name)?;
        let dim = coord.dim.clone().ok_or_else(|| {
            Error::InvalidArgument(format!("groupby: the coordinate {name:?} is a scalar"))
        })?;
        let (labels, codes, out_dim) = match component {
            Some(comp) => {
                let Labels::Time(t) = &coord.labels else {
                    return Err(Error::InvalidArgument(format!(
                        "groupby {key:?}: the coordinate {name:?} holds {} labels, not datetimes",
                        coord.labels.dtype_name()
                    )));
                };
                let c = Component::parse(comp).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "groupby {key:?}: unknown datetime component {comp:?} (known: {})",
                        Component::NAMES
                    ))
                })?;
                let values: Vec<i64> = t
                    .iter()
                    .map(|&v| if v == time::NAT { i64::MIN } else { c.of(v) })
                    .collect();
                let (uniq, codes) = factorize_i64(&values, i64::MIN);
                let labels = match c {
                    Component::Season => {
                        // Seasons sort by name, as pandas sorts the strings.
                        let names: Vec<String> = values
                            .iter()
                            .map(|&v| {
                                if v == i64::MIN {
                                    String::new()
                                } else {
                                    SEASONS[v as usize].to_string()
                                }
                            })
                            .collect();
                        let valid: Vec<String> =
                            names.iter().filter(|s| !s.is_empty()).cloned().collect();
                        let (u, _) = factorize_str(&valid);
                        let codes = names
                            .iter()
                            .map(|s| {
                                if s.is_empty() {
                                    None
                                } else {
                                    u.binary_search(s).ok()
                                }
                            })
                            .collect();
                        return Ok(GroupBy {
                            obj: self.clone(),
                            dim,
                            out_dim: comp.to_string(),
                            labels: Labels::Str(u),
                            codes,
                        });
                    }
                    Component::Date => Labels::Time(uniq),
                    _ => Labels::I64(uniq),
                };
                (labels, codes, comp.to_string())
            }
            None => {
                let (labels, codes) = match &coord.labels {
                    Labels::Str(v) => {
                        let (u, c) = factorize_str(v);
                        (Labels::Str(u), c)
                    }
                    Labels::I64(v) => {
                        let (u, c) = factorize_i64(v, i64::MIN);
                        (Labels::I64(u), c)
                    }
                    Labels::Time(v) => {
                        let (u, c) = factorize_i64(v, time::NAT);
                        (Labels::Time(u), c)
                    }
                    Labels::F64(v) => {
                        let (u, c) = factorize_f64(v);
                        (Labels::F64(u), c)
                    }
                    Labels::F32(v) => {
                        let w: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
                        let (u, c) = factorize_f64(&w);
                        (Labels::F32(u.iter().map(|&x| x as f32).collect()), c)
                    }
                };
                // A dimension's own unique, monotonic labels group one by one in their order
                // (falling latitudes stay falling), as Xarray does.
                if coord.dim.as_deref() == Some(name)
                    && labels.len() == coord.labels.len()
                    && coord.labels.direction().is_some()
                {
                    (
                        coord.labels.clone(),
                        (0..labels.len()).map(Some).collect(),
                        name.to_string(),
                    )
                } else {
                    (labels, codes, name.to_string())
                }
            }
        };
        Ok(GroupBy {
            obj: self.clone(),
            dim,
            out_dim,
            labels,
            codes,
        })
    }

    /// Bins a datetime dimension by `freq` (pandas' frequencies: "1D", "6h", "MS", "ME",
    /// "QS", "YS", ...; bins labelled by their start, or their last day for "ME"/"QE"/"YE");
    /// empty bins reduce to NaN.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown dimension or frequency, or a dimension
    /// without datetime labels.
    pub fn resample(&self, dim: &str, freq: &str) -> Result<GroupBy> {
        self.axis(dim)?;
        let Some(Labels::Time(t)) = self.coords.index(dim) else {
            return Err(Error::InvalidArgument(format!(
                "resample: the dimension {dim:?} has no datetime labels"
            )));
        };
        let (labels, codes) = Freq::parse(freq)?.bins(t);
        Ok(GroupBy {
            obj: self.clone(),
            dim: dim.to_string(),
            out_dim: dim.to_string(),
            labels: Labels::Time(labels),
            codes,
        })
    }

    /// Moving windows of `window` positions along `dim` (Xarray's `rolling(dim=window)`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown dimension or a window of 0.
    pub fn rolling(&self, dim: &str, window: usize) -> Result<Rolling> {
        self.axis(dim)?;
        if window == 0 {
            return Err(Error::InvalidArgument(
                "rolling: the window must hold at least 1 position".into(),
            ));
        }
        Ok(Rolling {
            obj: self.clone(),
            dim: dim.to_string(),
            window,
            center: false,
            min_periods: None,
        })
    }
}

impl GroupBy {
    /// The labels of the groups.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The dimension the result has in place of the grouped one.
    pub fn out_dim(&self) -> &str {
        &self.out_dim
    }

    /// The group of each position along the grouped dimension.
    pub fn codes(&self) -> &[Option<usize>] {
        &self.codes
    }

    /// Reduces each group over the grouped dimension.
    ///
    /// # Errors
    /// The array's error.
    pub fn reduce(&self, op: Reduce) -> Result<DataArray> {
        let x = &self.obj;
        let axis = x.axis(&self.dim)?;
        let n = self.labels.len();
        let mut data = match floats(&x.data) {
            Floats::F64(a) => run_group(&a, axis, &self.codes, n, op)?,
            Floats::F32(a) => run_group(&a, axis, &self.codes, n, op)?,
        };
        if op == Reduce::Count {
            // A group no position falls in (an empty resample bin) counts NaN, as in Xarray.
            let mut members = vec![0usize; n];
            self.codes.iter().flatten().for_each(|&g| members[g] += 1);
            if members.contains(&0) {
                let mut shape = vec![1usize; data.ndim()];
                shape[axis] = n;
                let nan: Vec<f64> = members
                    .iter()
                    .map(|&m| if m == 0 { f64::NAN } else { 0.0 })
                    .collect();
                let nan = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), nan)
                    .map_err(Error::internal)?;
                let nan: AnyArray = ndtask_array::from_ndarray(nan, shape.clone())?.into();
                data = data.astype(DType::F64).try_add(&nan)?;
            }
        }
        let mut out = x.with_data(data);
        out.dims[axis] = self.out_dim.clone();
        out.coords
            .retain(|_, c| c.dim.as_deref() != Some(self.dim.as_str()));
        let mut c = Coordinate::new(self.out_dim.clone(), self.labels.clone());
        if self.out_dim == self.dim {
            if let Some(old) = x.coords.get(&self.dim) {
                c.attrs = old.attrs.clone();
                c.encoding = old.encoding.clone();
            }
        }
        out.coords.set(self.out_dim.clone(), c);
        out.encoding = Encoding::default();
        Ok(out)
    }

    /// The mean of each group.
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn mean(&self) -> Result<DataArray> {
        self.reduce(Reduce::Mean)
    }

    /// The sum of each group.
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn sum(&self) -> Result<DataArray> {
        self.reduce(Reduce::Sum)
    }

    /// The minimum of each group.
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn min(&self) -> Result<DataArray> {
        self.reduce(Reduce::Min)
    }

    /// The maximum of each group.
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn max(&self) -> Result<DataArray> {
        self.reduce(Reduce::Max)
    }

    /// The standard deviation of each group (`ddof` 0).
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn std(&self) -> Result<DataArray> {
        self.reduce(Reduce::Std(0.0))
    }

    /// The variance of each group (`ddof` 0).
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn var(&self) -> Result<DataArray> {
        self.reduce(Reduce::Var(0.0))
    }

    /// The number of values that are not NaN in each group.
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn count(&self) -> Result<DataArray> {
        self.reduce(Reduce::Count)
    }

    /// `x op per_group[group]`: group-wise arithmetic with an array that has the groups'
    /// dimension (a climatology `clim` with dimension "month" for
    /// `x.groupby("time.month")?.arith(GroupArith::Sub, &clim)`, Xarray's
    /// `ds.groupby("time.month") - clim`). The result has `x`'s dimensions and chunks and,
    /// along the grouped dimension, each position's group label as a coordinate.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `per_group` lacks the groups' dimension, has one `x`
    /// lacks, or lacks the label of a group.
    pub fn arith(&self, op: GroupArith, per_group: &DataArray) -> Result<DataArray> {
        let x = &self.obj;
        let axis = x.axis(&self.dim)?;
        per_group.axis(&self.out_dim).map_err(|_| {
            Error::InvalidArgument(format!(
                "group-wise arithmetic needs the values per group along {:?}; the operand's \
                 dimensions are {}",
                self.out_dim,
                per_group.dims.join(", ")
            ))
        })?;
        let mut target = x.dims.clone();
        target[axis] = self.out_dim.clone();
        if let Some(d) = per_group.dims.iter().find(|d| !target.contains(d)) {
            return Err(Error::InvalidArgument(format!(
                "group-wise arithmetic: the operand has the dimension {d:?}, which the array \
                 lacks (its dimensions are {})",
                x.dims.join(", ")
            )));
        }
        for d in per_group.dims.iter().filter(|d| **d != self.out_dim) {
            if let (Some(a), Some(b)) = (x.coords.index(d), per_group.coords.index(d)) {
                if !a.same(b) {
                    return Err(Error::InvalidArgument(format!(
                        "the coordinate labels of the dimension {d:?} differ between the operands"
                    )));
                }
            }
        }
        // The operand's groups in this grouping's order.
        let g = match per_group.coords.index(&self.out_dim) {
            Some(theirs) if !theirs.same(&self.labels) => {
                let pos: Vec<usize> = (0..self.labels.len())
                    .map(|i| theirs.position(&self.labels.get(i), &self.out_dim))
                    .collect::<Result<_>>()?;
                per_group.isel([(
                    self.out_dim.as_str(),
                    crate::dataarray::Isel::Positions(pos),
                )])?
            }
            _ => per_group.clone(),
        };
        if g.size(&self.out_dim)? != self.labels.len() {
            return Err(Error::InvalidArgument(format!(
                "group-wise arithmetic: the operand has {} values along {:?} for {} groups",
                g.size(&self.out_dim)?,
                self.out_dim,
                self.labels.len()
            )));
        }
        let mut want = x.shape();
        want[axis] = self.labels.len();
        let mut gchunks = x.data.chunks();
        gchunks[axis] = vec![self.labels.len()];
        let gdata = order_data(&g.data, &g.dims, &target)?
            .broadcast_to(&want, ndtask_core::Chunks::Explicit(gchunks))?;
        let n = self.labels.len();
        let data: AnyArray = match floats(&x.data) {
            Floats::F64(a) => a
                .group_by(axis, &self.codes, n)?
                .apply(op, &gdata.cast::<f64>())?
                .into(),
            Floats::F32(a) => {
                let gd = if gdata.dtype() == DType::F64 && x.data.dtype() == DType::F32 {
                    // NumPy computes f32 - f64 in f64.
                    let a64 = a.astype::<f64>();
                    let r = a64
                        .group_by(axis, &self.codes, n)?
                        .apply(op, &gdata.cast::<f64>())?;
                    return self.finish(r.into(), g.attrs());
                } else {
                    gdata.cast::<f32>()
                };
                a.group_by(axis, &self.codes, n)?.apply(op, &gd)?.into()
            }
        };
        self.finish(data, g.attrs())
    }

    fn finish(&self, data: AnyArray, other: &Attrs) -> Result<DataArray> {
        let x = &self.obj;
        let mut out = x.with_data(data);
        out.attrs = crate::dataarray::merge_attrs(&x.attrs, other);
        out.encoding = Encoding::default();
        if self.out_dim != self.dim && self.codes.iter().all(Option::is_some) {
            let idx: Vec<usize> = self.codes.iter().map(|c| c.unwrap_or(0)).collect();
            out.coords.set(
                self.out_dim.clone(),
                Coordinate::new(self.dim.clone(), self.labels.take(&idx)),
            );
        }
        Ok(out)
    }
}

/// Moving windows along a dimension ([`DataArray::rolling`]).
#[derive(Clone)]
pub struct Rolling {
    obj: DataArray,
    dim: String,
    window: usize,
    center: bool,
    min_periods: Option<usize>,
}

impl Rolling {
    /// Labels each window by its middle (Xarray's `center=True`).
    pub fn center(mut self, center: bool) -> Self {
        self.center = center;
        self
    }

    /// The fewest values that are not NaN a window needs for a result (default: the window).
    pub fn min_periods(mut self, n: usize) -> Self {
        self.min_periods = Some(n);
        self
    }

    /// The windows' reduction (floats; integers in `f64`; `count` as a float, as Xarray).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `min_periods` of 0 or more than the window.
    pub fn reduce(&self, op: RollingReduce) -> Result<DataArray> {
        let axis = self.obj.axis(&self.dim)?;
        macro_rules! roll {
            ($a:expr) => {{
                let mut r = $a.rolling(axis, self.window)?.center(self.center);
                if let Some(m) = self.min_periods {
                    r = r.min_periods(m)?;
                }
                AnyArray::from(r.reduce(op)?)
            }};
        }
        let data = match floats(&self.obj.data) {
            Floats::F64(a) => roll!(a),
            Floats::F32(a) => roll!(a),
        };
        let mut out = self.obj.with_data(data);
        out.encoding = Encoding::default();
        Ok(out)
    }

    /// The mean of each window.
    ///
    /// # Errors
    /// As [`Rolling::reduce`].
    pub fn mean(&self) -> Result<DataArray> {
        self.reduce(RollingReduce::Mean)
    }

    /// The sum of each window.
    ///
    /// # Errors
    /// As [`Rolling::reduce`].
    pub fn sum(&self) -> Result<DataArray> {
        self.reduce(RollingReduce::Sum)
    }
}
