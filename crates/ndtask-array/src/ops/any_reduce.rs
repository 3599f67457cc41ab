//! Reductions, layout changes, computing, persisting and writing of [`AnyArray`]: each
//! dispatches on the run-time element type to the typed operation, with NumPy's result types
//! (the sum of bools is an `i64` count, their minimum is `all`).

use crate::api::any::{with_typed, AnyArray, AnyScalar};
use crate::collection::Write;
use crate::config::Config;
use crate::ops::any_math::with_numeric_as;
use crate::reduce::options::ReduceOptions;
use ndarray::SliceInfoElem;
use ndtask_core::{Chunks, DType, Result};
use std::path::Path;

/// Runs `$e` with `$x` bound to `$a` as a numeric array: its own type, or `i64` for bools
/// (NumPy sums and orders bools as integers).
macro_rules! with_numeric {
    ($a:expr, $x:ident => $e:expr) => {
        with_numeric_as!($a.dtype(), $a, $x => $e)
    };
}

/// `$e` on `$a` as a float array of its own type, or as the numeric array of
/// [`with_numeric`] (NaN-skipping reductions of integers are the plain ones, as in NumPy).
macro_rules! nan_or {
    ($a:expr, $x:ident => $nan:expr, $plain:expr) => {
        match $a.dtype() {
            DType::F64 => {
                let $x = $a.cast::<f64>();
                AnyArray::from($nan)
            }
            DType::F32 => {
                let $x = $a.cast::<f32>();
                AnyArray::from($nan)
            }
            _ => {
                let $x = $a.cast::<i64>();
                AnyArray::from($plain)
            }
        }
    };
}

/// A full reduction as a scalar.
fn scalar(a: AnyArray) -> AnyScalar {
    AnyScalar(a)
}

impl AnyArray {
    /// The sum of all elements (NumPy's result types: bools are counted as `i64`).
    pub fn sum(&self) -> AnyScalar {
        scalar(with_numeric!(self, x => x.sum().into_array()))
    }

    /// The product of all elements.
    pub fn prod(&self) -> AnyScalar {
        scalar(with_numeric!(self, x => x.prod().into_array()))
    }

    /// The mean, as `f64` (as [`crate::Array::mean`]).
    pub fn mean(&self) -> AnyScalar {
        scalar(with_numeric!(self, x => x.mean().into_array()))
    }

    /// The variance with `ddof` delta degrees of freedom, as `f64`.
    pub fn var(&self, ddof: f64) -> AnyScalar {
        scalar(with_numeric!(self, x => x.var(ddof).into_array()))
    }

    /// The standard deviation with `ddof` delta degrees of freedom, as `f64`.
    pub fn std(&self, ddof: f64) -> AnyScalar {
        scalar(with_numeric!(self, x => x.std(ddof).into_array()))
    }

    /// The minimum (NaN if any element is NaN; `all` for bools); an empty array's error is
    /// reported when computed.
    pub fn min(&self) -> AnyScalar {
        scalar(
            self.min_with(&ReduceOptions::all())
                .unwrap_or_else(|e| AnyArray::invalid(e, self.dtype())),
        )
    }

    /// The maximum (NaN if any element is NaN; `any` for bools).
    pub fn max(&self) -> AnyScalar {
        scalar(
            self.max_with(&ReduceOptions::all())
                .unwrap_or_else(|e| AnyArray::invalid(e, self.dtype())),
        )
    }

    /// Whether any element is non-zero.
    pub fn any(&self) -> AnyScalar {
        scalar(self.cast::<bool>().any().into_array().into())
    }

    /// Whether every element is non-zero.
    pub fn all(&self) -> AnyScalar {
        scalar(self.cast::<bool>().all().into_array().into())
    }

    /// The number of non-zero elements, as `i64`.
    pub fn count_nonzero(&self) -> AnyScalar {
        scalar(with_typed!(self, x => x.count_nonzero().into_array().into()))
    }

    /// The sum, NaN counted as zero (the plain sum for integers and bools).
    pub fn nansum(&self) -> AnyScalar {
        scalar(nan_or!(self, x => x.nansum().into_array(), x.sum().into_array()))
    }

    /// The mean of the non-NaN elements, as `f64`.
    pub fn nanmean(&self) -> AnyScalar {
        scalar(nan_or!(self, x => x.nanmean().into_array(), x.mean().into_array()))
    }

    /// The standard deviation of the non-NaN elements, as `f64`.
    pub fn nanstd(&self, ddof: f64) -> AnyScalar {
        scalar(nan_or!(self, x => x.nanstd(ddof).into_array(), x.std(ddof).into_array()))
    }

    /// The flat index of the largest element (NumPy's `argmax`).
    ///
    /// # Errors
    /// As [`crate::Array::argmax`]: an empty array.
    pub fn argmax(&self) -> Result<AnyScalar> {
        Ok(scalar(with_numeric!(self, x => x.argmax()?.into_array())))
    }

    /// The flat index of the smallest element (NumPy's `argmin`).
    ///
    /// # Errors
    /// As [`crate::Array::argmin`].
    pub fn argmin(&self) -> Result<AnyScalar> {
        Ok(scalar(with_numeric!(self, x => x.argmin()?.into_array())))
    }

    /// The sum over the axes in `opts`.
    ///
    /// # Errors
    /// As [`crate::Array::sum_with`].
    pub fn sum_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        Ok(with_numeric!(self, x => x.sum_with(opts)?))
    }

    /// The mean over the axes in `opts`, as `f64`.
    ///
    /// # Errors
    /// As [`crate::Array::sum_with`].
    pub fn mean_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        Ok(with_numeric!(self, x => x.mean_with(opts)?))
    }

    /// The product over the axes in `opts`.
    ///
    /// # Errors
    /// As [`crate::Array::sum_with`].
    pub fn prod_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        Ok(with_numeric!(self, x => x.prod_with(opts)?))
    }

    /// The variance over the axes in `opts`, as `f64`.
    ///
    /// # Errors
    /// As [`crate::Array::sum_with`].
    pub fn var_with(&self, opts: &ReduceOptions, ddof: f64) -> Result<AnyArray> {
        Ok(with_numeric!(self, x => x.var_with(opts, ddof)?))
    }

    /// The standard deviation over the axes in `opts`, as `f64`.
    ///
    /// # Errors
    /// As [`crate::Array::sum_with`].
    pub fn std_with(&self, opts: &ReduceOptions, ddof: f64) -> Result<AnyArray> {
        Ok(with_numeric!(self, x => x.std_with(opts, ddof)?))
    }

    /// The minimum over the axes in `opts` (`all` for bools).
    ///
    /// # Errors
    /// As [`crate::Array::min_with`]: an empty axis has no minimum.
    pub fn min_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        self.extreme(opts, false)
    }

    /// The maximum over the axes in `opts` (`any` for bools).
    ///
    /// # Errors
    /// As [`crate::Array::max_with`].
    pub fn max_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        self.extreme(opts, true)
    }

    fn extreme(&self, opts: &ReduceOptions, max: bool) -> Result<AnyArray> {
        self.check()?;
        if self.dtype() == DType::Bool {
            let x = self.cast::<bool>();
            x.nonempty(if max { "max" } else { "min" }, opts)?;
            return Ok(if max {
                x.any_with(opts)?
            } else {
                x.all_with(opts)?
            }
            .into());
        }
        Ok(with_numeric!(self, x => if max { x.max_with(opts)? } else { x.min_with(opts)? }))
    }

    /// Whether any element is non-zero, over the axes in `opts`.
    ///
    /// # Errors
    /// As [`crate::Array::sum_with`].
    pub fn any_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        Ok(self.cast::<bool>().any_with(opts)?.into())
    }

    /// Whether every element is non-zero, over the axes in `opts`.
    ///
    /// # Errors
    /// As [`crate::Array::sum_with`].
    pub fn all_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        Ok(self.cast::<bool>().all_with(opts)?.into())
    }

    /// The index of the largest element along the axis in `opts` (or the flat index).
    ///
    /// # Errors
    /// As [`crate::Array::argmax_with`].
    pub fn argmax_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        Ok(with_numeric!(self, x => x.argmax_with(opts)?))
    }

    /// The index of the smallest element along the axis in `opts` (or the flat index).
    ///
    /// # Errors
    /// As [`crate::Array::argmin_with`].
    pub fn argmin_with(&self, opts: &ReduceOptions) -> Result<AnyArray> {
        Ok(with_numeric!(self, x => x.argmin_with(opts)?))
    }

    /// Sums along `axis`.
    ///
    /// # Errors
    /// [`ndtask_core::Error::Axis`] if `axis` is out of range.
    pub fn sum_axis(&self, axis: usize) -> Result<AnyArray> {
        self.sum_with(&ReduceOptions::axes([axis]))
    }

    /// Means along `axis`, as `f64`.
    ///
    /// # Errors
    /// [`ndtask_core::Error::Axis`] if `axis` is out of range.
    pub fn mean_axis(&self, axis: usize) -> Result<AnyArray> {
        self.mean_with(&ReduceOptions::axes([axis]))
    }

    /// Selects a sub-array (as [`crate::Array::slice`]).
    ///
    /// # Errors
    /// As [`crate::Array::slice`].
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.slice(info)?.into()))
    }

    /// The array cut into other chunks (as [`crate::Array::rechunk`]).
    ///
    /// # Errors
    /// As [`crate::Array::rechunk`].
    pub fn rechunk(&self, chunks: impl Into<Chunks>) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.rechunk(chunks)?.into()))
    }

    /// The transpose (axes reversed).
    pub fn t(&self) -> AnyArray {
        with_typed!(self, x => x.t().into())
    }

    /// The axes in the order `perm`.
    ///
    /// # Errors
    /// As [`crate::Array::permuted_axes`].
    pub fn permuted_axes(&self, perm: &[usize]) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.permuted_axes(perm)?.into()))
    }

    /// The array with another shape of as many elements (as [`crate::Array::reshape`]).
    ///
    /// # Errors
    /// As [`crate::Array::reshape`].
    pub fn reshape(&self, shape: impl AsRef<[usize]>) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.reshape(shape)?.into()))
    }

    /// A new axis of length 1 at `axis`.
    ///
    /// # Errors
    /// As [`crate::Array::expand_dims`].
    pub fn expand_dims(&self, axis: usize) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.expand_dims(axis)?.into()))
    }

    /// Drops axes of length 1 (all of them, or those in `axes`).
    ///
    /// # Errors
    /// As [`crate::Array::squeeze`].
    pub fn squeeze(&self, axes: Option<&[usize]>) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.squeeze(axes)?.into()))
    }

    /// The array broadcast to `shape`, cut into `chunks`.
    ///
    /// # Errors
    /// As [`crate::Array::broadcast_to`].
    pub fn broadcast_to(
        &self,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
    ) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.broadcast_to(shape, chunks)?.into()))
    }

    /// Computes the chunks once and keeps them (as [`crate::Array::persist`]).
    ///
    /// # Errors
    /// As [`AnyArray::compute`].
    pub fn persist(&self) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.persist()?.into()))
    }

    /// [`AnyArray::persist`] with `config`.
    ///
    /// # Errors
    /// As [`AnyArray::compute`].
    pub fn persist_with(&self, config: &Config) -> Result<AnyArray> {
        with_typed!(self, x => Ok(x.persist_with(config)?.into()))
    }

    /// The lazy write of the array to an `.npy` file of its element type (as
    /// [`crate::Array::to_npy`]).
    ///
    /// # Errors
    /// As [`crate::Array::to_npy`].
    pub fn to_npy(&self, path: impl AsRef<Path>) -> Result<Write> {
        with_typed!(self, x => x.to_npy(path))
    }
}
