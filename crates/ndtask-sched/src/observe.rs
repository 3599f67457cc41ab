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
/// Its cost while the run goes on is one atomic add per task (on a counter of the worker's
/// own); a thread of its own redraws the bar ten times a second.
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
    /// The drawing thread, started by the first run on rank 0 and kept for the next runs.
    ticker: Mutex<Option<JoinHandle<()>>>,
    delay: Duration,
    hidden: bool,
}

/// A counter on a cache line of its own, so that threads counting side by side do not slow
/// each other down.
#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicUsize);

/// Threads beyond this many share counters (a counter per thread modulo this).
const COUNTERS: usize = 32;

struct BarState {
    /// Tasks done on this rank, counted per worker thread.
    done: [Padded; COUNTERS],
    /// Per rank, the tasks it reported done (rank 0's own count is `done`).
    remote: Mutex<Vec<usize>>,
    total: AtomicUsize,
    phase: Mutex<Phase>,
    wake: Condvar,
    drew: AtomicBool,
}

/// Where the runs and the drawing thread are.
#[derive(Default)]
struct Phase {
    /// The number of the latest run.
    run: u64,
    /// Whether that run is going on.
    running: bool,
    /// Whether the bar of that run is being drawn (the end of the run waits for its last frame).
    drawing: bool,
    /// The bar is being dropped: the thread ends.
    shutdown: bool,
}

impl BarState {
    fn position(&self) -> usize {
        let own: usize = self.done.iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
        own + lock(&self.remote).iter().sum::<usize>()
    }

    fn wait_while(
        &self,
        timeout: Duration,
        cond: impl FnMut(&mut Phase) -> bool,
    ) -> std::sync::MutexGuard<'_, Phase> {
        let g = lock(&self.phase);
        self.wake
            .wait_timeout_while(g, timeout, cond)
            .unwrap_or_else(PoisonError::into_inner)
            .0
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
    /// A bar drawn on stderr (when it is a terminal) for runs longer than 0.5 s.
    pub fn new() -> Self {
        ProgressBar {
            state: Arc::new(BarState {
                done: Default::default(),
                remote: Mutex::new(Vec::new()),
                total: AtomicUsize::new(0),
                phase: Mutex::new(Phase::default()),
                wake: Condvar::new(),
                drew: AtomicBool::new(false),
            }),
            ticker: Mutex::new(None),
            delay: Duration::from_millis(500),
            hidden: false,
        }
    }

    /// Draws only for runs longer than `delay` (zero: every run, however short).
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
}

impl Drop for ProgressBar {
    fn drop(&mut self) {
        lock(&self.state.phase).shutdown = true;
        self.state.wake.notify_all();
        if let Some(t) = lock(&self.ticker).take() {
            let _ = t.join();
        }
    }
}

/// The drawing thread: for each run, waits `delay` (unless the run claimed its drawing at the
/// start), then draws the bar ten times a second until the run ends.
fn tick(state: &BarState, delay: Duration, hidden: bool) {
    let mut seen = 0;
    loop {
        let g = state.wait_while(Duration::MAX, |p| !p.shutdown && p.run == seen);
        if g.shutdown {
            return;
        }
        seen = g.run;
        drop(g);
        let mut g = state.wait_while(delay, |p| {
            !p.shutdown && !p.drawing && p.running && p.run == seen
        });
        if g.shutdown || g.run != seen || !(g.running || g.drawing) {
            continue;
        }
        g.drawing = true;
        drop(g);
        // Whatever happens while drawing, the end of the run must not wait for it forever.
        let _ =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| draw(state, seen, hidden)));
        lock(&state.phase).drawing = false;
        state.wake.notify_all();
    }
}

/// Draws the bar of run `run` until it ends.
fn draw(state: &BarState, run: u64, hidden: bool) {
    state.drew.store(true, Ordering::Relaxed);
    let total = state.total.load(Ordering::Relaxed) as u64;
    let bar = match hidden {
        true => indicatif::ProgressBar::hidden(),
        false => indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        ),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} tasks ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    loop {
        bar.set_position(state.position() as u64);
        let g = state.wait_while(Duration::from_millis(100), |p| {
            !p.shutdown && p.running && p.run == run
        });
        if g.shutdown || !g.running || g.run != run {
            break;
        }
    }
    bar.set_position(state.position() as u64);
    bar.finish();
}

impl Observer for ProgressBar {
    fn run_started(&self, info: &RunInfo<'_>) {
        let s = &self.state;
        s.done.iter().for_each(|c| c.0.store(0, Ordering::Relaxed));
        *lock(&s.remote) = vec![0; info.ranks];
        s.total.store(info.tasks, Ordering::Relaxed);
        s.drew.store(false, Ordering::Relaxed);
        if info.rank != 0 {
            return;
        }
        let mut ticker = lock(&self.ticker);
        if ticker.is_none() {
            let (state, delay, hidden) = (self.state.clone(), self.delay, self.hidden);
            // Without a thread there is no bar, and the run goes on.
            *ticker = std::thread::Builder::new()
                .name("ndtask-progress".into())
                .spawn(move || tick(&state, delay, hidden))
                .ok();
        }
        let mut p = lock(&s.phase);
        p.run += 1;
        p.running = true;
        // A zero delay draws every run, even one that ends before the thread wakes.
        p.drawing = self.delay.is_zero() && ticker.is_some();
        drop(p);
        s.wake.notify_all();
    }

    fn task_finished(&self, event: &TaskEvent<'_>) {
        if event.ok {
            let counter = &self.state.done[event.thread % COUNTERS].0;
            counter.fetch_add(1, Ordering::Relaxed);
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

    /// Waits for the bar's last frame, if it is being drawn, so that what the program prints
    /// next comes after it.
    fn run_finished(&self, _: &RunSummary) {
        let s = &self.state;
        lock(&s.phase).running = false;
        s.wake.notify_all();
        drop(s.wait_while(Duration::MAX, |p| p.drawing && !p.shutdown));
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
    fn run_started(&self, info: &RunInfo<'_>) {
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

    fn timed(&self) -> bool {
        true
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
