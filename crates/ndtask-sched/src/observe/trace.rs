//! A profile of runs in Chrome's trace-event format.

use super::spans::{quote_into, Span, SpanLog};
use ndtask_core::{Error, Observer, Result, RunInfo, TaskEvent};
use std::fmt::Write as _;

/// A profile of runs in Chrome's trace-event format: one complete event (`"ph": "X"`) per task,
/// named after its op, with `pid` = MPI rank (0 without MPI), `tid` = worker thread, and the
/// chunk, the task id, the result's bytes and the bytes its process held in `args`. Times are
/// microseconds since the first run this trace watched started (on each rank, by its own
/// clock).
///
/// Under MPI, after each run every rank's events are sent to rank 0's trace, so the file rank 0
/// writes holds the events of all ranks (and the other ranks' traces are empty).
///
/// # Examples
/// ```
/// use ndtask_core::{RunContext, Scheduler, TaskGraph};
/// use ndtask_sched::{observe::ChromeTrace, SyncScheduler};
/// use std::sync::Arc;
/// let trace = Arc::new(ChromeTrace::new());
/// SyncScheduler.execute_with(&TaskGraph::new(), &RunContext::new().observe(trace.clone()))?;
/// assert_eq!(trace.events(), 0);
/// assert!(trace.to_json().starts_with("{\"traceEvents\":["));
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Default)]
pub struct ChromeTrace {
    spans: SpanLog,
}

impl std::fmt::Debug for ChromeTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChromeTrace")
            .field("events", &self.events())
            .finish()
    }
}

impl ChromeTrace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// The complete events recorded (this rank's and those absorbed from other ranks).
    pub fn events(&self) -> usize {
        self.spans.len()
    }

    /// The trace as Chrome trace-event JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"traceEvents\":[\n");
        self.spans.with(|spans| {
            for (i, s) in spans.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                span_json(&mut out, s);
            }
        });
        out.push_str("\n],\"displayTimeUnit\":\"ms\"}\n");
        out
    }

    /// Writes the trace to `path` as Chrome trace-event JSON.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path if the file cannot be written.
    pub fn write(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json())
            .map_err(|e| Error::io(format!("writing the trace {}", path.display()), e))
    }
}

fn span_json(out: &mut String, s: &Span) {
    out.push_str("{\"name\":");
    quote_into(out, &s.op);
    let _ = write!(
        out,
        ",\"cat\":\"task\",\"ph\":\"X\",\"ts\":{:.3},\"dur\":{:.3},\"pid\":{},\"tid\":{},\
         \"args\":{{\"chunk\":",
        s.ts, s.dur, s.rank, s.thread,
    );
    quote_into(out, &s.chunk);
    let _ = write!(
        out,
        ",\"task\":{},\"bytes\":{},\"held\":{},\"ok\":{}}}}}",
        s.task, s.bytes, s.held, s.ok
    );
}

impl Observer for ChromeTrace {
    fn run_started(&self, info: &RunInfo<'_>) {
        self.spans.started(info);
    }

    fn task_finished(&self, e: &TaskEvent<'_>) {
        self.spans.record(e);
    }

    fn timed(&self) -> bool {
        true
    }

    fn wants_task_starts(&self) -> bool {
        false
    }

    fn payload(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.spans.encode(&mut out);
        Some(out)
    }

    fn absorb(&self, _rank: usize, mut payload: &[u8]) {
        // A payload cut short adds nothing (the ranks run the same program: it does not happen).
        let _ = self.spans.decode(&mut payload);
    }
}
