//! Element-wise tile kernels. Each is generic over its element types and function, so the inner
//! loop is monomorphised and vectorises; the fused kernel calls it once per tile.

use crate::plan::{tile_type_error, MapKernel};
use ndtask_core::{Buf, Element, Result};
use std::marker::PhantomData;

/// `out[i] = f(a[i])`.
pub(crate) struct Unary<A, O, F> {
    pub name: String,
    pub f: F,
    pub _t: PhantomData<fn(A) -> O>,
}

/// `out[i] = f(a[i], b[i])`.
pub(crate) struct Binary<A, B, O, F> {
    pub name: String,
    pub f: F,
    pub _t: PhantomData<fn(A, B) -> O>,
}

fn input<'b, T: Element>(name: &str, b: &'b Buf) -> Result<&'b Vec<T>> {
    T::buf_ref(b).ok_or_else(|| tile_type_error(name, T::DTYPE, b.dtype()))
}

impl<A: Element, O: Element, F: Fn(A) -> O + Send + Sync> MapKernel for Unary<A, O, F> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()> {
        let a = &input::<A>(&self.name, inputs[0])?[..n];
        let out = O::buf_mut(out);
        out.resize(n, O::default());
        for (o, &x) in out.iter_mut().zip(a) {
            *o = (self.f)(x);
        }
        Ok(())
    }
}

impl<A: Element, B: Element, O: Element, F: Fn(A, B) -> O + Send + Sync> MapKernel
    for Binary<A, B, O, F>
{
    fn name(&self) -> String {
        self.name.clone()
    }

    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()> {
        let a = &input::<A>(&self.name, inputs[0])?[..n];
        let b = &input::<B>(&self.name, inputs[1])?[..n];
        let out = O::buf_mut(out);
        out.resize(n, O::default());
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = (self.f)(x, y);
        }
        Ok(())
    }
}

/// `out[i] = f(a[i], b[i], c[i])`.
pub(crate) struct Ternary<A, B, C, O, F> {
    pub name: String,
    pub f: F,
    pub _t: PhantomData<fn(A, B, C) -> O>,
}

impl<A: Element, B: Element, C: Element, O: Element, F: Fn(A, B, C) -> O + Send + Sync> MapKernel
    for Ternary<A, B, C, O, F>
{
    fn name(&self) -> String {
        self.name.clone()
    }

    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()> {
        let a = &input::<A>(&self.name, inputs[0])?[..n];
        let b = &input::<B>(&self.name, inputs[1])?[..n];
        let c = &input::<C>(&self.name, inputs[2])?[..n];
        let out = O::buf_mut(out);
        out.resize(n, O::default());
        for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
            *o = (self.f)(x, y, z);
        }
        Ok(())
    }
}
