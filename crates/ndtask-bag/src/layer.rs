//! What `Delayed` and `Bag` add to the engine's layers ([`ndtask_array::collection::layer`]):
//! values that cross MPI ranks as their serde encoding ([`Data`], MessagePack), and the
//! helpers that make and read such values.

pub(crate) use ndtask_array::collection::layer::{
    arg, value_chunk, ArrayInput, Deps, Folder, Held, Input, Layer, Part, PIECE,
};
use ndtask_core::{AnyValue, Chunk, Error, Fingerprint, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// What a task of a bag or a delayed value can hold, also across MPI ranks: any value that
/// serde can encode, shared between threads. Every type with `#[derive(Serialize,
/// Deserialize)]` of such fields is one, as are numbers, strings, `Vec`s, tuples, maps and
/// `serde_json::Value`.
pub trait Data: Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Data for T {}

/// Encodes a [`Data`] value (as [`AnyValue`]) for another rank.
pub(crate) fn encode<T: Data>(v: &AnyValue) -> Result<Vec<u8>> {
    let t = v
        .downcast_ref::<T>()
        .ok_or_else(|| Error::internal("encoding a value of another type"))?;
    rmp_serde::to_vec_named(t).map_err(|e| {
        Error::InvalidArgument(format!(
            "encoding a {} for another rank: {e}",
            std::any::type_name::<T>()
        ))
    })
}

/// Decodes a [`Data`] value that another rank encoded.
pub(crate) fn decode<T: Data>(b: &[u8]) -> Result<T> {
    rmp_serde::from_slice(b).map_err(|e| {
        Error::internal(format!(
            "decoding a {} from another rank ({} bytes): {e}",
            std::any::type_name::<T>(),
            b.len()
        ))
    })
}

/// A task's result holding the [`Data`] value `v`.
pub(crate) fn data_chunk<T: Data>(v: T, nbytes: usize) -> Chunk {
    value_chunk(v, nbytes, Some(encode::<T>))
}

/// The partition of `Vec<T>` a stage's input part holds.
pub(crate) fn items<T: Data>(part: Part<'_>) -> Result<Held<'_, T>> {
    part.items(Some(decode::<Vec<T>>))
}

/// A source of `blocks` partitions of `T` made in pieces (see `Layer::pieced`), each
/// partition encodable for other ranks.
pub(crate) fn pieced<T: Data>(
    name: impl Into<String>,
    blocks: usize,
    produce: impl Fn(usize, &mut dyn FnMut(Vec<T>) -> Result<()>) -> Result<()> + Send + Sync + 'static,
) -> Arc<Layer> {
    Layer::pieced(name, blocks, Some(encode::<Vec<T>>), produce)
}

/// A fingerprint of `v`'s encoding (the identity of data a layer holds, such as a
/// `from_vec` bag's items, so MPI ranks that hold different data are told so).
pub(crate) fn ident_of<T: Serialize>(v: &T) -> u64 {
    let mut h = Fingerprint::new();
    match rmp_serde::to_vec(v) {
        Ok(bytes) => {
            h.usize(bytes.len());
            bytes.chunks(8).for_each(|w| {
                let mut a = [0u8; 8];
                a[..w.len()].copy_from_slice(w);
                h.u64(u64::from_le_bytes(a));
            });
        }
        Err(e) => h.str(&e.to_string()),
    }
    h.finish()
}
