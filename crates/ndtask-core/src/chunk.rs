//! Values that flow between tasks. A [`Chunk`] is one task's result: a block of an array, or a
//! reduction's partial state (a tuple of arrays). A [`Buf`] is a tile: a short run of elements
//! that a fused kernel passes from one operator to the next while it streams through a chunk.
//! Chunks can be encoded to bytes and back, which is how the MPI scheduler moves them.

use crate::value::Value;
use crate::{try_vec, DType, Error, Result};
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
            // A value's encoding, or (one made without an encoder) a tag that decodes to an
            // error naming its type.
            Chunk::Value(v) => match v.encoded() {
                Ok(bytes) => {
                    out.push(5);
                    out.extend_from_slice(&(bytes.len() as u64).to_ne_bytes());
                    out.extend_from_slice(&bytes);
                }
                Err(_) => {
                    out.push(6);
                    out.extend_from_slice(&(v.type_name().len() as u64).to_ne_bytes());
                    out.extend_from_slice(v.type_name().as_bytes());
                }
            },
        }
    }

    /// Decodes a chunk written by [`Chunk::encode`], returning it and the bytes that follow.
    ///
    /// Every count in the header is checked against the bytes that are there before anything
    /// is allocated, so a malformed or truncated message is an error, never an abort.
    ///
    /// # Errors
    /// [`Error::Internal`] if the bytes are not a chunk encoding (naming what is wrong).
    pub fn decode(bytes: &[u8]) -> Result<(Chunk, &[u8])> {
        Self::decode_at(bytes, 0)
    }

    fn decode_at(bytes: &[u8], depth: usize) -> Result<(Chunk, &[u8])> {
        /// Tuples are partial states: one level, a few parts.
        const MAX_DEPTH: usize = 4;
        /// ndarray's dynamic dimensions have no limit, but no chunk has more than a few axes.
        const MAX_NDIM: usize = 64;
        let bad = |what: String| Error::internal(format!("malformed chunk encoding: {what}"));
        let (&tag, mut rest) = bytes.split_first().ok_or_else(|| bad("no bytes".into()))?;
        let word = |rest: &mut &[u8]| -> Result<usize> {
            let (w, r) = rest
                .split_at_checked(8)
                .ok_or_else(|| bad("truncated header".into()))?;
            *rest = r;
            let arr: [u8; 8] = w.try_into().map_err(|_| bad("truncated header".into()))?;
            usize::try_from(u64::from_ne_bytes(arr)).map_err(|_| bad("count beyond usize".into()))
        };
        if tag == 4 {
            let n = word(&mut rest)?;
            // Every part takes at least 9 bytes (a tag and a count).
            if depth >= MAX_DEPTH || n > rest.len() / 9 {
                return Err(bad(format!(
                    "a tuple of {n} parts in {} bytes at depth {depth}",
                    rest.len()
                )));
            }
            let mut parts = Vec::with_capacity(n);
            for _ in 0..n {
                let (p, r) = Chunk::decode_at(rest, depth + 1)?;
                parts.push(p);
                rest = r;
            }
            return Ok((Chunk::Tuple(parts), rest));
        }
        if tag == 5 || tag == 6 {
            let n = word(&mut rest)?;
            let (data, rest) = rest
                .split_at_checked(n)
                .ok_or_else(|| bad(format!("a value of {n} bytes in {}", rest.len())))?;
            if tag == 6 {
                return Err(bad(format!(
                    "a value of type {} that has no serialisation",
                    String::from_utf8_lossy(data)
                )));
            }
            return Ok((Chunk::Value(Value::from_bytes(data.to_vec())), rest));
        }
        let width = match tag {
            0 | 2 => 8,
            1 => 4,
            3 => 1,
            t => return Err(bad(format!("unknown element tag {t}"))),
        };
        let ndim = word(&mut rest)?;
        if ndim > MAX_NDIM || ndim > rest.len() / 8 {
            return Err(bad(format!("{ndim} dimensions in {} bytes", rest.len())));
        }
        let shape = (0..ndim)
            .map(|_| word(&mut rest))
            .collect::<Result<Vec<_>>>()?;
        let nbytes = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .and_then(|len| len.checked_mul(width))
            .filter(|&n| n <= rest.len())
            .ok_or_else(|| {
                bad(format!(
                    "shape {shape:?} of {width}-byte elements in {} bytes",
                    rest.len()
                ))
            })?;
        let (data, rest) = rest.split_at(nbytes);
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

    /// Replaces the contents with `src[start..start + n]` of a chunk of the same type.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ.
    pub fn load_from(&mut self, src: &Chunk, start: usize, n: usize) -> Result<()> {
        fn copy<T: Copy>(dst: &mut Vec<T>, a: &ArrayD<T>, start: usize, n: usize) -> Result<()> {
            if start.checked_add(n).is_none_or(|end| end > a.len()) {
                return Err(Error::internal(format!(
                    "reading values {start}..{} of a chunk of shape {:?}",
                    start.saturating_add(n),
                    a.shape()
                )));
            }
            dst.clear();
            match a.as_slice() {
                Some(s) => dst.extend_from_slice(&s[start..start + n]),
                None => dst.extend(a.iter().skip(start).take(n).copied()),
            }
            Ok(())
        }
        match (&mut *self, src) {
            (Buf::F64(d), Chunk::F64(a)) => copy(d, a, start, n),
            (Buf::F32(d), Chunk::F32(a)) => copy(d, a, start, n),
            (Buf::I64(d), Chunk::I64(a)) => copy(d, a, start, n),
            (Buf::Bool(d), Chunk::Bool(a)) => copy(d, a, start, n),
            (d, a) => Err(Error::internal(format!(
                "cannot load a {:?} chunk into a {} tile",
                a.dtype(),
                d.dtype()
            ))),
        }
    }

    /// Writes the first `n` values of this tile over `dst[start..start + n]`, in C order, of a
    /// chunk of the same type in standard layout.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ, `dst` is not in standard layout, or the range
    /// is outside the tile or the chunk.
    pub fn store_into(&self, dst: &mut Chunk, start: usize, n: usize) -> Result<()> {
        fn put<T: Copy>(src: &[T], a: &mut ArrayD<T>, start: usize, n: usize) -> Result<()> {
            let shape = a.shape().to_vec();
            let end = start.checked_add(n);
            match (a.as_slice_mut(), end) {
                (Some(d), Some(end)) if end <= d.len() && n <= src.len() => {
                    d[start..end].copy_from_slice(&src[..n]);
                    Ok(())
                }
                _ => Err(Error::internal(format!(
                    "writing values {start}..{} of a tile of {} into a chunk of shape {shape:?}",
                    start.saturating_add(n),
                    src.len()
                ))),
            }
        }
        match (self, dst) {
            (Buf::F64(s), Chunk::F64(a)) => put(s, a, start, n),
            (Buf::F32(s), Chunk::F32(a)) => put(s, a, start, n),
            (Buf::I64(s), Chunk::I64(a)) => put(s, a, start, n),
            (Buf::Bool(s), Chunk::Bool(a)) => put(s, a, start, n),
            (s, a) => Err(Error::internal(format!(
                "cannot store a {} tile into a {:?} chunk",
                s.dtype(),
                a.dtype()
            ))),
        }
    }

    /// Replaces the contents with values `start..start + n` (in C order) of `src` broadcast
    /// to `shape` (NumPy rules: `src` has at most as many axes, aligned to the right, each of
    /// the same length or 1). A run of the last axis is one copy or one fill, so a row or a
    /// scalar broadcast costs no more than reading the values.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ, `src` does not broadcast to `shape`, or the
    /// range is outside it.
    pub fn load_broadcast(
        &mut self,
        src: &Chunk,
        shape: &[usize],
        start: usize,
        n: usize,
    ) -> Result<()> {
        let (nd, from) = (shape.len(), src.shape());
        let k = from.len();
        let fits = k <= nd
            && from
                .iter()
                .zip(&shape[nd - k..])
                .all(|(&s, &d)| s == d || s == 1);
        if !fits {
            return Err(Error::internal(format!(
                "a chunk of shape {from:?} does not broadcast to {shape:?}"
            )));
        }
        // Element strides of `src` (C order) along the output's axes: 0 where it is stretched
        // or has no axis.
        let mut strides = vec![0usize; nd];
        let mut step = 1;
        for i in (0..k).rev() {
            if from[i] != 1 {
                strides[nd - k + i] = step;
            }
            step *= from[i];
        }
        self.load_strided(src, shape, &strides, start, n)
    }

    /// Replaces the contents with values `start..start + n` (in C order) of `src` with its
    /// axes permuted: output axis `j` is axis `perm[j]` of `src` (NumPy's `transpose(perm)`).
    /// Values are gathered straight from `src`; no transposed copy is made.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ, `perm` is not a permutation of `src`'s axes,
    /// or the range is outside the result.
    pub fn load_permuted(
        &mut self,
        src: &Chunk,
        perm: &[usize],
        start: usize,
        n: usize,
    ) -> Result<()> {
        let from = src.shape();
        let mut seen = vec![false; from.len()];
        let valid = perm.len() == from.len()
            && perm
                .iter()
                .all(|&p| p < from.len() && !std::mem::replace(&mut seen[p], true));
        if !valid {
            return Err(Error::internal(format!(
                "{perm:?} is not a permutation of the axes of a chunk of shape {from:?}"
            )));
        }
        let mut c_strides = vec![0usize; from.len()];
        let mut step = 1;
        for i in (0..from.len()).rev() {
            c_strides[i] = step;
            step *= from[i];
        }
        let shape: Vec<usize> = perm.iter().map(|&p| from[p]).collect();
        let strides: Vec<usize> = perm.iter().map(|&p| c_strides[p]).collect();
        self.load_strided(src, &shape, &strides, start, n)
    }

    /// Values `start..start + n` of the `shape`-shaped view of `src`'s C-order values whose
    /// axis `j` advances `strides[j]` elements: each run of the last axis is a copy (stride 1),
    /// a fill (stride 0) or a gather.
    fn load_strided(
        &mut self,
        src: &Chunk,
        shape: &[usize],
        strides: &[usize],
        start: usize,
        n: usize,
    ) -> Result<()> {
        fn fill<T: Copy>(
            dst: &mut Vec<T>,
            a: &ArrayD<T>,
            shape: &[usize],
            strides: &[usize],
            start: usize,
            n: usize,
        ) -> Result<()> {
            let total = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
            if start.checked_add(n).zip(total).is_none_or(|(e, t)| e > t) {
                return Err(Error::internal(format!(
                    "values {start}..{} of a view of shape {shape:?} of a chunk of shape {:?}",
                    start.saturating_add(n),
                    a.shape()
                )));
            }
            let standard;
            let s = match a.as_slice() {
                Some(s) => s,
                None => {
                    standard = a.as_standard_layout();
                    standard
                        .as_slice()
                        .ok_or_else(|| Error::internal("a standard-layout chunk has no slice"))?
                }
            };
            dst.clear();
            if n == 0 {
                return Ok(());
            }
            let Some((&last, outer)) = shape.split_last() else {
                dst.extend(std::iter::repeat_n(s[0], n));
                return Ok(());
            };
            let along = strides[shape.len() - 1];
            let (mut p, end) = (start, start + n);
            while p < end {
                let (mut row, col) = (p / last, p % last);
                let len = (last - col).min(end - p);
                let mut base = 0;
                for (d, st) in outer.iter().zip(strides).rev() {
                    base += (row % d) * st;
                    row /= d;
                }
                match along {
                    0 => dst.extend(std::iter::repeat_n(s[base], len)),
                    1 => dst.extend_from_slice(&s[base + col..base + col + len]),
                    st => dst.extend((col..col + len).map(|c| s[base + c * st])),
                }
                p += len;
            }
            Ok(())
        }
        match (&mut *self, src) {
            (Buf::F64(d), Chunk::F64(a)) => fill(d, a, shape, strides, start, n),
            (Buf::F32(d), Chunk::F32(a)) => fill(d, a, shape, strides, start, n),
            (Buf::I64(d), Chunk::I64(a)) => fill(d, a, shape, strides, start, n),
            (Buf::Bool(d), Chunk::Bool(a)) => fill(d, a, shape, strides, start, n),
            (d, a) => Err(Error::internal(format!(
                "cannot load a {:?} chunk into a {} tile",
                a.dtype(),
                d.dtype()
            ))),
        }
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

/// Reads the transpose of a 2-D chunk tile by tile, as [`Buf::load_permuted`] with `[1, 0]`
/// does, but a block of [`TransposedRows::ROWS`] rows of the transpose at a time: the block is
/// gathered in one pass over the chunk that uses every cache line it touches, and the tiles are
/// then copied from it. Gathering each tile straight from the chunk would read one cache line
/// (and often one page) per value, for values a row apart. Other permutations, and chunks
/// that are not 2-D in standard layout, go to [`Buf::load_permuted`].
#[derive(Debug, Default)]
pub struct TransposedRows {
    /// The first row of the transpose in `block`, and how many rows it holds.
    first: usize,
    rows: usize,
    block: Option<Buf>,
}

impl TransposedRows {
    /// Rows of the transpose gathered at a time: 16 values of a row of the chunk, two cache
    /// lines of `f64`.
    pub const ROWS: usize = 16;
    /// The most values a block holds (2 MiB of `f64`): fewer rows when the transpose's rows are
    /// long, and no block at all (a plain gather) when one row is longer than this.
    pub const MAX_BLOCK: usize = 1 << 18;

    /// Replaces the contents of `out` with values `start..start + n` (in C order) of `src`
    /// with its axes permuted by `perm`.
    ///
    /// # Errors
    /// As [`Buf::load_permuted`].
    pub fn load(
        &mut self,
        out: &mut Buf,
        src: &Chunk,
        perm: &[usize],
        start: usize,
        n: usize,
    ) -> Result<()> {
        let &[r, c] = src.shape() else {
            return out.load_permuted(src, perm, start, n);
        };
        if perm != [1, 0] || !src.is_standard_layout() || r > Self::MAX_BLOCK {
            return out.load_permuted(src, perm, start, n);
        }
        if start.checked_add(n).is_none_or(|e| e > r * c) {
            return Err(Error::internal(format!(
                "values {start}..{} of the transpose of a chunk of shape [{r}, {c}]",
                start.saturating_add(n)
            )));
        }
        let block = self
            .block
            .get_or_insert_with(|| Buf::with_capacity(out.dtype(), 0));
        let at = (&mut self.first, &mut self.rows);
        match (&mut *out, src, block) {
            (Buf::F64(d), Chunk::F64(a), Buf::F64(b)) => transposed(d, b, at, a, start, n),
            (Buf::F32(d), Chunk::F32(a), Buf::F32(b)) => transposed(d, b, at, a, start, n),
            (Buf::I64(d), Chunk::I64(a), Buf::I64(b)) => transposed(d, b, at, a, start, n),
            (Buf::Bool(d), Chunk::Bool(a), Buf::Bool(b)) => transposed(d, b, at, a, start, n),
            (d, a, _) => Err(Error::internal(format!(
                "cannot load a {:?} chunk into a {} tile",
                a.dtype(),
                d.dtype()
            ))),
        }
    }
}

/// Values `start..start + n` of the transpose of the 2-D standard-layout `a` into `dst`,
/// through `block`, which holds rows `at.0..at.0 + at.1` of the transpose.
fn transposed<T: Copy + Default>(
    dst: &mut Vec<T>,
    block: &mut Vec<T>,
    at: (&mut usize, &mut usize),
    a: &ArrayD<T>,
    start: usize,
    n: usize,
) -> Result<()> {
    let (first, rows) = at;
    let s = a
        .as_slice()
        .ok_or_else(|| Error::internal("a standard-layout chunk has no slice"))?;
    let (r, c) = (a.shape()[0], a.shape()[1]);
    dst.clear();
    let (mut p, end) = (start, start + n);
    // Row `i` of the transpose is column `i` of `a`: `r` values, `c` apart.
    while p < end {
        let (i, j) = (p / r, p % r);
        if i < *first || i >= *first + *rows {
            let k = TransposedRows::ROWS
                .min(TransposedRows::MAX_BLOCK / r.max(1))
                .min(c - i);
            block.clear();
            block.resize(k * r, T::default());
            for (j, line) in s.chunks_exact(c).enumerate() {
                for (q, &v) in line[i..i + k].iter().enumerate() {
                    block[q * r + j] = v;
                }
            }
            (*first, *rows) = (i, k);
        }
        let len = (r - j).min(end - p);
        let from = (i - *first) * r + j;
        dst.extend_from_slice(&block[from..from + len]);
        p += len;
    }
    Ok(())
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

    #[test]
    fn transposed_rows_match_ndarray_transpose() {
        // Every range of small transposes, and tiles walked forwards, backwards and across
        // blocks of rows of larger ones.
        for (r, c) in [
            (3, 4),
            (1, 6),
            (6, 1),
            (20, 37),
            (37, 20),
            (0, 5),
            (5, 0),
            (2, 40),
        ] {
            let a = ArrayD::from_shape_vec(IxDyn(&[r, c]), (0..(r * c) as i64).collect()).unwrap();
            let want: Vec<i64> = a.t().iter().copied().collect();
            let src = Chunk::I64(a);
            let len = r * c;
            let ranges: Vec<(usize, usize)> = if len <= 24 {
                (0..=len)
                    .flat_map(|s| (0..=len - s).map(move |n| (s, n)))
                    .collect()
            } else {
                let tiles = |t: usize| (0..len).step_by(t).map(move |s| (s, t.min(len - s)));
                let mut v: Vec<_> = tiles(7).chain(tiles(100)).collect();
                v.extend(tiles(13).collect::<Vec<_>>().into_iter().rev());
                v
            };
            let mut t = TransposedRows::default();
            for (start, n) in ranges {
                let mut b = Buf::I64(Vec::new());
                t.load(&mut b, &src, &[1, 0], start, n).unwrap();
                assert_eq!(
                    b,
                    Buf::I64(want[start..start + n].to_vec()),
                    "[{r}, {c}] {start}+{n}"
                );
            }
            let mut b = Buf::I64(Vec::new());
            assert!(t.load(&mut b, &src, &[1, 0], len, 1).is_err());
        }
        // Transposes whose rows are too long for a block of 16: fewer rows, then a plain
        // gather once one row is longer than a block holds.
        for r in [TransposedRows::MAX_BLOCK / 3, TransposedRows::MAX_BLOCK + 5] {
            let a = ArrayD::from_shape_fn(IxDyn(&[r, 3]), |i| (i[0] * 3 + i[1]) as i64);
            let src = Chunk::I64(a.clone());
            let mut t = TransposedRows::default();
            for start in [0, r - 7, r + 11, 2 * r + 3] {
                let n = 1000.min(3 * r - start);
                let mut b = Buf::I64(Vec::new());
                t.load(&mut b, &src, &[1, 0], start, n).unwrap();
                let want: Vec<i64> = (start..start + n)
                    .map(|p| ((p % r) * 3 + p / r) as i64)
                    .collect();
                assert_eq!(b, Buf::I64(want), "rows {r}, start {start}");
            }
        }
        // Other element types, and permutations it hands to `load_permuted`.
        let a = ArrayD::from_shape_fn(IxDyn(&[5, 33]), |i| (i[0] * 100 + i[1]) as f64);
        let mut t = TransposedRows::default();
        let mut b = Buf::F64(Vec::new());
        t.load(&mut b, &Chunk::F64(a.clone()), &[1, 0], 7, 90)
            .unwrap();
        let want: Vec<f64> = a.t().iter().copied().collect();
        assert_eq!(b, Buf::F64(want[7..97].to_vec()));
        let a3 = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| {
            (i[0] * 100 + i[1] * 10 + i[2]) as f64
        });
        t.load(&mut b, &Chunk::F64(a3.clone()), &[2, 0, 1], 0, 24)
            .unwrap();
        let want: Vec<f64> = a3
            .view()
            .permuted_axes(vec![2, 0, 1])
            .iter()
            .copied()
            .collect();
        assert_eq!(b, Buf::F64(want));
        let mut b = Buf::I64(Vec::new());
        assert!(TransposedRows::default()
            .load(&mut b, &Chunk::F64(a), &[1, 0], 0, 1)
            .is_err());
    }

    #[test]
    fn load_permuted_matches_ndarray_permuted_axes() {
        let cases: [(&[usize], &[usize]); 5] = [
            (&[3, 4], &[1, 0]),
            (&[2, 3, 4], &[2, 0, 1]),
            (&[2, 3, 4], &[0, 2, 1]),
            (&[5], &[0]),
            (&[1, 6], &[1, 0]),
        ];
        for (from, perm) in cases {
            let len = from.iter().product::<usize>();
            let a = ArrayD::from_shape_vec(IxDyn(from), (0..len as i64).collect()).unwrap();
            let want: Vec<i64> = a.view().permuted_axes(perm).iter().copied().collect();
            for start in 0..=len {
                for n in 0..=len - start {
                    let mut b = Buf::I64(Vec::new());
                    b.load_permuted(&Chunk::I64(a.clone()), perm, start, n)
                        .unwrap();
                    assert_eq!(
                        b,
                        Buf::I64(want[start..start + n].to_vec()),
                        "{from:?} {perm:?}"
                    );
                }
            }
        }
        let mut b = Buf::I64(Vec::new());
        let a = Chunk::I64(ArrayD::zeros(IxDyn(&[2, 2])));
        assert!(b.load_permuted(&a, &[0, 0], 0, 1).is_err());
        assert!(b.load_permuted(&a, &[1, 0], 3, 2).is_err());
    }

    #[test]
    fn load_broadcast_matches_ndarray_broadcasting() {
        let cases: [(&[usize], &[usize]); 7] = [
            (&[], &[3, 4]),
            (&[4], &[3, 4]),
            (&[3, 1], &[3, 4]),
            (&[1, 4], &[2, 3, 4]),
            (&[2, 1, 4], &[2, 3, 4]),
            (&[1], &[5]),
            (&[2, 3], &[2, 3]),
        ];
        for (from, to) in cases {
            let len = from.iter().product::<usize>();
            let a = ArrayD::from_shape_vec(IxDyn(from), (0..len as i64).collect()).unwrap();
            let want: Vec<i64> = a.broadcast(IxDyn(to)).unwrap().iter().copied().collect();
            let total = want.len();
            // Every range, including ones that start and end inside rows.
            for start in 0..=total {
                for n in 0..=total - start {
                    let mut b = Buf::I64(Vec::new());
                    b.load_broadcast(&Chunk::I64(a.clone()), to, start, n)
                        .unwrap();
                    assert_eq!(
                        b,
                        Buf::I64(want[start..start + n].to_vec()),
                        "{from:?} -> {to:?}"
                    );
                }
            }
            // A transposed (not standard-layout) source gives the same values.
            let t = Chunk::I64(ArrayD::from_shape_fn(
                ndarray::ShapeBuilder::f(IxDyn(from)),
                |ix| a[ix],
            ));
            let mut b = Buf::I64(Vec::new());
            b.load_broadcast(&t, to, 0, total).unwrap();
            assert_eq!(b, Buf::I64(want.clone()));
        }
        let mut b = Buf::I64(Vec::new());
        let a = Chunk::I64(ArrayD::zeros(IxDyn(&[3])));
        assert!(b.load_broadcast(&a, &[2, 4], 0, 1).is_err());
        assert!(b.load_permuted(&a, &[1], 0, 1).is_err());
        assert!(b.load_broadcast(&a, &[2, 3], 5, 2).is_err());
        assert!(b
            .load_broadcast(&Chunk::F64(ArrayD::zeros(IxDyn(&[3]))), &[3], 0, 1)
            .is_err());
    }

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

    #[test]
    fn lying_headers_are_errors_not_aborts() {
        let word = |x: u64| x.to_ne_bytes().to_vec();
        // A tuple claiming 2^60 parts, an f64 chunk claiming 2^62 x 4 elements, a shape whose
        // product overflows, 2^40 dimensions, an unknown tag, a bool chunk one byte short.
        let cases: Vec<Vec<u8>> = vec![
            [vec![4], word(1 << 60)].concat(),
            [vec![0], word(2), word(1 << 62), word(4)].concat(),
            [vec![2], word(2), word(u64::MAX), word(3)].concat(),
            [vec![1], word(1 << 40)].concat(),
            vec![9, 0, 0],
            [vec![3], word(1), word(4), vec![1, 0, 1]].concat(),
        ];
        for c in cases {
            let e = Chunk::decode(&c).unwrap_err().to_string();
            assert!(e.contains("malformed chunk encoding"), "{e}");
        }
        // Nested tuples deeper than any partial state are refused.
        let mut deep = Vec::new();
        for _ in 0..10 {
            deep.extend([vec![4], word(1)].concat());
        }
        deep.extend([vec![3], word(0)].concat());
        assert!(Chunk::decode(&deep).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..400 {
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Small counts in the header make deeper parsing likely.
            if len > 9 {
                b[0] %= 5;
                b[1..9].copy_from_slice(&(next() % 4).to_ne_bytes());
            }
            let _ = Chunk::decode(&b);
        }
    }
}
