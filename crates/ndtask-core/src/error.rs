//! The one error type of ndtask. Every layer reports through it, and each variant says which
//! layer failed: building an expression (`Shape`, `Axis`, `Chunks`, `InvalidArgument`), running a
//! task (`Task`), the scheduler (`Scheduler`, `Mpi`), or ndtask itself (`Internal`).

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
}
