//! Observers of runs ([`ndtask_core::Observer`]): a progress bar on stderr ([`ProgressBar`]) and
//! a profile in Chrome's trace-event format ([`ChromeTrace`]), which Perfetto and
//! `chrome://tracing` open. Give them to a run through a [`ndtask_core::RunContext`].

use ndtask_core::{Error, Observer, Result, RunInfo, RunSummary, TaskEvent};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A progress bar on stderr for runs that last longer than a moment (0.5 s by default): tasks
/// done out of tasks in the graph, with the rate and the time left. Under MPI, rank 0 draws the
/// progress of every rank (the others report their counts to it a few times a second) and the
/// other ranks draw nothing.
///
/// Its cost while the run goes on is one atomic add per task; a thread of its own redraws the
/// bar ten times a second.
///
/// # Examples
/// ```
/// use ndtask_core::{RunContext, Scheduler, TaskGraph};
/// use ndtask_sched::{observe::ProgressBar, SyncScheduler};
/// use std::sync::Arc;
/// let bar = Arc::new(ProgressBar::new());
/// let ctx = RunContext::new().observe(bar.clone());
/// SyncScheduler.execute_with(&TaskGraph::new(), &ctx)?;
/// assert_eq!(bar.done(), 0);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub struct ProgressBar {
    state: Arc<BarState>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    delay: Duration,
    hidden: bool,
}

struct BarState {
    done: AtomicUsize,
    /// Per rank, the tasks it reported done (rank 0's own count is `done`).
    remote: Mutex<Vec<usize>>,
    total: AtomicUsize,
    finished: Mutex<bool>,
    wake: Condvar,
    drew: AtomicBool,
}

impl BarState {
    fn position(&self) -> usize {
        self.done.load(Ordering::Relaxed) + lock(&self.remote).iter().sum::<usize>()
    }
}

impl Default for ProgressBar {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ProgressBar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressBar")
            .field("done", &self.state.position())
            .field("total", &self.state.total.load(Ordering::Relaxed))
            .finish()
    }
}

impl ProgressBar {
    /// A bar drawn on stderr for runs longer than 0.5 s.
    pub fn new() -> Self {
        ProgressBar {
            state: Arc::new(BarState {
                done: AtomicUsize::new(0),
                remote: Mutex::new(Vec::new()),
                total: AtomicUsize::new(0),
                finished: Mutex::new(true),
                wake: Condvar::new(),
                drew: AtomicBool::new(false),
            }),
            ticker: Mutex::new(None),
            delay: Duration::from_millis(500),
            hidden: false,
        }
    }

    /// Draws only for runs longer than `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Counts without drawing (for tests, or a program that reads [`ProgressBar::done`]).
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Tasks done in the current (or last) run, on every rank that reported to this one.
    pub fn done(&self) -> usize {
        self.state.position()
    }

    /// Tasks in the current (or last) run's graph.
    pub fn total(&self) -> usize {
        self.state.total.load(Ordering::Relaxed)
    }

    /// Whether the last run lasted long enough for the bar to be drawn.
    pub fn drew(&self) -> bool {
        self.state.drew.load(Ordering::Relaxed)
    }

    fn stop(&self) {
        *lock(&self.state.finished) = true;
        self.state.wake.notify_all();
        if let Some(t) = lock(&self.ticker).take() {
            let _ = t.join();
        }
    }
}

/// Waits `delay`, then draws the bar until the run finishes.
fn tick(state: &BarState, delay: Duration, hidden: bool) {
    let wait = |d: Duration| -> bool {
        let g = lock(&state.finished);
        let (g, _) = state
            .wake
            .wait_timeout_while(g, d, |finished| !*finished)
            .unwrap_or_else(PoisonError::into_inner);
        *g
    };
    if wait(delay) {
        return;
    }
    state.drew.store(true, Ordering::Relaxed);
    let total = state.total.load(Ordering::Relaxed) as u64;
    let bar = if hidden {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        )
    };
    bar.set_length(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} tasks ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    loop {
        bar.set_position(state.position() as u64);
        if wait(Duration::from_millis(100)) {
            break;
        }
    }
    bar.set_position(state.position() as u64);
    bar.finish();
}

impl Observer for ProgressBar {
    fn run_started(&self, info: &RunInfo) {
        self.stop();
        let s = &self.state;
        s.done.store(0, Ordering::Relaxed);
        *lock(&s.remote) = vec![0; info.ranks];
        s.total.store(info.tasks, Ordering::Relaxed);
        s.drew.store(false, Ordering::Relaxed);
        if info.rank != 0 {
            return;
        }
        *lock(&s.finished) = false;
        let (state, delay, hidden) = (self.state.clone(), self.delay, self.hidden);
        let handle = std::thread::Builder::new()
            .name("ndtask-progress".into())
            .spawn(move || tick(&state, delay, hidden));
        // Without a thread there is no bar, and the run goes on.
        *lock(&self.ticker) = handle.ok();
    }

    fn task_finished(&self, event: &TaskEvent<'_>) {
        if event.ok {
            self.state.done.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn wants_remote_progress(&self) -> bool {
        true
    }

    fn remote_progress(&self, rank: usize, tasks_done: usize) {
        if let Some(n) = lock(&self.state.remote).get_mut(rank) {
            *n = tasks_done;
        }
    }

    fn run_finished(&self, _: &RunSummary) {
        self.stop();
    }
}

/// One task as the trace records it.
struct Span {
    name: String,
    chunk: String,
    task: u32,
    ts: f64,
    dur: f64,
    rank: usize,
    thread: usize,
    bytes: usize,
    ok: bool,
}

/// A profile of runs in Chrome's trace-event format: one complete event (`"ph": "X"`) per task,
/// named after its op, with `pid` = MPI rank (0 without MPI), `tid` = worker thread, and the
/// chunk, the task id and the result's bytes in `args`. Times are microseconds since the first
/// run this trace watched started (on each rank, by its own clock).
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
    origin: Mutex<Option<Instant>>,
    /// Per worker thread, the spans it recorded (one lock per thread: no contention).
    spans: Mutex<Vec<Arc<Mutex<Vec<Span>>>>>,
    /// Events of other ranks, as JSON objects, absorbed after MPI runs.
    absorbed: Mutex<Vec<String>>,
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
        let own: usize = lock(&self.spans).iter().map(|s| lock(s).len()).sum();
        own + lock(&self.absorbed).len()
    }

    /// The trace as Chrome trace-event JSON.
    pub fn to_json(&self) -> String {
        self.flush();
        let events = lock(&self.absorbed);
        let mut out = String::from("{\"traceEvents\":[\n");
        out.push_str(&events.join(",\n"));
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

    /// Moves this rank's spans out of the per-thread buffers into `absorbed`, as JSON.
    fn flush(&self) {
        let buffers = lock(&self.spans).clone();
        let mut absorbed = lock(&self.absorbed);
        for b in buffers {
            absorbed.extend(std::mem::take(&mut *lock(&b)).iter().map(span_json));
        }
    }

    fn buffer(&self, thread: usize) -> Arc<Mutex<Vec<Span>>> {
        let mut spans = lock(&self.spans);
        while spans.len() <= thread {
            spans.push(Arc::default());
        }
        spans[thread].clone()
    }
}

/// `text` as a JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn span_json(s: &Span) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"name\":{},\"cat\":\"task\",\"ph\":\"X\",\"ts\":{:.3},\"dur\":{:.3},\"pid\":{},\"tid\":{},\
         \"args\":{{\"chunk\":{},\"task\":{},\"bytes\":{},\"ok\":{}}}}}",
        quote(&s.name),
        s.ts,
        s.dur,
        s.rank,
        s.thread,
        quote(&s.chunk),
        s.task,
        s.bytes,
        s.ok
    );
    out
}

impl Observer for ChromeTrace {
    fn run_started(&self, info: &RunInfo) {
        lock(&self.origin).get_or_insert_with(Instant::now);
        let mut spans = lock(&self.spans);
        while spans.len() < info.threads {
            spans.push(Arc::default());
        }
    }

    fn task_finished(&self, e: &TaskEvent<'_>) {
        let origin = lock(&self.origin).unwrap_or(e.start);
        let micros = |t: Instant| t.saturating_duration_since(origin).as_secs_f64() * 1e6;
        let span = Span {
            name: e.op.to_string(),
            chunk: e.graph.describe_task(e.task),
            task: e.task,
            ts: micros(e.start),
            dur: e.end.saturating_duration_since(e.start).as_secs_f64() * 1e6,
            rank: e.rank,
            thread: e.thread,
            bytes: e.bytes,
            ok: e.ok,
        };
        lock(&self.buffer(e.thread)).push(span);
    }

    fn payload(&self) -> Option<Vec<u8>> {
        self.flush();
        Some(
            std::mem::take(&mut *lock(&self.absorbed))
                .join("\n")
                .into_bytes(),
        )
    }

    fn absorb(&self, _rank: usize, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload);
        lock(&self.absorbed).extend(text.lines().filter(|l| !l.is_empty()).map(String::from));
    }
}
