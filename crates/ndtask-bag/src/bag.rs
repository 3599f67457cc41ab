//! `Bag<T>`: a lazy, partitioned collection of records (Dask's `dask.bag`). Each partition is
//! one task holding a `Vec<T>`; element-wise operations (`map`, `filter`, `flat_map`) run
//! partition by partition, aggregations (`count`, `sum`, `fold`, `frequencies`, `foldby`, ...)
//! fold each partition and merge the partial results in a fixed tree, so every scheduler,
//! thread count and MPI rank count gives the same result, in the same order.

use crate::delayed::{take_value, Delayed};
use crate::files::{item_name, TextSource};
use crate::layer::{
    arg, data_chunk, decode, ident_of, items, pieced, ArrayInput, Data, Deps, Folder, Held, Input,
    Layer, Part, PIECE,
};
use ndarray::{ArrayD, IxDyn};
use ndtask_array::collection::layer::PieceSource;
use ndtask_array::collection::{Collection, Results, Targets};
use ndtask_array::Array;
use ndtask_array::Config;
use ndtask_core::{Chunk, Chunks, Element, Error, Result};
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

/// How many partial results one combine task merges.
pub const SPLIT_EVERY: usize = 8;

/// A lazy collection of `T` in partitions.
///
/// # Examples
/// ```
/// use ndtask_bag::Bag;
/// let b = Bag::from_vec((1..=10).collect::<Vec<i64>>(), 3)?;
/// let odd_squares = b.filter(|x| x % 2 == 1).map(|x| x * x);
/// assert_eq!(odd_squares.compute()?, vec![1, 9, 25, 49, 81]);
/// assert_eq!(odd_squares.sum().compute()?, 165);
/// assert_eq!(b.count().compute()?, 10);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub struct Bag<T> {
    pub(crate) layer: Arc<Layer>,
    /// The files the items come from, item `i` of partition `b` being line `i` of piece `b`
    /// (kept by the steps that map item for item), so that an error can name file and line.
    pub(crate) origin: Option<TextSource>,
    /// Whether the items are the files' lines as [`crate::read_text`] read them: JSON
    /// decoding then reads the files directly, with no string per line.
    pub(crate) as_read: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Bag<T> {
    fn clone(&self) -> Self {
        Bag {
            layer: self.layer.clone(),
            origin: self.origin.clone(),
            as_read: self.as_read,
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Bag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bag<{}>({}, {} partitions)",
            std::any::type_name::<T>(),
            self.layer.name,
            self.layer.blocks
        )
    }
}

/// The bytes a partition of `n` items holds (shallowly).
fn part_bytes<T>(n: usize) -> usize {
    n.saturating_mul(std::mem::size_of::<T>())
}

/// `n` items in `parts` partitions: the first `n % parts` get one more.
fn split_sizes(n: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| n / parts + usize::from(i < n % parts))
        .collect()
}

fn check_partitions(what: &str, npartitions: usize) -> Result<()> {
    if npartitions == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: a bag needs at least one partition, got npartitions=0"
        )));
    }
    Ok(())
}

impl Bag<u64> {
    /// The integers `0..n` in `npartitions` partitions of nearly equal size (Dask's
    /// `db.range`), made by each partition's task: nothing is held in the graph.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `npartitions` is zero.
    pub fn range(n: u64, npartitions: usize) -> Result<Self> {
        check_partitions("range", npartitions)?;
        let p = npartitions as u64;
        let start = move |b: u64| b * (n / p) + b.min(n % p);
        let layer = pieced("range", npartitions, move |b, sink| {
            let (lo, hi) = (start(b as u64), start(b as u64 + 1));
            let mut at = lo;
            while at < hi {
                let end = hi.min(at + PIECE as u64);
                sink((at..end).collect())?;
                at = end;
            }
            Ok(())
        });
        let mut h = ndtask_core::Fingerprint::new();
        h.u64(n);
        Ok(Bag::from_layer(layer.with_ident(h.finish()), None))
    }
}

impl<T: Data> Bag<T> {
    pub(crate) fn from_layer(layer: Arc<Layer>, origin: Option<TextSource>) -> Self {
        Bag {
            layer,
            origin,
            as_read: false,
            _t: PhantomData,
        }
    }

    /// The bag of `items` in `npartitions` partitions of nearly equal size, in order (Dask's
    /// `db.from_sequence`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `npartitions` is zero.
    pub fn from_vec(items: Vec<T>, npartitions: usize) -> Result<Self>
    where
        T: Clone,
    {
        check_partitions("from_vec", npartitions)?;
        let mut rest = items.into_iter();
        let parts = split_sizes(rest.len(), npartitions)
            .into_iter()
            .map(|n| rest.by_ref().take(n).collect())
            .collect();
        Self::from_partitions(parts)
    }

    /// The bag of `items` (an iterator) in `npartitions` partitions.
    ///
    /// # Errors
    /// As [`Bag::from_vec`].
    pub fn from_iter(items: impl IntoIterator<Item = T>, npartitions: usize) -> Result<Self>
    where
        T: Clone,
    {
        Self::from_vec(items.into_iter().collect(), npartitions)
    }

    /// The bag whose partitions are `parts`, in order.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if there are no partitions.
    pub fn from_partitions(parts: Vec<Vec<T>>) -> Result<Self>
    where
        T: Clone,
    {
        check_partitions("from_partitions", parts.len())?;
        let ident = ident_of(&parts);
        let parts = Arc::new(parts);
        let n = parts.len();
        let layer = pieced("from_vec", n, move |b, sink| {
            parts[b]
                .chunks(PIECE)
                .try_for_each(|piece| sink(piece.to_vec()))
        });
        Ok(Self::from_layer(layer.with_ident(ident), None))
    }

    /// The number of partitions.
    pub fn npartitions(&self) -> usize {
        self.layer.blocks
    }

    /// A bag computed partition by partition: `f(partition number, items)`, fused with the
    /// layer before it when it is that layer's only reader.
    ///
    /// `itemwise`: `f` maps items alone, not their positions (so it can run on pieces of a
    /// partition); `keep_origin`: item `i` of the result is item `i` of the input.
    fn partitionwise<U: Data>(
        &self,
        name: &str,
        keep_origin: bool,
        itemwise: bool,
        f: impl Fn(usize, Held<'_, T>) -> Result<Vec<U>> + Send + Sync + 'static,
    ) -> Bag<U> {
        let layer = Layer::stage(name, &self.layer, move |b: usize, part: Part<'_>| {
            let out = f(b, items::<T>(part)?)?;
            let n = out.len();
            Ok(data_chunk(out, part_bytes::<U>(n)))
        })
        .with(|l| l.itemwise = itemwise);
        Bag::from_layer(layer, self.origin.clone().filter(|_| keep_origin))
    }

    /// `f` of every item.
    pub fn map<U: Data>(&self, f: impl Fn(&T) -> U + Send + Sync + 'static) -> Bag<U> {
        self.partitionwise("map", true, true, move |_, p| {
            Ok(p.iter().map(&f).collect())
        })
    }

    /// `f` of every item, where `f` may fail: the first failure fails the compute with an
    /// error naming the item (its file and line, for a bag read by [`crate::read_text`]).
    pub fn try_map<U: Data, E: Display>(
        &self,
        f: impl Fn(&T) -> std::result::Result<U, E> + Send + Sync + 'static,
    ) -> Bag<U> {
        let origin = self.origin.clone();
        self.partitionwise("try_map", true, false, move |b, p| {
            p.iter()
                .enumerate()
                .map(|(i, x)| {
                    f(x).map_err(|e| {
                        Error::InvalidArgument(format!("{}: {e}", item_name(&origin, b, i)))
                    })
                })
                .collect()
        })
    }

    /// The items for which `f` is true.
    pub fn filter(&self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Bag<T>
    where
        T: Clone,
    {
        // The items are moved, not copied, when the partition is this task's own.
        self.partitionwise("filter", false, true, move |_, p| {
            Ok(p.into_vec().into_iter().filter(|x| f(x)).collect())
        })
    }

    /// The items of `f(item)` for every item, in order.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(&T) -> I + Send + Sync + 'static,
    ) -> Bag<U> {
        self.partitionwise("flat_map", false, true, move |_, p| {
            Ok(p.iter().flat_map(&f).collect())
        })
    }

    /// `f` of every whole partition.
    pub fn map_partitions<U: Data>(
        &self,
        f: impl Fn(&[T]) -> Vec<U> + Send + Sync + 'static,
    ) -> Bag<U> {
        self.partitionwise("map_partitions", false, false, move |_, p| Ok(f(&p)))
    }

    /// Encodes every item as one line of JSON.
    pub fn to_json(&self) -> Bag<String> {
        self.try_map(serde_json::to_string)
    }

    /// A tree reduction: `partial` of every partition, then `combine` of up to
    /// [`SPLIT_EVERY`] partial results at a time, level by level, in order, down to one.
    pub fn reduction<A: Data>(
        &self,
        name: &str,
        partial: impl Fn(&[T]) -> Result<A> + Send + Sync + 'static,
        combine: impl Fn(Vec<&A>) -> Result<A> + Send + Sync + 'static,
    ) -> Delayed<A> {
        let level = Layer::stage(
            format!("{name}-partial"),
            &self.layer,
            move |_: usize, part: Part<'_>| {
                let p = items::<T>(part)?;
                Ok(data_chunk(partial(&p)?, std::mem::size_of::<A>()))
            },
        );
        tree(name, level, combine)
    }

    /// A tree reduction whose partial folds the items one by one into an accumulator
    /// (`init`, then `step` per item, then `finish`), so that a partition read in pieces
    /// folds piece by piece, never held whole, to the same result.
    fn folding<Acc: Send + 'static, A: Data>(
        &self,
        name: &str,
        init: impl Fn() -> Acc + Send + Sync + 'static,
        step: impl Fn(&mut Acc, &T) + Send + Sync + 'static,
        finish: impl Fn(Acc) -> Result<A> + Send + Sync + 'static,
        combine: impl Fn(Vec<&A>) -> Result<A> + Send + Sync + 'static,
    ) -> Delayed<A> {
        let folder = FoldItems {
            init,
            step,
            finish,
            _t: PhantomData::<fn(&T, Acc) -> A>,
        };
        tree(
            name,
            Layer::folding(format!("{name}-partial"), &self.layer, folder),
            combine,
        )
    }

    /// Folds every partition from `init` with `fold`, then merges the partial results with
    /// `combine`, in a fixed tree (Dask's `Bag.fold`).
    pub fn fold<A: Data + Clone>(
        &self,
        init: A,
        fold: impl Fn(A, &T) -> A + Send + Sync + 'static,
        combine: impl Fn(A, A) -> A + Send + Sync + 'static,
    ) -> Delayed<A> {
        let (first, last) = (init.clone(), init);
        self.folding(
            "fold",
            || None::<A>,
            move |acc, x| {
                let a = acc.take().unwrap_or_else(|| first.clone());
                *acc = Some(fold(a, x));
            },
            move |acc| Ok(acc.unwrap_or_else(|| last.clone())),
            move |parts| {
                let mut it = parts.into_iter().cloned();
                let first = it.next().ok_or_else(|| Error::internal("no partial"))?;
                Ok(it.fold(first, &combine))
            },
        )
    }

    /// The number of items.
    pub fn count(&self) -> Delayed<usize> {
        self.folding(
            "count",
            || 0usize,
            |n, _| *n += 1,
            Ok,
            |c| Ok(c.into_iter().sum()),
        )
    }

    /// The sum of the items (each partition's, in order, then a tree of sums).
    pub fn sum(&self) -> Delayed<T>
    where
        T: Clone + std::iter::Sum<T> + std::ops::Add<Output = T>,
    {
        self.folding(
            "sum",
            || None::<T>,
            |acc, x| {
                *acc = Some(match acc.take() {
                    None => x.clone(),
                    Some(a) => a + x.clone(),
                })
            },
            |acc| Ok(acc.unwrap_or_else(|| std::iter::empty::<T>().sum())),
            |s| Ok(s.into_iter().cloned().sum()),
        )
    }

    fn extreme(&self, name: &'static str, better: fn(&T, &T) -> bool) -> Delayed<T>
    where
        T: Clone,
    {
        let keep = move |best: &mut Option<T>, x: &T| {
            if best.as_ref().is_none_or(|b| better(x, b)) {
                *best = Some(x.clone());
            }
        };
        self.folding(
            name,
            || None::<T>,
            keep,
            Ok,
            move |parts| {
                let mut best = None;
                parts.into_iter().flatten().for_each(|x| keep(&mut best, x));
                Ok(best)
            },
        )
        .try_map(move |m: &Option<T>| m.clone().ok_or_else(|| format!("{name} of an empty bag")))
    }

    /// The smallest item (the first of equal ones).
    ///
    /// When computed: an error for an empty bag.
    pub fn min(&self) -> Delayed<T>
    where
        T: Clone + PartialOrd,
    {
        self.extreme("min", |x, best| x < best)
    }

    /// The largest item (the first of equal ones).
    ///
    /// When computed: an error for an empty bag.
    pub fn max(&self) -> Delayed<T>
    where
        T: Clone + PartialOrd,
    {
        self.extreme("max", |x, best| x > best)
    }

    /// The mean of the items, as `f64`.
    ///
    /// When computed: an error for an empty bag.
    pub fn mean(&self) -> Delayed<f64>
    where
        T: Copy + Into<f64>,
    {
        self.folding(
            "mean",
            || (0.0f64, 0usize),
            |(sum, n), &x| {
                *sum += x.into();
                *n += 1;
            },
            Ok,
            |s| Ok(s.into_iter().fold((0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1))),
        )
        .try_map(|&(sum, n): &(f64, usize)| match n {
            0 => Err("mean of an empty bag"),
            n => Ok(sum / n as f64),
        })
    }

    /// The distinct items with how often each occurs, in the order they first occur, in one
    /// partition.
    pub fn frequencies(&self) -> Bag<(T, usize)>
    where
        T: Clone + Hash + Eq,
    {
        self.foldby(|x: &T| x.clone(), 0usize, |n, _| n + 1, |a, b| a + b)
    }

    /// The distinct items, in the order they first occur, in one partition.
    pub fn distinct(&self) -> Bag<T>
    where
        T: Clone + Hash + Eq,
    {
        let d = self.folding(
            "distinct",
            || (std::collections::HashSet::new(), Vec::new()),
            |(seen, out), x: &T| {
                if seen.insert(x.clone()) {
                    out.push(x.clone());
                }
            },
            |(_, out)| Ok(out),
            |parts| Ok(first_seen(parts.into_iter().flatten().cloned())),
        );
        Bag::from_layer(d.layer, None)
    }

    /// Groups the items by `key` and folds each group (Dask's `Bag.foldby`): within a
    /// partition from `init` with `fold`, then across partitions with `combine`, in a fixed
    /// tree. One partition of `(key, value)` pairs, keys in the order they first occur.
    pub fn foldby<K: Data + Clone + Hash + Eq, A: Data + Clone>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
        init: A,
        fold: impl Fn(A, &T) -> A + Send + Sync + 'static,
        combine: impl Fn(A, A) -> A + Send + Sync + 'static,
    ) -> Bag<(K, A)> {
        let d = self.folding(
            "foldby",
            Groups::default,
            move |groups, x| groups.update(key(x), || fold(init.clone(), x), |a| fold(a, x)),
            |groups| Ok(groups.into_items()),
            move |parts| {
                let mut groups = Groups::default();
                for (k, v) in parts.into_iter().flatten() {
                    groups.update(k.clone(), || v.clone(), |a| combine(a, v.clone()));
                }
                Ok(groups.into_items())
            },
        );
        Bag::from_layer(d.layer, None)
    }

    /// The items grouped by `key`: one partition of `(key, items)` pairs, keys in the order
    /// they first occur, items in bag order.
    pub fn groupby<K: Data + Clone + Hash + Eq>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
    ) -> Bag<(K, Vec<T>)>
    where
        T: Clone,
    {
        self.foldby(
            key,
            Vec::new(),
            |mut v: Vec<T>, x: &T| {
                v.push(x.clone());
                v
            },
            |mut a, b| {
                a.extend(b);
                a
            },
        )
    }

    /// The bag of only the listed partitions, in that order.
    fn select(&self, parts: Vec<usize>) -> Bag<T> {
        let n = parts.len();
        let listed = parts.iter().map(|&p| vec![(0, p)]).collect();
        let layer = Layer::new(
            "select",
            n,
            vec![Input::Layer(self.layer.clone())],
            Deps::Listed(listed),
            |_: usize, ins: &[&Chunk]| match ins[0] {
                Chunk::Value(v) => Ok(Chunk::Value(v.clone())),
                _ => Err(Error::internal("a partition that is not a value")),
            },
        );
        Bag::from_layer(layer, None)
    }

    /// The first `n` items, computing only the partitions it needs: the first, then twice as
    /// many at a time, in order, until there are `n` (Dask's `take` with `npartitions=-1`).
    ///
    /// # Errors
    /// The first failing task's error.
    pub fn take(&self, n: usize) -> Result<Vec<T>>
    where
        T: Clone,
    {
        self.take_with(n, &Config::default())
    }

    /// As [`Bag::take`] with `config`. Under MPI every rank calls it, and the scheduler must
    /// gather results to every rank (each decides alone whether to read on).
    ///
    /// # Errors
    /// As [`Bag::take`].
    pub fn take_with(&self, n: usize, config: &Config) -> Result<Vec<T>>
    where
        T: Clone,
    {
        let scheduler = config.get_scheduler()?;
        // Every rank must see the items to decide alike whether to read on; decided before any
        // compute, on every rank alike.
        if !scheduler.delivers_to_all() {
            return Err(Error::Scheduler(format!(
                "take on the {} scheduler needs the items on every rank, to know whether to \
                 read further partitions: build it to gather results to every rank \
                 (MpiScheduler::builder().gather_to_all(true))",
                scheduler.name()
            )));
        }
        let mut out = Vec::new();
        let (mut next, mut batch) = (0, 1);
        while out.len() < n && next < self.npartitions() {
            let end = (next + batch).min(self.npartitions());
            let part = self.select((next..end).collect());
            // Every rank needs the items to know whether to go on: gather them everywhere.
            let items = config.compute_local(&part)?;
            let Some(items) = items else {
                return Err(Error::internal("take: a batch's items did not arrive"));
            };
            out.extend(items.into_iter().take(n - out.len()));
            next = end;
            batch *= 2;
        }
        Ok(out)
    }

    /// The partitions as delayed `Vec`s.
    pub fn to_delayed(&self) -> Vec<Delayed<Vec<T>>> {
        (0..self.npartitions())
            .map(|p| Delayed::from_layer(self.select(vec![p]).layer))
            .collect()
    }

    /// The items as a 1-D lazy array, one chunk per non-empty partition. The partitions'
    /// lengths are computed first (on the default scheduler of this process), as an array's
    /// shape must be known; each chunk task then computes its partition where it runs.
    ///
    /// # Errors
    /// The first failing task's error while counting.
    pub fn to_array(&self) -> Result<Array<T>>
    where
        T: Element + Clone,
    {
        let lengths = self.map_partitions(|p| vec![p.len()]).compute()?;
        let keep: Vec<usize> = (0..lengths.len()).filter(|&p| lengths[p] > 0).collect();
        let total: usize = lengths.iter().sum();
        let parts: Vec<Delayed<ArrayD<T>>> = keep
            .iter()
            .map(|&p| {
                Delayed::of(
                    "to_array",
                    vec![Input::Layer(self.layer.clone())],
                    Deps::Listed(vec![vec![(0, p)]]),
                    |ins| {
                        let v: &Vec<T> = arg(ins[0], Some(decode::<Vec<T>>))?;
                        ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.clone())
                            .map_err(Error::internal)
                    },
                )
            })
            .collect();
        let chunks = match total {
            0 => Chunks::Block(vec![1]),
            _ => Chunks::Explicit(vec![keep.iter().map(|&p| lengths[p]).collect()]),
        };
        crate::delayed::to_array(parts, [total], chunks)
    }
}

/// Combines the partial results of `level` (one per partition) with `combine`, up to
/// [`SPLIT_EVERY`] at a time, level by level, in order, down to one.
fn tree<A: Data>(
    name: &str,
    mut level: Arc<Layer>,
    combine: impl Fn(Vec<&A>) -> Result<A> + Send + Sync + 'static,
) -> Delayed<A> {
    let combine = Arc::new(combine);
    loop {
        let n = level.blocks;
        if n == 1 {
            return Delayed::from_layer(level);
        }
        let groups: Vec<Vec<(usize, usize)>> = (0..n.div_ceil(SPLIT_EVERY))
            .map(|g| {
                (g * SPLIT_EVERY..((g + 1) * SPLIT_EVERY).min(n))
                    .map(|k| (0, k))
                    .collect()
            })
            .collect();
        let c = combine.clone();
        level = Layer::new(
            format!("{name}-combine"),
            groups.len(),
            vec![Input::Layer(level)],
            Deps::Listed(groups),
            move |_: usize, ins: &[&Chunk]| {
                let parts = ins
                    .iter()
                    .map(|c| arg(c, Some(decode::<A>)))
                    .collect::<Result<Vec<&A>>>()?;
                Ok(data_chunk(c(parts)?, std::mem::size_of::<A>()))
            },
        );
    }
}

/// A reduction's partial as a fold over items: `init`, `step` per item, `finish`.
struct FoldItems<I, S, F, M> {
    init: I,
    step: S,
    finish: F,
    _t: PhantomData<M>,
}

impl<T, Acc, A, I, S, F> Folder for FoldItems<I, S, F, fn(&T, Acc) -> A>
where
    T: Data,
    Acc: Send + 'static,
    A: Data,
    I: Fn() -> Acc + Send + Sync,
    S: Fn(&mut Acc, &T) + Send + Sync,
    F: Fn(Acc) -> Result<A> + Send + Sync,
{
    fn fold(&self, _block: usize, pieces: &mut PieceSource<'_>) -> Result<Chunk> {
        let mut acc = (self.init)();
        pieces(&mut |part| {
            let items = items::<T>(part)?;
            items.iter().for_each(|x| (self.step)(&mut acc, x));
            Ok(())
        })?;
        Ok(data_chunk((self.finish)(acc)?, std::mem::size_of::<A>()))
    }
}

/// What [`Bag::pluck`] takes out of a JSON record: a field of an object, or an element of an
/// array.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Key {
    /// An object's field.
    Field(String),
    /// An array's element.
    Index(usize),
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Field(s.to_string())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::Field(s)
    }
}

impl From<usize> for Key {
    fn from(i: usize) -> Self {
        Key::Index(i)
    }
}

impl Bag<serde_json::Value> {
    /// The field `key` of every record (or element `key` of every array), Dask's
    /// `Bag.pluck`. When computed, a record without it fails the compute with an error naming
    /// the record (its file and line, for a bag read by [`crate::read_text`]).
    ///
    /// # Examples
    /// ```
    /// use ndtask_bag::Bag;
    /// use serde_json::json;
    /// let b = Bag::from_vec(vec![json!({"name": "Ada", "age": 36}), json!({"name": "Alan", "age": 41})], 2)?;
    /// assert_eq!(b.pluck("name").compute()?, vec![json!("Ada"), json!("Alan")]);
    /// assert!(b.pluck("email").compute().is_err());
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn pluck(&self, key: impl Into<Key>) -> Bag<serde_json::Value> {
        let key = key.into();
        let origin = self.origin.clone();
        self.partitionwise("pluck", true, false, move |b, p| {
            p.iter()
                .enumerate()
                .map(|(i, r)| {
                    let got = match &key {
                        Key::Field(f) => r.get(f),
                        Key::Index(k) => r.get(k),
                    };
                    got.cloned().ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "pluck: {} has no {key:?}",
                            item_name(&origin, b, i)
                        ))
                    })
                })
                .collect()
        })
    }
}

/// A bag of the elements of an array (C order), one partition per chunk.
///
/// # Examples
/// ```
/// let x = ndtask_array::arange::<i64>(0, 10, 1, [4])?;
/// let b = ndtask_bag::from_array(&x);
/// assert_eq!(b.npartitions(), 3);
/// assert_eq!(b.sum().compute()?, 45);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn from_array<T: Element + Data>(a: &Array<T>) -> Bag<T> {
    let n = a.num_chunks();
    let layer = Layer::new(
        "from_array",
        n,
        vec![Input::Array(ArrayInput::of(a))],
        Deps::Blockwise,
        |_: usize, ins: &[&Chunk]| {
            let c =
                T::chunk_ref(ins[0]).ok_or_else(|| Error::internal("a chunk of another type"))?;
            let v: Vec<T> = c.iter().copied().collect();
            let n = v.len();
            Ok(data_chunk(v, part_bytes::<T>(n)))
        },
    );
    Bag::from_layer(layer, None)
}

/// Items in the order they first occur, each once.
fn first_seen<T: Clone + Hash + Eq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|x| seen.insert(x.clone())).collect()
}

/// Keyed values in the order their keys first occur (a value is `None` only while it is
/// being updated).
struct Groups<K, A> {
    items: Vec<(K, Option<A>)>,
    index: HashMap<K, usize>,
}

impl<K, A> Default for Groups<K, A> {
    fn default() -> Self {
        Groups {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<K: Clone + Hash + Eq, A> Groups<K, A> {
    /// Replaces `k`'s value `a` by `f(a)`, or adds `k` with `new()`.
    fn update(&mut self, k: K, new: impl FnOnce() -> A, f: impl FnOnce(A) -> A) {
        match self.index.get(&k) {
            Some(&i) => {
                let slot = &mut self.items[i].1;
                *slot = slot.take().map(f);
            }
            None => {
                self.index.insert(k.clone(), self.items.len());
                self.items.push((k, Some(new())));
            }
        }
    }

    fn into_items(self) -> Vec<(K, A)> {
        self.items
            .into_iter()
            .filter_map(|(k, a)| a.map(|a| (k, a)))
            .collect()
    }
}

impl<T: Data + Clone> Bag<T> {
    ndtask_array::collection_methods!("bag", Vec<T>);
}

impl<T: Data + Clone> Collection for Bag<T> {
    type Output = Vec<T>;
    fn add_targets(&self, targets: &mut Targets) {
        targets.push_layer(self.layer.clone(), (0..self.npartitions()).collect());
    }
    fn take_results(&self, results: &mut Results) -> Result<Vec<T>> {
        let parts = results.take_chunks()?;
        let mut out = Vec::new();
        for p in parts {
            out.extend(take_value::<Vec<T>>(p, Some(decode::<Vec<T>>))?);
        }
        Ok(out)
    }
}
