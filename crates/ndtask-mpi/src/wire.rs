//! The messages ranks exchange during a run: a task's result, the news that a task failed (the
//! poison that makes every rank stop and return the same error), a rank's progress (its count
//! of finished tasks, for rank 0's observer), or, under a memory budget, a grant (the receiver
//! has made room for a result and its owner may send it).
//!
//! A result is a small header — a kind byte, the task id (`u32`, little-endian), whether it is a
//! tuple (a partial state of several arrays), and each array's element type and shape — followed
//! by one typed message per array, sent straight from the chunk's storage and received straight
//! into the new chunk's (no encoding, no copy on either side: MPI's own datatypes `f64`, `f32`,
//! `i64`, `bool`). A failure is one message: a kind byte, the task id, then the error. The header
//! is checked (element types, dimensions, sizes) before anything is allocated, and the receiver
//! checks each array message's length against it.

use ndtask_core::Chunk;
use ndtask_core::{ChunkGrid, DType, Error, Result, TaskId};

const DATA: u8 = 0;
const ABORT: u8 = 1;
const PROGRESS: u8 = 2;
const GRANT: u8 = 3;

/// The length of a grant: the kind byte and the task id.
pub(crate) const GRANT_LEN: usize = 5;

const ERR_TASK: u8 = 0;
const ERR_INTERNAL: u8 = 1;
const ERR_OTHER: u8 = 2;
const ERR_SHAPE: u8 = 3;
const ERR_INVALID: u8 = 4;
const ERR_MEMORY: u8 = 5;
const ERR_SCHEDULER: u8 = 6;
const ERR_AXIS: u8 = 7;
const ERR_CHUNKS: u8 = 8;
const ERR_CANCELLED: u8 = 9;
const ERR_IO: u8 = 10;

/// The fewest header bytes one array of a result takes (its tag and its number of
/// dimensions): a header claiming more arrays than its bytes can hold is malformed.
const PART_BYTES: usize = 5;
/// The most dimensions of one array.
const MAX_NDIM: usize = 64;

/// What one message of a result holds: an array's elements, or a value's encoded bytes (its
/// "shape" is then the byte count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// Elements of this type.
    Array(DType),
    /// The bytes of a value ([`ndtask_core::Value::encoded`]).
    Value,
}

/// The messages of a result as its header announces them: what each holds, and its shape.
pub(crate) type Parts = Vec<(Part, Vec<usize>)>;

/// The tag of a value's bytes among the element type tags.
const VALUE_TAG: u8 = 4;

/// A decoded message.
#[derive(Debug, PartialEq)]
pub(crate) enum Msg {
    /// The result of `task` follows, one message per part (element type and shape); `tuple`:
    /// the parts make one tuple chunk (a partial state), otherwise there is one plain array.
    Data {
        task: TaskId,
        tuple: bool,
        parts: Parts,
    },
    /// `task` failed with `error`.
    Abort { task: TaskId, error: Error },
    /// The sender has finished `tasks_done` of its tasks.
    Progress { tasks_done: u64 },
    /// The sender has made room for the result of `task` (under a memory budget): send it.
    Grant { task: TaskId },
}

/// Encodes a grant of the result of `task`: the kind byte, then the task id.
pub(crate) fn grant(task: TaskId) -> Vec<u8> {
    let mut out = vec![GRANT];
    out.extend_from_slice(&task.to_le_bytes());
    out
}

/// Encodes a progress report: the kind byte, a task id of 0, then the count.
pub(crate) fn progress(tasks_done: usize) -> Vec<u8> {
    let mut out = vec![PROGRESS];
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(tasks_done as u64).to_le_bytes());
    out
}

/// The arrays of a chunk, in order: itself, or a tuple's parts.
///
/// # Errors
/// [`Error::Internal`] for a tuple inside a tuple (no partial state is one).
pub(crate) fn parts(chunk: &Chunk) -> Result<Vec<&Chunk>> {
    match chunk {
        Chunk::Tuple(p) if p.iter().any(|c| matches!(c, Chunk::Tuple(_))) => Err(Error::internal(
            "a nested tuple cannot be sent between ranks",
        )),
        Chunk::Tuple(p) => Ok(p.iter().collect()),
        c => Ok(vec![c]),
    }
}

fn dtype_tag(d: DType) -> u8 {
    match d {
        DType::F64 => 0,
        DType::F32 => 1,
        DType::I64 => 2,
        DType::Bool => 3,
    }
}

/// Encodes the header of the result of `task`; the arrays of [`parts`] follow as messages of
/// their own.
///
/// # Errors
/// As [`parts`].
pub(crate) fn header(task: TaskId, chunk: &Chunk) -> Result<Vec<u8>> {
    let arrays = parts(chunk)?;
    let mut out = vec![DATA];
    out.extend_from_slice(&task.to_le_bytes());
    out.push(matches!(chunk, Chunk::Tuple(_)) as u8);
    out.extend_from_slice(&(arrays.len() as u32).to_le_bytes());
    for a in arrays {
        let (tag, shape) = match a {
            Chunk::Value(v) => {
                let n = v
                    .bytes()
                    .ok_or_else(|| Error::internal("a value sent before it was encoded"))?
                    .len();
                (VALUE_TAG, vec![n])
            }
            a => {
                let dtype = a
                    .dtype()
                    .ok_or_else(|| Error::internal("a tuple part without an element type"))?;
                (dtype_tag(dtype), a.shape().to_vec())
            }
        };
        out.push(tag);
        out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for d in shape {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
    }
    Ok(out)
}

/// The length of the header of a result of `layout` (what [`header`] writes).
pub(crate) fn header_len(layout: &ndtask_core::Layout) -> usize {
    1 + 4
        + 1
        + 4
        + layout
            .parts
            .iter()
            .map(|(_, s)| 1 + 4 + 8 * s.len())
            .sum::<usize>()
}

/// Reads `n` bytes off the front of `rest`.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

fn u32_of(rest: &mut &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(take(rest, 4)?.try_into().ok()?))
}

fn u64_of(rest: &mut &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(take(rest, 8)?.try_into().ok()?))
}

/// The parts of a result header, checked: known element types, no more arrays than the header's
/// bytes hold (a partial state has up to three; several reductions sharing one pass send all
/// theirs together), each of at most [`MAX_NDIM`] dimensions and no larger than an array may be.
fn decode_parts(mut rest: &[u8]) -> Option<(bool, Parts)> {
    let tuple = match take(&mut rest, 1)? {
        [0] => false,
        [1] => true,
        _ => return None,
    };
    let n = u32_of(&mut rest)? as usize;
    if n > rest.len() / PART_BYTES || (!tuple && n != 1) {
        return None;
    }
    let mut parts = Vec::with_capacity(n);
    for _ in 0..n {
        let part = match take(&mut rest, 1)? {
            [0] => Part::Array(DType::F64),
            [1] => Part::Array(DType::F32),
            [2] => Part::Array(DType::I64),
            [3] => Part::Array(DType::Bool),
            [VALUE_TAG] => Part::Value,
            _ => return None,
        };
        let ndim = u32_of(&mut rest)? as usize;
        if ndim > MAX_NDIM {
            return None;
        }
        let shape = (0..ndim)
            .map(|_| u64_of(&mut rest).and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<Vec<usize>>>()?;
        let elements = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        if elements > ChunkGrid::MAX_ELEMENTS || (part == Part::Value && shape.len() != 1) {
            return None;
        }
        parts.push((part, shape));
    }
    rest.is_empty().then_some((tuple, parts))
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
        Error::Cancelled => (ERR_CANCELLED, Vec::new()),
        Error::Io { what, source } => (ERR_IO, vec![what.clone(), source.to_string()]),
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
        (ERR_CANCELLED, []) => Error::Cancelled,
        (ERR_IO, [what, source]) => Error::io(take(what), take(source)),
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
            let (tuple, parts) = decode_parts(rest).ok_or_else(bad)?;
            Ok(Msg::Data { task, tuple, parts })
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
        GRANT if rest.is_empty() => Ok(Msg::Grant { task }),
        PROGRESS => {
            let count: [u8; 8] = rest.try_into().map_err(|_| bad())?;
            Ok(Msg::Progress {
                tasks_done: u64::from_le_bytes(count),
            })
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn a_result_of_many_arrays_round_trips_and_a_header_claiming_more_is_refused() {
        let parts: Vec<Chunk> = (0..40)
            .map(|k| Chunk::I64(ArrayD::from_elem(IxDyn(&[k % 3]), 1)))
            .collect();
        let h = header(5, &Chunk::Tuple(parts)).unwrap();
        let Ok(Msg::Data { tuple, parts, .. }) = decode(&h) else {
            panic!("a header of 40 arrays did not decode");
        };
        assert!(tuple);
        assert_eq!(parts.len(), 40);
        assert_eq!(parts[4], (Part::Array(DType::I64), vec![1]));
        // The count (after the kind, the task and the tuple flag) says 41 arrays, or 2^32 - 1;
        // the bytes hold 40.
        let mut bad = h.clone();
        bad[6..10].copy_from_slice(&41u32.to_le_bytes());
        assert!(decode(&bad).is_err());
        bad[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn headers_round_trip() {
        let chunk = Chunk::Tuple(vec![
            Chunk::F64(
                ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.5, -0.0, f64::NAN, 4.0]).unwrap(),
            ),
            Chunk::I64(ArrayD::from_elem(IxDyn(&[3]), 7)),
        ]);
        let layout = ndtask_core::Layout {
            tuple: true,
            parts: vec![(DType::F64, vec![2, 2]), (DType::I64, vec![3])],
        };
        assert_eq!(header(42, &chunk).unwrap().len(), header_len(&layout));
        let got = decode(&header(42, &chunk).unwrap()).unwrap();
        assert_eq!(
            got,
            Msg::Data {
                task: 42,
                tuple: true,
                parts: vec![
                    (Part::Array(DType::F64), vec![2, 2]),
                    (Part::Array(DType::I64), vec![3])
                ],
            }
        );
        let value = Chunk::Value(ndtask_core::Value::from_bytes(vec![1, 2, 3]));
        assert_eq!(
            decode(&header(9, &value).unwrap()).unwrap(),
            Msg::Data {
                task: 9,
                tuple: false,
                parts: vec![(Part::Value, vec![3])],
            }
        );
        // A value is encoded before its header is made.
        let local = Chunk::Value(ndtask_core::Value::new(1u8, 1, None));
        assert!(header(9, &local).is_err());
        let plain = Chunk::Bool(ArrayD::from_elem(IxDyn(&[]), true));
        let got = decode(&header(7, &plain).unwrap()).unwrap();
        assert_eq!(
            got,
            Msg::Data {
                task: 7,
                tuple: false,
                parts: vec![(Part::Array(DType::Bool), vec![])],
            }
        );
        assert!(header(1, &Chunk::Tuple(vec![chunk])).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..300 {
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len > 10 {
                b[0] = (next() % 3) as u8; // a known kind, so parsing goes deeper
                b[5] = (next() % 2) as u8;
                b[6..10].copy_from_slice(&((next() % 4) as u32).to_le_bytes());
            }
            let _ = decode(&b);
        }
    }

    #[test]
    fn lying_headers_are_errors() {
        let mut h = vec![DATA, 0, 0, 0, 0, 0];
        h.extend_from_slice(&1u32.to_le_bytes());
        h.push(0); // f64
        h.extend_from_slice(&2u32.to_le_bytes());
        h.extend_from_slice(&(1u64 << 40).to_le_bytes());
        h.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(decode(&h).is_err(), "2^80 elements");
        let mut h = vec![DATA, 0, 0, 0, 0, 1];
        h.extend_from_slice(&(1u32 << 30).to_le_bytes());
        assert!(decode(&h).is_err(), "2^30 parts");
        let mut h = vec![DATA, 0, 0, 0, 0, 0];
        h.extend_from_slice(&1u32.to_le_bytes());
        h.push(9);
        assert!(decode(&h).is_err(), "an unknown element type");
        let mut h = header(3, &Chunk::I64(ArrayD::from_elem(IxDyn(&[2]), 1))).unwrap();
        h.push(0);
        assert!(decode(&h).is_err(), "trailing bytes");
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
            Error::Cancelled,
            Error::io("reading chunk [1] of x.npy", "unexpected end of file"),
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
    fn grants_round_trip() {
        assert_eq!(grant(77).len(), GRANT_LEN);
        assert_eq!(decode(&grant(77)).unwrap(), Msg::Grant { task: 77 });
        let mut long = grant(1);
        long.push(0);
        assert!(decode(&long).is_err());
        assert!(decode(&grant(1)[..4]).is_err());
    }

    #[test]
    fn progress_round_trips() {
        let got = decode(&progress(123_456)).unwrap();
        assert_eq!(
            got,
            Msg::Progress {
                tasks_done: 123_456
            }
        );
        assert!(decode(&progress(1)[..12]).is_err());
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
        let b = header(0, &Chunk::I64(ArrayD::from_elem(IxDyn(&[2]), 1))).unwrap();
        assert!(decode(&b[..b.len() - 1]).is_err());
    }
}
