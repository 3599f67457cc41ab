//! # ndtask-labelled: labelled arrays and datasets
//!
//! Xarray's model on ndtask: a [`DataArray`] is a lazy ndtask array whose dimensions have
//! names, with coordinates (labels along dimensions), attributes and a name; a [`Dataset`] is
//! named data variables over shared dimensions and coordinates. Both are computed by the same
//! protocol and schedulers as every ndtask collection (sync, threaded, MPI), and print like
//! Xarray's repr without computing.
//!
//! - Open: [`open_dataset`] reads NetCDF-3 (classic, 64-bit offset, CDF-5; pure Rust),
//!   NetCDF-4 (feature `netcdf`, the system libnetcdf) and Zarr v2/v3 groups as Xarray writes
//!   them (feature `zarr`), decoding CF conventions as Xarray does by default (masking, packed
//!   integers, time units); only the bytes a chunk needs are read.
//! - By name: [`DataArray::isel`], [`DataArray::sel`] (exact, nearest with a tolerance, label
//!   slices, partial datetime strings such as `"2013-05"`), reductions over named dimensions,
//!   arithmetic aligned by dimension name (coordinates that disagree are an error naming the
//!   dimension), `where`, `transpose`, `rename`, `assign_coords`, `chunk`.
//! - Group-wise: [`DataArray::groupby`] over a coordinate or a datetime component
//!   (`"time.month"`, `"time.season"`), [`DataArray::resample`], [`DataArray::rolling`], with
//!   group-wise arithmetic for anomalies; one task per input chunk plus a short merge tree.
//! - Write: [`Dataset::to_netcdf`] (NetCDF-3) and `Dataset::to_zarr` (feature `zarr`, formats
//!   2 and 3), lazily: one task writes the header, each chunk is written by the task that
//!   computed it.
//!
//! ```
//! use ndtask_labelled::{Coordinate, DataArray, Labels};
//! let t: Vec<i64> = (0..8).map(|d| ndtask_labelled::time::parse("2013-01-30").unwrap().0 + d * ndtask_labelled::time::DAY).collect();
//! let x = ndtask_array::arange(0.0, 8.0, 1.0, [3])?;
//! let da = DataArray::new(x, &["time"])?.with_coord("time", Coordinate::new("time", Labels::Time(t)))?;
//! let monthly = da.groupby("time.month")?.mean()?;
//! assert_eq!(monthly.dims(), ["month"]);
//! assert_eq!(monthly.to_f64()?.into_raw_vec_and_offset().0, vec![0.5, 4.5]);
//! # Ok::<(), ndtask_core::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attrs;
pub mod cf;
pub mod coords;
mod dataarray;
mod dataset;
mod groupby;
mod io;
mod netcdf3;
#[cfg(feature = "netcdf")]
mod netcdf4;
mod open;
mod repr;
pub mod time;
#[cfg(feature = "zarr")]
mod zarr;

pub use attrs::{AttrValue, Attrs};
pub use coords::{Coordinate, Coords, Label, Labels};
pub use dataarray::{Arith, DataArray, Isel, Method, Operand, Reduce, Sel};
pub use dataset::{Dataset, DatasetGroupBy, DatasetOperand};
pub use groupby::{GroupBy, Rolling};
pub use io::ChunkSpec;
pub use ndtask_array::{GroupArith, RollingReduce};
pub use open::open_dataset;
