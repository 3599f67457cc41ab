//! Loading tiles: the values a fused kernel reads from whole chunks, in tiles of
//! [`ndtask_core::TILE`] elements — a run of a chunk ([`TileLoad::load_from`]), a broadcast or
//! a transpose read through without a copy of the chunk ([`TileLoad::load_broadcast`],
//! [`TileLoad::load_permuted`], [`TransposedRows`]) — and writing tiles back over a chunk
//! ([`TileLoad::store_into`]). They belong to the execution stage, the only one that uses them.

use ndarray::ArrayD;
use ndtask_core::{Buf, Chunk, Error, Result};

/// Moving values between tiles and whole chunks.
pub(crate) trait TileLoad {
    /// Replaces the contents with `src[start..start + n]` of a chunk of the same type.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ.
    fn load_from(&mut self, src: &Chunk, start: usize, n: usize) -> Result<()>;

    /// Writes the first `n` values of this tile over `dst[start..start + n]`, in C order, of a
    /// chunk of the same type in standard layout.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ, `dst` is not in standard layout, or the range
    /// is outside the tile or the chunk.
    fn store_into(&self, dst: &mut Chunk, start: usize, n: usize) -> Result<()>;

    /// Replaces the contents with values `start..start + n` (in C order) of `src` broadcast
    /// to `shape` (NumPy rules: `src` has at most as many axes, aligned to the right, each of
    /// the same length or 1). A run of the last axis is one copy or one fill, so a row or a
    /// scalar broadcast costs no more than reading the values.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ, `src` does not broadcast to `shape`, or the
    /// range is outside it.
    fn load_broadcast(
        &mut self,
        src: &Chunk,
        shape: &[usize],
        start: usize,
        n: usize,
    ) -> Result<()>;

    /// Replaces the contents with values `start..start + n` (in C order) of `src` with its
    /// axes permuted: output axis `j` is axis `perm[j]` of `src` (NumPy's `transpose(perm)`).
    /// Values are gathered straight from `src`; no transposed copy is made.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ, `perm` is not a permutation of `src`'s axes,
    /// or the range is outside the result.
    fn load_permuted(&mut self, src: &Chunk, perm: &[usize], start: usize, n: usize) -> Result<()>;
    /// Values `start..start + n` of `src` walked in C order of `shape` with `strides` (in
    /// elements) into `self`: what a broadcast and a permutation read.
    ///
    /// # Errors
    /// [`Error::Internal`] if the types differ or the range leaves the chunk.
    fn load_strided(
        &mut self,
        src: &Chunk,
        shape: &[usize],
        strides: &[usize],
        start: usize,
        n: usize,
    ) -> Result<()>;
}

impl TileLoad for Buf {
    fn load_from(&mut self, src: &Chunk, start: usize, n: usize) -> Result<()> {
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

    fn store_into(&self, dst: &mut Chunk, start: usize, n: usize) -> Result<()> {
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

    fn load_broadcast(
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

    fn load_permuted(&mut self, src: &Chunk, perm: &[usize], start: usize, n: usize) -> Result<()> {
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
}

/// Reads the transpose of a 2-D chunk tile by tile, as [`TileLoad::load_permuted`] with `[1, 0]`
/// does, but a block of [`TransposedRows::ROWS`] rows of the transpose at a time: the block is
/// gathered in one pass over the chunk that uses every cache line it touches, and the tiles are
/// then copied from it. Gathering each tile straight from the chunk would read one cache line
/// (and often one page) per value, for values a row apart. Other permutations, and chunks
/// that are not 2-D in standard layout, go to [`TileLoad::load_permuted`].
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
    /// As [`TileLoad::load_permuted`].
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
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ndarray::IxDyn;

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
}
