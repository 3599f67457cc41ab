//! The two messages ranks exchange during a run, as bytes: a task's result, or the news that a
//! task failed (the poison that makes every rank stop and return the same error).
//!
//! Layout: one kind byte, the task id (`u32`, little-endian), then the chunk's own encoding
//! ([`Chunk::encode`]) or the error. Peers run the same build, so native layouts agree.

use ndtask_core::{Chunk, Error, Result, TaskId};

const DATA: u8 = 0;
const ABORT: u8 = 1;

const ERR_TASK: u8 = 0;
const ERR_INTERNAL: u8 = 1;
const ERR_OTHER: u8 = 2;
const ERR_SHAPE: u8 = 3;
const ERR_INVALID: u8 = 4;
const ERR_MEMORY: u8 = 5;
const ERR_SCHEDULER: u8 = 6;
const ERR_AXIS: u8 = 7;
const ERR_CHUNKS: u8 = 8;

/// A decoded message.
#[derive(Debug, PartialEq)]
pub(crate) enum Msg {
    /// The result of `task`.
    Data { task: TaskId, chunk: Chunk },
    /// `task` failed with `error`.
    Abort { task: TaskId, error: Error },
}

/// Encodes the result of `task`.
pub(crate) fn data(task: TaskId, chunk: &Chunk) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + 64 + chunk.nbytes());
    out.push(DATA);
    out.extend_from_slice(&task.to_le_bytes());
    chunk.encode(&mut out);
    out
}

/// The kind byte and texts of an error, every variant kept (an unknown future variant travels
/// as its text, as [`Error::Mpi`]).
fn error_parts(error: &Error) -> (u8, Vec<String>) {
    let list = |v: &[usize]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    match error {
        Error::Task { op, chunk, message } => {
            (ERR_TASK, vec![op.clone(), chunk.clone(), message.clone()])
        }
        Error::Internal(m) => (ERR_INTERNAL, vec![m.clone()]),
        Error::Mpi(m) => (ERR_OTHER, vec![m.clone()]),
        Error::Shape(m) => (ERR_SHAPE, vec![m.clone()]),
        Error::InvalidArgument(m) => (ERR_INVALID, vec![m.clone()]),
        Error::Memory(m) => (ERR_MEMORY, vec![m.clone()]),
        Error::Scheduler(m) => (ERR_SCHEDULER, vec![m.clone()]),
        Error::Axis {
            op,
            axis,
            ndim,
            shape,
        } => (
            ERR_AXIS,
            vec![op.clone(), axis.to_string(), ndim.to_string(), list(shape)],
        ),
        Error::Chunks {
            shape,
            chunks,
            reason,
        } => (
            ERR_CHUNKS,
            vec![list(shape), chunks.clone(), reason.clone()],
        ),
        e => (ERR_OTHER, vec![e.to_string()]),
    }
}

/// The error that [`error_parts`] took apart; `None` if the parts do not fit the kind.
fn error_from_parts(kind: u8, texts: &mut [String]) -> Option<Error> {
    let num = |s: &str| s.parse::<usize>().ok();
    let list = |s: &str| -> Option<Vec<usize>> {
        if s.is_empty() {
            return Some(Vec::new());
        }
        s.split(',').map(num).collect()
    };
    let take = std::mem::take::<String>;
    Some(match (kind, texts) {
        (ERR_TASK, [op, chunk, message]) => Error::Task {
            op: take(op),
            chunk: take(chunk),
            message: take(message),
        },
        (ERR_INTERNAL, [m]) => Error::Internal(take(m)),
        (ERR_OTHER, [m]) => Error::Mpi(take(m)),
        (ERR_SHAPE, [m]) => Error::Shape(take(m)),
        (ERR_INVALID, [m]) => Error::InvalidArgument(take(m)),
        (ERR_MEMORY, [m]) => Error::Memory(take(m)),
        (ERR_SCHEDULER, [m]) => Error::Scheduler(take(m)),
        (ERR_AXIS, [op, axis, ndim, shape]) => Error::Axis {
            op: take(op),
            axis: num(axis)?,
            ndim: num(ndim)?,
            shape: list(shape)?,
        },
        (ERR_CHUNKS, [shape, chunks, reason]) => Error::Chunks {
            shape: list(shape)?,
            chunks: take(chunks),
            reason: take(reason),
        },
        _ => return None,
    })
}

/// Encodes the failure of `task`: a kind byte, then the error's texts, each length-prefixed.
pub(crate) fn abort(task: TaskId, error: &Error) -> Vec<u8> {
    let (kind, texts) = error_parts(error);
    let mut out = vec![ABORT];
    out.extend_from_slice(&task.to_le_bytes());
    out.push(kind);
    for s in texts {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out
}

/// Decodes a message.
///
/// # Errors
/// [`Error::Internal`] if the bytes are not a message (which would be a bug).
pub(crate) fn decode(bytes: &[u8]) -> Result<Msg> {
    let bad = || Error::internal(format!("malformed MPI message of {} bytes", bytes.len()));
    let (&kind, rest) = bytes.split_first().ok_or_else(bad)?;
    let (id, mut rest) = rest.split_at_checked(4).ok_or_else(bad)?;
    let task = TaskId::from_le_bytes(id.try_into().map_err(|_| bad())?);
    match kind {
        DATA => {
            let (chunk, tail) = Chunk::decode(rest)?;
            if !tail.is_empty() {
                return Err(bad());
            }
            Ok(Msg::Data { task, chunk })
        }
        ABORT => {
            let (&err_kind, r) = rest.split_first().ok_or_else(bad)?;
            rest = r;
            let mut texts = Vec::new();
            while !rest.is_empty() {
                let (len, r) = rest.split_at_checked(8).ok_or_else(bad)?;
                let len = u64::from_le_bytes(len.try_into().map_err(|_| bad())?) as usize;
                let (s, r) = r.split_at_checked(len).ok_or_else(bad)?;
                texts.push(String::from_utf8_lossy(s).into_owned());
                rest = r;
            }
            let error = error_from_parts(err_kind, &mut texts).ok_or_else(bad)?;
            Ok(Msg::Abort { task, error })
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn data_round_trips() {
        let chunk = Chunk::Tuple(vec![
            Chunk::F64(
                ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.5, -0.0, f64::NAN, 4.0]).unwrap(),
            ),
            Chunk::I64(ArrayD::from_elem(IxDyn(&[3]), 7)),
        ]);
        let bytes = data(42, &chunk);
        match decode(&bytes).unwrap() {
            Msg::Data { task, chunk: got } => {
                assert_eq!(task, 42);
                let (mut a, mut b) = (Vec::new(), Vec::new());
                chunk.encode(&mut a);
                got.encode(&mut b);
                assert_eq!(a, b); // bit for bit, NaN included
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_round_trip() {
        for error in [
            Error::Task {
                op: "fused[arange, map]".into(),
                chunk: "[2]".into(),
                message: "panicked: boom".into(),
            },
            Error::Internal("oops".into()),
            Error::Mpi("rank 2: scheduler error: x".into()),
            Error::Shape("cannot add [3] and [4]".into()),
            Error::InvalidArgument("split_every".into()),
            Error::Memory("cannot allocate 8 TiB".into()),
            Error::Scheduler("no".into()),
            Error::Axis {
                op: "sum".into(),
                axis: 3,
                ndim: 2,
                shape: vec![4, 5],
            },
            Error::Axis {
                op: "sum".into(),
                axis: 0,
                ndim: 0,
                shape: vec![],
            },
            Error::Chunks {
                shape: vec![10],
                chunks: "[[3, 3]]".into(),
                reason: "add up to 6, not 10".into(),
            },
        ] {
            let got = decode(&abort(7, &error)).unwrap();
            assert_eq!(got, Msg::Abort { task: 7, error });
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 0, 0, 0, 0]).is_err());
        assert!(decode(&[ABORT, 0, 0, 0, 0, ERR_INTERNAL, 1]).is_err());
        assert!(decode(&[ABORT, 0, 0, 0, 0, ERR_TASK]).is_err());
        // An axis error whose number is not a number.
        let mut b = vec![ABORT, 0, 0, 0, 0, ERR_AXIS];
        for t in ["sum", "x", "2", ""] {
            b.extend_from_slice(&(t.len() as u64).to_le_bytes());
            b.extend_from_slice(t.as_bytes());
        }
        assert!(decode(&b).is_err());
        let mut b = data(0, &Chunk::I64(ArrayD::from_elem(IxDyn(&[2]), 1)));
        b.push(0);
        assert!(decode(&b).is_err());
    }
}
