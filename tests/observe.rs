//! Watching and stopping runs: the observer sees every task once with the right op, chunk,
//! bytes and thread; the progress bar counts every task; the Chrome trace has one complete
//! event per task; a cancellation from another thread stops a long run promptly with
//! `Error::Cancelled`; task graphs convert to petgraph and to DOT pictures that stay small.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndtask::observe::{ChromeTrace, ProgressBar};
use ndtask::observe::{Observer, RunInfo, RunSummary, TaskEvent};
use ndtask::{random, CancelToken, Config, Error};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A run's description: tasks, local tasks, rank, ranks, threads, bytes.
type Info = (usize, usize, usize, usize, usize, usize);
/// A finished task: id, op, chunk, bytes, ok, thread.
type Finished = (u32, String, String, usize, bool, usize);

/// Records everything it is told.
#[derive(Default)]
struct Recorder {
    info: Mutex<Vec<Info>>,
    started: Mutex<Vec<u32>>,
    finished: Mutex<Vec<Finished>>,
    summaries: Mutex<Vec<RunSummary>>,
}

impl Observer for Recorder {
    fn run_started(&self, i: &RunInfo<'_>) {
        let got = (
            i.tasks,
            i.local_tasks,
            i.rank,
            i.ranks,
            i.threads,
            i.bytes(),
        );
        self.info.lock().unwrap().push(got);
    }
    fn timed(&self) -> bool {
        true
    }
    fn task_started(&self, e: &TaskEvent<'_>) {
        assert_eq!((e.bytes, e.start), (0, e.end));
        self.started.lock().unwrap().push(e.task);
    }
    fn task_finished(&self, e: &TaskEvent<'_>) {
        assert!(e.end >= e.start);
        assert_eq!(e.rank, 0);
        let chunk = e.graph.describe_task(e.task);
        self.finished.lock().unwrap().push((
            e.task,
            e.op.to_string(),
            chunk,
            e.bytes,
            e.ok,
            e.thread,
        ));
    }
    fn run_finished(&self, s: &RunSummary) {
        self.summaries.lock().unwrap().push(s.clone());
    }
}

#[test]
fn an_observer_sees_every_task_once_on_every_scheduler() {
    let x = random::uniform::<f64>([300, 200], [70, 45], 3).unwrap();
    let y = random::uniform::<f64>([200], [60], 4).unwrap();
    let e = (&x - &x.mean().into_array()) * &y;
    let expr = e.sum_axis(0).unwrap();
    let graph = expr.task_graph().unwrap();
    let names = graph.op_names();
    for s in schedulers() {
        let rec = Arc::new(Recorder::default());
        let ctx = s.clone().observe(rec.clone());
        let got = ctx.compute(&expr).unwrap();
        assert_eq!(got, expr.compute_with(&s).unwrap(), "{}", s.name());
        let info = rec.info.lock().unwrap().clone();
        assert_eq!(info.len(), 1);
        let (tasks, local, rank, ranks, threads, bytes) = info[0];
        assert_eq!(
            (tasks, local, rank, ranks),
            (graph.len(), graph.len(), 0, 1)
        );
        assert_eq!(threads, s.threads_of());
        assert_eq!(bytes, graph.projected_bytes());
        assert!(bytes > 0);
        let mut started = rec.started.lock().unwrap().clone();
        started.sort_unstable();
        assert_eq!(started, (0..graph.len() as u32).collect::<Vec<_>>());
        let finished = rec.finished.lock().unwrap().clone();
        assert_eq!(finished.len(), graph.len());
        for (t, op, chunk, bytes, ok, thread) in finished {
            assert!(ok);
            assert!(
                thread < s.threads_of(),
                "thread {thread} of {}",
                s.threads_of()
            );
            assert_eq!(op, names[graph.op_of(t) as usize]);
            assert_eq!(chunk, graph.describe_task(t));
            if let Some(layout) = graph.layout_of(t) {
                assert_eq!(bytes, layout.nbytes(), "task {t} ({op})");
            }
        }
        let summaries = rec.summaries.lock().unwrap().clone();
        assert_eq!(summaries.len(), 1);
        assert!(summaries[0].ok);
        assert_eq!(summaries[0].tasks_run, graph.len());
    }
}

/// Wants finished tasks only, and their times.
#[derive(Default)]
struct Ends {
    starts: Mutex<usize>,
    spans: Mutex<Vec<(Instant, Instant)>>,
}

impl Observer for Ends {
    fn timed(&self) -> bool {
        true
    }
    fn wants_task_starts(&self) -> bool {
        false
    }
    fn task_started(&self, _: &TaskEvent<'_>) {
        *self.starts.lock().unwrap() += 1;
    }
    fn task_finished(&self, e: &TaskEvent<'_>) {
        self.spans.lock().unwrap().push((e.start, e.end));
    }
}

#[test]
fn an_observer_of_ends_hears_no_starts_and_its_times_fall_within_the_run() {
    let x = random::uniform::<f64>([300, 200], [70, 45], 3).unwrap();
    let expr = (&x * 2.0).sum_axis(1).unwrap();
    let tasks = expr.task_graph().unwrap().len();
    for s in schedulers() {
        // Beside an observer that wants starts: each is told what it asked for.
        let (ends, all) = (Arc::new(Ends::default()), Arc::new(Recorder::default()));
        let ctx = s.clone().observe(ends.clone()).observe(all.clone());
        let before = Instant::now();
        ctx.compute(&expr).unwrap();
        let after = Instant::now();
        assert_eq!(*ends.starts.lock().unwrap(), 0, "{}", s.name());
        assert_eq!(all.started.lock().unwrap().len(), tasks, "{}", s.name());
        let spans = ends.spans.lock().unwrap().clone();
        assert_eq!(spans.len(), tasks, "{}", s.name());
        // The clock is the processor's counter, calibrated: its times are the system's.
        let slack = Duration::from_millis(1);
        for (start, end) in spans {
            assert!(start <= end, "{}", s.name());
            assert!(
                before <= start + slack && end <= after + slack,
                "{}",
                s.name()
            );
        }
    }
}

#[test]
fn a_failed_run_is_reported_as_failed() {
    let x = random::uniform::<f64>([100], [10], 1).unwrap();
    let bad = x.map(|v| -> f64 {
        if v > 0.99 {
            panic!("value {v} is cursed")
        }
        v
    });
    for s in schedulers() {
        let rec = Arc::new(Recorder::default());
        let ctx = s.clone().observe(rec.clone());
        assert!(matches!(ctx.compute(&bad.sum()), Err(Error::Task { .. })));
        let summaries = rec.summaries.lock().unwrap().clone();
        assert_eq!(summaries.len(), 1, "{}", s.name());
        assert!(!summaries[0].ok);
        let failed = rec.finished.lock().unwrap().iter().filter(|f| !f.4).count();
        assert!(failed >= 1);
    }
}

#[test]
fn the_progress_bar_counts_every_task_and_draws_after_its_delay() {
    let x = random::uniform::<f64>([20_000], [100], 9).unwrap();
    let m = x.mean();
    let tasks = m.task_graph().unwrap().len();
    for s in schedulers() {
        let quick = Arc::new(ProgressBar::new().hidden());
        s.clone().observe(quick.clone()).compute(&m).unwrap();
        assert_eq!((quick.done(), quick.total()), (tasks, tasks));
        let eager = Arc::new(ProgressBar::new().hidden().delay(Duration::ZERO));
        let ctx = s.clone().observe(eager.clone());
        ctx.compute(&m).unwrap();
        assert_eq!(eager.done(), tasks);
        // A zero delay draws at once; the bar is redrawn until the run ends.
        assert!(eager.drew(), "{}", s.name());
    }
}

#[test]
fn the_trace_has_one_complete_event_per_task() {
    let x = random::uniform::<f64>([64, 64], [16, 8], 2).unwrap();
    let expr = (&x * 2.0).sum();
    let graph = expr.task_graph().unwrap();
    let trace = Arc::new(ChromeTrace::new());
    let ctx = Config::new().threads(2).unwrap().observe(trace.clone());
    ctx.compute(&expr).unwrap();
    assert_eq!(trace.events(), graph.len());
    let json = trace.to_json();
    assert_eq!(json, trace.to_json(), "writing twice gives the same file");
    assert!(json.starts_with("{\"traceEvents\":[") && json.trim_end().ends_with('}'));
    assert_eq!(json.matches("\"ph\":\"X\"").count(), graph.len());
    // Every task appears once, named after its op, on thread 0 or 1 of process 0.
    let mut per_op = BTreeMap::new();
    let mut tasks = BTreeSet::new();
    for line in json.lines().filter(|l| l.contains("\"ph\":\"X\"")) {
        assert!(line.contains("\"pid\":0,"));
        assert!(
            line.contains("\"tid\":0,") || line.contains("\"tid\":1,"),
            "{line}"
        );
        let task: u32 = field(line, "\"task\":").parse().unwrap();
        assert!(tasks.insert(task), "task {task} twice");
        let name = field(line, "\"name\":\"");
        assert_eq!(name, graph.op_names()[graph.op_of(task) as usize]);
        *per_op.entry(name.to_string()).or_insert(0) += 1;
    }
    assert_eq!(tasks.len(), graph.len());
    let want: BTreeMap<String, usize> = graph
        .op_names()
        .into_iter()
        .zip(graph.tasks_per_op())
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(per_op, want);
    // A second run adds its events; the file holds both.
    ctx.compute(&expr).unwrap();
    assert_eq!(trace.events(), 2 * graph.len());
    let path = std::env::temp_dir().join(format!("ndtask-trace-{}.json", std::process::id()));
    trace.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text.matches("\"ph\":\"X\"").count(), 2 * graph.len());
}

/// The text after `key` in a JSON line, up to the next `"` (after a key ending in a quote: a
/// string) or `,` (a number).
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(key).unwrap() + key.len();
    let rest = &line[start..];
    let end = if key.ends_with('"') {
        rest.find('"')
    } else {
        rest.find(',')
    };
    &rest[..end.unwrap()]
}

#[test]
fn a_trace_write_to_a_missing_directory_is_an_io_error() {
    let trace = ChromeTrace::new();
    let e = trace.write("/nonexistent-dir-ndtask/t.json").unwrap_err();
    assert!(matches!(&e, Error::Io { what, .. } if what.contains("nonexistent-dir-ndtask")));
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn cancelling_from_another_thread_stops_a_long_run_promptly() {
    // About 2e10 random values: minutes of work on two cores, so only a cancellation ends it.
    let x = random::uniform::<f64>([20_000, 1_000_000], [100, 10_000], 1).unwrap();
    let sum = x.sum();
    for s in [Config::new().threads(2).unwrap(), sync()] {
        let token = CancelToken::new();
        let ctx = s.clone().cancel_token(token.clone());
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            token.cancel();
            Instant::now()
        });
        let r = ctx.compute(&sum);
        let returned = Instant::now();
        let cancelled_at = canceller.join().unwrap();
        assert_eq!(r, Err(Error::Cancelled), "{}", s.name());
        // A chunk takes ~5 ms here; the target (100 ms) is checked in the benchmarks, this
        // bound only catches a run that went on.
        let late = returned.saturating_duration_since(cancelled_at);
        eprintln!("{}: the run ended {late:?} after the cancel", s.name());
        assert!(late < Duration::from_millis(500), "{}: {late:?}", s.name());
    }
    // A cancelled token stops the next run before it starts; a fresh one runs.
    let token = CancelToken::new();
    token.cancel();
    let small = random::uniform::<f64>([100], [10], 1).unwrap().sum();
    for s in schedulers() {
        let ctx = s.cancel_token(token.clone());
        assert_eq!(ctx.compute(&small), Err(Error::Cancelled));
    }
    let fresh = schedulers()[2].clone().cancel_token(CancelToken::new());
    assert!(fresh.compute(&small).is_ok());
}

#[test]
fn a_context_budget_bounds_a_run_and_keeps_its_results() {
    let x = random::uniform::<f64>([400, 300], [50, 50], 8).unwrap();
    let e = (&x - &x.mean().into_array()).abs().sum_axis(1).unwrap();
    let want = e.compute_with(&sync()).unwrap();
    // Below what the plan needs: an error before any task runs, naming the task.
    for s in schedulers() {
        let rec = Arc::new(Recorder::default());
        let ctx = s.clone().memory_budget(1).observe(rec.clone());
        let err = ctx.compute(&e).unwrap_err();
        assert!(matches!(err, Error::Memory(_)), "{err}");
        assert!(
            err.to_string()
                .contains("cannot run within the memory budget of 1 B"),
            "{err}"
        );
        assert!(rec.started.lock().unwrap().is_empty());
    }
    // At the smallest budget the model allows, every scheduler finishes, the live results
    // never exceed it, and the values are the same bits.
    let budget = e.memory_report(1).unwrap().min_budget;
    assert!(budget > 0);
    for s in schedulers() {
        let rec = Arc::new(Recorder::default());
        let ctx = s.clone().memory_budget(budget).observe(rec.clone());
        assert_eq!(ctx.compute(&e).unwrap(), want, "{}", s.name());
        let peak = rec.summaries.lock().unwrap()[0].peak_bytes;
        assert!(
            peak > 0 && peak <= budget,
            "{}: peak {peak} > {budget}",
            s.name()
        );
    }
}

#[test]
fn a_budget_holds_where_an_unbounded_run_holds_more() {
    // x is read directly and through its transpose. A budget a little above the smallest
    // the model allows holds on 1, 2 and 3 threads, run after run, with the same bits.
    let x = random::uniform::<f64>([240, 240], [20, 20], 3).unwrap();
    let e = (&x.t() + &x).sum_axis(0).unwrap();
    let want = e.compute_with(&sync()).unwrap();
    let report = e.memory_report(3).unwrap();
    let budget = report.min_budget + 2 * 20 * 20 * 8;
    for threads in [1, 2, 3] {
        let s = Config::new().threads(threads).unwrap();
        for _ in 0..5 {
            let rec = Arc::new(Recorder::default());
            let ctx = s.clone().memory_budget(budget).observe(rec.clone());
            assert_eq!(ctx.compute(&e).unwrap(), want);
            let peak = rec.summaries.lock().unwrap()[0].peak_bytes;
            assert!(
                peak <= budget,
                "{threads} threads: peak {peak} > budget {budget}"
            );
        }
    }
}

#[test]
fn task_graphs_convert_to_petgraph_and_small_pictures() {
    use ndtask::engine::petgraph::algo::{is_cyclic_directed, toposort};
    let x = random::uniform::<f64>([60, 40], [20, 10], 1).unwrap();
    let expr = x.sum_axis(0).unwrap();
    let graph = expr.task_graph().unwrap();
    let g = graph.to_petgraph();
    assert_eq!(g.node_count(), graph.len());
    let deps: usize = (0..graph.len() as u32).map(|t| graph.deps(t).len()).sum();
    assert_eq!(g.edge_count(), deps);
    assert!(!is_cyclic_directed(&g));
    assert!(toposort(&g, None).is_ok());
    let outputs = g.node_weights().filter(|n| n.output).count();
    assert_eq!(outputs, graph.outputs().len());
    let by_op = graph.to_petgraph_by_op();
    let counted: usize = by_op.node_weights().map(|n| n.tasks).sum();
    assert_eq!(counted, graph.len());
    // Small graphs are drawn task by task.
    let dot = graph.to_dot(ndtask::engine::MAX_DRAWN_TASKS);
    assert_eq!(dot.matches(" [ label = ").count(), graph.len());

    // A mean over a million chunks is drawn by op: a handful of nodes.
    let big = random::uniform::<f64>([1_000_000], [1], 1).unwrap().mean();
    let path = std::env::temp_dir().join(format!("ndtask-graph-{}.dot", std::process::id()));
    big.visualize(&path).unwrap();
    let dot = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let nodes = dot.matches(" [ label = ").count();
    assert!((2..=200).contains(&nodes), "{nodes} nodes");
    assert!(dot.contains("× 1000000 tasks"), "{dot}");
}

/// Counts the tasks of an op running at once.
#[derive(Default)]
struct Overlap {
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl Observer for Overlap {
    fn task_started(&self, e: &ndtask::observe::TaskEvent<'_>) {
        use std::sync::atomic::Ordering::SeqCst;
        if e.op == "map_blocks" {
            let n = self.now.fetch_add(1, SeqCst) + 1;
            self.most.fetch_max(n, SeqCst);
        }
    }
    fn task_finished(&self, e: &ndtask::observe::TaskEvent<'_>) {
        if e.op == "map_blocks" {
            self.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[test]
fn under_a_budget_threads_start_later_tasks_while_the_next_waits_for_its_inputs() {
    // Each chunk: a source, a slow user function, a partial sum. In the memory order the next
    // task after a chunk's function is its partial sum, which waits for the function; a second
    // thread takes a later chunk's source and function meanwhile, where the budget leaves room
    // for them, and the bound still holds.
    let x = random::uniform::<f64>([64, 64], [16, 16], 2).unwrap();
    let slow = x.map_blocks(|b| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        b.to_owned()
    });
    let e = slow.sum_axis(0).unwrap();
    let want = e.compute_with(&sync()).unwrap();
    let budget = 8 * 16 * 16 * 8;
    let rec = Arc::new(Recorder::default());
    let overlap = Arc::new(Overlap::default());
    let ctx = Config::new()
        .threads(2)
        .unwrap()
        .memory_budget(budget)
        .observe(rec.clone())
        .observe(overlap.clone());
    assert_eq!(ctx.compute(&e).unwrap(), want);
    let peak = rec.summaries.lock().unwrap()[0].peak_bytes;
    assert!(peak <= budget, "peak {peak} > budget {budget}");
    let most = overlap.most.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(most, 2, "the user function ran on {most} threads at once");
}
