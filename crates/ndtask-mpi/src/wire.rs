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

/// Encodes the failure of `task`: a kind byte, then the error's texts, each length-prefixed.
pub(crate) fn abort(task: TaskId, error: &Error) -> Vec<u8> {
    let other;
    let (kind, texts): (u8, Vec<&str>) = match error {
        Error::Task { op, chunk, message } => (
            ERR_TASK,
            vec![op.as_str(), chunk.as_str(), message.as_str()],
        ),
        Error::Internal(m) => (ERR_INTERNAL, vec![m.as_str()]),
        Error::Mpi(m) => (ERR_OTHER, vec![m.as_str()]),
        e => {
            other = e.to_string();
            (ERR_OTHER, vec![other.as_str()])
        }
    };
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
            let error = match (err_kind, texts.as_mut_slice()) {
                (ERR_TASK, [op, chunk, message]) => Error::Task {
                    op: std::mem::take(op),
                    chunk: std::mem::take(chunk),
                    message: std::mem::take(message),
                },
                (ERR_INTERNAL, [m]) => Error::Internal(std::mem::take(m)),
                (ERR_OTHER, [m]) => Error::Mpi(std::mem::take(m)),
                _ => return Err(bad()),
            };
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
        ] {
            let got = decode(&abort(7, &error)).unwrap();
            assert_eq!(got, Msg::Abort { task: 7, error });
        }
        // Anything else travels as its text.
        let got = decode(&abort(1, &Error::Scheduler("no".into()))).unwrap();
        assert_eq!(
            got,
            Msg::Abort {
                task: 1,
                error: Error::Mpi("scheduler error: no".into())
            }
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 0, 0, 0, 0]).is_err());
        assert!(decode(&[ABORT, 0, 0, 0, 0, ERR_INTERNAL, 1]).is_err());
        assert!(decode(&[ABORT, 0, 0, 0, 0, ERR_TASK]).is_err());
        let mut b = data(0, &Chunk::I64(ArrayD::from_elem(IxDyn(&[2]), 1)));
        b.push(0);
        assert!(decode(&b).is_err());
    }
}
