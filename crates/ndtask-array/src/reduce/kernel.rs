//! The reduction driver: [`Kernel`] turns a [`Reduction`] into the type-erased
//! [`ReduceKernel`]: folding tiles, whole chunks or some axes of a chunk into states, merging
//! states, and finishing them.

use crate::plan::chunks::typed;
use crate::reduce::reduction::{leading, Place, ReduceKernel, Reduction, State, TileFolder};
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{
    tile_len, try_filled, Buf, Chunk, DType, Element, Error, Fingerprint, Layout, Result, TILE,
};

/// Adapts a [`Reduction`] to [`ReduceKernel`].
pub(crate) struct Kernel<R>(pub R);

impl<R: Reduction> ReduceKernel for Kernel<R> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn fingerprint(&self, h: &mut Fingerprint) {
        self.0.fingerprint(h);
    }

    fn state_layout(&self, shape: &[usize]) -> Layout {
        let dtypes = <R::State as State>::dtypes();
        Layout {
            tuple: dtypes.len() > 1,
            parts: dtypes.into_iter().map(|d| (d, shape.to_vec())).collect(),
        }
    }

    fn out_dtype(&self) -> DType {
        R::Out::DTYPE
    }

    fn positional(&self) -> bool {
        self.0.positional()
    }

    fn folder<'a>(
        &'a self,
        nreduced: Option<usize>,
        place: Place,
    ) -> Result<Box<dyn TileFolder + 'a>> {
        Ok(match nreduced {
            None => Box::new(Whole::new(self, place)),
            Some(k) => Box::new(Rows::new(self, k, &place)?),
        })
    }

    fn partial_all(&self, chunk: &Chunk, place: &Place) -> Result<Chunk> {
        let a = typed::<R::In>(chunk, self.0.name())?;
        let std = a.as_standard_layout();
        let xs = std
            .as_slice()
            .ok_or_else(|| Error::internal("standard layout without a slice"))?;
        // The tiles a fused input is folded in, so a materialised and a fused input give the
        // same bits.
        let mut whole = Whole::new(self, place.clone());
        xs.chunks(tile_len(a.shape()))
            .for_each(|run| whole.feed_values(run));
        whole.state()
    }

    fn partial_axes(&self, chunk: &Chunk, axes: &[usize], place: &Place) -> Result<Chunk> {
        let a = typed::<R::In>(chunk, self.0.name())?;
        if leading(axes) && axes.len() < a.ndim() {
            // Reduce over leading axes row by row: no transposed copy of the chunk.
            let std = a.as_standard_layout();
            let xs = std
                .as_slice()
                .ok_or_else(|| Error::internal("standard layout without a slice"))?;
            let mut rows = Rows::new(self, axes.len(), place)?;
            rows.feed_values(xs);
            return rows.state();
        }
        let kept: Vec<usize> = (0..a.ndim()).filter(|i| !axes.contains(i)).collect();
        let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
        let lane: usize = axes.iter().map(|&i| a.shape()[i]).product();
        let view = a.view().permuted_axes(perm);
        let data = view.as_standard_layout();
        let xs = data
            .as_slice()
            .ok_or_else(|| Error::internal("standard layout without a slice"))?;
        let states: Vec<R::State> = if lane == 0 {
            let n = kept.iter().map(|&i| a.shape()[i]).product();
            try_filled(n, self.0.init(), format_args!("{} states", self.0.name()))?
        } else {
            xs.chunks(lane)
                .map(|l| {
                    let mut s = self.0.init();
                    // With one reduced axis, the index of lane element k is its position along it.
                    let start = axes.first().map_or(0, |&a| place.offset[a]);
                    for (t, run) in l.chunks(TILE).enumerate() {
                        self.0
                            .fold_at(&mut s, run, &|k| (start + t * TILE + k) as i64);
                    }
                    s
                })
                .collect()
        };
        let shape: Vec<usize> = (0..a.ndim())
            .map(|i| if axes.contains(&i) { 1 } else { a.shape()[i] })
            .collect();
        <R::State as State>::encode(states, &shape)
    }

    fn identity(&self, shape: &[usize]) -> Result<Chunk> {
        let n = shape.iter().product();
        let states = try_filled(n, self.0.init(), format_args!("{} states", self.0.name()))?;
        <R::State as State>::encode(states, shape)
    }

    fn combine(&self, parts: &[&Chunk]) -> Result<Chunk> {
        let (first, rest) = parts
            .split_first()
            .ok_or_else(|| Error::internal("combine of no parts"))?;
        let mut acc = <R::State as State>::decode(first)?;
        for p in rest {
            let p = <R::State as State>::decode(p)?;
            if p.len() != acc.len() {
                return Err(Error::internal(format!(
                    "{}: merging states of {} and {} elements",
                    self.0.name(),
                    acc.len(),
                    p.len()
                )));
            }
            acc.iter_mut().zip(&p).for_each(|(a, b)| self.0.merge(a, b));
        }
        <R::State as State>::encode(acc, first.shape())
    }

    fn finalize(&self, state: &Chunk, shape: &[usize]) -> Result<Chunk> {
        let out: Vec<R::Out> = <R::State as State>::decode(state)?
            .iter()
            .map(|s| self.0.check(s).map(|()| self.0.finish(s)))
            .collect::<Result<_>>()?;
        let a = ArrayD::from_shape_vec(IxDyn(shape), out).map_err(Error::internal)?;
        Ok(R::Out::into_chunk(a))
    }
}

/// The tile `b`'s values as the reduction's input type.
fn values_of<'b, R: Reduction>(kernel: &Kernel<R>, b: &'b Buf) -> Result<&'b [R::In]> {
    R::In::buf_ref(b)
        .map(Vec::as_slice)
        .ok_or_else(|| Error::internal(format!("{}: tile of type {}", kernel.0.name(), b.dtype())))
}

/// Folds a chunk's tiles, in C order, into one state over all its values.
struct Whole<'k, R: Reduction> {
    kernel: &'k Kernel<R>,
    state: R::State,
    /// The chunk position of the next tile's first value.
    off: usize,
    place: Place,
}

impl<'k, R: Reduction> Whole<'k, R> {
    fn new(kernel: &'k Kernel<R>, place: Place) -> Self {
        Whole {
            kernel,
            state: kernel.0.init(),
            off: 0,
            place,
        }
    }

    fn feed_values(&mut self, xs: &[R::In]) {
        let (place, off) = (&self.place, self.off);
        self.kernel
            .0
            .fold_at(&mut self.state, xs, &|k| place.flat(off + k));
        self.off += xs.len();
    }

    fn state(self) -> Result<Chunk> {
        <R::State as State>::encode(vec![self.state], &vec![1; self.place.shape.len()])
    }
}

impl<R: Reduction> TileFolder for Whole<'_, R> {
    fn feed(&mut self, b: &Buf, n: usize) -> Result<()> {
        let xs = values_of(self.kernel, b)?;
        self.feed_values(&xs[..n]);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Chunk> {
        self.state()
    }
}

/// Folds a chunk's values, arriving in C order in runs of any length, row by row into the states
/// of the kept (trailing) positions.
struct Rows<'k, R: Reduction> {
    kernel: &'k Kernel<R>,
    states: Vec<R::State>,
    /// The columns' running sums, for a reduction that folds rows as sums
    /// ([`Reduction::row_sums`]); `states` are made from them at the end.
    sums: Option<Vec<f64>>,
    /// Position within the current row, and the current row's number.
    col: usize,
    row: usize,
    /// The index along the reduced axis of row 0 (single reduced axis), for argmin/argmax.
    first_index: usize,
    shape: Vec<usize>,
}

impl<'k, R: Reduction> Rows<'k, R> {
    fn new(kernel: &'k Kernel<R>, nreduced: usize, place: &Place) -> Result<Self> {
        let kept: usize = place.chunk[nreduced..].iter().product();
        let shape = place
            .chunk
            .iter()
            .enumerate()
            .map(|(i, &d)| if i < nreduced { 1 } else { d })
            .collect();
        let first_index = if nreduced == 1 { place.offset[0] } else { 0 };
        let states = try_filled(
            kept,
            kernel.0.init(),
            format_args!("{} states", kernel.0.name()),
        )?;
        let sums = match kernel.0.row_sums() {
            true => Some(try_filled(
                kept,
                0.0,
                format_args!("{} sums", kernel.0.name()),
            )?),
            false => None,
        };
        Ok(Rows {
            kernel,
            states,
            sums,
            col: 0,
            row: 0,
            first_index,
            shape,
        })
    }

    fn feed_values(&mut self, mut xs: &[R::In]) {
        let width = self.states.len();
        while !xs.is_empty() && width > 0 {
            let n = (width - self.col).min(xs.len());
            let index = (self.first_index + self.row) as i64;
            match &mut self.sums {
                Some(sums) => self
                    .kernel
                    .0
                    .fold_row_sums(&mut sums[self.col..self.col + n], &xs[..n]),
                None => self.kernel.0.fold_row(
                    &mut self.states[self.col..self.col + n],
                    &xs[..n],
                    index,
                ),
            }
            xs = &xs[n..];
            self.col += n;
            if self.col == width {
                self.col = 0;
                self.row += 1;
            }
        }
    }

    fn state(mut self) -> Result<Chunk> {
        if let Some(sums) = &self.sums {
            // Every column has a value of each whole row, and those before `col` one more.
            for (c, (s, &sum)) in self.states.iter_mut().zip(sums).enumerate() {
                let count = (self.row + usize::from(c < self.col)) as f64;
                *s = self.kernel.0.state_of_sums(sum, count);
            }
        }
        <R::State as State>::encode(self.states, &self.shape)
    }
}

impl<R: Reduction> TileFolder for Rows<'_, R> {
    fn feed(&mut self, b: &Buf, n: usize) -> Result<()> {
        let xs = values_of(self.kernel, b)?;
        self.feed_values(&xs[..n]);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Chunk> {
        self.state()
    }
}
