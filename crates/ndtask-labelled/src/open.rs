//! Opening a dataset: which format a path holds (a NetCDF-3 file; a NetCDF-4 file with the
//! `netcdf` feature; a Zarr group with the `zarr` feature), and the reader of that format.

use crate::dataset::Dataset;
use crate::io::{open_netcdf3, ChunkSpec};
use crate::netcdf3::is_netcdf3;
use ndtask_core::{Error, Result};
use std::path::Path;

/// Opens a dataset lazily: a NetCDF-3 file, a NetCDF-4 file (with the `netcdf` feature) or a
/// Zarr group (with the `zarr` feature), decoded as Xarray decodes by default (CF fill values,
/// scale and offset, time units), chunked by `chunks`. Only the chunks a computation needs are
/// read, when it runs.
///
/// # Errors
/// [`Error::Io`] naming the path for a file that is missing, not a dataset, truncated or
/// corrupt (naming the variable); [`Error::InvalidArgument`] for a `chunks` entry naming a
/// dimension the dataset does not have.
pub fn open_dataset(path: impl AsRef<Path>, chunks: ChunkSpec<'_>) -> Result<Dataset> {
    let path = path.as_ref();
    if path.is_dir() {
        return open_dir(path, chunks);
    }
    let mut head = [0u8; 8];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("opening the dataset {}", path.display()), e))?;
        let n = f
            .read(&mut head)
            .map_err(|e| Error::io(format!("reading the dataset {}", path.display()), e))?;
        if n < 4 {
            return Err(Error::io(
                format!("opening the dataset {}", path.display()),
                format!("the file has {n} bytes: it is not NetCDF"),
            ));
        }
    }
    if is_netcdf3(&head) {
        return open_netcdf3(path, chunks);
    }
    if &head == b"\x89HDF\r\n\x1a\n" {
        return open_hdf5(path, chunks);
    }
    Err(Error::io(
        format!("opening the dataset {}", path.display()),
        "the file is neither NetCDF-3 (CDF) nor NetCDF-4 (HDF5)",
    ))
}

#[cfg(feature = "netcdf")]
fn open_hdf5(path: &Path, chunks: ChunkSpec<'_>) -> Result<Dataset> {
    crate::netcdf4::open(path, chunks)
}

#[cfg(not(feature = "netcdf"))]
fn open_hdf5(path: &Path, _chunks: ChunkSpec<'_>) -> Result<Dataset> {
    Err(Error::InvalidArgument(format!(
        "{} is NetCDF-4 (HDF5): reading it needs ndtask's `netcdf` feature (and the system \
         libnetcdf), or convert it to NetCDF-3 (`nccopy -k cdf5`) or Zarr",
        path.display()
    )))
}

#[cfg(feature = "zarr")]
fn open_dir(path: &Path, chunks: ChunkSpec<'_>) -> Result<Dataset> {
    crate::zarr::open(path, chunks)
}

#[cfg(not(feature = "zarr"))]
fn open_dir(path: &Path, _chunks: ChunkSpec<'_>) -> Result<Dataset> {
    Err(Error::InvalidArgument(format!(
        "{} is a directory: Zarr stores need ndtask's `zarr` feature",
        path.display()
    )))
}
