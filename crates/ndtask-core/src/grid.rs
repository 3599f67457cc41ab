//! How an array is cut into chunks. A [`ChunkGrid`] holds, per axis, either a regular block size
//! (every block that size, the last one possibly smaller) or explicit sizes. Its memory is
//! O(number of axes) for regular grids, so a graph over a million chunks costs nothing to build.

use crate::{Error, Result};
use std::fmt;

/// How the user asks for chunks: a block shape, or explicit sizes per axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunks {
    /// One block shape for the whole array: `[1000, 1000]`. The last block on an axis may be
    /// smaller.
    Block(Vec<usize>),
    /// Explicit block sizes per axis: `[[2, 3], [4]]` cuts a 5x4 array into 2+3 rows.
    Explicit(Vec<Vec<usize>>),
}

impl<const N: usize> From<[usize; N]> for Chunks {
    fn from(b: [usize; N]) -> Self {
        Chunks::Block(b.to_vec())
    }
}
impl From<Vec<usize>> for Chunks {
    fn from(b: Vec<usize>) -> Self {
        Chunks::Block(b)
    }
}
impl From<&[usize]> for Chunks {
    fn from(b: &[usize]) -> Self {
        Chunks::Block(b.to_vec())
    }
}
impl From<Vec<Vec<usize>>> for Chunks {
    fn from(s: Vec<Vec<usize>>) -> Self {
        Chunks::Explicit(s)
    }
}
impl From<usize> for Chunks {
    /// A 1-D block size.
    fn from(b: usize) -> Self {
        Chunks::Block(vec![b])
    }
}

impl fmt::Display for Chunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chunks::Block(b) => write!(f, "{b:?}"),
            Chunks::Explicit(s) => write!(f, "{s:?}"),
        }
    }
}

/// The chunking of one axis.
///
/// `Regular` is block 0 of size `first`, then blocks of `block`, the last one possibly smaller
/// (`first == block` for the usual regular grid; a shorter first block is what slicing a
/// regular axis gives). It is kept canonical by [`AxisChunks::regular`], so equal chunkings
/// compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AxisChunks {
    Regular {
        len: usize,
        block: usize,
        first: usize,
    },
    Explicit {
        sizes: Vec<usize>,
        offsets: Vec<usize>,
    },
}

impl AxisChunks {
    /// The canonical regular axis of `len` with block 0 of `first` and then blocks of `block`
    /// (`1 <= first <= block` unless there are at most two blocks).
    fn regular(len: usize, block: usize, first: usize) -> Self {
        if len == 0 {
            return AxisChunks::Regular {
                len: 0,
                block: 1,
                first: 1,
            };
        }
        let first = first.max(1);
        if first >= len {
            return AxisChunks::Regular {
                len,
                block: len,
                first: len,
            };
        }
        let rest = len - first;
        // Two blocks: any block size >= the second fits; take the larger of the two.
        let block = if rest <= block.max(first) {
            first.max(rest)
        } else {
            block
        };
        AxisChunks::Regular { len, block, first }
    }
    fn len(&self) -> usize {
        match self {
            AxisChunks::Regular { len, .. } => *len,
            AxisChunks::Explicit { sizes, offsets } => {
                offsets.last().map_or(0, |o| o + sizes[sizes.len() - 1])
            }
        }
    }
    fn nblocks(&self) -> usize {
        match self {
            AxisChunks::Regular { len: 0, .. } => 0,
            AxisChunks::Regular { len, block, first } => 1 + (len - first).div_ceil(*block),
            AxisChunks::Explicit { sizes, .. } => sizes.len(),
        }
    }
    fn size(&self, i: usize) -> usize {
        match self {
            AxisChunks::Regular { first, .. } if i == 0 => *first,
            AxisChunks::Regular { len, block, first } => {
                (*block).min(len - first - (i - 1) * block)
            }
            AxisChunks::Explicit { sizes, .. } => sizes[i],
        }
    }
    fn offset(&self, i: usize) -> usize {
        match self {
            AxisChunks::Regular { .. } if i == 0 => 0,
            AxisChunks::Regular { block, first, .. } => first + (i - 1) * block,
            AxisChunks::Explicit { offsets, .. } => offsets[i],
        }
    }
    /// Explicit sizes, or `None` if their sum overflows.
    fn explicit(sizes: Vec<usize>) -> Option<Self> {
        let mut offsets = Vec::with_capacity(sizes.len());
        let mut acc: usize = 0;
        for &s in &sizes {
            offsets.push(acc);
            acc = acc.checked_add(s)?;
        }
        Some(AxisChunks::Explicit { sizes, offsets })
    }
    /// The block holding position `pos` (which must be below the axis length).
    fn block_of(&self, pos: usize) -> usize {
        match self {
            AxisChunks::Regular { block, first, .. } => {
                if pos < *first {
                    0
                } else {
                    1 + (pos - first) / block
                }
            }
            AxisChunks::Explicit { offsets, .. } => {
                offsets.partition_point(|&o| o <= pos).saturating_sub(1)
            }
        }
    }
    /// Normalises explicit sizes that are in fact regular, so equal grids compare equal.
    fn normalized(self) -> Self {
        if let AxisChunks::Explicit { sizes, .. } = &self {
            let len: usize = sizes.iter().fold(0, |a, &b| a.saturating_add(b));
            let n = sizes.len();
            let regular = match sizes.as_slice() {
                [] | [_] | [_, _] => true,
                [s0, s1, middle @ .., last] => {
                    s0 <= s1 && last <= s1 && middle.iter().all(|s| s == s1)
                }
            };
            if regular && n > 0 {
                let block = if n > 2 {
                    sizes[1]
                } else {
                    sizes.iter().copied().max().unwrap_or(1)
                };
                return AxisChunks::regular(len, block, sizes[0]);
            }
        }
        self
    }
}

/// The chunk sizes of one axis, for [`ChunkGrid::from_axes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AxisSizes {
    /// Every size, in order.
    Explicit(Vec<usize>),
    /// An axis of `len` whose block 0 has `first` elements and every later block `block`, the
    /// last one possibly fewer (`1 <= first <= block`): O(1) memory however many blocks.
    Regular {
        /// The axis length.
        len: usize,
        /// The size of every block after the first (the last may be smaller).
        block: usize,
        /// The size of block 0.
        first: usize,
    },
}

/// The chunk grid of an array: its shape and where the block boundaries are on each axis.
///
/// Every grid is checked when it is made: its number of elements is at most
/// [`ChunkGrid::MAX_ELEMENTS`] (so the bytes of any array fit in `isize`, ndarray's limit, for
/// every element type) and its number of chunks at most [`ChunkGrid::MAX_CHUNKS`] (task ids are
/// `u32`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkGrid {
    axes: Vec<AxisChunks>,
}

/// Why a shape or chunking cannot be a grid, for [`ChunkGrid::checked`].
fn size_error(shape: &[usize], nblocks: Option<&[usize]>) -> Error {
    let elements = shape
        .iter()
        .try_fold(1u128, |a, &d| a.checked_mul(d as u128));
    let count = elements.map_or("more than 2^128".to_string(), |e| e.to_string());
    match nblocks {
        None => Error::Shape(format!(
            "shape {shape:?} has {count} elements, more than an array can hold ({}: the bytes \
             of an 8-byte element type must fit in isize)",
            ChunkGrid::MAX_ELEMENTS
        )),
        Some(nb) => Error::Shape(format!(
            "shape {shape:?} cut into {nb:?} blocks per axis has more chunks than a task graph \
             can hold ({}): use larger chunks",
            ChunkGrid::MAX_CHUNKS
        )),
    }
}

impl ChunkGrid {
    /// The most elements an array may have: `isize::MAX / 8`, so that its bytes fit in `isize`
    /// for every element type.
    pub const MAX_ELEMENTS: usize = isize::MAX as usize / 8;

    /// The most chunks an array may have (task ids are `u32`).
    pub const MAX_CHUNKS: usize = u32::MAX as usize;

    /// Checks the element and chunk counts of a grid being made (checked arithmetic throughout).
    fn checked(axes: Vec<AxisChunks>) -> Result<Self> {
        let g = ChunkGrid { axes };
        let shape = g.shape();
        let elements = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if elements.is_none_or(|e| e > Self::MAX_ELEMENTS) {
            return Err(size_error(&shape, None));
        }
        let nb = g.nblocks();
        let chunks = nb.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if chunks.is_none_or(|c| c > Self::MAX_CHUNKS) {
            return Err(size_error(&shape, Some(&nb)));
        }
        Ok(g)
    }

    /// Builds the grid for `shape` cut by `chunks`.
    ///
    /// # Errors
    /// [`Error::Chunks`] if the rank of `chunks` differs from the shape's, a block size is zero,
    /// or explicit sizes do not add up to the axis length; [`Error::Shape`] if the shape has more
    /// than [`ChunkGrid::MAX_ELEMENTS`] elements or more than [`ChunkGrid::MAX_CHUNKS`] chunks.
    ///
    /// # Examples
    /// ```
    /// use ndtask_core::ChunkGrid;
    /// let g = ChunkGrid::new(&[10, 7], [4, 7].into()).unwrap();
    /// assert_eq!(g.nblocks(), vec![3, 1]);
    /// assert_eq!(g.chunk_shape(&[2, 0]), vec![2, 7]);
    /// assert!(ChunkGrid::new(&[10], vec![vec![3, 3]].into()).is_err());
    /// ```
    pub fn new(shape: &[usize], chunks: Chunks) -> Result<Self> {
        let err = |reason: String| Error::Chunks {
            shape: shape.to_vec(),
            chunks: chunks.to_string(),
            reason,
        };
        let axes = match &chunks {
            Chunks::Block(b) => {
                if b.len() != shape.len() {
                    return Err(err(format!(
                        "{} block sizes given for {} dimensions",
                        b.len(),
                        shape.len()
                    )));
                }
                if let Some(ax) = b.iter().position(|&s| s == 0) {
                    return Err(err(format!("block size on axis {ax} is zero")));
                }
                shape
                    .iter()
                    .zip(b)
                    .map(|(&len, &block)| {
                        let block = block.min(len.max(1));
                        AxisChunks::regular(len, block, block)
                    })
                    .collect()
            }
            Chunks::Explicit(sizes) => {
                if sizes.len() != shape.len() {
                    return Err(err(format!(
                        "{} axes of sizes given for {} dimensions",
                        sizes.len(),
                        shape.len()
                    )));
                }
                let mut axes = Vec::with_capacity(shape.len());
                for (ax, (s, &len)) in sizes.iter().zip(shape).enumerate() {
                    if let Some(i) = s.iter().position(|&x| x == 0) {
                        return Err(err(format!("chunk {i} on axis {ax} has size zero")));
                    }
                    let total = s.iter().try_fold(0usize, |a, &b| a.checked_add(b));
                    if total != Some(len) {
                        let total = total.map_or("more than usize::MAX".into(), |t| t.to_string());
                        return Err(err(format!(
                            "sizes on axis {ax} add up to {total}, not {len}"
                        )));
                    }
                    let axis = AxisChunks::explicit(s.clone())
                        .ok_or_else(|| err(format!("sizes on axis {ax} overflow")))?;
                    axes.push(axis.normalized());
                }
                axes
            }
        };
        Self::checked(axes)
    }

    /// The grid of a 0-dimensional array (one chunk).
    pub fn scalar() -> Self {
        ChunkGrid { axes: Vec::new() }
    }

    /// A grid from explicit per-axis chunk sizes (the axis lengths are their sums).
    ///
    /// # Errors
    /// [`Error::Chunks`] if a size is zero or an axis's sizes overflow when added;
    /// [`Error::Shape`] if the grid has more than [`ChunkGrid::MAX_ELEMENTS`] elements or more
    /// than [`ChunkGrid::MAX_CHUNKS`] chunks.
    ///
    /// # Examples
    /// ```
    /// use ndtask_core::ChunkGrid;
    /// let g = ChunkGrid::from_sizes(vec![vec![2, 3], vec![4]]).unwrap();
    /// assert_eq!(g.shape(), vec![5, 4]);
    /// assert!(ChunkGrid::from_sizes(vec![vec![2, 0]]).is_err());
    /// assert!(ChunkGrid::from_sizes(vec![vec![1 << 40], vec![1 << 40]]).is_err());
    /// ```
    pub fn from_sizes(sizes: Vec<Vec<usize>>) -> Result<Self> {
        Self::from_axes(sizes.into_iter().map(AxisSizes::Explicit).collect())
    }

    /// A grid from the chunk sizes of each axis, explicit or regular.
    ///
    /// # Errors
    /// As [`ChunkGrid::from_sizes`]; also [`Error::Chunks`] for a regular axis whose first block
    /// is empty or larger than its blocks.
    ///
    /// # Examples
    /// ```
    /// use ndtask_core::{AxisSizes, ChunkGrid};
    /// let g = ChunkGrid::from_axes(vec![AxisSizes::Regular { len: 10, block: 4, first: 1 }]).unwrap();
    /// assert_eq!(g.axis_sizes(0), vec![1, 4, 4, 1]);
    /// assert_eq!(g, ChunkGrid::from_sizes(vec![vec![1, 4, 4, 1]]).unwrap());
    /// ```
    pub fn from_axes(axes: Vec<AxisSizes>) -> Result<Self> {
        let mut out = Vec::with_capacity(axes.len());
        for (ax, a) in axes.into_iter().enumerate() {
            let err = |chunks: String, reason: String| Error::Chunks {
                shape: Vec::new(),
                chunks,
                reason: format!("axis {ax}: {reason}"),
            };
            match a {
                AxisSizes::Explicit(s) => {
                    if let Some(i) = s.iter().position(|&x| x == 0) {
                        return Err(err(format!("{s:?}"), format!("chunk {i} has size zero")));
                    }
                    let axis = AxisChunks::explicit(s.clone()).ok_or_else(|| {
                        err(format!("{s:?}"), "the sizes overflow when added".into())
                    })?;
                    out.push(axis.normalized());
                }
                AxisSizes::Regular { len, block, first } => {
                    if len > 0 && (first == 0 || block == 0 || first > block) {
                        return Err(err(
                            format!("{first} then {block}"),
                            "a regular axis needs 1 <= first <= block".into(),
                        ));
                    }
                    out.push(AxisChunks::regular(len, block, first));
                }
            }
        }
        Self::checked(out)
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.axes.len()
    }

    /// The array shape.
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(AxisChunks::len).collect()
    }

    /// Number of blocks along each axis.
    pub fn nblocks(&self) -> Vec<usize> {
        self.axes.iter().map(AxisChunks::nblocks).collect()
    }

    /// Total number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.axes.iter().map(AxisChunks::nblocks).product()
    }

    /// The block along `axis` holding position `pos` (O(1) for a regular axis, a binary search
    /// for explicit sizes). `pos` must be below the axis length.
    pub fn block_of(&self, axis: usize, pos: usize) -> usize {
        self.axes[axis].block_of(pos)
    }

    /// `(block, first)` if `axis` is regular: block 0 of `first` elements, then blocks of
    /// `block` (the last possibly smaller); `None` for explicit sizes.
    pub fn regular_axis(&self, axis: usize) -> Option<(usize, usize)> {
        match self.axes[axis] {
            AxisChunks::Regular { block, first, .. } => Some((block, first)),
            AxisChunks::Explicit { .. } => None,
        }
    }

    /// Size of block `i` along `axis`.
    pub fn block_size(&self, axis: usize, i: usize) -> usize {
        self.axes[axis].size(i)
    }

    /// Start offset of block `i` along `axis`.
    pub fn block_offset(&self, axis: usize, i: usize) -> usize {
        self.axes[axis].offset(i)
    }

    /// The sizes of all blocks along `axis` (O(blocks on that axis)).
    pub fn axis_sizes(&self, axis: usize) -> Vec<usize> {
        let a = &self.axes[axis];
        (0..a.nblocks()).map(|i| a.size(i)).collect()
    }

    /// The largest chunk's shape (the block shape of a regular grid).
    pub fn max_chunk_shape(&self) -> Vec<usize> {
        self.axes
            .iter()
            .map(|a| match a {
                AxisChunks::Regular { len, block, .. } => (*block).min(*len),
                AxisChunks::Explicit { sizes, .. } => sizes.iter().copied().max().unwrap_or(0),
            })
            .collect()
    }

    /// Shape of the chunk at block index `idx`.
    pub fn chunk_shape(&self, idx: &[usize]) -> Vec<usize> {
        self.axes.iter().zip(idx).map(|(a, &i)| a.size(i)).collect()
    }

    /// Shape of the chunk with linear (C-order) number `linear`.
    pub fn block_shape(&self, linear: usize) -> Vec<usize> {
        self.chunk_shape(&self.unravel(linear))
    }

    /// Global offsets of the chunk at block index `idx`.
    pub fn chunk_offset(&self, idx: &[usize]) -> Vec<usize> {
        self.axes
            .iter()
            .zip(idx)
            .map(|(a, &i)| a.offset(i))
            .collect()
    }

    /// Block index of the chunk with linear (C-order) number `linear`.
    pub fn unravel(&self, linear: usize) -> Vec<usize> {
        unravel(&self.nblocks(), linear)
    }

    /// Linear (C-order) number of the chunk at block index `idx`.
    pub fn ravel(&self, idx: &[usize]) -> usize {
        ravel(&self.nblocks(), idx)
    }

    /// The same grid with `axis` removed.
    pub fn remove_axis(&self, axis: usize) -> Self {
        let mut axes = self.axes.clone();
        axes.remove(axis);
        ChunkGrid { axes }
    }

    /// The same grid with `axis` replaced by one block of length `len`.
    pub fn with_single_block(&self, axis: usize, len: usize) -> Self {
        let mut axes = self.axes.clone();
        axes[axis] = AxisChunks::regular(len, len.max(1), len.max(1));
        ChunkGrid { axes }
    }

    /// The same grid with the chunking of `axis` replaced by explicit `sizes`.
    ///
    /// # Errors
    /// As [`ChunkGrid::from_sizes`].
    pub fn with_axis_sizes(&self, axis: usize, sizes: Vec<usize>) -> Result<Self> {
        let mut all: Vec<Vec<usize>> = (0..self.ndim()).map(|a| self.axis_sizes(a)).collect();
        all[axis] = sizes;
        Self::from_sizes(all)
    }

    /// Feeds the shape and every block boundary into `h` (for the MPI agreement check).
    pub fn fingerprint(&self, h: &mut crate::Fingerprint) {
        h.usize(self.axes.len());
        for a in &self.axes {
            match a {
                AxisChunks::Regular { len, block, first } => {
                    h.u8(0);
                    h.usize(*len);
                    h.usize(*block);
                    h.usize(*first);
                }
                AxisChunks::Explicit { sizes, .. } => {
                    h.u8(1);
                    h.usize(sizes.len());
                    sizes.iter().for_each(|&s| h.usize(s));
                }
            }
        }
    }

    /// A short description of the chunking for messages: the block shape of a regular grid, or
    /// the explicit sizes.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .axes
            .iter()
            .map(|a| match a {
                AxisChunks::Regular { block, first, .. } if first < block => {
                    if a.nblocks() <= 8 {
                        format!(
                            "{:?}",
                            (0..a.nblocks()).map(|i| a.size(i)).collect::<Vec<_>>()
                        )
                    } else {
                        format!("{first} then {block}")
                    }
                }
                AxisChunks::Regular { len, block, .. } => format!("{}", (*block).min(*len)),
                AxisChunks::Explicit { sizes, .. } => format!("{sizes:?}"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// Multi-index of `linear` in a C-order grid of extents `dims`.
pub fn unravel(dims: &[usize], mut linear: usize) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for (i, &d) in dims.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = linear % d;
            linear /= d;
        }
    }
    idx
}

/// Linear C-order number of `idx` in a grid of extents `dims`.
pub fn ravel(dims: &[usize], idx: &[usize]) -> usize {
    dims.iter().zip(idx).fold(0, |acc, (&d, &i)| acc * d + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_and_explicit() {
        let g = ChunkGrid::new(&[10, 5], [3, 5].into()).unwrap();
        assert_eq!(g.nblocks(), vec![4, 1]);
        assert_eq!(g.axis_sizes(0), vec![3, 3, 3, 1]);
        assert_eq!(g.chunk_offset(&[3, 0]), vec![9, 0]);
        let e = ChunkGrid::new(&[10, 5], vec![vec![3, 3, 3, 1], vec![5]].into()).unwrap();
        assert_eq!(g, e, "explicit sizes that are regular normalise");
        let e = ChunkGrid::new(&[10], vec![vec![2, 8]].into()).unwrap();
        assert_eq!(e.chunk_shape(&[1]), vec![8]);
        assert_eq!(e.block_offset(0, 1), 2);
        assert_eq!(g.unravel(5), vec![1, 0]);
        assert_eq!(g.ravel(&[3, 0]), 3);
    }

    #[test]
    fn errors_name_shape_and_chunks() {
        let e = ChunkGrid::new(&[10, 5], [0, 5].into())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[10, 5]") && e.contains("[0, 5]") && e.contains("zero"),
            "{e}"
        );
        let e = ChunkGrid::new(&[10, 5], [5].into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 block sizes given for 2 dimensions"), "{e}");
        let e = ChunkGrid::new(&[10], vec![vec![3, 3]].into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("add up to 6, not 10"), "{e}");
    }

    #[test]
    fn a_short_first_block_stays_regular() {
        let g = ChunkGrid::from_axes(vec![AxisSizes::Regular {
            len: 1_000_000_000,
            block: 1000,
            first: 999,
        }])
        .unwrap();
        assert_eq!(g.nblocks(), vec![1_000_001]);
        assert_eq!(g.block_size(0, 0), 999);
        assert_eq!(g.block_size(0, 999_999), 1000);
        assert_eq!(g.block_size(0, 1_000_000), 1);
        assert_eq!(g.block_offset(0, 2), 1999);
        assert_eq!(g.block_of(0, 998), 0);
        assert_eq!(g.block_of(0, 999), 1);
        assert_eq!(g.block_of(0, 1998), 1);
        assert_eq!(g.block_of(0, 1999), 2);
        assert_eq!(g.describe(), "[999 then 1000]");
        // Canonical forms: the same chunking compares equal however it was given.
        let e = ChunkGrid::from_sizes(vec![vec![2, 5, 5, 3]]).unwrap();
        let r = ChunkGrid::from_axes(vec![AxisSizes::Regular {
            len: 15,
            block: 5,
            first: 2,
        }])
        .unwrap();
        assert_eq!(e, r);
        for sizes in [
            vec![3, 7],
            vec![7, 3],
            vec![5],
            vec![4, 4, 2],
            vec![1, 4, 4],
        ] {
            let a = ChunkGrid::from_sizes(vec![sizes.clone()]).unwrap();
            assert_eq!(a.axis_sizes(0), sizes);
            let b = ChunkGrid::from_axes(vec![AxisSizes::Regular {
                len: sizes.iter().sum(),
                block: *sizes.iter().max().unwrap(),
                first: sizes[0],
            }]);
            if sizes[0] == *sizes.iter().max().unwrap() || sizes.len() <= 2 {
                assert_eq!(b.unwrap(), a, "{sizes:?}");
            }
        }
        assert_ne!(
            ChunkGrid::from_sizes(vec![vec![2, 5, 4, 5]]).unwrap(),
            ChunkGrid::from_sizes(vec![vec![2, 5, 5, 4]]).unwrap()
        );
        assert!(ChunkGrid::from_axes(vec![AxisSizes::Regular {
            len: 9,
            block: 2,
            first: 3
        }])
        .is_err());
    }

    #[test]
    fn empty_axis_has_no_blocks() {
        let g = ChunkGrid::new(&[0, 4], [2, 2].into()).unwrap();
        assert_eq!(g.num_chunks(), 0);
        assert_eq!(ChunkGrid::scalar().num_chunks(), 1);
    }
}
