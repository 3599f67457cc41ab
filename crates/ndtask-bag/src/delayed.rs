//! `Delayed<T>`: any function call as a lazy task (Dask's `dask.delayed`). A delayed value is a
//! task that computes a `T` from other delayed values, scalars, array chunks or whole arrays;
//! nothing runs until `compute`, and several values computed together share one graph, so a
//! value they all read is computed once. The same schedulers run it as run arrays: sync,
//! threaded, and MPI, where a value that another rank reads crosses as its serde encoding.

use crate::layer::{arg, data_chunk, decode, value_chunk, ArrayInput, Data, Deps, Input, Layer};
use ndarray::{ArrayD, IxDyn, Slice};
use ndtask_array::collection::{Collection, Results, Targets};
use ndtask_array::reader::{from_reader, ChunkReader, Subset};
use ndtask_array::{Array, Config, Scalar};
use ndtask_core::{Chunk, ChunkGrid, Chunks, DType, DecodeFn, Element, Error, Fingerprint, Result};
use ndtask_sched::SyncScheduler;
use std::fmt::Display;
use std::marker::PhantomData;
use std::sync::Arc;

/// A lazy value of type `T`: one task of a graph.
///
/// # Examples
/// ```
/// use ndtask_bag::delayed::{self, Delayed};
/// let a = delayed::value(20_i64);
/// let b = delayed::delayed(|| 22_i64);
/// let sum: Delayed<i64> = a.zip_map(&b, |x, y| x + y);
/// assert_eq!(sum.compute()?, 42);
/// // Computed together, over one graph: `a` runs once.
/// let (s, d) = ndtask_array::compute((&sum, &a.map(|x| x * 2)))?;
/// assert_eq!((s, d), (42, 40));
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub struct Delayed<T> {
    pub(crate) layer: Arc<Layer>,
    /// How a consumer on another rank decodes the value (`None`: it cannot cross ranks).
    pub(crate) decode: Option<DecodeFn<T>>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            layer: self.layer.clone(),
            decode: self.decode,
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Delayed<{}>({})",
            std::any::type_name::<T>(),
            self.layer.name
        )
    }
}

/// The approximate bytes of a value: its shallow size (a `Vec`'s elements are not counted).
fn shallow<T>() -> usize {
    std::mem::size_of::<T>()
}

impl<T: Data> Delayed<T> {
    /// A delayed value computed by `kernel` from the blocks of `inputs` (layers or arrays) that
    /// `deps` lists, encodable across ranks.
    pub(crate) fn of(
        name: &str,
        inputs: Vec<Input>,
        deps: Deps,
        kernel: impl Fn(&[&Chunk]) -> Result<T> + Send + Sync + 'static,
    ) -> Self {
        Delayed::from_layer(Layer::new(
            name,
            1,
            inputs,
            deps,
            move |_: usize, ins: &[&Chunk]| Ok(data_chunk(kernel(ins)?, shallow::<T>())),
        ))
    }

    pub(crate) fn from_layer(layer: Arc<Layer>) -> Self {
        Delayed {
            layer,
            decode: Some(decode::<T>),
            _t: PhantomData,
        }
    }
}

/// A delayed constant (Dask's `delayed(obj)`).
pub fn value<T: Data + Clone>(v: T) -> Delayed<T> {
    let ident = crate::layer::ident_of(&v);
    let d = Delayed::of("value", Vec::new(), Deps::All, move |_| Ok(v.clone()));
    Delayed {
        layer: d.layer.with_ident(ident),
        ..d
    }
}

/// A delayed call of `f` with no inputs (its result can cross MPI ranks).
pub fn delayed<T: Data>(f: impl Fn() -> T + Send + Sync + 'static) -> Delayed<T> {
    Delayed::of("delayed", Vec::new(), Deps::All, move |_| Ok(f()))
}

/// A delayed call of `f` whose result needs no serialisation: it can be any
/// `Send + Sync + 'static` value, but it cannot cross MPI ranks (if it has to, the run fails
/// with an error naming its type).
pub fn delayed_local<T: Send + Sync + 'static>(
    f: impl Fn() -> T + Send + Sync + 'static,
) -> Delayed<T> {
    Delayed {
        layer: Layer::new(
            "delayed_local",
            1,
            Vec::new(),
            Deps::All,
            move |_: usize, _: &[&Chunk]| Ok(value_chunk(f(), shallow::<T>(), None)),
        ),
        decode: None,
        _t: PhantomData,
    }
}

impl<T: Send + Sync + 'static> Delayed<T> {
    /// `f` of this value.
    pub fn map<U: Data>(&self, f: impl Fn(&T) -> U + Send + Sync + 'static) -> Delayed<U> {
        let dec = self.decode;
        Delayed::of("map", vec![self.input()], Deps::All, move |ins| {
            Ok(f(arg(ins[0], dec)?))
        })
    }

    /// `f` of this value, where `f` may fail: its error fails the task (and the compute).
    pub fn try_map<U: Data, E: Display>(
        &self,
        f: impl Fn(&T) -> std::result::Result<U, E> + Send + Sync + 'static,
    ) -> Delayed<U> {
        let dec = self.decode;
        Delayed::of("try_map", vec![self.input()], Deps::All, move |ins| {
            f(arg(ins[0], dec)?).map_err(|e| Error::InvalidArgument(e.to_string()))
        })
    }

    /// `f` of this value, which needs no serialisation (see [`delayed_local`]).
    pub fn map_local<U: Send + Sync + 'static>(
        &self,
        f: impl Fn(&T) -> U + Send + Sync + 'static,
    ) -> Delayed<U> {
        let dec = self.decode;
        Delayed {
            layer: Layer::new(
                "map_local",
                1,
                vec![self.input()],
                Deps::All,
                move |_: usize, ins: &[&Chunk]| {
                    Ok(value_chunk(f(arg(ins[0], dec)?), shallow::<U>(), None))
                },
            ),
            decode: None,
            _t: PhantomData,
        }
    }

    /// `f` of this value and `other`.
    pub fn zip_map<U: Send + Sync + 'static, V: Data>(
        &self,
        other: &Delayed<U>,
        f: impl Fn(&T, &U) -> V + Send + Sync + 'static,
    ) -> Delayed<V> {
        let (da, db) = (self.decode, other.decode);
        Delayed::of(
            "zip_map",
            vec![self.input(), other.input()],
            Deps::All,
            move |ins| Ok(f(arg(ins[0], da)?, arg(ins[1], db)?)),
        )
    }

    pub(crate) fn input(&self) -> Input {
        Input::Layer(self.layer.clone())
    }
}

impl<T: Send + Sync + Clone + 'static> Delayed<T> {
    ndtask_array::collection_methods!("value", T);
}

/// The delayed value `f(values of inputs)`, for any number of inputs of one type.
pub fn combine<T: Send + Sync + 'static, U: Data>(
    inputs: &[Delayed<T>],
    f: impl Fn(&[&T]) -> U + Send + Sync + 'static,
) -> Delayed<U> {
    // Every input has the same type: any decoder serves them all.
    let dec = inputs.iter().find_map(|d| d.decode);
    Delayed::of(
        "combine",
        inputs.iter().map(Delayed::input).collect(),
        Deps::All,
        move |ins| {
            let v = ins
                .iter()
                .map(|c| arg(c, dec))
                .collect::<Result<Vec<&T>>>()?;
            Ok(f(&v))
        },
    )
}

/// A scalar as a delayed value.
pub fn from_scalar<T: Element + Data>(s: &Scalar<T>) -> Delayed<T> {
    Delayed::of(
        "from_scalar",
        vec![Input::Array(ArrayInput::of(s.as_array()))],
        Deps::All,
        |ins| {
            T::chunk_ref(ins[0])
                .and_then(|a| a.first().copied())
                .ok_or_else(|| Error::internal("a scalar's chunk is not one value"))
        },
    )
}

/// A whole array as one delayed `ndarray` (for a small array: all of it is in one task).
pub fn from_array<T: Element + Data>(a: &Array<T>) -> Delayed<ArrayD<T>> {
    let grid = a.grid().clone();
    Delayed::of(
        "from_array",
        vec![Input::Array(ArrayInput::of(a))],
        Deps::All,
        move |ins| assemble::<T>(&grid, ins),
    )
}

/// The chunks of `a` in C order of its grid, each a delayed `ndarray` (Dask's
/// `Array.to_delayed()`).
pub fn chunks<T: Element + Data>(a: &Array<T>) -> Vec<Delayed<ArrayD<T>>> {
    let n = a.num_chunks();
    let input = Input::Array(ArrayInput::of(a));
    (0..n)
        .map(|b| {
            Delayed::of(
                "array_chunk",
                vec![input.clone()],
                Deps::Listed(vec![vec![(0, b)]]),
                |ins| {
                    T::chunk_ref(ins[0])
                        .cloned()
                        .ok_or_else(|| Error::internal("an array chunk of another type"))
                },
            )
        })
        .collect()
}

fn assemble<T: Element>(grid: &ChunkGrid, ins: &[&Chunk]) -> Result<ArrayD<T>> {
    let shape = grid.shape();
    let n = shape.iter().product();
    let mut out = ndtask_core::try_filled(n, T::default(), "an assembled array")
        .and_then(|v| ArrayD::from_shape_vec(IxDyn(&shape), v).map_err(Error::internal))?;
    for (b, c) in ins.iter().enumerate() {
        let idx = grid.unravel(b);
        let (off, sh) = (grid.chunk_offset(&idx), grid.chunk_shape(&idx));
        let a = T::chunk_ref(c).ok_or_else(|| Error::internal("a chunk of another type"))?;
        out.slice_each_axis_mut(|ax| {
            let i = ax.axis.index();
            Slice::from(off[i]..off[i] + sh[i])
        })
        .assign(a);
    }
    Ok(out)
}

/// A lazy array whose chunks are delayed `ndarray`s (Dask's `da.from_delayed`): chunk `b` (C
/// order of the grid of `shape` cut into `chunks`) is `parts[b]`, which must have the chunk's
/// shape. A chunk task computes its delayed value where it runs (the value's own graph, on
/// that thread): use it for values that are cheap to recompute or read, like a file's
/// contents.
///
/// # Errors
/// [`Error::Chunks`] if `chunks` does not fit `shape`; [`Error::InvalidArgument`] if the
/// number of parts is not the number of chunks. When computed, a part of another shape fails
/// its task with an error naming both shapes.
///
/// # Examples
/// ```
/// use ndtask_bag::delayed;
/// let parts = (0..3)
///     .map(|i| delayed::delayed(move || ndarray::ArrayD::from_elem(ndarray::IxDyn(&[2]), i as f64)))
///     .collect();
/// let x = delayed::to_array::<f64>(parts, [6], [2])?;
/// assert_eq!(x.sum().compute()?, 2.0 * (0.0 + 1.0 + 2.0));
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn to_array<T: Element + Data>(
    parts: Vec<Delayed<ArrayD<T>>>,
    shape: impl AsRef<[usize]>,
    chunks: impl Into<Chunks>,
) -> Result<Array<T>> {
    let shape = shape.as_ref().to_vec();
    let grid = ChunkGrid::new(&shape, chunks.into())?;
    if parts.len() != grid.num_chunks() {
        return Err(Error::InvalidArgument(format!(
            "to_array: {} delayed parts for the {} chunks of shape {shape:?} in chunks {:?}",
            parts.len(),
            grid.num_chunks(),
            sizes_of(&grid)
        )));
    }
    let reader = DelayedReader {
        parts,
        grid: grid.clone(),
    };
    from_reader::<T>(reader, &shape, Chunks::Explicit(sizes_of(&grid)))
}

/// The block sizes of every axis of `grid`.
fn sizes_of(grid: &ChunkGrid) -> Vec<Vec<usize>> {
    (0..grid.ndim()).map(|a| grid.axis_sizes(a)).collect()
}

/// Reads an array's chunks by computing their delayed values.
struct DelayedReader<T> {
    parts: Vec<Delayed<ArrayD<T>>>,
    grid: ChunkGrid,
}

impl<T: Element + Data> ChunkReader for DelayedReader<T> {
    fn name(&self) -> String {
        "from_delayed".into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("from_delayed");
        for p in &self.parts {
            match p.task_graph() {
                Ok(g) => h.u64(g.fingerprint()),
                Err(e) => h.str(&e.to_string()),
            }
        }
    }
    fn dtype(&self) -> DType {
        T::DTYPE
    }
    fn read(&self, r: &Subset) -> Result<Chunk> {
        let mut out = ndtask_core::try_filled(r.len(), T::default(), "a delayed region")
            .and_then(|v| ArrayD::from_shape_vec(IxDyn(&r.shape), v).map_err(Error::internal))?;
        if r.is_empty() {
            return Ok(T::into_chunk(out));
        }
        // Every chunk the region overlaps, computed here and copied in.
        let first: Vec<usize> = (0..r.start.len())
            .map(|a| self.grid.block_of(a, r.start[a]))
            .collect();
        let last: Vec<usize> = (0..r.start.len())
            .map(|a| self.grid.block_of(a, r.start[a] + r.shape[a] - 1))
            .collect();
        let mut idx = first.clone();
        loop {
            let b = self.grid.ravel(&idx);
            let off = self.grid.chunk_offset(&idx);
            let want = self.grid.chunk_shape(&idx);
            let got = self.parts[b].compute_with(&Config::new().scheduler(SyncScheduler))?;
            if got.shape() != want.as_slice() {
                return Err(Error::Shape(format!(
                    "to_array: delayed part {b} has shape {:?}, its chunk {want:?}",
                    got.shape()
                )));
            }
            let (src, dst): (Vec<_>, Vec<_>) = (0..idx.len())
                .map(|a| {
                    let lo = r.start[a].max(off[a]);
                    let hi = (r.start[a] + r.shape[a]).min(off[a] + want[a]);
                    (
                        Slice::from(lo - off[a]..hi - off[a]),
                        Slice::from(lo - r.start[a]..hi - r.start[a]),
                    )
                })
                .unzip();
            out.slice_each_axis_mut(|ax| dst[ax.axis.index()])
                .assign(&got.slice_each_axis(|ax| src[ax.axis.index()]));
            // The next chunk index in C order within [first, last].
            let mut a = idx.len();
            loop {
                if a == 0 {
                    return Ok(T::into_chunk(out));
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
}

/// The value of one result chunk: moved out when this is its only holder, copied otherwise.
pub(crate) fn take_value<T: Send + Sync + Clone + 'static>(
    chunk: Arc<Chunk>,
    decode: Option<DecodeFn<T>>,
) -> Result<T> {
    let v = match Arc::try_unwrap(chunk) {
        Ok(Chunk::Value(v)) => v,
        Ok(_) => return Err(Error::internal("a delayed result that is an array chunk")),
        Err(shared) => return arg(&shared, decode).cloned(),
    };
    let shared = v.into_shared(decode)?;
    Ok(Arc::try_unwrap(shared).unwrap_or_else(|s| (*s).clone()))
}

impl<T: Send + Sync + Clone + 'static> Collection for Delayed<T> {
    type Output = T;
    fn add_targets(&self, targets: &mut Targets) {
        targets.push_layer(self.layer.clone(), vec![0]);
    }
    fn take_results(&self, results: &mut Results) -> Result<T> {
        let c = results
            .take_chunks()?
            .pop()
            .ok_or_else(|| Error::internal("missing result"))?;
        take_value(c, self.decode)
    }
}
