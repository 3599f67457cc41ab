//! Block-wise operations: each output chunk computed from whole input chunks. Structural
//! operations (rechunk, transpose, expand/squeeze, reshape, broadcasting) and user functions
//! (`map_blocks`) are all a [`BlockKernel`] behind a `Blocks` plan node; lowering gives each
//! output chunk one task that reads exactly the input chunks it names.

use crate::api::array::Array;
use crate::plan::chunks::{try_array, typed};
use crate::plan::{dispatch_dtype, BlockKernel, Node, NodeKind, Pushdown, Through};
use ndarray::{ArrayD, ArrayViewD, IxDyn, Slice};
use ndtask_core::{try_vec, Chunk, ChunkGrid, Chunks, Element, Error, Result};
use std::marker::PhantomData;
use std::sync::Arc;

/// Builds a `Blocks` node of element type `O`.
pub(crate) fn blocks<O: Element>(
    inputs: Vec<Arc<Node>>,
    grid: ChunkGrid,
    kernel: impl BlockKernel + 'static,
) -> Array<O> {
    if let Some(e) = inputs.iter().find_map(|i| i.error()) {
        return Array::invalid(e.clone());
    }
    Array::from_node(Node::new(
        NodeKind::Blocks {
            inputs,
            kernel: Arc::new(kernel),
        },
        grid,
        O::DTYPE,
    ))
}

/// The blocks of `grid` along `axis` that overlap positions `[lo, hi)`.
pub(crate) fn overlapping(
    grid: &ChunkGrid,
    axis: usize,
    lo: usize,
    hi: usize,
) -> std::ops::Range<usize> {
    if lo >= hi {
        return 0..0;
    }
    grid.block_of(axis, lo)..grid.block_of(axis, hi - 1) + 1
}

/// Merged block boundaries of several chunkings of one axis (the coarsest common refinement).
pub(crate) fn common_sizes(axes: &[Vec<usize>]) -> Vec<usize> {
    // Every chunk end of every chunking, once, in order; the sizes are the gaps between them.
    let mut cuts: Vec<usize> = axes
        .iter()
        .flat_map(|sizes| {
            sizes.iter().scan(0, |end, &s| {
                *end += s;
                Some(*end)
            })
        })
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.iter()
        .scan(0, |last, &c| Some(c - std::mem::replace(last, c)))
        .collect()
}

struct Rechunk<T> {
    from: ChunkGrid,
    to: ChunkGrid,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> BlockKernel for Rechunk<T> {
    fn exact(&self) -> bool {
        true
    }
    fn pushdown(&self) -> Option<Pushdown> {
        Some(Pushdown::Regrid)
    }
    fn name(&self) -> String {
        "rechunk".into()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let (off, shape) = (self.to.chunk_offset(block), self.to.chunk_shape(block));
        let ranges: Vec<_> = (0..off.len())
            .map(|a| overlapping(&self.from, a, off[a], off[a] + shape[a]))
            .collect();
        boxes(&ranges)
            .into_iter()
            .map(|idx| (0, self.from.ravel(&idx)))
            .collect()
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let (off, shape) = (self.to.chunk_offset(block), self.to.chunk_shape(block));
        let mut out = try_array::<T>(&shape, "rechunk")?;
        for ((_, lb), c) in self.deps(block).into_iter().zip(inputs) {
            let a = typed::<T>(c, "rechunk")?;
            copy_overlap(
                &mut out,
                &off,
                a,
                &self.from.chunk_offset(&self.from.unravel(lb)),
            );
        }
        Ok(T::into_chunk(out))
    }
}

/// Copies the overlap of `a` (a piece of an array whose first element is at `a_off`) into
/// `out` (another piece of the same array, starting at `out_off`).
pub(crate) fn copy_overlap<T: Element>(
    out: &mut ArrayD<T>,
    out_off: &[usize],
    a: &ArrayD<T>,
    a_off: &[usize],
) {
    let nd = out_off.len();
    let lo: Vec<usize> = (0..nd).map(|i| out_off[i].max(a_off[i])).collect();
    let hi: Vec<usize> = (0..nd)
        .map(|i| (out_off[i] + out.shape()[i]).min(a_off[i] + a.shape()[i]))
        .collect();
    let src = a.slice_each_axis(|ax| {
        let i = ax.axis.index();
        Slice::from(lo[i] - a_off[i]..hi[i] - a_off[i])
    });
    out.slice_each_axis_mut(|ax| {
        let i = ax.axis.index();
        Slice::from(lo[i] - out_off[i]..hi[i] - out_off[i])
    })
    .assign(&src);
}

/// Multi-indices of a box of per-axis ranges, in C order.
pub(crate) fn boxes(ranges: &[std::ops::Range<usize>]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::with_capacity(ranges.len())];
    for r in ranges {
        out = out
            .into_iter()
            .flat_map(|p| r.clone().map(move |i| [p.clone(), vec![i]].concat()))
            .collect();
    }
    out
}

/// Elements of a block's chunk viewed as an owned standard-layout array.
fn owned<T: Element>(v: ArrayViewD<'_, T>) -> ArrayD<T> {
    v.as_standard_layout().into_owned()
}

struct Transpose<T> {
    perm: Vec<usize>,
    from: ChunkGrid,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> BlockKernel for Transpose<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        format!("transpose{:?}", self.perm)
    }
    fn read_through(&self) -> Option<Through> {
        Some(Through::Permute(self.perm.clone()))
    }
    fn pushdown(&self) -> Option<Pushdown> {
        Some(Pushdown::Permute(self.perm.clone()))
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let mut idx = vec![0; block.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            idx[p] = block[i];
        }
        vec![(0, self.from.ravel(&idx))]
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let a = typed::<T>(inputs[0], "transpose")?;
        Ok(T::into_chunk(owned(
            a.view().permuted_axes(self.perm.clone()),
        )))
    }
}

/// Adds (`insert`) or removes (`remove`) length-1 axes; block numbers are unchanged because
/// such axes have one block.
struct Reaxis<T> {
    shape_of: ChunkGrid,
    name: &'static str,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> BlockKernel for Reaxis<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        self.name.into()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        vec![(0, self.shape_of.ravel(block))]
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let a = typed::<T>(inputs[0], self.name)?;
        let shape = self.shape_of.chunk_shape(block);
        let v = a
            .view()
            .into_shape_with_order(IxDyn(&shape))
            .map_err(Error::internal)?;
        Ok(T::into_chunk(owned(v)))
    }
}

struct BroadcastTo<T> {
    from: ChunkGrid,
    /// For each input axis: the output axis it lines up with, and whether it is stretched.
    axes: Vec<(usize, bool)>,
    to: ChunkGrid,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> BlockKernel for BroadcastTo<T> {
    fn exact(&self) -> bool {
        true
    }
    fn read_through(&self) -> Option<Through> {
        Some(Through::Broadcast)
    }
    fn name(&self) -> String {
        "broadcast_to".into()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let idx: Vec<usize> = self
            .axes
            .iter()
            .map(|&(o, stretched)| if stretched { 0 } else { block[o] })
            .collect();
        vec![(0, self.from.ravel(&idx))]
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let a = typed::<T>(inputs[0], "broadcast_to")?;
        let shape = self.to.chunk_shape(block);
        let v = a
            .broadcast(IxDyn(&shape))
            .ok_or_else(|| Error::internal("broadcast of a chunk failed"))?;
        let mut data = try_vec(
            v.len(),
            format_args!("broadcast_to (a chunk of shape {shape:?})"),
        )?;
        data.extend(v.iter().copied());
        Ok(T::into_chunk(
            ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(Error::internal)?,
        ))
    }
}

/// The broadcast shape of several shapes (NumPy rules).
pub(crate) fn broadcast_shape(op: &str, shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
    let n = shapes.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![1; n];
    for s in shapes {
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[n - s.len() + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                let list: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
                return Err(Error::Shape(format!(
                    "cannot {op} arrays of shapes {}: they do not broadcast (axis {} has lengths {} and {d})",
                    list.join(" and "),
                    n - s.len() + i,
                    *o
                )));
            }
        }
    }
    Ok(out)
}

/// Brings several nodes to one shape (broadcasting) and one chunking (the common refinement of
/// their chunkings), adding rechunk and broadcast nodes only where needed.
pub(crate) fn align(op: &str, nodes: &[Arc<Node>]) -> Result<(Vec<Arc<Node>>, ChunkGrid)> {
    let shapes: Vec<Vec<usize>> = nodes.iter().map(|n| n.shape()).collect();
    let shape = broadcast_shape(op, &shapes)?;
    let nd = shape.len();
    // Per output axis, the chunkings of the inputs that are not stretched there.
    let sizes: Vec<Vec<usize>> = (0..nd)
        .map(|o| {
            let own: Vec<Vec<usize>> = nodes
                .iter()
                .filter_map(|n| {
                    let k = n.grid.ndim();
                    let i = (o + k).checked_sub(nd)?;
                    (n.shape()[i] == shape[o]).then(|| n.grid.axis_sizes(i))
                })
                .collect();
            common_sizes(&own)
        })
        .collect();
    let grid = ChunkGrid::from_sizes(sizes.clone())?;
    let aligned = nodes
        .iter()
        .map(|n| {
            let k = n.grid.ndim();
            let own_shape = n.shape();
            // Rechunk the axes this input keeps, to the common chunking.
            let want: Vec<Vec<usize>> = (0..k)
                .map(|i| {
                    if own_shape[i] == shape[nd - k + i] {
                        sizes[nd - k + i].clone()
                    } else {
                        n.grid.axis_sizes(i)
                    }
                })
                .collect();
            let want = ChunkGrid::from_sizes(want)?;
            let r = if want == n.grid {
                n.clone()
            } else {
                rechunk_node(n, want.clone())
            };
            if own_shape == shape {
                return Ok(r);
            }
            let axes = (0..k)
                .map(|i| (nd - k + i, own_shape[i] != shape[nd - k + i]))
                .collect();
            Ok(dispatch_dtype!(n.dtype, T => blocks::<T>(
                vec![r],
                grid.clone(),
                BroadcastTo::<T> { from: want.clone(), axes, to: grid.clone(), _t: PhantomData },
            )
            .node))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((aligned, grid))
}

/// A rechunk node from `n` to `to` (same shape), for any element type. (The optimizer cuts a
/// source afresh instead: see the source-pushdown pass.)
pub(crate) fn rechunk_node(n: &Arc<Node>, to: ChunkGrid) -> Arc<Node> {
    dispatch_dtype!(n.dtype, T => blocks::<T>(
        vec![n.clone()],
        to.clone(),
        Rechunk::<T> { from: n.grid.clone(), to: to.clone(), _t: PhantomData },
    )
    .node)
}

impl<T: Element> Array<T> {
    /// The same elements in C order, with the chunk shapes of `grid` (same block numbering).
    fn reaxis(&self, grid: ChunkGrid, name: &'static str) -> Array<T> {
        let kernel = Reaxis::<T> {
            shape_of: grid.clone(),
            name,
            _t: PhantomData,
        };
        blocks(vec![self.node.clone()], grid, kernel)
    }

    /// The same array cut into different chunks (a block shape or explicit sizes).
    ///
    /// # Errors
    /// [`Error::Chunks`] if `chunks` does not fit the shape.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0i64, 10, 1, [3])?.rechunk([5])?;
    /// assert_eq!(x.chunks(), vec![vec![5, 5]]);
    /// assert_eq!(x.sum().compute()?, 45);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn rechunk(&self, chunks: impl Into<Chunks>) -> Result<Array<T>> {
        self.check()?;
        let to = ChunkGrid::new(&self.shape(), chunks.into())?;
        if to == self.node.grid {
            return Ok(self.clone());
        }
        Ok(Array::from_node(rechunk_node(&self.node, to)))
    }

    /// Reverses the axes (NumPy's `.T`).
    pub fn t(&self) -> Array<T> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        Array::from_result(self.permuted_axes(&perm))
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]` (NumPy's `transpose(perm)`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `perm` is not a permutation of the axes.
    pub fn permuted_axes(&self, perm: &[usize]) -> Result<Array<T>> {
        self.check()?;
        let mut sorted = perm.to_vec();
        sorted.sort_unstable();
        if sorted != (0..self.ndim()).collect::<Vec<_>>() {
            return Err(Error::InvalidArgument(format!(
                "{perm:?} is not a permutation of the {} axes of an array of shape {:?}",
                self.ndim(),
                self.shape()
            )));
        }
        let grid =
            ChunkGrid::from_sizes(perm.iter().map(|&p| self.node.grid.axis_sizes(p)).collect())?;
        let kernel = Transpose::<T> {
            perm: perm.to_vec(),
            from: self.node.grid.clone(),
            _t: PhantomData,
        };
        Ok(blocks(vec![self.node.clone()], grid, kernel))
    }

    /// Inserts an axis of length 1 at `axis` (NumPy's `expand_dims`).
    ///
    /// # Errors
    /// [`Error::Axis`] if `axis > ndim`.
    pub fn expand_dims(&self, axis: usize) -> Result<Array<T>> {
        self.check()?;
        if axis > self.ndim() {
            return Err(Error::Axis {
                op: "expand_dims".into(),
                axis,
                ndim: self.ndim(),
                shape: self.shape(),
            });
        }
        let mut sizes = self.chunks();
        sizes.insert(axis, vec![1]);
        let grid = ChunkGrid::from_sizes(sizes)?;
        Ok(self.reaxis(grid, "expand_dims"))
    }

    /// Same as [`Array::expand_dims`] (ndarray's name).
    ///
    /// # Errors
    /// As [`Array::expand_dims`].
    pub fn insert_axis(&self, axis: usize) -> Result<Array<T>> {
        self.expand_dims(axis)
    }

    /// Removes the given axes, which must have length 1; `None` removes every axis of length 1.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::Shape`] for an axis whose length is not 1.
    pub fn squeeze(&self, axes: Option<&[usize]>) -> Result<Array<T>> {
        self.check()?;
        let shape = self.shape();
        let axes: Vec<usize> = match axes {
            Some(a) => a.to_vec(),
            None => (0..shape.len()).filter(|&i| shape[i] == 1).collect(),
        };
        for &a in &axes {
            if a >= shape.len() {
                return Err(Error::Axis {
                    op: "squeeze".into(),
                    axis: a,
                    ndim: shape.len(),
                    shape,
                });
            }
            if shape[a] != 1 {
                return Err(Error::Shape(format!(
                    "cannot squeeze axis {a} of length {} in shape {shape:?}",
                    shape[a]
                )));
            }
        }
        let sizes: Vec<Vec<usize>> = self
            .chunks()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, s)| s)
            .collect();
        let grid = ChunkGrid::from_sizes(sizes)?;
        Ok(self.reaxis(grid, "squeeze"))
    }

    /// Broadcasts to `shape` (NumPy rules); stretched axes get one chunk per `chunks` of the
    /// target along them (a block size per output axis).
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast; [`Error::Chunks`] for bad chunks.
    pub fn broadcast_to(
        &self,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<T>> {
        self.check()?;
        let shape = shape.as_ref();
        let target = broadcast_shape("broadcast", &[self.shape(), shape.to_vec()])?;
        if target != shape {
            return Err(Error::Shape(format!(
                "cannot broadcast shape {:?} to {shape:?}",
                self.shape()
            )));
        }
        let template = crate::ops::creation::full(shape, chunks, false)?;
        let (nodes, _) = align("broadcast", &[self.node.clone(), template.node.clone()])?;
        Ok(Array::from_node(nodes[0].clone()))
    }

    /// Gives the array a new shape with the same elements in C order (NumPy's `reshape`).
    ///
    /// The axes of the two shapes fall into groups whose lengths multiply to the same number
    /// (`[4, 6, 5] -> [24, 5]`: `[4, 6]` becomes `[24]`, `[5]` stays). Within a group, chunks
    /// must span whole rows: the axes after the group's first long axis are rechunked to one
    /// chunk each, and the first axis's chunk boundaries are moved to the nearest row boundary
    /// of the new shape (its chunks shrink where the other axes grow, so chunk bytes stay close
    /// to the input's). Axes that need no change keep their chunks; an input that already fits
    /// is not rechunked at all (as Dask does).
    ///
    /// # Errors
    /// [`Error::Shape`] if the number of elements differs, or the new shape has more elements
    /// than an array can hold (the message names both shapes).
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0i64, 12, 1, [6])?.reshape([4, 3])?;
    /// assert_eq!(x.chunks(), vec![vec![2, 2], vec![3]]);
    /// let y = ndtask_array::arange(0i64, 12, 1, [5])?.reshape([2, 6])?; // rechunked to rows
    /// assert_eq!(y.compute()?[[1, 0]], 6);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn reshape(&self, shape: impl AsRef<[usize]>) -> Result<Array<T>> {
        self.check()?;
        let (from, to) = (self.shape(), shape.as_ref().to_vec());
        let total = to
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= ChunkGrid::MAX_ELEMENTS);
        if total != Some(self.len()) {
            let why = if total.is_none() {
                "the new shape has more elements than an array can hold"
            } else {
                "sizes differ"
            };
            return Err(Error::Shape(format!(
                "cannot reshape an array of shape {from:?} into shape {to:?}: {why}"
            )));
        }
        if from == to {
            return Ok(self.clone());
        }
        let whole = |s: &[usize]| Chunks::Block(s.iter().map(|&d| d.max(1)).collect());
        if self.is_empty() {
            return crate::ops::creation::full(&to, whole(&to), T::default());
        }
        if from.is_empty() || to.is_empty() {
            // One element: a single chunk on both sides.
            let one = self.rechunk(whole(&from))?;
            return Ok(one.reaxis(ChunkGrid::new(&to, whole(&to))?, "reshape"));
        }
        let grid = &self.node.grid;
        let mut in_sizes: Vec<Vec<usize>> = (0..from.len()).map(|a| grid.axis_sizes(a)).collect();
        let mut out_sizes: Vec<Vec<usize>> = to.iter().map(|&d| vec![d]).collect();
        let max_chunk = grid.max_chunk_shape();
        for (ia, oa) in reshape_groups(&from, &to) {
            let lead_in = ia.clone().find(|&a| from[a] > 1).unwrap_or(ia.start);
            let lead_out = oa.clone().find(|&a| to[a] > 1).unwrap_or(oa.start);
            let p: usize = from[lead_in + 1..ia.end].iter().product();
            let q: usize = to[lead_out + 1..oa.end].iter().product();
            // Boundaries on the lead axis must be multiples of m so that rows line up.
            let m = q / gcd(p, q);
            let trailing: usize = max_chunk[lead_in + 1..ia.end].iter().product();
            let growth = p / trailing.max(1);
            let len = from[lead_in];
            let lead = if growth > 1 {
                // As many elements per chunk as the input's chunks hold, in whole rows.
                let elems = max_chunk[lead_in] as f64 * trailing as f64;
                let target = (elems / p as f64).round().max(1.0) as usize;
                let t = ((target + m / 2) / m).max(1) * m;
                let mut v = vec![t; len / t];
                if len % t > 0 {
                    v.push(len % t);
                }
                v
            } else {
                let mut ends: Vec<usize> = in_sizes[lead_in]
                    .iter()
                    .scan(0, |e, &s| {
                        *e += s;
                        Some(*e)
                    })
                    .map(|e| ((e + m / 2) / m * m).min(len))
                    .filter(|&e| e > 0)
                    .collect();
                ends.dedup();
                if ends.last() != Some(&len) {
                    ends.push(len);
                }
                ends.iter()
                    .scan(0, |last, &e| Some(e - std::mem::replace(last, e)))
                    .collect()
            };
            for a in ia.clone() {
                in_sizes[a] = vec![from[a]];
            }
            out_sizes[lead_out] = lead.iter().map(|&r| r * p / q).collect();
            in_sizes[lead_in] = lead;
        }
        let want = ChunkGrid::from_sizes(in_sizes)?;
        let input = if want == *grid {
            self.clone()
        } else {
            Array::from_node(rechunk_node(&self.node, want))
        };
        Ok(input.reaxis(ChunkGrid::from_sizes(out_sizes)?, "reshape"))
    }
}

/// Splits a reshape into groups of consecutive axes whose lengths multiply to the same number on
/// both sides: (input axes, output axes). Trailing length-1 axes join the last group. Both
/// shapes are non-empty and have the same (non-zero) number of elements.
fn reshape_groups(
    from: &[usize],
    to: &[usize],
) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let mut groups: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < from.len() || j < to.len() {
        let (si, sj) = (i, j);
        let (mut pi, mut pj) = (1usize, 1usize);
        if i < from.len() {
            pi = from[i];
            i += 1;
        }
        if j < to.len() {
            pj = to[j];
            j += 1;
        }
        while pi != pj {
            if pi < pj && i < from.len() {
                pi *= from[i];
                i += 1;
            } else if j < to.len() {
                pj *= to[j];
                j += 1;
            } else {
                break;
            }
        }
        match groups.last_mut() {
            Some(last) if si == i || sj == j => {
                last.0.end = i;
                last.1.end = j;
            }
            _ => groups.push((si..i, sj..j)),
        }
    }
    groups
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}
