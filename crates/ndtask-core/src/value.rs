//! Task results that are not arrays: any `Send + Sync + 'static` value ([`Value`]), the payload
//! of `delayed` tasks and of bag partitions. Locally a value is shared, never copied or encoded.
//! To cross MPI ranks it must be encoded: a value made with an encoder (every serde type, in
//! `ndtask-bag`) becomes bytes on the sending rank and is decoded, once, by the consumer on the
//! receiving rank, which knows its type.

use crate::{Error, Result};
use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A value as an [`Any`] that can be shared between threads.
pub type AnyValue = dyn Any + Send + Sync;

/// Encodes a value (given as [`AnyValue`]) into bytes.
pub type EncodeFn = fn(&AnyValue) -> Result<Vec<u8>>;

/// Decodes bytes made by the matching [`EncodeFn`] into a value of type `T`.
pub type DecodeFn<T> = fn(&[u8]) -> Result<T>;

/// A task's result that is not an array.
///
/// # Examples
/// ```
/// use ndtask_core::Value;
/// let v = Value::new(vec![1u32, 2, 3], 12, None);
/// assert_eq!(v.get::<Vec<u32>>(None)?, &vec![1, 2, 3]);
/// assert!(v.get::<String>(None).is_err()); // another type: an error, not a panic
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Value {
    /// The value itself (set at once for a local value; on first use for one that arrived as
    /// bytes).
    local: Arc<OnceLock<Arc<AnyValue>>>,
    /// The encoded value, for one that arrived from another rank.
    bytes: Option<Arc<[u8]>>,
    /// The type's name, for error messages.
    type_name: &'static str,
    /// How to encode the value for another rank (`None`: it cannot cross ranks).
    encode: Option<EncodeFn>,
    /// The bytes the value holds, as its maker estimated them (for the memory accounting).
    nbytes: usize,
}

impl Value {
    /// A local value of `nbytes` bytes (an estimate, for the memory accounting), encoded by
    /// `encode` when it has to cross ranks.
    pub fn new<T: Any + Send + Sync>(value: T, nbytes: usize, encode: Option<EncodeFn>) -> Self {
        let local = OnceLock::new();
        let _ = local.set(Arc::new(value) as Arc<AnyValue>);
        Value {
            local: Arc::new(local),
            bytes: None,
            type_name: std::any::type_name::<T>(),
            encode,
            nbytes,
        }
    }

    /// A value that arrived encoded from another rank; the consumer decodes it.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Value {
            nbytes: bytes.len(),
            local: Arc::new(OnceLock::new()),
            bytes: Some(bytes.into()),
            type_name: "encoded bytes",
            encode: None,
        }
    }

    /// The value's type name (or "encoded bytes" for one not yet decoded).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The bytes it holds (the maker's estimate, or the encoded length).
    pub fn nbytes(&self) -> usize {
        self.nbytes
    }

    /// The encoded bytes, if the value arrived encoded.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.bytes.as_deref()
    }

    /// The value as bytes for another rank: the encoded bytes it arrived as, or its encoding.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a value made without an encoder; the encoder's error.
    pub fn encoded(&self) -> Result<Vec<u8>> {
        if let Some(b) = &self.bytes {
            return Ok(b.to_vec());
        }
        match (self.local.get(), self.encode) {
            (Some(v), Some(encode)) => encode(&**v),
            _ => Err(Error::InvalidArgument(format!(
                "a value of type {} has to cross MPI ranks, but it has no serialisation: make \
                 it with a serde type (ndtask_bag's delayed, not delayed_local)",
                self.type_name
            ))),
        }
    }

    /// The value as a `T`. One that arrived as bytes is decoded by `decode` the first time.
    ///
    /// # Errors
    /// [`Error::Internal`] if the value is not a `T`, or arrived as bytes and `decode` is
    /// `None`; the decoder's error.
    pub fn get<T: Any + Send + Sync>(&self, decode: Option<DecodeFn<T>>) -> Result<&T> {
        let v = match (self.local.get(), &self.bytes, decode) {
            (Some(v), _, _) => v,
            (None, Some(bytes), Some(decode)) => {
                let t = decode(bytes)?;
                self.local.get_or_init(|| Arc::new(t))
            }
            _ => {
                return Err(Error::internal(format!(
                    "a value of type {} arrived from another rank with no way to decode it",
                    std::any::type_name::<T>()
                )))
            }
        };
        v.downcast_ref::<T>().ok_or_else(|| {
            Error::internal(format!(
                "a value of type {} was read as a {}",
                self.type_name,
                std::any::type_name::<T>()
            ))
        })
    }
}

impl Value {
    /// The value as a shared `T` (decoded by `decode` if it arrived as bytes): the caller can
    /// take it out without a copy when it holds the only reference.
    ///
    /// # Errors
    /// As [`Value::get`].
    pub fn into_shared<T: Any + Send + Sync>(self, decode: Option<DecodeFn<T>>) -> Result<Arc<T>> {
        self.get::<T>(decode)?;
        let any = self
            .local
            .get()
            .cloned()
            .ok_or_else(|| Error::internal("a value vanished"))?;
        drop(self);
        any.downcast::<T>()
            .map_err(|_| Error::internal("a value changed its type"))
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("type", &self.type_name)
            .field("nbytes", &self.nbytes)
            .field("encoded", &self.bytes.is_some())
            .finish()
    }
}

impl PartialEq for Value {
    /// The same shared value, or the same encoded bytes.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.local, &other.local)
            || matches!((&self.bytes, &other.bytes), (Some(a), Some(b)) if a == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &AnyValue) -> Result<Vec<u8>> {
        let x = v
            .downcast_ref::<u64>()
            .ok_or_else(|| Error::internal("not a u64"))?;
        Ok(x.to_le_bytes().to_vec())
    }

    fn dec(b: &[u8]) -> Result<u64> {
        let a: [u8; 8] = b.try_into().map_err(|_| Error::internal("not 8 bytes"))?;
        Ok(u64::from_le_bytes(a))
    }

    #[test]
    fn round_trip_through_bytes() {
        let v = Value::new(77u64, 8, Some(enc));
        let there = Value::from_bytes(v.encoded().unwrap());
        assert_eq!(there.get::<u64>(Some(dec)).unwrap(), &77);
        // Decoded once, then shared.
        assert_eq!(there.get::<u64>(None).unwrap(), &77);
        assert!(Value::from_bytes(vec![1]).get::<u64>(None).is_err());
        assert!(Value::from_bytes(vec![1]).get::<u64>(Some(dec)).is_err());
        let local_only = Value::new(5u64, 8, None);
        let e = local_only.encoded().unwrap_err().to_string();
        assert!(e.contains("u64") && e.contains("serialisation"), "{e}");
    }
}
