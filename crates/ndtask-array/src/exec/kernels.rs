//! Element-wise tile kernels. Each is generic over its element types and function, so the inner
//! loop is monomorphised and vectorises; the fused kernel calls it once per tile. On x86-64 a
//! build for the baseline target (SSE2) runs the loops compiled for AVX2 when the CPU has it, as
//! NumPy picks its SIMD kernels at run time; the results are the same bits either way
//! (element-wise IEEE operations do not depend on the vector width).

use crate::plan::{tile_type_error, MapKernel};
use ndtask_core::{Buf, Element, Fingerprint, Result};
use std::marker::PhantomData;

/// `out[i] = f(a[i])`.
pub(crate) struct Unary<A, O, F> {
    pub name: String,
    /// A hash of the scalars `f` captures ([`key_of`]), for the MPI fingerprint.
    pub key: u64,
    /// Whether the name and key identify `f` completely (ndtask's own functions, not a user's
    /// closure).
    pub exact: bool,
    pub f: F,
    pub _t: PhantomData<fn(A) -> O>,
}

/// `out[i] = f(a[i], b[i])`.
pub(crate) struct Binary<A, B, O, F> {
    pub name: String,
    /// A hash of the scalars `f` captures ([`key_of`]), for the MPI fingerprint.
    pub key: u64,
    /// Whether the name and key identify `f` completely (ndtask's own functions, not a user's
    /// closure).
    pub exact: bool,
    pub f: F,
    pub _t: PhantomData<fn(A, B) -> O>,
}

/// How wide the vector code of a [`wide`] call may be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// Up to AVX2 (256-bit): the element-wise kernels.
    Avx2,
    /// Up to AVX-512 (512-bit) where the CPU has it: the random generators, whose 32x32->64-bit
    /// multiplies gain the most from wider vectors.
    Avx512,
}

/// Work to run in vector code: [`Vectorized::run`] is `#[inline(always)]` in implementations,
/// so it is compiled inside the function that enables the CPU's features (a closure is not
/// inlined there once it is large).
pub(crate) trait Vectorized {
    type Output;
    fn run(self) -> Self::Output;
    /// The work in AVX-512 code, which may use more vector registers (twice as many lanes).
    fn run_wide(self) -> Self::Output
    where
        Self: Sized,
    {
        self.run()
    }
}

/// A closure as [`Vectorized`] work (inlined where it is small).
struct Closure<F>(F);

impl<R, F: FnOnce() -> R> Vectorized for Closure<F> {
    type Output = R;
    #[inline(always)]
    fn run(self) -> R {
        (self.0)()
    }
}

/// Runs `work`, compiled for AVX2 (or AVX-512, with [`Width::Avx512`]) when the CPU supports it
/// and the build does not already assume it. The one `unsafe` of this crate: calling a function
/// compiled for a CPU feature.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn wide_to<V: Vectorized>(width: Width, work: V) -> V::Output {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = width == Width::Avx512
            && !cfg!(target_feature = "avx512f")
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw");
        let avx2 = !cfg!(target_feature = "avx2") && std::arch::is_x86_feature_detected!("avx2");
        // SAFETY: each function only requires the CPU features checked just above.
        unsafe {
            if avx512 {
                return with_avx512(work);
            }
            if avx2 {
                return with_avx2(work);
            }
        }
    }
    work.run()
}

/// [`wide_to`] up to AVX2, for a closure.
#[inline(always)]
pub(crate) fn wide<R>(body: impl FnOnce() -> R) -> R {
    wide_to(Width::Avx2, Closure(body))
}

/// `work` with AVX2 enabled, so the loops inlined into it use 256-bit vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn with_avx2<V: Vectorized>(work: V) -> V::Output {
    work.run()
}

/// `work` with AVX-512 enabled, so the loops inlined into it use 512-bit vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
fn with_avx512<V: Vectorized>(work: V) -> V::Output {
    work.run_wide()
}

/// A hash of the scalars a kernel's function captures (`clip`'s bounds, a comparison's scalar).
pub(crate) fn key_of<T: Element>(values: &[T]) -> u64 {
    let mut h = Fingerprint::new();
    values.iter().for_each(|&v| h.scalar(v));
    h.finish()
}

pub(crate) fn input<'b, T: Element>(name: &str, b: &'b Buf) -> Result<&'b Vec<T>> {
    T::buf_ref(b).ok_or_else(|| tile_type_error(name, T::DTYPE, b.dtype()))
}

impl<A: Element, O: Element, F: Fn(A) -> O + Send + Sync> MapKernel for Unary<A, O, F> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name);
        h.u64(self.key);
        [A::DTYPE, O::DTYPE].iter().for_each(|d| h.str(d.name()));
    }
    fn exact(&self) -> bool {
        self.exact
    }

    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()> {
        let a = &input::<A>(&self.name, inputs[0])?[..n];
        let out = O::buf_mut(out);
        out.resize(n, O::default());
        wide(|| {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = (self.f)(x);
            }
        });
        Ok(())
    }
}

impl<A: Element, B: Element, O: Element, F: Fn(A, B) -> O + Send + Sync> MapKernel
    for Binary<A, B, O, F>
{
    fn name(&self) -> String {
        self.name.clone()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name);
        h.u64(self.key);
        [A::DTYPE, B::DTYPE, O::DTYPE]
            .iter()
            .for_each(|d| h.str(d.name()));
    }
    fn exact(&self) -> bool {
        self.exact
    }

    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()> {
        let a = &input::<A>(&self.name, inputs[0])?[..n];
        let b = &input::<B>(&self.name, inputs[1])?[..n];
        let out = O::buf_mut(out);
        out.resize(n, O::default());
        wide(|| {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = (self.f)(x, y);
            }
        });
        Ok(())
    }
}

/// `out[i] = f(a[i], b[i], c[i])`.
pub(crate) struct Ternary<A, B, C, O, F> {
    pub name: String,
    /// A hash of the scalars `f` captures ([`key_of`]), for the MPI fingerprint.
    pub key: u64,
    pub f: F,
    pub _t: PhantomData<fn(A, B, C) -> O>,
}

impl<A: Element, B: Element, C: Element, O: Element, F: Fn(A, B, C) -> O + Send + Sync> MapKernel
    for Ternary<A, B, C, O, F>
{
    fn name(&self) -> String {
        self.name.clone()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name);
        h.u64(self.key);
        [A::DTYPE, B::DTYPE, C::DTYPE, O::DTYPE]
            .iter()
            .for_each(|d| h.str(d.name()));
    }
    /// Only ndtask's own `where_` makes one.
    fn exact(&self) -> bool {
        true
    }

    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()> {
        let a = &input::<A>(&self.name, inputs[0])?[..n];
        let b = &input::<B>(&self.name, inputs[1])?[..n];
        let c = &input::<C>(&self.name, inputs[2])?[..n];
        let out = O::buf_mut(out);
        out.resize(n, O::default());
        wide(|| {
            for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
                *o = (self.f)(x, y, z);
            }
        });
        Ok(())
    }
}
