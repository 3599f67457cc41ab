//! Seeded random arrays whose values do not depend on the chunking. Element `i` (the row-major
//! index in the whole array) of an array is a function of (seed, stream, `i`) alone: a
//! counter-based generator, Philox4x32-10 (Random123), keyed by the seed, turns the counter
//! (`i`, stream) into the element's bits. So the same seed gives the same array for every
//! chunking, scheduler, thread count and MPI rank count; a prefix of a longer array equals the
//! shorter array; and any chunk is generated directly from its first element's counter.
//!
//! Arrays made by one [`Generator`] get consecutive streams, like successive calls on Dask's
//! `da.random.default_rng(seed)`. Uniform `f64` values take 64 bits each (two per Philox block),
//! `f32` values 32 bits (four per block). Distributions that may reject a draw — `normal`
//! (Doornik's ziggurat) and bounded `integers` (Lemire's method) — give every element its own
//! counter block, and a rejection draws again from that element's further counters only, so it
//! never shifts another element. [`Philox::numpy`] reproduces NumPy's
//! `Generator(Philox(key=key)).random()` stream bit for bit (`key=` by name: NumPy's first
//! positional argument is a seed, hashed through `SeedSequence`, which gives other numbers).
//!
//! (Before this generator, each chunk had its own xoshiro256++ stream seeded from (seed, array,
//! chunk): values changed with the chunking. The streams changed with it: the same seed gives
//! other numbers than in earlier versions.)

mod philox;
mod ziggurat;

use crate::api::array::Array;
use crate::exec::kernels::{wide_to, Vectorized, Width};
use crate::exec::tiles::TransposedRows;
use crate::ops::creation::source;
use crate::plan::reader::{ChunkReader, Subset, TileSource};
use ndtask_core::{Buf, Chunks, DType, Element, Error, Fingerprint, Numeric, Result};
use philox::{philox4x32, philox4x32_lanes, philox4x32_lanes_at, philox4x64, LANES, LANES_WIDE};
use std::cell::Cell;
use std::sync::Arc;

/// Floating-point element types that random arrays can hold (`f64`, `f32`).
pub trait RandomFloat: Numeric {
    /// How many values one Philox block (128 bits) gives: 2 for `f64`, 4 for `f32`.
    #[doc(hidden)]
    const PER_BLOCK: usize;
    /// Value `w` of a block (its four 32-bit words, each in a `u64`), uniform in [0, 1): the top
    /// 53 bits of a 64-bit word (`f64`: words 2w, 2w+1) or the top 24 bits of word `w` (`f32`).
    #[doc(hidden)]
    fn unit_of(block: [u64; 4], w: usize) -> Self;
    /// Value `w` of each lane's block, mapped by `f` (the same `w` for every lane, so the
    /// loop is vector code).
    #[doc(hidden)]
    fn lane_units<const L: usize>(
        x: &[[u64; L]; 4],
        w: usize,
        f: impl Fn(Self) -> Self,
    ) -> [Self; L];
    /// The values of a whole batch of blocks, in order, mapped by `f`.
    #[doc(hidden)]
    #[inline(always)]
    fn batch<const L: usize>(x: &[[u64; L]; 4], dst: &mut [Self], f: impl Fn(Self) -> Self) {
        for l in 0..L {
            let b = [x[0][l], x[1][l], x[2][l], x[3][l]];
            for w in 0..Self::PER_BLOCK {
                dst[l * Self::PER_BLOCK + w] = f(Self::unit_of(b, w));
            }
        }
    }
}
impl RandomFloat for f64 {
    const PER_BLOCK: usize = 2;
    #[inline(always)]
    fn unit_of(b: [u64; 4], w: usize) -> Self {
        unit53((b[2 * w] & 0xFFFF_FFFF) | b[2 * w + 1] << 32)
    }
    #[inline(always)]
    fn lane_units<const L: usize>(x: &[[u64; L]; 4], w: usize, f: impl Fn(f64) -> f64) -> [f64; L] {
        let (lo, hi) = (&x[2 * w], &x[2 * w + 1]);
        std::array::from_fn(|l| f(unit53((lo[l] & 0xFFFF_FFFF) | hi[l] << 32)))
    }
    #[inline(always)]
    fn batch<const L: usize>(x: &[[u64; L]; 4], dst: &mut [f64], f: impl Fn(f64) -> f64) {
        let (a, b) = (&mut [0.0; L], &mut [0.0; L]);
        for l in 0..L {
            a[l] = f(unit53((x[0][l] & 0xFFFF_FFFF) | x[1][l] << 32));
            b[l] = f(unit53((x[2][l] & 0xFFFF_FFFF) | x[3][l] << 32));
        }
        for l in 0..L {
            dst[2 * l] = a[l];
            dst[2 * l + 1] = b[l];
        }
    }
}

#[inline(always)]
fn unit53(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}
impl RandomFloat for f32 {
    const PER_BLOCK: usize = 4;
    #[inline(always)]
    fn unit_of(b: [u64; 4], w: usize) -> Self {
        unit24(b[w])
    }
    #[inline(always)]
    fn lane_units<const L: usize>(x: &[[u64; L]; 4], w: usize, f: impl Fn(f32) -> f32) -> [f32; L] {
        let v = &x[w];
        std::array::from_fn(|l| f(unit24(v[l])))
    }
}

#[inline(always)]
fn unit24(word: u64) -> f32 {
    ((word as u32) >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// Makes seeded random arrays; each array it makes gets the next stream.
///
/// # Examples
/// ```
/// let rng = ndtask_array::random::default_rng(42);
/// let x = rng.uniform::<f64>([1000], [100])?;
/// let y = rng.uniform::<f64>([1000], [100])?; // a different array: the next stream
/// assert_ne!(x.compute()?, y.compute()?);
/// // The chunking does not change the values.
/// let again = ndtask_array::random::default_rng(42).uniform::<f64>([1000], [333])?;
/// assert_eq!(x.compute()?, again.compute()?);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Generator {
    seed: u64,
    next_array: Cell<u64>,
}

/// A generator for `seed` (Dask's `da.random.default_rng(seed)`).
pub fn default_rng(seed: u64) -> Generator {
    Generator {
        seed,
        next_array: Cell::new(0),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dist {
    Unit,
    Range(f64, f64),
    Normal(f64, f64),
    Integers(i64, i64),
}

/// Streams are below 2^56: the top byte of the counter's last word numbers the extra draws of
/// an element whose first draw was rejected.
const MAX_STREAM: u64 = 1 << 56;

/// Where an array's values come from: the Philox key (the seed), the stream, and the
/// distribution.
#[derive(Clone, Copy, Debug)]
struct Stream {
    key: [u32; 2],
    stream: u64,
}

impl Stream {
    fn new(seed: u64, stream: u64) -> Self {
        Stream {
            key: [seed as u32, (seed >> 32) as u32],
            stream,
        }
    }

    /// Words 2 and 3 of the counter for draw `attempt` of an element.
    #[inline(always)]
    fn hi(&self, attempt: u32) -> [u32; 2] {
        [
            self.stream as u32,
            (self.stream >> 32) as u32 | (attempt << 24),
        ]
    }

    #[inline(always)]
    fn block(&self, counter: u64, attempt: u32) -> [u32; 4] {
        let [h0, h1] = self.hi(attempt);
        philox4x32([counter as u32, (counter >> 32) as u32, h0, h1], self.key)
    }

    /// The draws of element `i` after its first: the rest of its own block, then blocks of its
    /// further attempts.
    fn more(&self, i: u64, first_block: [u32; 4]) -> impl FnMut() -> u64 + '_ {
        let mut attempt = 0u32;
        let mut block = first_block;
        let mut word = 1;
        move || {
            if word == 2 {
                attempt = (attempt + 1).min(255);
                block = self.block(i, attempt);
                word = 0;
            }
            let v = block[2 * word] as u64 | (block[2 * word + 1] as u64) << 32;
            word += 1;
            v
        }
    }
}

struct RandomSource<T> {
    stream: Stream,
    dist: Dist,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Element> RandomSource<T> {
    fn name_of(&self) -> &'static str {
        match self.dist {
            Dist::Unit => "uniform",
            Dist::Range(..) => "uniform_range",
            Dist::Normal(..) => "normal",
            Dist::Integers(..) => "integers",
        }
    }
}

impl<T: Sample> ChunkReader for RandomSource<T> {
    fn name(&self) -> String {
        self.name_of().into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(self.name_of());
        h.str(T::DTYPE.name());
        h.u64(self.stream.key[0] as u64 | (self.stream.key[1] as u64) << 32);
        h.u64(self.stream.stream);
        match self.dist {
            Dist::Unit => {}
            Dist::Range(a, b) | Dist::Normal(a, b) => {
                h.f64(a);
                h.f64(b);
            }
            Dist::Integers(a, b) => {
                h.u64(a as u64);
                h.u64(b as u64);
            }
        }
    }
    fn dtype(&self) -> DType {
        T::DTYPE
    }
    fn stream<'a>(&'a self, r: &Subset) -> Option<Box<dyn TileSource + 'a>> {
        Some(Box::new(Cursor {
            runs: Runs::new(&r.array, &r.start, &r.shape),
            source: self,
        }))
    }
    fn stream_permuted<'a>(
        &'a self,
        r: &Subset,
        order: &[usize],
    ) -> Option<Box<dyn TileSource + 'a>> {
        T::permuted(self, r, order)
    }
}

/// The element types a random source fills, with how each distribution fills a run of values
/// at consecutive indices.
trait Sample: Element {
    fn fill(src: &RandomSource<Self>, first: u64, out: &mut [Self]);
    /// A cursor over `r` with its axes in `order`, made in that order directly, where the
    /// distribution and the order allow it (see [`Transposed`]).
    fn permuted<'a>(
        src: &'a RandomSource<Self>,
        r: &Subset,
        order: &[usize],
    ) -> Option<Box<dyn TileSource + 'a>> {
        let _ = (src, r, order);
        None
    }
}

impl<T: RandomFloat> Sample for T {
    fn permuted<'a>(
        src: &'a RandomSource<T>,
        r: &Subset,
        order: &[usize],
    ) -> Option<Box<dyn TileSource + 'a>> {
        match src.dist {
            Dist::Unit | Dist::Range(..) => {
                Transposed::new(src, r, order).map(|t| Box::new(t) as Box<dyn TileSource + 'a>)
            }
            _ => None,
        }
    }
    fn fill(src: &RandomSource<T>, first: u64, out: &mut [T]) {
        match src.dist {
            Dist::Unit => fill_units(&src.stream, first, out, |u| u),
            Dist::Range(lo, hi) => fill_units(&src.stream, first, out, in_range(lo, hi)),
            Dist::Normal(mean, std) => {
                let t = ziggurat::tables();
                fill_own_blocks(&src.stream, first, out, |bits, more| {
                    let z = ziggurat::fast(t, bits).unwrap_or_else(|| ziggurat::slow(bits, more));
                    T::from_f64(mean + std * z)
                })
            }
            Dist::Integers(..) => {}
        }
    }
}

impl Sample for i64 {
    fn fill(src: &RandomSource<i64>, first: u64, out: &mut [i64]) {
        if let Dist::Integers(lo, hi) = src.dist {
            let range = hi.wrapping_sub(lo) as u64;
            fill_own_blocks(&src.stream, first, out, |bits, more| {
                lo.wrapping_add(lemire(range, bits, more) as i64)
            });
        }
    }
}

/// A unit value mapped to `[lo, hi)` (`uniform_range`).
#[inline(always)]
fn in_range<T: RandomFloat>(lo: f64, hi: f64) -> impl Fn(T) -> T + Copy {
    let span = hi - lo;
    move |u: T| {
        let v = lo + span * u.to_f64();
        // Rounding can reach `hi`: the interval is half-open.
        T::from_f64(if v < hi { v } else { lo.max(below(hi)) })
    }
}

/// The largest `f64` below `x` (finite `x`).
fn below(x: f64) -> f64 {
    match x {
        x if x > 0.0 => f64::from_bits(x.to_bits() - 1),
        x if x < 0.0 => f64::from_bits(x.to_bits() + 1),
        _ => -f64::from_bits(1),
    }
}

/// A uniform integer in `0..range` by Lemire's multiply-and-reject ("Fast random integer
/// generation in an interval", 2019).
#[inline(always)]
fn lemire(range: u64, first: u64, more: &mut dyn FnMut() -> u64) -> u64 {
    let mut bits = first;
    let threshold = range.wrapping_neg() % range;
    for _ in 0..64 {
        let m = bits as u128 * range as u128;
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
        bits = more();
    }
    0
}

/// Fills `out` with uniforms of the values at indices `first..` (`T::PER_BLOCK` per block),
/// mapped by `f`, [`LANES`] (or [`LANES_WIDE`]) blocks at a time, in vector code as wide as
/// the CPU has.
#[inline(always)]
fn fill_units<T: RandomFloat, F: Fn(T) -> T>(s: &Stream, first: u64, out: &mut [T], f: F) {
    wide_to(Width::Avx512, Units { s, first, out, f });
}

/// The work of [`fill_units`], run in vector code.
struct Units<'a, T, F> {
    s: &'a Stream,
    first: u64,
    out: &'a mut [T],
    f: F,
}

impl<T: RandomFloat, F: Fn(T) -> T> Vectorized for Units<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        units::<T, LANES>(self.s, self.first, self.out, self.f);
    }
    #[inline(always)]
    fn run_wide(self) {
        units::<T, LANES_WIDE>(self.s, self.first, self.out, self.f);
    }
}

#[inline(always)]
fn units<T: RandomFloat, const L: usize>(
    s: &Stream,
    first: u64,
    out: &mut [T],
    f: impl Fn(T) -> T,
) {
    let per = T::PER_BLOCK as u64;
    let hi = s.hi(0);
    let mut i = 0;
    let mut g = first;
    while i < out.len() {
        let (block, w) = (g / per, (g % per) as usize);
        let x = philox4x32_lanes::<L>(block, hi, s.key);
        let left = out.len() - i;
        if w != 0 || left < L * T::PER_BLOCK {
            // The head inside a block, or the tail: the whole batch, of which the values needed
            // (in vector code too: a value at a time would cost as much as the batch).
            let mut all = [[T::default(); 4]; L];
            T::batch(&x, all.as_flattened_mut(), &f);
            let values = &all.as_flattened()[w..L * T::PER_BLOCK];
            let take = values.len().min(left);
            out[i..i + take].copy_from_slice(&values[..take]);
            i += take;
            g += take as u64;
            continue;
        }
        T::batch(&x, &mut out[i..i + L * T::PER_BLOCK], &f);
        i += L * T::PER_BLOCK;
        g += (L * T::PER_BLOCK) as u64;
    }
}

/// Fills `out` with the values at indices `first..` of a distribution that may reject: element
/// `g` gets block `g` (attempt 0) for its first draw, `f(first draw, further draws)`.
#[inline(always)]
fn fill_own_blocks<T: Element, F: Fn(u64, &mut dyn FnMut() -> u64) -> T>(
    s: &Stream,
    first: u64,
    out: &mut [T],
    f: F,
) {
    wide_to(Width::Avx512, OwnBlocks { s, first, out, f });
}

/// The work of [`fill_own_blocks`], run in vector code.
struct OwnBlocks<'a, T, F> {
    s: &'a Stream,
    first: u64,
    out: &'a mut [T],
    f: F,
}

impl<T: Element, F: Fn(u64, &mut dyn FnMut() -> u64) -> T> Vectorized for OwnBlocks<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        own_blocks::<T, LANES>(self.s, self.first, self.out, self.f);
    }
    #[inline(always)]
    fn run_wide(self) {
        own_blocks::<T, LANES_WIDE>(self.s, self.first, self.out, self.f);
    }
}

#[inline(always)]
fn own_blocks<T: Element, const L: usize>(
    s: &Stream,
    first: u64,
    out: &mut [T],
    f: impl Fn(u64, &mut dyn FnMut() -> u64) -> T,
) {
    let hi = s.hi(0);
    for (k, run) in out.chunks_mut(L).enumerate() {
        let g0 = first + (k * L) as u64;
        let x = philox4x32_lanes::<L>(g0, hi, s.key);
        for (l, o) in run.iter_mut().enumerate() {
            let b = [x[0][l], x[1][l], x[2][l], x[3][l]].map(|w| w as u32);
            let bits = b[0] as u64 | (b[1] as u64) << 32;
            let mut more = s.more(g0 + l as u64, b);
            *o = f(bits, &mut more);
        }
    }
}

/// The runs of consecutive global indices that a chunk's elements form, in C order: the chunk
/// spans whole trailing axes from its runs' axis on, so each run is `len` elements long, and
/// the runs are numbered over the chunk's extents on the axes before it.
struct Runs {
    /// The chunk's extents on the axes before the runs' axis, and the global index step of each.
    outer: Vec<usize>,
    strides: Vec<u64>,
    /// The position among the runs (an odometer over `outer`) and the current run's first
    /// global index.
    at: Vec<usize>,
    start: u64,
    len: usize,
    /// The position in the current run.
    pos: usize,
}

impl Runs {
    fn new(shape: &[usize], offset: &[usize], chunk: &[usize]) -> Self {
        // The last axis the chunk does not span in full (axis 0 if it spans them all).
        let axis = (0..chunk.len())
            .rev()
            .find(|&a| chunk[a] != shape[a])
            .unwrap_or(0);
        let len = chunk.get(axis..).map_or(1, |c| c.iter().product());
        let mut strides = vec![1u64; shape.len()];
        for a in (0..shape.len().saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * shape[a + 1] as u64;
        }
        let start = offset
            .iter()
            .zip(&strides)
            .map(|(&o, &s)| o as u64 * s)
            .sum();
        let outer = chunk[..axis.min(chunk.len())].to_vec();
        Runs {
            at: vec![0; outer.len()],
            strides: strides[..outer.len()].to_vec(),
            outer,
            start,
            len,
            pos: 0,
        }
    }

    /// Moves to the next run when the current one is used up; returns the global index of the
    /// next element and how many follow it in this run.
    fn next(&mut self) -> (u64, usize) {
        if self.pos == self.len {
            self.pos = 0;
            for a in (0..self.outer.len()).rev() {
                self.at[a] += 1;
                self.start += self.strides[a];
                if self.at[a] < self.outer[a] {
                    break;
                }
                self.start -= self.strides[a] * self.outer[a] as u64;
                self.at[a] = 0;
            }
        }
        (self.start + self.pos as u64, self.len - self.pos)
    }
}

struct Cursor<'a, T> {
    runs: Runs,
    source: &'a RandomSource<T>,
}

impl<T: Sample> TileSource for Cursor<'_, T> {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        let v = T::buf_mut(out);
        // Every value is overwritten: keep what is there (no clearing) when the size fits.
        v.resize(n, T::default());
        let mut done = 0;
        while done < n {
            let (first, left) = self.runs.next();
            let take = left.min(n - done);
            T::fill(self.source, first, &mut v[done..done + take]);
            self.runs.pos += take;
            done += take;
        }
        Ok(())
    }
}

/// A uniform region made in an order whose innermost axis `p` is not the array's last axis and
/// whose next axis is: the transpose of a matrix, or of the last two axes. Consecutive
/// values of the output then lie a row of the array apart, but consecutive output rows are
/// consecutive array columns, which share Philox blocks. So the cursor makes a group of output
/// rows at a time (the values one block holds, at most [`RandomFloat::PER_BLOCK`]), one block
/// per lane, each block giving every row of the group its value: a transposed region costs
/// what the region does. When the array's rows are not a whole number of blocks long (an odd
/// number of `f64` columns), the values of a column sit at different places in their blocks,
/// and each output row is made alone.
struct Transposed<'a, T> {
    source: &'a RandomSource<T>,
    /// Elements between consecutive values of an output row (the array's stride of `p`).
    step: u64,
    /// The region's length along `p` (an output row) and along the array's last axis (the
    /// output rows of a plane).
    row_len: usize,
    rows: usize,
    /// The global index of the first value of each plane (one per position of the outer axes),
    /// walked in order.
    planes: Vec<u64>,
    plane: usize,
    /// The output row and the position in it of the next value.
    row: usize,
    pos: usize,
    /// Output rows `first..first + count` of the current plane, one buffer each (a tile that
    /// is a whole row takes its buffer instead of a copy).
    group: Vec<Vec<T>>,
    first: usize,
    count: usize,
}

impl<'a, T: RandomFloat> Transposed<'a, T> {
    fn new(source: &'a RandomSource<T>, r: &Subset, order: &[usize]) -> Option<Self> {
        let n = r.array.len();
        let (&p, rest) = order.split_last()?;
        if n < 2 || rest.last() != Some(&(n - 1)) || p == n - 1 {
            return None;
        }
        // A group holds a few whole output rows: past that size, the region is read and
        // permuted instead (one chunk held, as for any transpose of a computed chunk).
        if r.shape[p].saturating_mul(T::PER_BLOCK) > TransposedRows::MAX_BLOCK {
            return None;
        }
        let mut strides = vec![1u64; n];
        for a in (0..n - 1).rev() {
            strides[a] = strides[a + 1].checked_mul(r.array[a + 1] as u64)?;
        }
        let corner: u64 = r
            .start
            .iter()
            .zip(&strides)
            .map(|(&s, &st)| s as u64 * st)
            .sum();
        // The planes: every position of the outer axes, in the order's C order.
        let mut planes = vec![corner];
        for &a in &rest[..rest.len() - 1] {
            let st = strides[a];
            planes = planes
                .iter()
                .flat_map(|&base| (0..r.shape[a] as u64).map(move |i| base + i * st))
                .collect();
        }
        Some(Transposed {
            source,
            step: strides[p],
            row_len: r.shape[p],
            rows: r.shape[n - 1],
            planes,
            plane: 0,
            row: 0,
            pos: 0,
            group: Vec::new(),
            first: 0,
            count: 0,
        })
    }

    /// Makes the group of output rows starting at `self.row` of the current plane.
    fn make_group(&mut self) {
        let per = T::PER_BLOCK as u64;
        let base = self.planes[self.plane] + self.row as u64;
        let aligned = self.step.is_multiple_of(per);
        let count = if aligned {
            (T::PER_BLOCK - (base % per) as usize).min(self.rows - self.row)
        } else {
            1
        };
        // Every value is written: buffers of the right length are kept as they are.
        self.group.resize_with(count, Vec::new);
        for row in &mut self.group {
            row.resize(self.row_len, T::default());
        }
        wide_to(
            Width::Avx512,
            Columns {
                s: &self.source.stream,
                dist: self.source.dist,
                base,
                step: self.step,
                aligned,
                row_len: self.row_len,
                count,
                out: &mut self.group,
            },
        );
        (self.first, self.count) = (self.row, count);
    }
}

impl<T: RandomFloat> TileSource for Transposed<'_, T> {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        let v = T::buf_mut(out);
        let mut done = 0;
        if n == 0 {
            v.clear();
        }
        while done < n {
            if self.plane >= self.planes.len() {
                return Err(Error::internal(
                    "reading past the end of a transposed region",
                ));
            }
            if self.row < self.first || self.row >= self.first + self.count {
                self.make_group();
            }
            let take = (self.row_len - self.pos).min(n - done);
            let row = &mut self.group[self.row - self.first];
            if done == 0 && take == n && take == self.row_len {
                // The tile is this whole row: swap buffers (the row's is not read again, and
                // the tile's old buffer, of the same length, is the row's next one).
                std::mem::swap(v, row);
            } else {
                if done == 0 {
                    v.clear();
                }
                v.extend_from_slice(&row[self.pos..self.pos + take]);
            }
            done += take;
            self.pos += take;
            if self.pos == self.row_len {
                (self.pos, self.row) = (0, self.row + 1);
                if self.row == self.rows {
                    (self.row, self.plane, self.count) = (0, self.plane + 1, 0);
                }
            }
        }
        Ok(())
    }
}

/// The work of [`Transposed::make_group`], run in vector code: `count` output rows of
/// `row_len` values, value `j` of row `q` being element `base + q + j * step`.
struct Columns<'a, T> {
    s: &'a Stream,
    dist: Dist,
    base: u64,
    step: u64,
    aligned: bool,
    row_len: usize,
    count: usize,
    out: &'a mut [Vec<T>],
}

impl<T: RandomFloat> Vectorized for Columns<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.columns::<LANES>();
    }
    #[inline(always)]
    fn run_wide(self) {
        self.columns::<LANES_WIDE>();
    }
}

impl<T: RandomFloat> Columns<'_, T> {
    #[inline(always)]
    fn columns<const L: usize>(self) {
        match self.dist {
            Dist::Range(lo, hi) => self.columns_of::<L>(in_range(lo, hi)),
            _ => self.columns_of::<L>(|u| u),
        }
    }

    #[inline(always)]
    fn columns_of<const L: usize>(self, f: impl Fn(T) -> T) {
        let per = T::PER_BLOCK as u64;
        let hi = self.s.hi(0);
        let mut j = 0;
        while j < self.row_len {
            // (Lanes past the row's end make values nobody reads.)
            let at: [u64; L] = std::array::from_fn(|l| {
                self.base
                    .wrapping_add(((j + l) as u64).wrapping_mul(self.step))
            });
            let x = philox4x32_lanes_at::<L>(std::array::from_fn(|l| at[l] / per), hi, self.s.key);
            let m = L.min(self.row_len - j);
            for q in 0..self.count {
                let row = &mut self.out[q][j..j + m];
                if self.aligned {
                    // Every lane's value sits at the same place in its block.
                    let w = (self.base % per) as usize + q;
                    row.copy_from_slice(&T::lane_units(&x, w, &f)[..m]);
                } else {
                    for (l, o) in row.iter_mut().enumerate() {
                        let b = [x[0][l], x[1][l], x[2][l], x[3][l]];
                        *o = f(T::unit_of(b, (at[l] % per) as usize));
                    }
                }
            }
            j += L;
        }
    }
}

/// NumPy's Philox bit generator (Philox4x64-10) with a given key, as
/// `np.random.Generator(np.random.Philox(key=key))`: element `i` of [`Philox::random`] equals the
/// `i`-th value of NumPy's `random()` stream, bit for bit, for any chunking.
///
/// # Examples
/// ```
/// use ndtask_array::random::Philox;
/// let p = Philox::numpy(0);
/// assert_eq!(p.next_u64_at(0), 0x02f4_ba64_08e4_d89b);
/// let x = p.random([4], [3])?.compute()?;
/// assert_eq!(x[[0]], 0.011546754286331562); // np.random.Generator(np.random.Philox(key=0)).random()
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Philox {
    key: [u64; 2],
}

impl Philox {
    /// NumPy's `np.random.Philox(key=key)` (the counter starts at zero).
    pub fn numpy(key: u64) -> Self {
        Philox { key: [key, 0] }
    }

    /// The `i`-th 64-bit output of the stream (NumPy increments the counter before its first
    /// block, so output `i` is word `i % 4` of block `i / 4 + 1`).
    pub fn next_u64_at(&self, i: u64) -> u64 {
        philox4x64([i / 4 + 1, 0, 0, 0], self.key)[(i % 4) as usize]
    }

    /// Uniform `f64` values in [0, 1), NumPy's `Generator.random()`: `(x >> 11) * 2^-53` of the
    /// stream's outputs, element `i` (row-major) taking output `i`.
    ///
    /// # Errors
    /// [`Error::Chunks`] if `chunks` does not fit `shape`.
    pub fn random(
        &self,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<f64>> {
        source(
            shape.as_ref(),
            chunks.into(),
            Arc::new(NumpySource { philox: *self }),
        )
    }
}

struct NumpySource {
    philox: Philox,
}

impl ChunkReader for NumpySource {
    fn name(&self) -> String {
        "numpy_philox".into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("numpy_philox");
        h.u64(self.philox.key[0]);
        h.u64(self.philox.key[1]);
    }
    fn dtype(&self) -> DType {
        DType::F64
    }
    fn stream<'a>(&'a self, r: &Subset) -> Option<Box<dyn TileSource + 'a>> {
        Some(Box::new(NumpyCursor {
            runs: Runs::new(&r.array, &r.start, &r.shape),
            philox: self.philox,
        }))
    }
}

struct NumpyCursor {
    runs: Runs,
    philox: Philox,
}

impl TileSource for NumpyCursor {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        let v = f64::buf_mut(out);
        v.clear();
        while v.len() < n {
            let (first, left) = self.runs.next();
            let take = left.min(n - v.len());
            let mut i = first;
            while i < first + take as u64 {
                let block = philox4x64([i / 4 + 1, 0, 0, 0], self.philox.key);
                let w = (i % 4) as usize;
                let k = (4 - w).min((first + take as u64 - i) as usize);
                v.extend(
                    block[w..w + k]
                        .iter()
                        .map(|&x| (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)),
                );
                i += k as u64;
            }
            self.runs.pos += take;
        }
        Ok(())
    }
}

impl Generator {
    fn next_array(&self) -> u64 {
        let a = self.next_array.get();
        self.next_array.set(a + 1);
        a
    }

    fn make<T: Sample>(&self, shape: &[usize], chunks: Chunks, dist: Dist) -> Result<Array<T>> {
        let stream = self.next_array();
        if stream >= MAX_STREAM {
            return Err(Error::InvalidArgument(format!(
                "a generator makes at most 2^56 arrays; this is number {stream}"
            )));
        }
        let kernel = Arc::new(RandomSource::<T> {
            stream: Stream::new(self.seed, stream),
            dist,
            _t: std::marker::PhantomData,
        });
        source(shape, chunks, kernel)
    }

    /// Uniform values in [0, 1).
    ///
    /// # Errors
    /// [`Error::Chunks`] if `chunks` does not fit `shape`.
    pub fn uniform<T: RandomFloat>(
        &self,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<T>> {
        self.make(shape.as_ref(), chunks.into(), Dist::Unit)
    }

    /// Uniform values in [low, high).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `low < high` and both are finite; [`Error::Chunks`].
    pub fn uniform_range<T: RandomFloat>(
        &self,
        low: f64,
        high: f64,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<T>> {
        if low >= high || low.is_nan() || high.is_nan() || !low.is_finite() || !high.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "uniform_range needs finite low < high, got low={low}, high={high}"
            )));
        }
        self.make(shape.as_ref(), chunks.into(), Dist::Range(low, high))
    }

    /// Standard normal values (mean 0, standard deviation 1).
    ///
    /// # Errors
    /// [`Error::Chunks`] if `chunks` does not fit `shape`.
    pub fn standard_normal<T: RandomFloat>(
        &self,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<T>> {
        self.normal(0.0, 1.0, shape, chunks)
    }

    /// Normal values with the given mean and standard deviation.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `std >= 0` and both are finite; [`Error::Chunks`].
    pub fn normal<T: RandomFloat>(
        &self,
        mean: f64,
        std: f64,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<T>> {
        if std.is_nan() || std < 0.0 || !std.is_finite() || !mean.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "normal needs a finite mean and a finite std >= 0, got mean={mean}, std={std}"
            )));
        }
        self.make(shape.as_ref(), chunks.into(), Dist::Normal(mean, std))
    }

    /// Uniform integers in [low, high).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `low < high`; [`Error::Chunks`].
    pub fn integers(
        &self,
        low: i64,
        high: i64,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<i64>> {
        if low >= high {
            return Err(Error::InvalidArgument(format!(
                "integers needs low < high, got low={low}, high={high}"
            )));
        }
        self.make(shape.as_ref(), chunks.into(), Dist::Integers(low, high))
    }
}

/// Uniform [0, 1) values: the first array of `default_rng(seed)`.
///
/// # Errors
/// [`Error::Chunks`] if `chunks` does not fit `shape`.
///
/// # Examples
/// ```
/// let x = ndtask_array::random::uniform::<f64>([10_000, 10_000], [1_000, 1_000], 42)?;
/// assert_eq!(x.num_chunks(), 100); // nothing computed yet
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn uniform<T: RandomFloat>(
    shape: impl AsRef<[usize]>,
    chunks: impl Into<Chunks>,
    seed: u64,
) -> Result<Array<T>> {
    default_rng(seed).uniform(shape, chunks)
}

/// Standard normal values: the first array of `default_rng(seed)`.
///
/// # Errors
/// [`Error::Chunks`] if `chunks` does not fit `shape`.
pub fn standard_normal<T: RandomFloat>(
    shape: impl AsRef<[usize]>,
    chunks: impl Into<Chunks>,
    seed: u64,
) -> Result<Array<T>> {
    default_rng(seed).standard_normal(shape, chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<T: Element>(dist: Dist) -> RandomSource<T> {
        RandomSource {
            stream: Stream::new(0xdead_beef_1234_5678, 3),
            dist,
            _t: std::marker::PhantomData,
        }
    }

    /// The AVX2/baseline batches ([`LANES`]) and the AVX-512 ones ([`LANES_WIDE`]) give the
    /// same bits for any start and length (only one of them runs on a given CPU otherwise).
    #[test]
    fn batch_widths_agree() {
        for (first, n) in [
            (0u64, 1000usize),
            (1, 999),
            (3, 64),
            (77, 5),
            (1 << 33, 300),
        ] {
            let s = source::<f64>(Dist::Unit);
            let (mut a, mut b) = (vec![0.0f64; n], vec![0.0f64; n]);
            units::<f64, LANES>(&s.stream, first, &mut a, |u| u);
            units::<f64, LANES_WIDE>(&s.stream, first, &mut b, |u| u);
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
            units::<f32, LANES>(&s.stream, first, &mut a, |u| u);
            units::<f32, LANES_WIDE>(&s.stream, first, &mut b, |u| u);
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            let f = |bits: u64, more: &mut dyn FnMut() -> u64| lemire(1000, bits, more) as i64;
            let (mut a, mut b) = (vec![0i64; n], vec![0i64; n]);
            own_blocks::<i64, LANES>(&s.stream, first, &mut a, f);
            own_blocks::<i64, LANES_WIDE>(&s.stream, first, &mut b, f);
            assert_eq!(a, b);
            // Element `first` of a batch is the scalar generator's element `first`.
            let b0 = s.stream.block(first, 0);
            let bits = b0[0] as u64 | (b0[1] as u64) << 32;
            assert_eq!(
                a[0],
                lemire(1000, bits, &mut s.stream.more(first, b0)) as i64
            );
            let u = s.stream.block(first / 2, 0);
            let mut c = [0.0f64; 1];
            units::<f64, LANES>(&s.stream, first, &mut c, |u| u);
            assert_eq!(c[0], f64::unit_of(u.map(u64::from), (first % 2) as usize));
        }
    }

    /// Every value a batch fills, its head and tail included, is the value of its own index:
    /// unit `g % per` of block `g / per` of the scalar generator.
    #[test]
    fn batches_give_each_index_its_value() {
        fn check<T: RandomFloat, const L: usize>(s: &Stream) {
            let per = T::PER_BLOCK as u64;
            for first in [0u64, 1, 2, 3, 5, 127, 128, 129, (1 << 32) - 3] {
                for n in [1usize, 2, 3, 4 * L - 1, 4 * L, 4 * L + 1, 1024, 1031] {
                    let mut out = vec![T::default(); n];
                    units::<T, L>(s, first, &mut out, |u| u);
                    for (k, &v) in out.iter().enumerate() {
                        let g = first + k as u64;
                        let block = s.block(g / per, 0).map(u64::from);
                        assert_eq!(
                            v,
                            T::unit_of(block, (g % per) as usize),
                            "first {first}, n {n}, index {g}"
                        );
                    }
                }
            }
        }
        let s = source::<f64>(Dist::Unit).stream;
        check::<f64, LANES>(&s);
        check::<f64, LANES_WIDE>(&s);
        check::<f32, LANES>(&s);
        check::<f32, LANES_WIDE>(&s);
    }

    /// A rejected draw takes the element's own further draws: the first of them is the second
    /// half of its block, then blocks of its next attempts.
    #[test]
    fn further_draws_stay_with_their_element() {
        let s = Stream::new(9, 1);
        let b0 = s.block(5, 0);
        let mut more = s.more(5, b0);
        assert_eq!(more(), b0[2] as u64 | (b0[3] as u64) << 32);
        let b1 = s.block(5, 1);
        assert_eq!(more(), b1[0] as u64 | (b1[1] as u64) << 32);
        assert_eq!(more(), b1[2] as u64 | (b1[3] as u64) << 32);
        // Another element's blocks are other counters.
        assert_ne!(s.block(6, 0), b0);
        assert_ne!(b1, b0);
    }
}
