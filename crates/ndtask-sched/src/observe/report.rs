//! A performance report as one self-contained HTML page, Dask's `performance_report()` for
//! ndtask: the page holds its data and the script that draws it, so it opens from a file on a
//! login node with no network.

use super::lock;
use super::spans::{get_f64, get_str, get_u64, put_f64, put_str, put_u64, quote_into, SpanLog};
use ndtask_core::{Error, MessageEvent, Observer, Result, RunInfo, RunSummary, TaskEvent};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The page: its style and script, with `/*DATA*/` where the run's data goes.
const TEMPLATE: &str = include_str!("report.html");

/// The spans' columns in the page's data (`op` and `lane` are indices into `ops` and `lanes`).
const COLUMNS: [&str; 9] = [
    "op", "lane", "ts", "dur", "task", "bytes", "held", "ok", "chunk",
];

/// Beyond this many tasks the page draws the task stream aggregated: per lane, the busy share
/// of each of a few hundred time bins, coloured by the operation that took most of it.
pub const DRAW_LIMIT: usize = 20_000;

/// A performance report of runs: one self-contained HTML page (no network needed: its data
/// and its script are inline) with
///
/// - a task stream, one lane per MPI rank and worker thread, one bar per task coloured by its
///   operation (hover for the task, its chunk and its seconds), drawn aggregated beyond
///   [`DRAW_LIMIT`] tasks;
/// - the progress over time, the time per operation, the bytes held over time against the
///   memory budget, the bytes sent between ranks, and each run's configuration.
///
/// It is an [`Observer`]: give it to a run (`Config::observe` or `Config::report` in
/// `ndtask`), then [`Report::write`] the page. It records every run it watches on one time axis.
/// Its cost while a run goes on is two clock reads and a push to a per-thread buffer per task,
/// as [`super::ChromeTrace`]'s.
///
/// Under MPI every rank records its own tasks and messages, and after each run they are sent
/// to rank 0, whose page shows every rank's lanes (the other ranks' reports are empty).
///
/// A report watches one run at a time: two computes running at once on different threads
/// should each have their own.
///
/// # Examples
/// ```
/// use ndtask_core::{RunContext, Scheduler, TaskGraph};
/// use ndtask_sched::{observe::Report, SyncScheduler};
/// use std::sync::Arc;
/// let report = Arc::new(Report::new().title("an empty graph"));
/// SyncScheduler.execute_with(&TaskGraph::new(), &RunContext::new().observe(report.clone()))?;
/// assert_eq!(report.tasks(), 0);
/// let page = report.to_html();
/// assert!(page.starts_with("<!DOCTYPE html>") && page.contains("an empty graph"));
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Default)]
pub struct Report {
    title: String,
    spans: SpanLog,
    /// This process's MPI rank in the current run.
    rank: AtomicUsize,
    records: Mutex<Records>,
}

/// The runs and messages: this rank's since the last MPI gathering, and those gathered.
#[derive(Default)]
struct Records {
    runs: Vec<Run>,
    /// (from rank, to rank) → (bytes, messages).
    sent: BTreeMap<(usize, usize), (u64, u64)>,
}

/// One run on one rank.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    scheduler: String,
    rank: usize,
    ranks: usize,
    threads: usize,
    tasks: usize,
    local_tasks: usize,
    budget: Option<usize>,
    /// Start, microseconds since the origin.
    start: f64,
    seconds: f64,
    tasks_run: usize,
    peak: usize,
    ok: Option<bool>,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("title", &self.title)
            .field("tasks", &self.tasks())
            .finish()
    }
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page's title (the program and its arguments, say).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The tasks recorded (this rank's and those gathered from other ranks).
    pub fn tasks(&self) -> usize {
        self.spans.len()
    }

    /// The page.
    pub fn to_html(&self) -> String {
        let data = self.data_json();
        TEMPLATE.replacen("/*DATA*/", &data, 1)
    }

    /// Writes the page to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path if the file cannot be written.
    pub fn write(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_html())
            .map_err(|e| Error::io(format!("writing the report {}", path.display()), e))
    }

    /// The data the page draws, as JSON: the spans in columns (op and lane as indices into
    /// `ops` and `lanes`), the runs and the messages.
    fn data_json(&self) -> String {
        let mut out = String::from("{\"title\":");
        quote_into(&mut out, &self.title);
        let _ = write!(
            out,
            ",\"version\":\"{}\",\"limit\":{DRAW_LIMIT}",
            env!("CARGO_PKG_VERSION")
        );
        self.spans.with(|spans| {
            let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
            let mut lanes: BTreeMap<(usize, usize), usize> = BTreeMap::new();
            for s in spans {
                ops.insert(&s.op, 0);
                lanes.insert((s.rank, s.thread), 0);
            }
            for (i, v) in ops.values_mut().enumerate() {
                *v = i;
            }
            for (i, v) in lanes.values_mut().enumerate() {
                *v = i;
            }
            out.push_str(",\"ops\":[");
            for (i, op) in ops.keys().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote_into(&mut out, op);
            }
            out.push_str("],\"lanes\":[");
            let lane_list: Vec<String> = lanes.keys().map(|(r, t)| format!("[{r},{t}]")).collect();
            out.push_str(&lane_list.join(","));
            out.push_str("],\"spans\":{");
            for (k, name) in COLUMNS.iter().enumerate() {
                let _ = write!(out, "{}\"{name}\":[", if k > 0 { "," } else { "" });
                for (i, sp) in spans.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = match *name {
                        "op" => write!(out, "{}", ops[sp.op.as_str()]),
                        "lane" => write!(out, "{}", lanes[&(sp.rank, sp.thread)]),
                        "ts" => write!(out, "{:.1}", sp.ts),
                        "dur" => write!(out, "{:.1}", sp.dur),
                        "task" => write!(out, "{}", sp.task),
                        "bytes" => write!(out, "{}", sp.bytes),
                        "held" => write!(out, "{}", sp.held),
                        "ok" => write!(out, "{}", u8::from(sp.ok)),
                        _ => {
                            quote_into(&mut out, &sp.chunk);
                            Ok(())
                        }
                    };
                }
                out.push(']');
            }
            out.push('}');
        });
        let records = lock(&self.records);
        out.push_str(",\"runs\":[");
        for (i, r) in records.runs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"scheduler\":");
            quote_into(&mut out, &r.scheduler);
            let budget = r.budget.map_or("null".to_string(), |b| b.to_string());
            let ok = r.ok.map_or("null", |ok| if ok { "true" } else { "false" });
            let _ = write!(
                out,
                ",\"rank\":{},\"ranks\":{},\"threads\":{},\"tasks\":{},\"local_tasks\":{},\
                 \"budget\":{budget},\"start\":{:.1},\"seconds\":{:.6},\"tasks_run\":{},\
                 \"peak\":{},\"ok\":{ok}}}",
                r.rank,
                r.ranks,
                r.threads,
                r.tasks,
                r.local_tasks,
                r.start,
                r.seconds,
                r.tasks_run,
                r.peak
            );
        }
        out.push_str("],\"sent\":[");
        let sent: Vec<String> = records
            .sent
            .iter()
            .map(|((from, to), (bytes, n))| format!("[{from},{to},{bytes},{n}]"))
            .collect();
        out.push_str(&sent.join(","));
        out.push_str("]}");
        out
    }
}

impl Observer for Report {
    fn run_started(&self, info: &RunInfo<'_>) {
        let start = self.spans.started(info);
        self.rank.store(info.rank, Ordering::Relaxed);
        lock(&self.records).runs.push(Run {
            scheduler: info.scheduler.to_string(),
            rank: info.rank,
            ranks: info.ranks,
            threads: info.threads,
            tasks: info.tasks,
            local_tasks: info.local_tasks,
            budget: info.budget,
            start,
            seconds: 0.0,
            tasks_run: 0,
            peak: 0,
            ok: None,
        });
    }

    fn timed(&self) -> bool {
        true
    }

    fn wants_task_starts(&self) -> bool {
        false
    }

    fn task_finished(&self, e: &TaskEvent<'_>) {
        self.spans.record(e);
    }

    fn message(&self, e: &MessageEvent) {
        if e.sent {
            let from = self.rank.load(Ordering::Relaxed);
            let mut records = lock(&self.records);
            let entry = records.sent.entry((from, e.peer)).or_default();
            entry.0 += e.bytes as u64;
            entry.1 += 1;
        }
    }

    fn run_finished(&self, summary: &RunSummary) {
        let mut records = lock(&self.records);
        // The run that started last on this rank (runs on one observer do not overlap).
        if let Some(run) = records.runs.iter_mut().rev().find(|r| r.ok.is_none()) {
            run.seconds = summary.seconds;
            run.tasks_run = summary.tasks_run;
            run.peak = summary.peak_bytes;
            run.ok = Some(summary.ok);
        }
    }

    fn payload(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.spans.encode(&mut out);
        let Records { runs, sent } = std::mem::take(&mut *lock(&self.records));
        put_u64(&mut out, runs.len() as u64);
        for r in &runs {
            put_str(&mut out, &r.scheduler);
            let budget = r.budget.map_or(u64::MAX, |b| b as u64);
            let ok = r.ok.map_or(2, u64::from);
            for v in [r.rank, r.ranks, r.threads, r.tasks, r.local_tasks] {
                put_u64(&mut out, v as u64);
            }
            for v in [budget, r.tasks_run as u64, r.peak as u64, ok] {
                put_u64(&mut out, v);
            }
            put_f64(&mut out, r.start);
            put_f64(&mut out, r.seconds);
        }
        put_u64(&mut out, sent.len() as u64);
        for ((from, to), (bytes, n)) in sent {
            for v in [from as u64, to as u64, bytes, n] {
                put_u64(&mut out, v);
            }
        }
        Some(out)
    }

    fn absorb(&self, _rank: usize, mut payload: &[u8]) {
        // A payload cut short adds what came before the cut (the ranks run the same program:
        // it does not happen).
        let bytes = &mut payload;
        if self.spans.decode(bytes).is_none() {
            return;
        }
        let _ = self.absorb_records(bytes);
    }
}

impl Report {
    fn absorb_records(&self, bytes: &mut &[u8]) -> Option<()> {
        let usize_of = |v: u64| usize::try_from(v).ok();
        let mut runs = Vec::new();
        for _ in 0..get_u64(bytes)? {
            let scheduler = get_str(bytes)?;
            let [rank, ranks, threads, tasks, local_tasks, budget, tasks_run, peak, ok] =
                [(); 9].map(|()| get_u64(bytes));
            runs.push(Run {
                scheduler,
                rank: usize_of(rank?)?,
                ranks: usize_of(ranks?)?,
                threads: usize_of(threads?)?,
                tasks: usize_of(tasks?)?,
                local_tasks: usize_of(local_tasks?)?,
                budget: budget.filter(|&b| b != u64::MAX).and_then(usize_of),
                tasks_run: usize_of(tasks_run?)?,
                peak: usize_of(peak?)?,
                ok: match ok? {
                    0 => Some(false),
                    1 => Some(true),
                    _ => None,
                },
                start: get_f64(bytes)?,
                seconds: get_f64(bytes)?,
            });
        }
        let mut sent = Vec::new();
        for _ in 0..get_u64(bytes)? {
            let [from, to, b, n] = [(); 4].map(|()| get_u64(bytes));
            sent.push(((usize_of(from?)?, usize_of(to?)?), (b?, n?)));
        }
        let mut records = lock(&self.records);
        records.runs.append(&mut runs);
        for (key, (b, n)) in sent {
            let entry = records.sent.entry(key).or_default();
            entry.0 += b;
            entry.1 += n;
        }
        Some(())
    }
}
