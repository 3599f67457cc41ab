//! # ndtask-bag: delayed tasks and bags of records
//!
//! ndtask's collections beside arrays, computed by the same schedulers (sync, threaded, MPI)
//! with the same promises: lazy until `compute`, errors not panics, the same result on every
//! scheduler, thread count and rank count.
//!
//! - [`delayed`]: any function call as a lazy task ([`Delayed`], Dask's `dask.delayed`),
//!   reading other delayed values, scalars, array chunks or whole arrays.
//! - [`Bag`]: a partitioned lazy collection of records (Dask's `dask.bag`): `map`, `filter`,
//!   `fold`, `frequencies`, `foldby`, text files in and out, JSON lines.
//!
//! A value that crosses MPI ranks travels as its serde encoding (MessagePack): bag items and
//! [`delayed::delayed`] results must be [`Data`] (serde types), checked at compile time;
//! [`delayed::delayed_local`] makes a value of any type, which fails the run with an error
//! naming its type if another rank needs it.
//!
//! ```
//! use ndtask_bag::Bag;
//! #[derive(serde::Serialize, serde::Deserialize, Clone)]
//! struct Person { name: String, age: u32 }
//! let people = Bag::from_vec(vec![
//!     Person { name: "Ada".into(), age: 36 },
//!     Person { name: "Alan".into(), age: 41 },
//!     Person { name: "Grace".into(), age: 29 },
//! ], 2)?;
//! let over_30 = people.filter(|p| p.age > 30).count();
//! let mean_age = people.map(|p| p.age as f64).mean();
//! let (n, mean) = ndtask_array::compute((&over_30, &mean_age))?;
//! assert_eq!((n, mean), (2, (36.0 + 41.0 + 29.0) / 3.0));
//! # Ok::<(), ndtask_core::Error>(())
//! ```

mod bag;
pub mod delayed;
mod files;
mod layer;
mod text;

pub use bag::{from_array, Bag, Key, SPLIT_EVERY};
pub use delayed::Delayed;
pub use layer::Data;

/// A value through the encoding that carries it between MPI ranks, for tests.
#[doc(hidden)]
pub fn __roundtrip<T: Data>(v: &T) -> ndtask_core::Result<T> {
    let bytes = layer::encode::<T>(v)?;
    layer::decode::<T>(&bytes)
}
pub use files::ReadText;
pub use text::{read_text, read_text_with};
