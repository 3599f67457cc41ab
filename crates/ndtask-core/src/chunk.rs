//! Values that flow between tasks. A [`Chunk`] is one task's result: a block of an array, or a
//! reduction's partial state (a tuple of arrays). A [`Buf`] is a tile: a short run of elements
//! that a fused kernel passes from one operator to the next while it streams through a chunk.
//! Chunks can be encoded to bytes and back, which is how the MPI scheduler moves them.

use crate::dtype::DType;
use crate::value::Value;
use crate::{try_vec, Error, Result};
use ndarray::{ArrayD, IxDyn};

/// The number of elements in a tile: small enough that the tiles of a whole fused expression
/// stay in L1/L2 cache, large enough that per-tile dispatch costs nothing measurable.
pub const TILE: usize = 1024;

/// The tile length for a chunk of `shape`: whole rows (runs of the last axis) when a row is
/// at most a [`TILE`], so that a tile never ends inside a row: a source then makes each tile
/// in one run of consecutive elements, and a broadcast row fills it the same way every time;
/// [`TILE`] otherwise. Everything that folds a chunk tile by tile uses it, so a fused and a
/// materialised chunk fold alike.
pub fn tile_len(shape: &[usize]) -> usize {
    match shape.last() {
        Some(&row) if row > 0 && row <= TILE => TILE / row * row,
        _ => TILE,
    }
}

/// One task's result.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Chunk {
    /// A block of `f64`.
    F64(ArrayD<f64>),
    /// A block of `f32`.
    F32(ArrayD<f32>),
    /// A block of `i64`.
    I64(ArrayD<i64>),
    /// A block of `bool`.
    Bool(ArrayD<bool>),
    /// Several arrays, e.g. the (sum, count) partial state of a mean.
    Tuple(Vec<Chunk>),
    /// A value that is not an array: a `delayed` task's result, a bag's partition.
    Value(Value),
}

/// A tile of values of one element type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Buf {
    /// `f64` values.
    F64(Vec<f64>),
    /// `f32` values.
    F32(Vec<f32>),
    /// `i64` values.
    I64(Vec<i64>),
    /// `bool` values.
    Bool(Vec<bool>),
}

macro_rules! each_array {
    ($c:expr, $a:ident => $e:expr, $t:ident => $te:expr, value => $ve:expr) => {
        match $c {
            Chunk::F64($a) => $e,
            Chunk::F32($a) => $e,
            Chunk::I64($a) => $e,
            Chunk::Bool($a) => $e,
            Chunk::Tuple($t) => $te,
            Chunk::Value(_) => $ve,
        }
    };
}

impl Chunk {
    /// The element type, or `None` for a tuple.
    pub fn dtype(&self) -> Option<DType> {
        match self {
            Chunk::F64(_) => Some(DType::F64),
            Chunk::F32(_) => Some(DType::F32),
            Chunk::I64(_) => Some(DType::I64),
            Chunk::Bool(_) => Some(DType::Bool),
            Chunk::Tuple(_) | Chunk::Value(_) => None,
        }
    }

    /// The shape of the array (of the first part, for a tuple; none for a value).
    pub fn shape(&self) -> &[usize] {
        each_array!(self, a => a.shape(), t => t.first().map_or(&[], |p| p.shape()), value => &[])
    }

    /// A copy of the chunk in standard (C-contiguous) layout; parts of a tuple too.
    pub fn to_standard_layout(&self) -> Chunk {
        match self {
            Chunk::F64(a) => Chunk::F64(a.as_standard_layout().into_owned()),
            Chunk::F32(a) => Chunk::F32(a.as_standard_layout().into_owned()),
            Chunk::I64(a) => Chunk::I64(a.as_standard_layout().into_owned()),
            Chunk::Bool(a) => Chunk::Bool(a.as_standard_layout().into_owned()),
            Chunk::Tuple(t) => Chunk::Tuple(t.iter().map(Chunk::to_standard_layout).collect()),
            Chunk::Value(v) => Chunk::Value(v.clone()),
        }
    }

    /// Whether the elements are one contiguous slice in C order (every part's, for a tuple).
    pub fn is_standard_layout(&self) -> bool {
        each_array!(self, a => a.is_standard_layout(),
            t => t.iter().all(Chunk::is_standard_layout), value => true)
    }

    /// The chunk in standard (C-contiguous) layout: itself when it is already, a copy
    /// otherwise.
    pub fn into_standard_layout(self) -> Chunk {
        match self.is_standard_layout() {
            true => self,
            false => self.to_standard_layout(),
        }
    }

    /// Bytes held by the chunk's elements.
    pub fn nbytes(&self) -> usize {
        each_array!(self, a => a.len() * std::mem::size_of_val(a.first().unwrap_or(&Default::default())),
        t => t.iter().map(Chunk::nbytes).sum(), value => match self {
            Chunk::Value(v) => v.nbytes(),
            _ => 0,
        })
    }
}

impl Buf {
    /// The element type of the tile.
    pub fn dtype(&self) -> DType {
        match self {
            Buf::F64(_) => DType::F64,
            Buf::F32(_) => DType::F32,
            Buf::I64(_) => DType::I64,
            Buf::Bool(_) => DType::Bool,
        }
    }

    /// Appends the first `n` values of `tile` (same type) to `self`.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ.
    pub fn extend_from(&mut self, tile: &Buf, n: usize) -> Result<()> {
        let have = match tile {
            Buf::F64(b) => b.len(),
            Buf::F32(b) => b.len(),
            Buf::I64(b) => b.len(),
            Buf::Bool(b) => b.len(),
        };
        if n > have {
            return Err(Error::internal(format!(
                "taking {n} values of a tile of {have}"
            )));
        }
        match (self, tile) {
            (Buf::F64(a), Buf::F64(b)) => a.extend_from_slice(&b[..n]),
            (Buf::F32(a), Buf::F32(b)) => a.extend_from_slice(&b[..n]),
            (Buf::I64(a), Buf::I64(b)) => a.extend_from_slice(&b[..n]),
            (Buf::Bool(a), Buf::Bool(b)) => a.extend_from_slice(&b[..n]),
            (a, b) => {
                return Err(Error::internal(format!(
                    "tile type mismatch: {} vs {}",
                    a.dtype(),
                    b.dtype()
                )))
            }
        }
        Ok(())
    }

    /// Turns the collected values into a chunk of the given shape.
    ///
    /// # Errors
    /// [`Error::Internal`] if the number of values does not match the shape.
    pub fn into_chunk(self, shape: &[usize]) -> Result<Chunk> {
        let sh = IxDyn(shape);
        let e = |e: ndarray::ShapeError| Error::internal(format!("chunk of shape {shape:?}: {e}"));
        Ok(match self {
            Buf::F64(v) => Chunk::F64(ArrayD::from_shape_vec(sh, v).map_err(e)?),
            Buf::F32(v) => Chunk::F32(ArrayD::from_shape_vec(sh, v).map_err(e)?),
            Buf::I64(v) => Chunk::I64(ArrayD::from_shape_vec(sh, v).map_err(e)?),
            Buf::Bool(v) => Chunk::Bool(ArrayD::from_shape_vec(sh, v).map_err(e)?),
        })
    }

    /// A buffer of the given type with room for `cap` values, or [`Error::Memory`] naming
    /// `what` if that cannot be allocated.
    ///
    /// # Errors
    /// [`Error::Memory`] if the allocation fails.
    pub fn try_with_capacity(
        dtype: DType,
        cap: usize,
        what: impl std::fmt::Display,
    ) -> Result<Buf> {
        Ok(match dtype {
            DType::F64 => Buf::F64(try_vec(cap, what)?),
            DType::F32 => Buf::F32(try_vec(cap, what)?),
            DType::I64 => Buf::I64(try_vec(cap, what)?),
            DType::Bool => Buf::Bool(try_vec(cap, what)?),
        })
    }

    /// A buffer of the given type with room for `cap` values.
    pub fn with_capacity(dtype: DType, cap: usize) -> Buf {
        match dtype {
            DType::F64 => Buf::F64(Vec::with_capacity(cap)),
            DType::F32 => Buf::F32(Vec::with_capacity(cap)),
            DType::I64 => Buf::I64(Vec::with_capacity(cap)),
            DType::Bool => Buf::Bool(Vec::with_capacity(cap)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_whole_rows_when_a_row_fits() {
        assert_eq!(tile_len(&[1000, 1000]), 1000);
        assert_eq!(tile_len(&[7, 300]), 900);
        assert_eq!(tile_len(&[3, 1024]), 1024);
        assert_eq!(tile_len(&[3, 1025]), TILE);
        assert_eq!(tile_len(&[10, 1]), TILE);
        assert_eq!(tile_len(&[10, 0]), TILE);
        assert_eq!(tile_len(&[]), TILE);
        assert_eq!(tile_len(&[1_000_000]), TILE);
    }
}
