//! Values that flow between tasks. A [`Chunk`] is one task's result: a block of an array, or a
//! reduction's partial state (a tuple of arrays). A [`Buf`] is a tile: a short run of elements
//! that a fused kernel passes from one operator to the next while it streams through a chunk.
//! Chunks can be encoded to bytes and back, which is how the MPI scheduler moves them.

use crate::{DType, Error, Result};
use ndarray::{ArrayD, IxDyn};

/// The number of elements in a tile: small enough that the tiles of a whole fused expression
/// stay in L1/L2 cache, large enough that per-tile dispatch costs nothing measurable.
pub const TILE: usize = 1024;

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
    ($c:expr, $a:ident => $e:expr, $t:ident => $te:expr) => {
        match $c {
            Chunk::F64($a) => $e,
            Chunk::F32($a) => $e,
            Chunk::I64($a) => $e,
            Chunk::Bool($a) => $e,
            Chunk::Tuple($t) => $te,
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
            Chunk::Tuple(_) => None,
        }
    }

    /// The shape of the array (of the first part, for a tuple).
    pub fn shape(&self) -> &[usize] {
        each_array!(self, a => a.shape(), t => t.first().map_or(&[], |p| p.shape()))
    }

    /// Bytes held by the chunk's elements.
    pub fn nbytes(&self) -> usize {
        each_array!(self, a => a.len() * std::mem::size_of_val(a.first().unwrap_or(&Default::default())),
            t => t.iter().map(Chunk::nbytes).sum())
    }

    /// Encodes the chunk as bytes (native endianness: for peers running the same build).
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn header(out: &mut Vec<u8>, tag: u8, shape: &[usize]) {
            out.push(tag);
            out.extend_from_slice(&(shape.len() as u64).to_ne_bytes());
            for &s in shape {
                out.extend_from_slice(&(s as u64).to_ne_bytes());
            }
        }
        match self {
            Chunk::F64(a) => {
                header(out, 0, a.shape());
                a.iter()
                    .for_each(|v| out.extend_from_slice(&v.to_ne_bytes()));
            }
            Chunk::F32(a) => {
                header(out, 1, a.shape());
                a.iter()
                    .for_each(|v| out.extend_from_slice(&v.to_ne_bytes()));
            }
            Chunk::I64(a) => {
                header(out, 2, a.shape());
                a.iter()
                    .for_each(|v| out.extend_from_slice(&v.to_ne_bytes()));
            }
            Chunk::Bool(a) => {
                header(out, 3, a.shape());
                out.extend(a.iter().map(|&b| b as u8));
            }
            Chunk::Tuple(parts) => {
                out.push(4);
                out.extend_from_slice(&(parts.len() as u64).to_ne_bytes());
                parts.iter().for_each(|p| p.encode(out));
            }
        }
    }

    /// Decodes a chunk written by [`Chunk::encode`], returning it and the bytes that follow.
    ///
    /// # Errors
    /// [`Error::Internal`] if the bytes are not a chunk encoding.
    pub fn decode(bytes: &[u8]) -> Result<(Chunk, &[u8])> {
        let bad = || Error::internal("malformed chunk encoding");
        let (&tag, mut rest) = bytes.split_first().ok_or_else(bad)?;
        let word = |rest: &mut &[u8]| -> Result<usize> {
            let (w, r) = rest.split_at_checked(8).ok_or_else(bad)?;
            *rest = r;
            let arr: [u8; 8] = w.try_into().map_err(|_| bad())?;
            Ok(u64::from_ne_bytes(arr) as usize)
        };
        if tag == 4 {
            let n = word(&mut rest)?;
            let mut parts = Vec::with_capacity(n);
            for _ in 0..n {
                let (p, r) = Chunk::decode(rest)?;
                parts.push(p);
                rest = r;
            }
            return Ok((Chunk::Tuple(parts), rest));
        }
        let ndim = word(&mut rest)?;
        let shape = (0..ndim)
            .map(|_| word(&mut rest))
            .collect::<Result<Vec<_>>>()?;
        let len: usize = shape.iter().product();
        let width = match tag {
            0 | 2 => 8,
            1 => 4,
            3 => 1,
            _ => return Err(bad()),
        };
        let (data, rest) = rest.split_at_checked(len * width).ok_or_else(bad)?;
        let buf = match tag {
            0 => Buf::F64(
                data.chunks_exact(8)
                    .map(|w| f64::from_ne_bytes(to8(w)))
                    .collect(),
            ),
            1 => Buf::F32(
                data.chunks_exact(4)
                    .map(|w| f32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
                    .collect(),
            ),
            2 => Buf::I64(
                data.chunks_exact(8)
                    .map(|w| i64::from_ne_bytes(to8(w)))
                    .collect(),
            ),
            _ => Buf::Bool(data.iter().map(|&b| b != 0).collect()),
        };
        let chunk = buf.into_chunk(&shape)?;
        Ok((chunk, rest))
    }
}

fn to8(w: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(w);
    a
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

    /// Replaces the contents with `src[start..start + n]` of a chunk of the same type.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ.
    pub fn load_from(&mut self, src: &Chunk, start: usize, n: usize) -> Result<()> {
        fn copy<T: Copy>(dst: &mut Vec<T>, a: &ArrayD<T>, start: usize, n: usize) {
            dst.clear();
            match a.as_slice() {
                Some(s) => dst.extend_from_slice(&s[start..start + n]),
                None => dst.extend(a.iter().skip(start).take(n).copied()),
            }
        }
        match (&mut *self, src) {
            (Buf::F64(d), Chunk::F64(a)) => copy(d, a, start, n),
            (Buf::F32(d), Chunk::F32(a)) => copy(d, a, start, n),
            (Buf::I64(d), Chunk::I64(a)) => copy(d, a, start, n),
            (Buf::Bool(d), Chunk::Bool(a)) => copy(d, a, start, n),
            (d, a) => {
                return Err(Error::internal(format!(
                    "cannot load a {:?} chunk into a {} tile",
                    a.dtype(),
                    d.dtype()
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
    fn encode_roundtrip() {
        let a = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.5, -2.0, 3.0, 4.0, 5.0, f64::NAN])
            .unwrap();
        let c = Chunk::Tuple(vec![
            Chunk::F64(a),
            Chunk::Bool(ArrayD::from_elem(IxDyn(&[3]), true)),
            Chunk::I64(ArrayD::from_elem(IxDyn(&[]), -7)),
            Chunk::F32(ArrayD::from_elem(IxDyn(&[1, 2]), 0.25)),
        ]);
        let mut bytes = Vec::new();
        c.encode(&mut bytes);
        let (d, rest) = Chunk::decode(&bytes).unwrap();
        assert!(rest.is_empty());
        let mut again = Vec::new();
        d.encode(&mut again);
        assert_eq!(bytes, again);
        assert!(Chunk::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
