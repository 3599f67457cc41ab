//! What the trace and the report record of each task: one span per task, kept per worker
//! thread while the run goes on (one lock per thread: no contention), and carried to rank 0
//! after an MPI run in a small byte encoding.

use super::lock;
use ndtask_core::{Op, RunInfo, TaskEvent};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// One task as the observers record it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Span {
    /// Its op's name.
    pub(crate) op: String,
    /// The chunk it computes ([`ndtask_core::TaskGraph::describe_task`]).
    pub(crate) chunk: String,
    pub(crate) task: u32,
    /// Start, microseconds since the first run the log watched started (by its rank's clock).
    pub(crate) ts: f64,
    /// Duration in microseconds.
    pub(crate) dur: f64,
    pub(crate) rank: usize,
    pub(crate) thread: usize,
    /// Bytes of its result.
    pub(crate) bytes: usize,
    /// Bytes its process held alive when it ended ([`TaskEvent::held`]).
    pub(crate) held: usize,
    pub(crate) ok: bool,
}

/// A task as a worker records it while the run goes on: numbers only (no name or description
/// is made then; [`SpanLog::flush`] makes them from the run's ops).
#[derive(Debug, Clone, Copy)]
struct Raw {
    /// Index of the run in [`SpanLog::runs`].
    run: u32,
    op: u32,
    task: u32,
    ok: bool,
    rank: u32,
    thread: u32,
    block: usize,
    start: Instant,
    end: Instant,
    bytes: usize,
    held: usize,
}

/// Worker threads beyond this many share buffers (thread modulo this).
const BUFFERS: usize = 64;

/// A buffer on cache lines of its own, so that threads recording side by side do not slow each
/// other down.
#[repr(align(128))]
#[derive(Default)]
struct Buffer(Mutex<Segments>);

/// Spans in segments: a full segment is set aside and a new one started, so that a push never
/// moves what was recorded before (a growing vector would copy every span of the earlier runs,
/// in the run that makes it grow).
#[derive(Default)]
struct Segments {
    full: Vec<Vec<Raw>>,
    current: Vec<Raw>,
}

/// The smallest segment.
const SEGMENT: usize = 1024;

impl Segments {
    fn push(&mut self, raw: Raw) {
        if self.current.len() == self.current.capacity() {
            self.start(SEGMENT.max(self.current.capacity()));
        }
        self.current.push(raw);
    }

    /// Sets the current segment aside (if it holds anything) and starts one with room for
    /// `room` spans (best effort: a push finds room anyway).
    fn start(&mut self, room: usize) {
        let mut next = Vec::new();
        let _ = next.try_reserve_exact(room);
        let current = std::mem::replace(&mut self.current, next);
        if !current.is_empty() {
            self.full.push(current);
        }
    }

    fn len(&self) -> usize {
        self.full.iter().map(Vec::len).sum::<usize>() + self.current.len()
    }

    /// Every span, oldest first; the segments are emptied.
    fn take(&mut self) -> impl Iterator<Item = Raw> {
        let current = std::mem::take(&mut self.current);
        std::mem::take(&mut self.full)
            .into_iter()
            .chain(std::iter::once(current))
            .flatten()
    }
}

/// The spans of this process (per worker thread until flushed) and those gathered from other
/// ranks.
pub(crate) struct SpanLog {
    origin: OnceLock<Instant>,
    buffers: Box<[Buffer]>,
    /// The ops of each run this log watched (what names and describes its tasks).
    runs: Mutex<Vec<Vec<Arc<dyn Op>>>>,
    /// The index of the current run in `runs`.
    run: AtomicU32,
    gathered: Mutex<Vec<Span>>,
}

impl Default for SpanLog {
    fn default() -> Self {
        // The log's tasks are timed: calibrate the clock now rather than in a run.
        crate::local::clock();
        SpanLog {
            origin: OnceLock::new(),
            buffers: (0..BUFFERS).map(|_| Buffer::default()).collect(),
            runs: Mutex::new(Vec::new()),
            run: AtomicU32::new(0),
            gathered: Mutex::new(Vec::new()),
        }
    }
}

impl SpanLog {
    /// A run of `info` starts: returns its start in microseconds since the origin (which the
    /// first run sets).
    pub(crate) fn started(&self, info: &RunInfo<'_>) -> f64 {
        let now = Instant::now();
        let origin = *self.origin.get_or_init(|| now);
        let mut runs = lock(&self.runs);
        self.run.store(runs.len() as u32, Ordering::Relaxed);
        runs.push(info.graph.ops().to_vec());
        // Room for this run's tasks, spread over its threads, in a new segment of each thread's
        // buffer (best effort: a push finds room anyway).
        let each = info.local_tasks / info.threads.clamp(1, BUFFERS) + 1;
        for b in self.buffers.iter().take(info.threads.max(1)) {
            lock(&b.0).start(each);
        }
        micros(origin, now)
    }

    /// Records the task that `e` reports finished: a push to its thread's buffer (times are
    /// made relative to the origin later, by [`SpanLog::flush`]).
    pub(crate) fn record(&self, e: &TaskEvent<'_>) {
        self.origin.get_or_init(|| e.start);
        let raw = Raw {
            run: self.run.load(Ordering::Relaxed),
            op: e.graph.op_of(e.task),
            task: e.task,
            ok: e.ok,
            rank: e.rank as u32,
            thread: e.thread as u32,
            block: e.block,
            start: e.start,
            end: e.end,
            bytes: e.bytes,
            held: e.held,
        };
        lock(&self.buffers[e.thread % BUFFERS].0).push(raw);
    }

    /// Spans recorded (this rank's and those gathered from other ranks).
    pub(crate) fn len(&self) -> usize {
        let own: usize = self.buffers.iter().map(|b| lock(&b.0).len()).sum();
        own + lock(&self.gathered).len()
    }

    /// Moves the per-thread buffers into the gathered spans, naming and describing each task
    /// from its run's ops.
    fn flush(&self) -> std::sync::MutexGuard<'_, Vec<Span>> {
        let runs = lock(&self.runs);
        let mut gathered = lock(&self.gathered);
        let Some(&origin) = self.origin.get() else {
            return gathered;
        };
        let mut names: Vec<Vec<Option<String>>> =
            runs.iter().map(|r| vec![None; r.len()]).collect();
        for b in self.buffers.iter() {
            for r in lock(&b.0).take() {
                let op = runs
                    .get(r.run as usize)
                    .and_then(|ops| ops.get(r.op as usize));
                let name = names
                    .get_mut(r.run as usize)
                    .and_then(|n| n.get_mut(r.op as usize))
                    .map(|slot| {
                        slot.get_or_insert_with(|| op.map_or_else(String::new, |o| o.name()))
                            .clone()
                    })
                    .unwrap_or_default();
                gathered.push(Span {
                    op: name,
                    chunk: op.map_or_else(String::new, |o| o.describe_block(r.block)),
                    task: r.task,
                    ts: micros(origin, r.start),
                    dur: micros(r.start, r.end),
                    rank: r.rank as usize,
                    thread: r.thread as usize,
                    bytes: r.bytes,
                    held: r.held,
                    ok: r.ok,
                });
            }
        }
        gathered
    }

    /// Calls `f` with every span (this rank's and those gathered).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&[Span]) -> R) -> R {
        f(&self.flush())
    }

    /// Moves every span out into `out` (an MPI rank's payload for rank 0).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let spans = std::mem::take(&mut *self.flush());
        put_u64(out, spans.len() as u64);
        for s in &spans {
            put_str(out, &s.op);
            put_str(out, &s.chunk);
            for v in [s.task as u64, s.rank as u64, s.thread as u64] {
                put_u64(out, v);
            }
            for v in [s.bytes as u64, s.held as u64, s.ok as u64] {
                put_u64(out, v);
            }
            put_f64(out, s.ts);
            put_f64(out, s.dur);
        }
    }

    /// Adds the spans that [`SpanLog::encode`] wrote at the front of `bytes`, and moves past
    /// them; `None` (and nothing added) if they are cut short.
    pub(crate) fn decode(&self, bytes: &mut &[u8]) -> Option<()> {
        let n = get_u64(bytes)?;
        let mut spans = Vec::new();
        for _ in 0..n {
            let (op, chunk) = (get_str(bytes)?, get_str(bytes)?);
            let [task, rank, thread, b, held, ok] = [(); 6].map(|()| get_u64(bytes));
            spans.push(Span {
                op,
                chunk,
                task: u32::try_from(task?).ok()?,
                rank: usize::try_from(rank?).ok()?,
                thread: usize::try_from(thread?).ok()?,
                bytes: usize::try_from(b?).ok()?,
                held: usize::try_from(held?).ok()?,
                ok: ok? != 0,
                ts: get_f64(bytes)?,
                dur: get_f64(bytes)?,
            });
        }
        lock(&self.gathered).append(&mut spans);
        Some(())
    }
}

fn micros(origin: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(origin).as_secs_f64() * 1e6
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn get_u64(bytes: &mut &[u8]) -> Option<u64> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    *bytes = rest;
    Some(u64::from_le_bytes(*head))
}

pub(crate) fn get_f64(bytes: &mut &[u8]) -> Option<f64> {
    get_u64(bytes).map(f64::from_bits)
}

pub(crate) fn get_str(bytes: &mut &[u8]) -> Option<String> {
    let len = usize::try_from(get_u64(bytes)?).ok()?;
    let (head, rest) = bytes.split_at_checked(len)?;
    *bytes = rest;
    Some(String::from_utf8_lossy(head).into_owned())
}

/// Appends `text` as a JSON string literal, safe inside an HTML `<script>` too (`<` escaped).
pub(crate) fn quote_into(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '<' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_survive_their_encoding() {
        let log = SpanLog::default();
        let span = Span {
            op: "add".into(),
            chunk: "add[1, 2]".into(),
            task: 7,
            ts: 12.5,
            dur: 3.25,
            rank: 2,
            thread: 1,
            bytes: 800,
            held: 4096,
            ok: false,
        };
        lock(&log.gathered).push(span.clone());
        let mut bytes = Vec::new();
        log.encode(&mut bytes);
        assert_eq!(log.len(), 0);
        // Cut short: nothing is added.
        assert!(log.decode(&mut &bytes[..bytes.len() - 1]).is_none());
        assert_eq!(log.len(), 0);
        let mut rest = &bytes[..];
        assert!(log.decode(&mut rest).is_some());
        assert!(rest.is_empty());
        log.with(|s| assert_eq!(s, [span]));
    }

    #[test]
    fn segments_keep_every_span_in_order_across_runs_and_overflows() {
        let now = Instant::now();
        let raw = |task| Raw {
            run: 0,
            op: 0,
            task,
            ok: true,
            rank: 0,
            thread: 0,
            block: 0,
            start: now,
            end: now,
            bytes: 0,
            held: 0,
        };
        let mut s = Segments::default();
        let mut want = Vec::new();
        // Runs that reserve too little, nothing, and enough; the first run overflows twice.
        for (room, n) in [(10, 2500), (0, 3), (5000, 4000)] {
            s.start(room);
            for _ in 0..n {
                s.push(raw(want.len() as u32));
                want.push(want.len() as u32);
            }
            assert_eq!(s.len(), want.len());
        }
        let got: Vec<u32> = s.take().map(|r| r.task).collect();
        assert_eq!(got, want);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn quoting_escapes_json_and_html() {
        let mut out = String::new();
        quote_into(&mut out, "a\"b\\c\n</script>\u{1}");
        assert_eq!(out, r#""a\"b\\c\n\u003c/script>\u0001""#);
    }
}
