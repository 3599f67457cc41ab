//! The one error type of ndtask. Every layer reports through it, and each variant says which
//! layer failed: building an expression (`Shape`, `Axis`, `Chunks`, `InvalidArgument`), running a
//! task (`Task`), reading or writing data (`Io`), memory (`Memory`), the scheduler (`Scheduler`,
//! `Mpi`), a run cancelled by its caller (`Cancelled`), or ndtask itself (`Internal`).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Result type used throughout ndtask.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ndtask.
///
/// Messages name the values involved, e.g. "cannot concatenate shapes [4, 3] and [4, 5] along
/// axis 0: other axes differ".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The chunk specification does not fit the array shape.
    #[error("invalid chunks {chunks} for shape {shape:?}: {reason}")]
    Chunks {
        /// The array shape.
        shape: Vec<usize>,
        /// The chunk specification as given.
        chunks: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Shapes (or chunkings) of the operands do not fit the operation.
    #[error("{0}")]
    Shape(String),
    /// An axis argument is out of range.
    #[error(
        "axis {axis} is out of bounds for {op} on an array of {ndim} dimensions (shape {shape:?})"
    )]
    Axis {
        /// The operation.
        op: String,
        /// The axis given.
        axis: usize,
        /// The number of dimensions of the array.
        ndim: usize,
        /// The array shape.
        shape: Vec<usize>,
    },
    /// Any other invalid argument (a bad range, a zero count, a wrong element type).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A task failed (returned an error or panicked) while the graph ran.
    #[error("task {op} failed on chunk {chunk}: {message}")]
    Task {
        /// The operation the task belongs to.
        op: String,
        /// The chunk (block index) the task was computing.
        chunk: String,
        /// The error or panic message.
        message: String,
    },
    /// An allocation sized by the input failed (a chunk, a result or a table too large for this
    /// machine); nothing was aborted and nothing is left half-done.
    #[error("out of memory: {0}")]
    Memory(String),
    /// Reading or writing data failed (a file, a store, a chunk reader). `what` names the path
    /// and the chunk; the underlying error is kept as [`std::error::Error::source`].
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written: the path, and the chunk or region.
        what: String,
        /// The error that stopped it.
        #[source]
        source: IoSource,
    },
    /// The run was cancelled through its [`crate::CancelToken`].
    #[error("the computation was cancelled")]
    Cancelled,
    /// A scheduler could not be created or used (e.g. MPI asked for without the `mpi` feature).
    #[error("scheduler error: {0}")]
    Scheduler(String),
    /// An MPI-level failure (ranks disagree on the graph, a peer reported failure, ...).
    #[error("MPI error: {0}")]
    Mpi(String),
    /// A broken invariant inside ndtask: a bug, please report it.
    #[error("internal error (a bug in ndtask, please report): {0}")]
    Internal(String),
}

impl Error {
    /// Builds an [`Error::Internal`] from anything printable.
    pub fn internal(msg: impl std::fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }

    /// Builds an [`Error::Io`]: `what` names the path and chunk, `source` is the error that
    /// stopped the read or write.
    ///
    /// # Examples
    /// ```
    /// use std::error::Error as _;
    /// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    /// let e = ndtask_core::Error::io("reading chunk [0, 1] of data.npy", io);
    /// assert_eq!(e.to_string(), "reading chunk [0, 1] of data.npy: no such file");
    /// assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("no such file"));
    /// ```
    pub fn io(
        what: impl std::fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Io {
            what: what.to_string(),
            source: IoSource(Arc::from(source.into())),
        }
    }
}

/// The error inside an [`Error::Io`], shared so that the error stays `Clone`. Two are equal
/// when their messages are.
#[derive(Debug, Clone)]
pub struct IoSource(pub Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for IoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for IoSource {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

/// The message of a caught panic (`&str` or `String` payloads; a placeholder otherwise).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs `f`, turning a panic into [`Error::Internal`] naming `stage` (a broken invariant of
/// ndtask's own code: public entry points use it so that no panic unwinds into the caller).
///
/// # Errors
/// What `f` returns, or the panic as [`Error::Internal`].
///
/// # Examples
/// ```
/// use ndtask_core::{catch_panic, Error};
/// let r: Result<(), Error> = catch_panic("lowering", || panic!("boom"));
/// assert!(matches!(r, Err(Error::Internal(m)) if m == "lowering panicked: boom"));
/// ```
pub fn catch_panic<T>(stage: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(Error::Internal(format!(
            "{stage} panicked: {}",
            panic_message(p.as_ref())
        )))
    })
}

/// An empty vector with room for exactly `n` values, or [`Error::Memory`] naming `what` and the
/// bytes asked for (never an abort, whatever `n` is).
///
/// # Errors
/// [`Error::Memory`] if the allocation fails or its size overflows.
///
/// # Examples
/// ```
/// let v: Vec<f64> = ndtask_core::try_vec(10, "a chunk").unwrap();
/// assert!(v.capacity() >= 10);
/// let e = ndtask_core::try_vec::<f64>(1 << 60, "a chunk of shape [1152921504606846976]");
/// assert!(matches!(e, Err(ndtask_core::Error::Memory(_))));
/// ```
pub fn try_vec<T>(n: usize, what: impl std::fmt::Display) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        let bytes = (n as u128) * std::mem::size_of::<T>() as u128;
        Error::Memory(format!("cannot allocate {bytes} bytes for {what}"))
    })?;
    Ok(v)
}

/// A vector of `n` copies of `value`, as [`try_vec`] (no abort on a failed allocation).
///
/// # Errors
/// As [`try_vec`].
pub fn try_filled<T: Clone>(n: usize, value: T, what: impl std::fmt::Display) -> Result<Vec<T>> {
    let mut v = try_vec(n, what)?;
    v.resize(n, value);
    Ok(v)
}
