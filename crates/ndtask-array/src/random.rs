//! Seeded random arrays. Every chunk has its own generator (xoshiro256++) seeded from
//! (seed, array number, chunk number), so a chunk's values never depend on which thread or rank
//! computes it, or in which order. Arrays made by one [`Generator`] get consecutive array
//! numbers, like successive calls on Dask's `da.random.default_rng(seed)`.

use crate::array::Array;
use crate::creation::source;
use crate::plan::{SourceKernel, TileSource};
use ndtask_core::{Buf, ChunkGrid, Chunks, Element, Error, Fingerprint, Numeric, Result};
use rand_distr::{Distribution, Normal, Uniform};
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::cell::Cell;
use std::sync::Arc;

/// Floating-point element types that random arrays can hold (`f64`, `f32`).
pub trait RandomFloat: Numeric {
    /// A uniform value in [0, 1) from the top bits of one 64-bit draw.
    #[doc(hidden)]
    fn unit(bits: u64) -> Self;
}
impl RandomFloat for f64 {
    #[inline(always)]
    fn unit(bits: u64) -> Self {
        (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
impl RandomFloat for f32 {
    #[inline(always)]
    fn unit(bits: u64) -> Self {
        (bits >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }
}

/// Makes seeded random arrays; each array it makes gets the next array number.
///
/// # Examples
/// ```
/// let rng = ndtask_array::random::default_rng(42);
/// let x = rng.uniform::<f64>([1000], [100])?;
/// let y = rng.uniform::<f64>([1000], [100])?; // a different array: the next stream
/// assert_ne!(x.compute()?, y.compute()?);
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

#[derive(Clone, Copy)]
enum Dist {
    Unit,
    Range(f64, f64),
    Normal(f64, f64),
}

struct RandomSource<T> {
    seed: u64,
    array: u64,
    dist: Dist,
    _t: std::marker::PhantomData<fn() -> T>,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The generator of one chunk: a 256-bit state from (seed, array, chunk) through SplitMix64.
pub(crate) fn chunk_rng(seed: u64, array: u64, chunk: u64) -> Xoshiro256PlusPlus {
    let mut st = seed;
    let a = splitmix(&mut st);
    let mut st = a ^ array.wrapping_mul(0xd1b5_4a32_d192_ed03);
    let b = splitmix(&mut st);
    let mut st = b ^ chunk.wrapping_mul(0xa076_1d64_78bd_642f);
    let mut bytes = [0u8; 32];
    for w in bytes.chunks_exact_mut(8) {
        w.copy_from_slice(&splitmix(&mut st).to_le_bytes());
    }
    Xoshiro256PlusPlus::from_seed(bytes)
}

impl<T: RandomFloat> SourceKernel for RandomSource<T> {
    fn name(&self) -> String {
        match self.dist {
            Dist::Unit => "uniform".into(),
            Dist::Range(..) => "uniform_range".into(),
            Dist::Normal(..) => "normal".into(),
        }
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
        h.str(T::DTYPE.name());
        h.u64(self.seed);
        h.u64(self.array);
        match self.dist {
            Dist::Unit => {}
            Dist::Range(a, b) | Dist::Normal(a, b) => {
                h.f64(a);
                h.f64(b);
            }
        }
    }
    fn open<'a>(&'a self, grid: &ChunkGrid, block: &[usize]) -> Result<Box<dyn TileSource + 'a>> {
        let rng = chunk_rng(self.seed, self.array, grid.ravel(block) as u64);
        Ok(match self.dist {
            Dist::Unit => Box::new(UnitCursor::<T> {
                rng,
                _t: std::marker::PhantomData,
            }),
            Dist::Range(lo, hi) => Box::new(DistCursor::<T, _> {
                rng,
                dist: Uniform::new(lo, hi).map_err(|e| Error::InvalidArgument(e.to_string()))?,
                _t: std::marker::PhantomData,
            }),
            Dist::Normal(m, s) => Box::new(DistCursor::<T, _> {
                rng,
                dist: Normal::new(m, s).map_err(|e| Error::InvalidArgument(e.to_string()))?,
                _t: std::marker::PhantomData,
            }),
        })
    }
}

struct IntSource {
    seed: u64,
    array: u64,
    low: i64,
    high: i64,
}

impl SourceKernel for IntSource {
    fn name(&self) -> String {
        "integers".into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("integers");
        h.u64(self.seed);
        h.u64(self.array);
        h.u64(self.low as u64);
        h.u64(self.high as u64);
    }
    fn open<'a>(&'a self, grid: &ChunkGrid, block: &[usize]) -> Result<Box<dyn TileSource + 'a>> {
        let rng = chunk_rng(self.seed, self.array, grid.ravel(block) as u64);
        let dist =
            Uniform::new(self.low, self.high).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(Box::new(IntCursor { rng, dist }))
    }
}

struct UnitCursor<T> {
    rng: Xoshiro256PlusPlus,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: RandomFloat> TileSource for UnitCursor<T> {
    fn fill(&mut self, out: &mut Buf, n: usize) {
        let v = T::buf_mut(out);
        v.clear();
        v.extend((0..n).map(|_| T::unit(self.rng.next_u64())));
    }
}

struct DistCursor<T, D> {
    rng: Xoshiro256PlusPlus,
    dist: D,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: RandomFloat, D: Distribution<f64>> TileSource for DistCursor<T, D> {
    fn fill(&mut self, out: &mut Buf, n: usize) {
        let v = T::buf_mut(out);
        v.clear();
        v.extend((0..n).map(|_| T::from_f64(self.dist.sample(&mut self.rng))));
    }
}

struct IntCursor {
    rng: Xoshiro256PlusPlus,
    dist: Uniform<i64>,
}

impl TileSource for IntCursor {
    fn fill(&mut self, out: &mut Buf, n: usize) {
        let v = i64::buf_mut(out);
        v.clear();
        v.extend((0..n).map(|_| self.dist.sample(&mut self.rng)));
    }
}

impl Generator {
    fn next_array(&self) -> u64 {
        let a = self.next_array.get();
        self.next_array.set(a + 1);
        a
    }

    fn float<T: RandomFloat>(
        &self,
        shape: &[usize],
        chunks: Chunks,
        dist: Dist,
    ) -> Result<Array<T>> {
        let kernel = Arc::new(RandomSource::<T> {
            seed: self.seed,
            array: self.next_array(),
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
        self.float(shape.as_ref(), chunks.into(), Dist::Unit)
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
        self.float(shape.as_ref(), chunks.into(), Dist::Range(low, high))
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
        self.float(shape.as_ref(), chunks.into(), Dist::Normal(mean, std))
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
        let kernel = Arc::new(IntSource {
            seed: self.seed,
            array: self.next_array(),
            low,
            high,
        });
        source(shape.as_ref(), chunks.into(), kernel)
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
