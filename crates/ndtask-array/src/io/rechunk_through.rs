//! Rechunking through a file ([`Array::rechunk_through`]), for arrays that cannot be made again
//! cheaply (results of user functions, scans, products).
//!
//! A direct rechunk between very different chunkings holds many input chunks at once: every new
//! chunk of full columns gathers a piece of each chunk of a column of old ones, and those stay
//! alive until all the columns they cross are made. Sources avoid this by being cut afresh;
//! a computed array is instead written, chunk by chunk as it is computed, to a temporary file
//! laid out in the *new* chunks (each new chunk's values contiguous, in C order), then read back
//! one new chunk at a time. The write holds one old chunk per task, the read one new chunk: the
//! bytes alive stay a few chunks whatever the two chunkings, as with rechunker's or Cubed's
//! intermediate stores. The file goes when the last array reading it is dropped.

use crate::api::array::Array;
use crate::config::Config;
use crate::io::npy::{decode_le, encode, read_at, runs, write_at};
use crate::io::sink::{write_all, Sink};
use crate::ops::creation::source;
use crate::plan::chunks::typed;
use crate::plan::dispatch_dtype;
use crate::plan::reader::{ChunkReader, Subset};
use ndarray::{ArrayD, IxDyn, Slice};
use ndtask_core::{try_vec, Chunk, ChunkGrid, Chunks, DType, Element, Error, Fingerprint, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Files made by this process so far on one process (part of each file's name).
static SPILLS: AtomicU64 = AtomicU64::new(0);

/// Files made so far on several MPI ranks: a count of its own, so that one rank's files of
/// its own do not shift the names the ranks must agree on (they make these calls alike).
static SHARED_SPILLS: AtomicU64 = AtomicU64::new(0);

/// The launcher's name for this MPI job, the same on every rank and different for every job
/// (PMIx, Open MPI, Slurm, MPICH/Hydra), in characters fit for a file name; empty if none is
/// known.
fn job_id() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let id = var("PMIX_NAMESPACE")
        .or_else(|| var("OMPI_MCA_orte_ess_jobid"))
        .or_else(|| {
            var("SLURM_JOB_ID").map(|j| format!("{j}.{}", var("SLURM_STEP_ID").unwrap_or_default()))
        })
        .or_else(|| var("PMI_KVSNAME"))
        .unwrap_or_default();
    id.chars()
        .map(|c| match c.is_ascii_alphanumeric() || c == '.' {
            true => c,
            false => '_',
        })
        .collect()
}

/// Where each new chunk's values start in the file, in elements, and the file's length in
/// elements.
fn chunk_starts(grid: &ChunkGrid) -> Result<(Vec<u64>, u64)> {
    let mut starts = Vec::with_capacity(grid.num_chunks());
    let mut at = 0u64;
    for b in 0..grid.num_chunks() {
        starts.push(at);
        let n = grid.block_shape(b).iter().product::<usize>() as u64;
        at = at.checked_add(n).ok_or_else(|| {
            Error::Shape(format!("a file of shape {:?} is too large", grid.shape()))
        })?;
    }
    Ok((starts, at))
}

/// The chunks of `grid` that the box `start`/`shape` overlaps, each with the overlap: its
/// start and shape.
fn overlaps(
    grid: &ChunkGrid,
    start: &[usize],
    shape: &[usize],
) -> Vec<(usize, Vec<usize>, Vec<usize>)> {
    if shape.contains(&0) {
        return Vec::new();
    }
    let nd = grid.ndim();
    let first: Vec<usize> = (0..nd).map(|a| grid.block_of(a, start[a])).collect();
    let last: Vec<usize> = (0..nd)
        .map(|a| grid.block_of(a, start[a] + shape[a] - 1))
        .collect();
    let mut out = Vec::new();
    let mut idx = first.clone();
    loop {
        let (mut lo, mut len) = (Vec::with_capacity(nd), Vec::with_capacity(nd));
        for a in 0..nd {
            let b0 = grid.block_offset(a, idx[a]);
            let b1 = b0 + grid.block_size(a, idx[a]);
            let l = b0.max(start[a]);
            lo.push(l);
            len.push(b1.min(start[a] + shape[a]) - l);
        }
        out.push((grid.ravel(&idx), lo, len));
        // The next block index, last axis fastest.
        let mut a = nd;
        loop {
            if a == 0 {
                return out;
            }
            a -= 1;
            if idx[a] < last[a] {
                idx[a] += 1;
                break;
            }
            idx[a] = first[a];
        }
    }
}

/// The file: its path, and the layout of the new chunks in it.
struct Layout {
    path: PathBuf,
    /// The new chunks.
    grid: ChunkGrid,
    /// Where each new chunk starts, in elements.
    starts: Vec<u64>,
    /// Bytes per element.
    size: u64,
}

impl Layout {
    /// The runs of the box `start`/`shape` inside new chunk `b`: (first byte in the file,
    /// elements), in the box's C order.
    fn runs_in(&self, b: usize, start: &[usize], shape: &[usize]) -> Vec<(u64, usize)> {
        let idx = self.grid.unravel(b);
        let origin = self.grid.chunk_offset(&idx);
        let local: Vec<usize> = start.iter().zip(&origin).map(|(s, o)| s - o).collect();
        runs(&self.grid.chunk_shape(&idx), &local, shape)
            .into_iter()
            .map(|(first, len)| ((self.starts[b] + first as u64) * self.size, len))
            .collect()
    }
}

/// Writes the old chunks into the file, each piece at its place in the new chunk it belongs to.
struct SpillSink<T> {
    file: Arc<Layout>,
    /// The old chunks.
    from: ChunkGrid,
    len: u64,
    _t: std::marker::PhantomData<fn(T)>,
}

impl<T: Element> Sink for SpillSink<T> {
    fn kind(&self) -> &'static str {
        "rechunk-through"
    }
    fn target(&self) -> String {
        self.file.path.display().to_string()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("rechunk-through");
        h.str(&self.file.path.to_string_lossy());
        self.from.fingerprint(h);
        self.file.grid.fingerprint(h);
    }
    fn create(&self) -> Result<()> {
        let what = || format!("creating {}", self.file.path.display());
        // A new file only: another run's file of the same name is an error, not overwritten.
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.file.path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::io(
                    format!("{} (it exists: left by a run that was killed?)", what()),
                    e,
                ),
                _ => Error::io(what(), e),
            })?;
        f.set_len(self.len).map_err(|e| {
            // This run made it: it goes (a later error of the run removes it too).
            let _ = std::fs::remove_file(&self.file.path);
            Error::io(format!("sizing {}", self.file.path.display()), e)
        })
    }
    fn write(&self, block: usize, chunk: &Chunk) -> Result<()> {
        let idx = self.from.unravel(block);
        let what = || format!("writing chunk {idx:?} to {}", self.file.path.display());
        let values = typed::<T>(chunk, "rechunk-through")?;
        let (start, shape) = (self.from.chunk_offset(&idx), self.from.chunk_shape(&idx));
        let file = OpenOptions::new()
            .write(true)
            .open(&self.file.path)
            .map_err(|e| Error::io(what(), e))?;
        let mut bytes = Vec::new();
        for (b, lo, len) in overlaps(&self.file.grid, &start, &shape) {
            let piece = values.slice_each_axis(|ax| {
                let from = lo[ax.axis.index()] - start[ax.axis.index()];
                Slice::from(from..from + len[ax.axis.index()])
            });
            // The piece's bytes in C order (row by row: the rows of a chunk are contiguous),
            // which is its runs in the file one after the other.
            bytes.clear();
            match piece.ndim() {
                0 => encode(piece.iter().copied(), &mut bytes),
                _ => piece
                    .rows()
                    .into_iter()
                    .for_each(|row| match row.as_slice() {
                        Some(values) => encode(values.iter().copied(), &mut bytes),
                        None => encode(row.iter().copied(), &mut bytes),
                    }),
            }
            let mut from = 0;
            for (at, n) in self.file.runs_in(b, &lo, &len) {
                let to = from + n * self.file.size as usize;
                write_at(&file, &bytes[from..to], at).map_err(|e| Error::io(what(), e))?;
                from = to;
            }
        }
        Ok(())
    }
}

/// Reads regions of the file; removes it when dropped (on MPI, rank 0 only: removing a file
/// that another node has open makes its handle stale on network file systems).
struct SpillReader {
    file: Arc<Layout>,
    handle: File,
    dtype: DType,
    removes: bool,
}

impl Drop for SpillReader {
    fn drop(&mut self) {
        if self.removes {
            let _ = std::fs::remove_file(&self.file.path);
        }
    }
}

impl ChunkReader for SpillReader {
    fn name(&self) -> String {
        format!("rechunk-through:{}", self.file.path.display())
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("rechunk-through");
        h.str(&self.file.path.to_string_lossy());
        self.file.grid.fingerprint(h);
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn read(&self, r: &Subset) -> Result<Chunk> {
        let what = || {
            format!(
                "reading region {} of {}",
                r.describe(),
                self.file.path.display()
            )
        };
        dispatch_dtype!(self.dtype, T => {
            let mut bytes = Vec::new();
            let mut piece: Vec<T>;
            let pieces = overlaps(&self.file.grid, &r.start, &r.shape);
            let mut out = match pieces.len() {
                1 => None,
                _ => Some(ArrayD::<T>::from_elem(IxDyn(&r.shape), T::default())),
            };
            for (b, lo, len) in pieces {
                piece = try_vec(len.iter().product(), what())?;
                for (at, n) in self.file.runs_in(b, &lo, &len) {
                    bytes.resize(n * self.file.size as usize, 0);
                    read_at(&self.handle, &mut bytes, at).map_err(|e| Error::io(what(), e))?;
                    decode_le(T::DTYPE, &bytes, &mut piece);
                }
                let piece = ArrayD::from_shape_vec(IxDyn(&len), std::mem::take(&mut piece))
                    .map_err(Error::internal)?;
                match &mut out {
                    // The region is one piece of one new chunk: its values as they are.
                    None => return Ok(T::into_chunk(piece)),
                    Some(out) => out
                        .slice_each_axis_mut(|ax| {
                            let from = lo[ax.axis.index()] - r.start[ax.axis.index()];
                            Slice::from(from..from + len[ax.axis.index()])
                        })
                        .assign(&piece),
                }
            }
            // (Without exactly one piece, `out` was made above.)
            let out = out.ok_or_else(|| Error::internal("a region of one piece read as several"))?;
            Ok(T::into_chunk(out))
        })
    }
}

impl<T: Element> Array<T> {
    /// The array in `chunks`, staged through a temporary file in `dir`: computed now (on the
    /// default scheduler), written chunk by chunk to the file laid out in the new chunks, and
    /// returned as a lazy array that reads them back. Use it instead of [`Array::rechunk`] for a
    /// computed array (a user function's output, a scan, a product) whose direct rechunk would
    /// hold too much: between very different chunkings (square chunks to full columns) a
    /// direct rechunk keeps every old chunk a new one gathers from, while this holds one old
    /// chunk per writing task and one new chunk per reading one (as rechunker's intermediate
    /// store does). A rechunk of a source (random numbers, ranges, files) needs neither: the
    /// source is cut afresh. The file is removed when the last array reading it is dropped.
    ///
    /// # Errors
    /// [`Error::Chunks`] for chunks that do not fit the shape; the array's own error;
    /// [`Error::Io`] naming the file if it cannot be created, written or read.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0.0, 64.0, 1.0, [16])?.reshape([8, 8])?;
    /// let y = x.map_blocks(|b| b.mapv(|v| v * 2.0));
    /// let columns = y.rechunk_through([8, 1], std::env::temp_dir())?;
    /// assert_eq!(columns.chunks()[1], vec![1; 8]);
    /// assert_eq!(columns.compute()?, y.compute()?);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn rechunk_through(
        &self,
        chunks: impl Into<Chunks>,
        dir: impl AsRef<Path>,
    ) -> Result<Array<T>> {
        self.rechunk_through_with(chunks, dir, &Config::default())
    }

    /// [`Array::rechunk_through`] with `config` (its memory budget bounds the writing run). On MPI every rank calls it alike, and `dir` must be on a file system every
    /// rank sees: each rank writes the chunks it computed, and reads whichever new chunks its
    /// tasks need; the file is named after the launcher's job id (PMIx, Open MPI, Slurm or
    /// Hydra), and rank 0 removes it when its array goes.
    ///
    /// # Errors
    /// As [`Array::rechunk_through`].
    pub fn rechunk_through_with(
        &self,
        chunks: impl Into<Chunks>,
        dir: impl AsRef<Path>,
        config: &Config,
    ) -> Result<Array<T>> {
        self.check()?;
        let scheduler = config.get_scheduler()?;
        let chunks: Chunks = chunks.into();
        let grid = ChunkGrid::new(&self.shape(), chunks.clone())?;
        let (starts, elements) = chunk_starts(&grid)?;
        let size = T::DTYPE.size() as u64;
        let len = elements.checked_mul(size).ok_or_else(|| {
            Error::Shape(format!(
                "a file of shape {:?} would have more than 2^64 bytes",
                self.shape()
            ))
        })?;
        // One process's files differ by the sequence number; two processes' by the process id.
        // MPI ranks must agree on the name: there it is the job's name (from the launcher) and
        // a sequence of the calls on all ranks.
        let ranks = scheduler.ranks();
        let who = match ranks {
            1 => format!(
                "p{}-{}",
                std::process::id(),
                SPILLS.fetch_add(1, Ordering::Relaxed)
            ),
            r => format!(
                "mpi{r}-{}-{}",
                job_id(),
                SHARED_SPILLS.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let path = dir.as_ref().join(format!("ndtask-rechunk-{who}.bin"));
        let file = Arc::new(Layout {
            path,
            grid: grid.clone(),
            starts,
            size,
        });
        let sink = SpillSink::<T> {
            file: file.clone(),
            from: self.grid().clone(),
            len,
            _t: std::marker::PhantomData,
        };
        let remove = || {
            let _ = std::fs::remove_file(&file.path);
        };
        if let Err(e) = write_all(self, Arc::new(sink)).and_then(|w| config.compute_local(&w)) {
            // (Not a file another run made: creating it would have failed first.)
            if !matches!(&e, Error::Io { what, .. } if what.starts_with("creating")) {
                remove();
            }
            return Err(e);
        }
        let handle = File::open(&file.path).map_err(|e| {
            remove();
            Error::io(format!("opening {}", file.path.display()), e)
        });
        if ranks > 1 {
            // Every rank has the file open before any can drop the array (and rank 0 remove
            // the file): a collective run of one task is the barrier. (A directory that is not
            // shared fails before this, in the write: the ranks that did not create the file
            // cannot open it to write their chunks.)
            config
                .same_scheduler()
                .compute_local(&crate::zeros::<i64>([1], [1])?.sum())?;
        }
        let reader = SpillReader {
            file,
            handle: handle?,
            dtype: T::DTYPE,
            removes: scheduler.rank() == 0,
        };
        source(&self.shape(), chunks, Arc::new(reader))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn overlaps_cover_a_box_once() {
        let grid = ChunkGrid::new(&[10, 7], Chunks::Block(vec![4, 3])).unwrap();
        let got = overlaps(&grid, &[3, 2], &[6, 4]);
        let cells: usize = got
            .iter()
            .map(|(_, _, l)| l.iter().product::<usize>())
            .sum();
        assert_eq!(cells, 24);
        assert_eq!(got[0], (0, vec![3, 2], vec![1, 1]));
        assert_eq!(got.last().unwrap().0, grid.ravel(&[2, 1]));
        assert!(overlaps(&grid, &[0, 0], &[0, 7]).is_empty());
    }

    #[test]
    fn new_chunks_lie_one_after_the_other() {
        let grid = ChunkGrid::new(&[5, 4], Chunks::Block(vec![2, 4])).unwrap();
        assert_eq!(chunk_starts(&grid).unwrap(), (vec![0, 8, 16], 20));
    }
}
