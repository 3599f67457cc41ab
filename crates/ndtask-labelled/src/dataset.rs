//! [`Dataset`]: named data variables sharing dimensions and coordinates (Xarray's `Dataset`).
//! Every operation applies to each variable that has the dimensions it names, as Xarray's
//! does, and all of them compute together in one graph.

use crate::attrs::Attrs;
use crate::coords::{Coordinate, Coords};
use crate::dataarray::{merge_coords, unknown_dim, Arith, DataArray, Isel, Method, Reduce, Sel};
use crate::groupby::GroupBy;
use ndtask_array::collection::{Collection, Results, Targets};
use ndtask_array::{GroupArith, RollingReduce};
use ndtask_core::{Error, Result};

/// Named lazy data variables over shared dimensions and coordinates.
///
/// # Examples
/// ```
/// use ndtask_labelled::{DataArray, Dataset};
/// let t = ndtask_array::arange(0.0, 6.0, 1.0, [3])?;
/// let p = ndtask_array::arange(10.0, 16.0, 1.0, [2])?;
/// let ds = Dataset::new()
///     .with_var("t", DataArray::new(t, &["x"])?)?
///     .with_var("p", DataArray::new(p, &["x"])?)?;
/// let m = ds.mean(&["x"])?.compute()?;         // both variables in one graph
/// assert_eq!(m.var("p")?.to_f64()?.sum(), 12.5);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Dataset {
    /// The data variables, without coordinates (the dataset holds them).
    pub(crate) vars: Vec<(String, DataArray)>,
    pub(crate) coords: Coords,
    pub(crate) attrs: Attrs,
}

impl Dataset {
    /// An empty dataset.
    pub fn new() -> Dataset {
        Dataset::default()
    }

    /// Adds (or replaces) the data variable `name`, with its coordinates.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a dimension's size or a coordinate's labels differ from
    /// the dataset's.
    pub fn with_var(mut self, name: &str, da: DataArray) -> Result<Dataset> {
        for (d, n) in self.dims() {
            if let Ok(m) = da.size(&d) {
                if m != n {
                    return Err(Error::InvalidArgument(format!(
                        "the variable {name:?} has the dimension {d:?} of size {m}; the dataset's is {n}"
                    )));
                }
            }
        }
        for (c, coord) in da.coords.iter() {
            if let Some(mine) = self.coords.get(c) {
                if mine.dim.is_some() && mine.dim == coord.dim && !mine.labels.same(&coord.labels) {
                    return Err(Error::InvalidArgument(format!(
                        "the variable {name:?} has other labels for the coordinate {c:?} than the dataset"
                    )));
                }
            }
        }
        self.coords = merge_coords(&self.coords, &da.coords);
        let mut v = da;
        v.coords = Coords::default();
        v.name = Some(name.to_string());
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v,
            None => self.vars.push((name.to_string(), v)),
        }
        Ok(self)
    }

    /// Adds (or replaces) a coordinate.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for labels of another length than their dimension.
    pub fn with_coord(mut self, name: &str, c: Coordinate) -> Result<Dataset> {
        if let Some(d) = &c.dim {
            if let Some((_, n)) = self.dims().into_iter().find(|(x, _)| x == d) {
                if n != c.labels.len() {
                    return Err(Error::InvalidArgument(format!(
                        "the coordinate {name:?} has {} labels for the dimension {d:?} of size {n}",
                        c.labels.len()
                    )));
                }
            }
        }
        self.coords.set(name, c);
        Ok(self)
    }

    /// Sets a global attribute.
    pub fn with_attr(mut self, name: &str, value: impl Into<crate::attrs::AttrValue>) -> Dataset {
        self.attrs.set(name, value);
        self
    }

    /// The dimensions and their sizes, in the order they appear (variables first, then
    /// coordinates).
    pub fn dims(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for (_, v) in &self.vars {
            for (d, n) in v.dims.iter().zip(v.shape()) {
                if !out.iter().any(|(x, _)| x == d) {
                    out.push((d.clone(), n));
                }
            }
        }
        for (_, c) in self.coords.iter() {
            if let Some(d) = &c.dim {
                if !out.iter().any(|(x, _)| x == d) {
                    out.push((d.clone(), c.labels.len()));
                }
            }
        }
        out
    }

    /// The names of the data variables, in order.
    pub fn data_vars(&self) -> Vec<&str> {
        self.vars.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The coordinates.
    pub fn coords(&self) -> &Coords {
        &self.coords
    }

    /// The global attributes.
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }

    /// The global attributes, to change.
    pub fn attrs_mut(&mut self) -> &mut Attrs {
        &mut self.attrs
    }

    /// The data variable `name` with its coordinates (Xarray's `ds["air"]`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the variables there are.
    pub fn var(&self, name: &str) -> Result<DataArray> {
        let (_, v) = self.vars.iter().find(|(n, _)| n == name).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "unknown variable {name:?}: the data variables are {}",
                if self.vars.is_empty() {
                    "none".to_string()
                } else {
                    self.data_vars().join(", ")
                }
            ))
        })?;
        let mut da = v.clone();
        for (n, c) in self.coords.iter() {
            if c.dim.as_ref().is_none_or(|d| da.dims.contains(d)) {
                da.coords.set(n, c.clone());
            }
        }
        Ok(da)
    }

    /// Applies `f` to every data variable (with its coordinates), and makes a dataset of the
    /// results; coordinates no variable keeps are dropped, unless `keep` says otherwise.
    ///
    /// # Errors
    /// `f`'s first error, naming its variable.
    pub fn map(&self, mut f: impl FnMut(&DataArray) -> Result<DataArray>) -> Result<Dataset> {
        let mut out = Dataset {
            vars: Vec::new(),
            coords: Coords::default(),
            attrs: self.attrs.clone(),
        };
        for (name, _) in &self.vars {
            let r = f(&self.var(name)?).map_err(|e| match e {
                Error::InvalidArgument(m) => {
                    Error::InvalidArgument(format!("variable {name:?}: {m}"))
                }
                e => e,
            })?;
            out.coords = merge_coords(&out.coords, &r.coords);
            let mut r = r;
            r.coords = Coords::default();
            r.name = Some(name.clone());
            out.vars.push((name.clone(), r));
        }
        Ok(out)
    }

    /// Applies `f` to the variables that have every dimension in `dims`; the others stay.
    fn map_having(
        &self,
        dims: &[&str],
        mut f: impl FnMut(&DataArray) -> Result<DataArray>,
    ) -> Result<Dataset> {
        let all: Vec<String> = self.dims().into_iter().map(|(d, _)| d).collect();
        for d in dims {
            if !all.iter().any(|x| x == d) {
                return Err(unknown_dim(d, &all));
            }
        }
        let mut out = self.map(|v| {
            if dims.iter().all(|d| v.dims.iter().any(|x| x == d)) {
                f(v)
            } else {
                Ok(v.clone())
            }
        })?;
        // Coordinates along dimensions no variable has (kept by Xarray).
        for (n, c) in self.coords.iter() {
            if out.coords.get(n).is_none()
                && c.dim
                    .as_ref()
                    .is_some_and(|d| !self.vars.iter().any(|(_, v)| v.dims.contains(d)))
            {
                out.coords.set(n, c.clone());
            }
        }
        Ok(out)
    }

    /// Selects by position (see [`DataArray::isel`]).
    ///
    /// # Errors
    /// As [`DataArray::isel`].
    pub fn isel<'a>(&self, sel: impl IntoIterator<Item = (&'a str, Isel)>) -> Result<Dataset> {
        let mut out = self.clone();
        for (dim, s) in sel {
            let all: Vec<String> = out.dims().into_iter().map(|(d, _)| d).collect();
            if !all.iter().any(|d| d == dim) {
                return Err(unknown_dim(dim, &all));
            }
            out = out.map_having(&[dim], |v| v.isel([(dim, s.clone())]))?;
        }
        Ok(out)
    }

    /// Selects by label (see [`DataArray::sel`]).
    ///
    /// # Errors
    /// As [`DataArray::sel`].
    pub fn sel<'a>(&self, sel: impl IntoIterator<Item = (&'a str, Sel)>) -> Result<Dataset> {
        self.sel_with(sel, Method::Exact)
    }

    /// Selects by label with `method` (see [`DataArray::sel_with`]).
    ///
    /// # Errors
    /// As [`DataArray::sel_with`].
    pub fn sel_with<'a>(
        &self,
        sel: impl IntoIterator<Item = (&'a str, Sel)>,
        method: Method,
    ) -> Result<Dataset> {
        let mut isel = Vec::new();
        let all: Vec<String> = self.dims().into_iter().map(|(d, _)| d).collect();
        for (dim, s) in sel {
            if !all.iter().any(|d| d == dim) {
                return Err(unknown_dim(dim, &all));
            }
            isel.push((
                dim,
                crate::dataarray::sel_positions(&self.coords, dim, &s, method)?,
            ));
        }
        self.isel(isel)
    }

    /// Reduces the variables that have `dims` over them (all dimensions for none).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown dimension.
    pub fn reduce(&self, op: Reduce, dims: &[&str]) -> Result<Dataset> {
        if dims.is_empty() {
            return self.map(|v| v.reduce(op, &[]));
        }
        let all: Vec<String> = self.dims().into_iter().map(|(d, _)| d).collect();
        for d in dims {
            if !all.iter().any(|x| x == d) {
                return Err(unknown_dim(d, &all));
            }
        }
        self.map(|v| {
            let mine: Vec<&str> = dims
                .iter()
                .copied()
                .filter(|d| v.dims.iter().any(|x| x == d))
                .collect();
            if mine.is_empty() {
                Ok(v.clone())
            } else {
                v.reduce(op, &mine)
            }
        })
    }

    /// The mean over `dims`.
    ///
    /// # Errors
    /// As [`Dataset::reduce`].
    pub fn mean(&self, dims: &[&str]) -> Result<Dataset> {
        self.reduce(Reduce::Mean, dims)
    }

    /// The sum over `dims`.
    ///
    /// # Errors
    /// As [`Dataset::reduce`].
    pub fn sum(&self, dims: &[&str]) -> Result<Dataset> {
        self.reduce(Reduce::Sum, dims)
    }

    /// The standard deviation over `dims`.
    ///
    /// # Errors
    /// As [`Dataset::reduce`].
    pub fn std(&self, dims: &[&str]) -> Result<Dataset> {
        self.reduce(Reduce::Std(0.0), dims)
    }

    /// Arithmetic with another dataset (variable by variable, by name; both must have the same
    /// variables) or a number, aligned by dimension name.
    ///
    /// # Errors
    /// As [`DataArray::arith`]; variables that differ.
    pub fn arith(&self, op: Arith, rhs: DatasetOperand<'_>) -> Result<Dataset> {
        match rhs {
            DatasetOperand::Dataset(o) => {
                let (mut a, mut b) = (self.data_vars(), o.data_vars());
                a.sort_unstable();
                b.sort_unstable();
                if a != b {
                    return Err(Error::InvalidArgument(format!(
                        "arithmetic between datasets of other variables: {} and {}",
                        a.join(", "),
                        b.join(", ")
                    )));
                }
                self.map(|v| v.arith(op, &o.var(v.name().unwrap_or_default())?))
            }
            DatasetOperand::Array(d) => self.map(|v| v.arith(op, d)),
            DatasetOperand::Scalar(s) => self.map(|v| v.arith(op, s)),
        }
    }

    /// Splits the variables that have the grouped dimension into groups (see
    /// [`DataArray::groupby`]).
    ///
    /// # Errors
    /// As [`DataArray::groupby`].
    pub fn groupby(&self, key: &str) -> Result<DatasetGroupBy> {
        let coord = key.split_once('.').map_or(key, |(c, _)| {
            if self.coords.get(key).is_some() {
                key
            } else {
                c
            }
        });
        let c = self.coords.get(coord).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "unknown coordinate {coord:?}: the coordinates are {}",
                self.coords.names().join(", ")
            ))
        })?;
        let dim = c.dim.clone().ok_or_else(|| {
            Error::InvalidArgument(format!("groupby: the coordinate {coord:?} is a scalar"))
        })?;
        Ok(DatasetGroupBy {
            ds: self.clone(),
            dim,
            how: How::Key(key.to_string()),
        })
    }

    /// Bins a datetime dimension (see [`DataArray::resample`]).
    ///
    /// # Errors
    /// As [`DataArray::resample`].
    pub fn resample(&self, dim: &str, freq: &str) -> Result<DatasetGroupBy> {
        let all: Vec<String> = self.dims().into_iter().map(|(d, _)| d).collect();
        if !all.iter().any(|d| d == dim) {
            return Err(unknown_dim(dim, &all));
        }
        crate::time::Freq::parse(freq)?;
        Ok(DatasetGroupBy {
            ds: self.clone(),
            dim: dim.to_string(),
            how: How::Resample(freq.to_string()),
        })
    }

    /// Moving windows (see [`DataArray::rolling`]) of the variables that have `dim`.
    ///
    /// # Errors
    /// As [`DataArray::rolling`].
    pub fn rolling(
        &self,
        dim: &str,
        window: usize,
        center: bool,
        op: RollingReduce,
    ) -> Result<Dataset> {
        self.map_having(&[dim], |v| {
            v.rolling(dim, window)?.center(center).reduce(op)
        })
    }

    /// The dimensions of every variable in this order (those it has).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown dimension.
    pub fn transpose(&self, dims: &[&str]) -> Result<Dataset> {
        let all: Vec<String> = self.dims().into_iter().map(|(d, _)| d).collect();
        for d in dims {
            if !all.iter().any(|x| x == d) {
                return Err(unknown_dim(d, &all));
            }
        }
        self.map(|v| {
            let mut order: Vec<&str> = dims
                .iter()
                .copied()
                .filter(|d| v.dims.iter().any(|x| x == d))
                .collect();
            for d in &v.dims {
                if !order.contains(&d.as_str()) {
                    order.push(d);
                }
            }
            v.transpose(&order)
        })
    }

    /// Renames dimensions, coordinates or variables.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a name that is none of them.
    pub fn rename(&self, names: &[(&str, &str)]) -> Result<Dataset> {
        let all: Vec<String> = self.dims().into_iter().map(|(d, _)| d).collect();
        for (old, _) in names {
            if !all.iter().any(|d| d == old)
                && self.coords.get(old).is_none()
                && !self.data_vars().contains(old)
            {
                return Err(Error::InvalidArgument(format!(
                    "rename: {old:?} is not a dimension, coordinate or variable"
                )));
            }
        }
        let mut out = self.map(|v| {
            let mine: Vec<(&str, &str)> = names
                .iter()
                .copied()
                .filter(|(o, _)| v.dims.iter().any(|d| d == o) || v.coords.get(o).is_some())
                .collect();
            v.rename(&mine)
        })?;
        for (n, _) in out.vars.iter_mut() {
            if let Some((_, new)) = names.iter().find(|(o, _)| o == n) {
                *n = new.to_string();
            }
        }
        Ok(out)
    }

    /// Rechunks by dimension name (`-1` for whole); a name that is no dimension is an error.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the dimension and the ones there are.
    pub fn chunk(&self, sizes: &[(&str, i64)]) -> Result<Dataset> {
        let all: Vec<String> = self.dims().into_iter().map(|(d, _)| d).collect();
        for (d, _) in sizes {
            if !all.iter().any(|x| x == d) {
                return Err(Error::InvalidArgument(format!(
                    "chunks names the dimension {d:?}, which is not one of {}",
                    all.join(", ")
                )));
            }
        }
        self.map(|v| {
            let mine: Vec<(&str, i64)> = sizes
                .iter()
                .copied()
                .filter(|(d, _)| v.dims.iter().any(|x| x == d))
                .collect();
            v.chunk(&mine)
        })
    }

    /// The chunks of each dimension (from the first variable that has it).
    pub fn chunks(&self) -> Vec<(String, Vec<usize>)> {
        let mut out: Vec<(String, Vec<usize>)> = Vec::new();
        for (_, v) in &self.vars {
            for (d, c) in v.chunks() {
                if !out.iter().any(|(x, _)| *x == d) {
                    out.push((d, c));
                }
            }
        }
        out
    }

    ndtask_array::collection_methods!("dataset (in memory)", Dataset);
}

/// The right operand of [`Dataset::arith`].
pub enum DatasetOperand<'a> {
    /// Another dataset, variable by variable.
    Dataset(&'a Dataset),
    /// One array for every variable.
    Array(&'a DataArray),
    /// A number.
    Scalar(f64),
}

impl Collection for Dataset {
    type Output = Dataset;
    fn add_targets(&self, targets: &mut Targets) {
        for (_, v) in &self.vars {
            v.add_targets(targets);
        }
    }
    fn take_results(&self, results: &mut Results) -> Result<Dataset> {
        let mut out = self.clone();
        for (_, v) in out.vars.iter_mut() {
            *v = v.take_results(results)?;
        }
        Ok(out)
    }
}

#[derive(Clone)]
enum How {
    Key(String),
    Resample(String),
}

/// A dataset split into groups ([`Dataset::groupby`], [`Dataset::resample`]).
#[derive(Clone)]
pub struct DatasetGroupBy {
    ds: Dataset,
    dim: String,
    how: How,
}

impl DatasetGroupBy {
    fn of(&self, v: &DataArray) -> Result<GroupBy> {
        match &self.how {
            How::Key(k) => v.groupby(k),
            How::Resample(f) => v.resample(&self.dim, f),
        }
    }

    /// Reduces each group of every variable that has the grouped dimension.
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn reduce(&self, op: Reduce) -> Result<Dataset> {
        self.ds
            .map_having(&[self.dim.as_str()], |v| self.of(v)?.reduce(op))
    }

    /// The mean of each group.
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn mean(&self) -> Result<Dataset> {
        self.reduce(Reduce::Mean)
    }

    /// The sum of each group.
    ///
    /// # Errors
    /// As [`GroupBy::reduce`].
    pub fn sum(&self) -> Result<Dataset> {
        self.reduce(Reduce::Sum)
    }

    /// Group-wise arithmetic with a dataset of values per group (variable by variable), as
    /// `ds.groupby("time.month") - clim`.
    ///
    /// # Errors
    /// As [`GroupBy::arith`]; a variable `per_group` lacks.
    pub fn arith(&self, op: GroupArith, per_group: &Dataset) -> Result<Dataset> {
        self.ds.map_having(&[self.dim.as_str()], |v| {
            let name = v.name().unwrap_or_default();
            self.of(v)?.arith(op, &per_group.var(name)?)
        })
    }
}
