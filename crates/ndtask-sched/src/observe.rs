//! Observers of runs ([`ndtask_core::Observer`]): a progress bar on stderr ([`ProgressBar`]),
//! a profile in Chrome's trace-event format ([`ChromeTrace`]), which Perfetto and
//! `chrome://tracing` open, and a performance report as one self-contained HTML page
//! ([`Report`]). Give them to a run through a [`ndtask_core::RunContext`].

mod report;
mod spans;
mod trace;

pub use report::{Report, DRAW_LIMIT};
pub use trace::ChromeTrace;

use crate::tally::Tally;
use ndtask_core::{Observer, RunInfo, RunSummary, TaskEvent};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

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

struct BarState {
    /// Tasks done on this rank, counted per worker thread.
    done: Tally,
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
        let own = self.done.total();
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
        s.done.reset();
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

    fn wants_task_starts(&self) -> bool {
        false
    }

    fn task_finished(&self, event: &TaskEvent<'_>) {
        if event.ok {
            self.state.done.add(event.thread);
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
