//! Sources in the plan: a reader ([`ChunkReader`]) and the window of its array that a node is,
//! after slices with unit steps and transposes.

use crate::exec::tiles::TransposedRows;
use crate::plan::reader::{ChunkCursor, ChunkReader, PermutedCursor, Subset, TileSource};
use ndtask_core::{Buf, Chunk, ChunkGrid, DType, Error, Fingerprint, Result};
use std::sync::Arc;

/// A source in the plan: a reader, and the sub-box of its array that this node's array is
/// (after slices with unit steps, which ask the reader for the selected region only), with its
/// axes in the order this node takes them (after transposes).
pub(crate) struct SourceNode {
    reader: Arc<dyn ChunkReader>,
    /// The shape of the reader's whole array.
    shape: Vec<usize>,
    window: Option<Window>,
}

impl SourceNode {
    pub fn new(reader: Arc<dyn ChunkReader>, shape: Vec<usize>) -> Self {
        SourceNode {
            reader,
            shape,
            window: None,
        }
    }

    /// The reader's name ("uniform", "full(7)", ...).
    pub fn name(&self) -> String {
        self.reader.name()
    }

    /// The element type of the reader's stored values ([`ChunkReader::stored_dtype`]).
    pub fn stored_dtype(&self) -> String {
        self.reader.stored_dtype()
    }

    /// The reader's identity, its array's shape and the window.
    pub fn fingerprint(&self, h: &mut Fingerprint) {
        self.reader.fingerprint(h);
        h.usize(self.shape.len());
        self.shape.iter().for_each(|&d| h.usize(d));
        match &self.window {
            None => h.u8(0),
            Some(w) => {
                h.u8(1);
                w.start.iter().for_each(|&x| h.usize(x));
                h.usize(w.axes.len());
                w.axes
                    .iter()
                    .for_each(|a| h.u64(a.map_or(u64::MAX, |a| a as u64)));
            }
        }
    }

    /// The region of the reader's array that block `block` of `grid` (this node's grid) is.
    pub fn region(&self, grid: &ChunkGrid, block: &[usize]) -> Subset {
        let (offset, chunk) = (grid.chunk_offset(block), grid.chunk_shape(block));
        match &self.window {
            None => Subset {
                array: self.shape.clone(),
                start: offset,
                shape: chunk,
            },
            Some(w) => {
                let mut start = w.start.clone();
                let mut shape = vec![1; self.shape.len()];
                for (o, a) in w.axes.iter().enumerate() {
                    if let Some(a) = *a {
                        start[a] += offset[o];
                        shape[a] = chunk[o];
                    }
                }
                Subset {
                    array: self.shape.clone(),
                    start,
                    shape,
                }
            }
        }
    }

    /// Starts the values of block `block` of `grid`, in C order: streamed when the reader
    /// streams, read (and checked) otherwise.
    pub fn open<'a>(&'a self, grid: &ChunkGrid, block: &[usize]) -> Result<Cursor<'a>> {
        let region = self.region(grid, block);
        let order = self.order(&region);
        match &order {
            None => {
                if let Some(s) = self.reader.stream(&region) {
                    return Ok(Cursor::Stream(s));
                }
            }
            Some(order) => {
                if let Some(s) = self.reader.stream_permuted(&region, order) {
                    return Ok(Cursor::Stream(s));
                }
            }
        }
        let chunk = self.reader.read(&region)?;
        let (want, got) = (self.reader.dtype(), chunk.dtype());
        if got != Some(want) || chunk.shape() != region.shape.as_slice() {
            return Err(Error::InvalidArgument(format!(
                "the reader {} returned a chunk of shape {:?} ({}) for the region {} of shape \
                 {:?} ({want})",
                self.reader.name(),
                chunk.shape(),
                got.map_or("tuple".into(), |d| d.to_string()),
                region.describe(),
                region.shape
            )));
        }
        let chunk = chunk.into_standard_layout();
        let Some(order) = order else {
            return Ok(Cursor::Whole(ChunkCursor { chunk, pos: 0 }));
        };
        // Without its axes of length 1 (which do not change the order of the values), a
        // transposed matrix is read a block of rows at a time.
        let kept: Vec<usize> = (0..region.shape.len())
            .filter(|&a| region.shape[a] != 1)
            .collect();
        let shape: Vec<usize> = kept.iter().map(|&a| region.shape[a]).collect();
        let perm = order
            .iter()
            .filter_map(|a| kept.iter().position(|k| k == a))
            .collect();
        Ok(Cursor::Stream(Box::new(PermutedCursor {
            chunk: reshaped(chunk, &shape)?,
            perm,
            pos: 0,
            rows: TransposedRows::default(),
        })))
    }

    /// The array's axes in the order this node takes them, outermost first (axes it does not
    /// have first), if that is not C order for `region` (axes of length 1 aside).
    fn order(&self, region: &Subset) -> Option<Vec<usize>> {
        let w = self.window.as_ref()?;
        let taken: Vec<usize> = w.axes.iter().filter_map(|&a| a).collect();
        let mut order: Vec<usize> = (0..self.shape.len())
            .filter(|a| !taken.contains(a))
            .collect();
        order.extend(taken);
        let long: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&a| region.shape[a] != 1)
            .collect();
        (!long.is_sorted()).then_some(order)
    }

    /// The same source with its axes permuted: output axis `j` is this node's axis `perm[j]`.
    pub fn permuted(&self, perm: &[usize]) -> Arc<SourceNode> {
        let inner = self.window.clone().unwrap_or_else(|| Window {
            start: vec![0; self.shape.len()],
            axes: (0..self.shape.len()).map(Some).collect(),
        });
        let axes = perm.iter().map(|&p| inner.axes[p]).collect();
        Arc::new(SourceNode {
            reader: self.reader.clone(),
            shape: self.shape.clone(),
            window: Some(Window {
                start: inner.start,
                axes,
            }),
        })
    }

    /// The same source restricted to a sub-box of this node's array.
    pub fn window(&self, outer: &Window) -> Arc<SourceNode> {
        let window = match &self.window {
            None => outer.clone(),
            Some(i) => {
                let mut start = i.start.clone();
                for (j, a) in i.axes.iter().enumerate() {
                    if let Some(a) = *a {
                        start[a] += outer.start[j];
                    }
                }
                let axes = outer
                    .axes
                    .iter()
                    .map(|o| o.and_then(|j| i.axes[j]))
                    .collect();
                Window { start, axes }
            }
        };
        Arc::new(SourceNode {
            reader: self.reader.clone(),
            shape: self.shape.clone(),
            window: Some(window),
        })
    }
}

/// A standard-layout chunk's values as an array of `shape` (as many values).
fn reshaped(chunk: Chunk, shape: &[usize]) -> Result<Chunk> {
    let to = ndarray::IxDyn(shape);
    let e = |e: ndarray::ShapeError| Error::internal(format!("a chunk as shape {shape:?}: {e}"));
    Ok(match chunk {
        Chunk::F64(a) => Chunk::F64(a.into_shape_with_order(to).map_err(e)?),
        Chunk::F32(a) => Chunk::F32(a.into_shape_with_order(to).map_err(e)?),
        Chunk::I64(a) => Chunk::I64(a.into_shape_with_order(to).map_err(e)?),
        Chunk::Bool(a) => Chunk::Bool(a.into_shape_with_order(to).map_err(e)?),
        other => other,
    })
}

/// The values of a source's block as they come: streamed (or gathered through a transpose), or
/// a whole chunk the reader read, in C order, which a fused kernel may take as its result's
/// storage ([`Cursor::can_hold`]).
pub(crate) enum Cursor<'a> {
    Stream(Box<dyn TileSource + 'a>),
    Whole(ChunkCursor),
}

impl Cursor<'_> {
    /// Whether this is a chunk read whole that can be the storage of a result of `dtype` and
    /// `len` values (each tile written back over the values it was computed from, once they
    /// are read: [`ChunkCursor::write_back`]).
    pub fn can_hold(&self, dtype: DType, len: usize) -> bool {
        matches!(self, Cursor::Whole(c) if c.holds(dtype, len))
    }

    /// The values as a chunk of `shape`: the chunk read itself, or the stream's values.
    pub fn into_chunk(self, dtype: DType, shape: &[usize]) -> Result<Chunk> {
        let len = shape.iter().product();
        match self {
            Cursor::Whole(c) if c.holds(dtype, len) => reshaped(c.chunk, shape),
            mut other => {
                let mut acc =
                    Buf::try_with_capacity(dtype, len, format_args!("a chunk of shape {shape:?}"))?;
                other.fill(&mut acc, len)?;
                acc.into_chunk(shape)
            }
        }
    }
}

impl TileSource for Cursor<'_> {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        match self {
            Cursor::Stream(s) => s.fill(out, n),
            Cursor::Whole(c) => c.fill(out, n),
        }
    }
}

/// A sub-box of a source's array, as a slice with unit steps selects it: the first selected
/// index of each of the array's axes, and for each output axis the array axis it comes from
/// (`None`: a new axis of length 1; not in increasing order after a transpose). Array axes that
/// no output axis comes from are indexed (length 1 at `start`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: Vec<usize>,
    pub axes: Vec<Option<usize>>,
}
