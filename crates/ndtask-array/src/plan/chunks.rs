//! Helpers for chunk values that every stage uses: typed views, fallible allocation, element
//! type dispatch, sizes for people.

use ndarray::{ArrayD, IxDyn};
use ndtask_core::{try_filled, Chunk, DType, Element, Error, Result};

/// The array inside an input chunk, or an internal error.
pub(crate) fn typed<'c, T: Element>(c: &'c Chunk, what: &str) -> Result<&'c ArrayD<T>> {
    T::chunk_ref(c).ok_or_else(|| {
        Error::internal(format!(
            "{what}: expected a {} chunk, got {:?}",
            T::DTYPE,
            c.dtype()
        ))
    })
}

/// A new array of `shape` filled with the default value, or [`Error::Memory`] naming `what`.
pub(crate) fn try_array<T: Element>(shape: &[usize], what: &str) -> Result<ArrayD<T>> {
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::Memory(format!("{what}: a chunk of shape {shape:?} overflows")))?;
    let v = try_filled(
        n,
        T::default(),
        format_args!("{what} (a chunk of shape {shape:?})"),
    )?;
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(Error::internal)
}

/// Runs `$e` with the type alias `$T` bound to the Rust type of the run-time dtype `$d`.
macro_rules! dispatch_dtype {
    ($d:expr, $T:ident => $e:expr) => {
        match $d {
            ndtask_core::DType::F64 => {
                type $T = f64;
                $e
            }
            ndtask_core::DType::F32 => {
                type $T = f32;
                $e
            }
            ndtask_core::DType::I64 => {
                type $T = i64;
                $e
            }
            ndtask_core::DType::Bool => {
                type $T = bool;
                $e
            }
        }
    };
}
pub(crate) use dispatch_dtype;

/// The error for a tile of the wrong type reaching a kernel (a bug: types are checked when the
/// expression is built).
pub(crate) fn tile_type_error(kernel: &str, want: DType, got: DType) -> Error {
    Error::internal(format!("{kernel}: expected a {want} tile, got {got}"))
}

pub(crate) use ndtask_core::human_bytes;
