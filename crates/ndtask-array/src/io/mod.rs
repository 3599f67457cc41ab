//! Reading and writing data, and keeping it: `.npy` files ([`npy`]), Zarr stores ([`zarr`],
//! feature `zarr`), the sink extension point every write goes through ([`sink`]), staging a
//! rechunk through a temporary file ([`rechunk_through`]) and keeping computed chunks
//! ([`persist`]). Sources are read through the plan's `ChunkReader`s; writes are lazy values
//! ([`crate::Write`]) until computed.

pub(crate) mod npy;
pub(crate) mod persist;
pub(crate) mod rechunk_through;
pub(crate) mod sink;
#[cfg(feature = "zarr")]
pub(crate) mod zarr;
