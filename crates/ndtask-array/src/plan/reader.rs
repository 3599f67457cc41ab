//! Extension point: where chunks come from. A [`ChunkReader`] is asked for one region of its
//! array at a time (a chunk, or the part of one that a slice selects) and returns its values or
//! an [`Error`]. Every source of ndtask goes through it: random arrays, `full`, `arange`,
//! `linspace`, `from_ndarray`, and any reader of a file format ([`from_reader`]).
//!
//! A reader that computes its values (random numbers, ranges) can also [`ChunkReader::stream`]
//! them in C order, tile by tile: then a fused kernel that reads it never holds the source's
//! values, only one tile of them. A reader of stored data implements [`ChunkReader::read`].

use crate::exec::tiles::{TileLoad, TransposedRows};
use ndtask_core::{Buf, Chunk, DType, Error, Fingerprint, Result, TILE};

/// A box of a reader's array: for each axis, the first index and the length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subset {
    /// The shape of the reader's whole array.
    pub array: Vec<usize>,
    /// The first index of the box on each axis.
    pub start: Vec<usize>,
    /// The length of the box on each axis.
    pub shape: Vec<usize>,
}

impl Subset {
    /// The number of elements in the box.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the box is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The box as ranges, e.g. `[0..100, 200..300]`, for messages.
    ///
    /// # Examples
    /// ```
    /// let r = ndtask_array::reader::Subset { array: vec![10, 10], start: vec![2, 0], shape: vec![3, 10] };
    /// assert_eq!(r.describe(), "[2..5, 0..10]");
    /// ```
    pub fn describe(&self) -> String {
        let axes: Vec<String> = self
            .start
            .iter()
            .zip(&self.shape)
            .map(|(s, n)| format!("{s}..{}", s + n))
            .collect();
        format!("[{}]", axes.join(", "))
    }
}

/// A cursor over a region's values in C order: each call fills `out` with the next `n`.
pub trait TileSource {
    /// Replaces the contents of `out` (a tile of the reader's element type) with the next `n`
    /// values.
    ///
    /// # Errors
    /// Whatever stops the reader; the task then fails with it.
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()>;
}

/// Reads regions of an array: the extension point for data sources.
///
/// Implement [`ChunkReader::read`] (stored data) or [`ChunkReader::stream`] (computed data), or
/// both. Tasks call them from worker threads, several at once, so a reader must be `Sync`; a
/// failure is an [`Error`] (an [`Error::Io`] for a file, naming path and region), never a panic.
///
/// # Examples
/// A reader of the values `row * 1000 + column`:
/// ```
/// use ndtask_array::reader::{from_reader, ChunkReader, Subset};
/// use ndtask_core::{Chunk, DType, Element, Fingerprint, Result};
/// use ndarray::{ArrayD, IxDyn};
///
/// struct Grid;
/// impl ChunkReader for Grid {
///     fn name(&self) -> String { "grid".into() }
///     fn fingerprint(&self, h: &mut Fingerprint) { h.str("grid"); }
///     fn dtype(&self) -> DType { DType::I64 }
///     fn read(&self, r: &Subset) -> Result<Chunk> {
///         let a = ArrayD::from_shape_fn(IxDyn(&r.shape), |i| {
///             ((r.start[0] + i[0]) * 1000 + r.start[1] + i[1]) as i64
///         });
///         Ok(i64::into_chunk(a))
///     }
/// }
/// let x = from_reader::<i64>(Grid, [30, 40], [7, 9])?;
/// assert_eq!(x.compute()?[[12, 34]], 12_034);
/// // A slice reads only the region it selects.
/// assert_eq!(x.slice(ndarray::s![5..6, 10..13])?.compute()?.sum(), 3 * 5_000 + 10 + 11 + 12);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub trait ChunkReader: Send + Sync + 'static {
    /// A short name for plans and error messages ("uniform", "npy:data.npy").
    fn name(&self) -> String;
    /// Feeds the reader's identity into `h`: everything that changes the values it reads (a
    /// seed, a path and the file's size and modification time, parameters). MPI ranks compare
    /// fingerprints before a run, so ranks that would read different data are told so.
    fn fingerprint(&self, h: &mut Fingerprint);
    /// The element type of the values.
    fn dtype(&self) -> DType;
    /// The element type of the values where they are stored, when it is not
    /// [`ChunkReader::dtype`]: a file's `i32` or `u8` values read as `i64` (the default: the
    /// name of `dtype`).
    fn stored_dtype(&self) -> String {
        self.dtype().name().to_string()
    }
    /// The values of `region`, as a chunk of shape `region.shape` and element type
    /// [`ChunkReader::dtype`]. The default collects [`ChunkReader::stream`].
    ///
    /// # Errors
    /// Whatever stops the read.
    fn read(&self, region: &Subset) -> Result<Chunk> {
        let name = self.name();
        let Some(mut stream) = self.stream(region) else {
            return Err(Error::internal(format!(
                "the reader {name} implements neither read nor stream"
            )));
        };
        let n = region.len();
        let what = || format!("region {} of {name}", region.describe());
        let mut all = Buf::try_with_capacity(self.dtype(), n, what())?;
        let mut tile = Buf::with_capacity(self.dtype(), TILE.min(n));
        let mut done = 0;
        while done < n {
            let k = TILE.min(n - done);
            stream.fill(&mut tile, k)?;
            all.extend_from(&tile, k)?;
            done += k;
        }
        all.into_chunk(&region.shape)
    }
    /// The values of `region` in C order, tile by tile, if the reader can make them that way
    /// (the default: no).
    fn stream<'a>(&'a self, region: &Subset) -> Option<Box<dyn TileSource + 'a>> {
        let _ = region;
        None
    }
    /// The values of `region` with its axes taken in `order` (outermost first, a permutation
    /// of the array's axes), tile by tile: what a transpose of the region reads, if the reader
    /// can make them in that order directly (the default: no, and the region is read or
    /// streamed in C order, then permuted).
    fn stream_permuted<'a>(
        &'a self,
        region: &Subset,
        order: &[usize],
    ) -> Option<Box<dyn TileSource + 'a>> {
        let _ = (region, order);
        None
    }
}

/// Streams a chunk that a reader read, in C order.
pub(crate) struct ChunkCursor {
    pub chunk: Chunk,
    pub pos: usize,
}

impl ChunkCursor {
    /// Whether the chunk has `len` values of `dtype` in C order.
    pub fn holds(&self, dtype: DType, len: usize) -> bool {
        self.chunk.dtype() == Some(dtype)
            && self.chunk.is_standard_layout()
            && self.chunk.shape().iter().product::<usize>() == len
    }

    /// Writes the first `n` values of `tile` at `at`, over values already handed out.
    ///
    /// # Errors
    /// [`Error::Internal`] for values not read yet, or a tile of another type.
    pub fn write_back(&mut self, tile: &Buf, at: usize, n: usize) -> Result<()> {
        if at.saturating_add(n) > self.pos {
            return Err(Error::internal(format!(
                "writing values {at}..{} of a chunk read up to {}",
                at.saturating_add(n),
                self.pos
            )));
        }
        tile.store_into(&mut self.chunk, at, n)
    }
}

impl TileSource for ChunkCursor {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        out.load_from(&self.chunk, self.pos, n)?;
        self.pos += n;
        Ok(())
    }
}

/// Streams a chunk that a reader read with its axes permuted (output axis `j` is axis
/// `perm[j]` of the chunk), a block of rows at a time for a 2-D transpose.
pub(crate) struct PermutedCursor {
    pub chunk: Chunk,
    pub perm: Vec<usize>,
    pub pos: usize,
    pub rows: TransposedRows,
}

impl TileSource for PermutedCursor {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        self.rows.load(out, &self.chunk, &self.perm, self.pos, n)?;
        self.pos += n;
        Ok(())
    }
}

/// What a file was when a reader opened it: its length and when it last changed (nanoseconds
/// since the epoch, 0 where the system does not say), for a reader's fingerprint: a file
/// rewritten since is a new source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// The length in bytes.
    pub len: u64,
    /// The last change, in nanoseconds since the epoch.
    pub modified: u128,
}

impl FileStamp {
    /// The stamp of a file's metadata.
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        FileStamp {
            len: meta.len(),
            modified,
        }
    }

    /// Adds the stamp to a fingerprint.
    pub fn fingerprint(&self, h: &mut Fingerprint) {
        h.u64(self.len);
        h.u64(self.modified as u64);
        h.u64((self.modified >> 64) as u64);
    }
}
