//! What the trace and the report record of each task: one span per task, kept per worker
//! thread while the run goes on (one lock per thread: no contention), and carried to rank 0
//! after an MPI run in a small byte encoding.

use super::lock;
use ndtask_core::TaskEvent;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
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

/// The spans of this process (per worker thread until flushed) and those gathered from other
/// ranks.
#[derive(Default)]
pub(crate) struct SpanLog {
    origin: Mutex<Option<Instant>>,
    threads: Mutex<Vec<Arc<Mutex<Vec<Span>>>>>,
    gathered: Mutex<Vec<Span>>,
}

impl SpanLog {
    /// A run with `threads` workers starts: returns its start in microseconds since the origin
    /// (which the first run sets).
    pub(crate) fn started(&self, threads: usize) -> f64 {
        let now = Instant::now();
        let origin = *lock(&self.origin).get_or_insert(now);
        let mut buffers = lock(&self.threads);
        while buffers.len() < threads {
            buffers.push(Arc::default());
        }
        micros(origin, now)
    }

    /// Microseconds from the origin to now.
    pub(crate) fn now(&self) -> f64 {
        let now = Instant::now();
        lock(&self.origin).map_or(0.0, |o| micros(o, now))
    }

    /// Records the task that `e` reports finished.
    pub(crate) fn record(&self, e: &TaskEvent<'_>) {
        let origin = lock(&self.origin).unwrap_or(e.start);
        let span = Span {
            op: e.op.to_string(),
            chunk: e.graph.describe_task(e.task),
            task: e.task,
            ts: micros(origin, e.start),
            dur: e.end.saturating_duration_since(e.start).as_secs_f64() * 1e6,
            rank: e.rank,
            thread: e.thread,
            bytes: e.bytes,
            held: e.held,
            ok: e.ok,
        };
        lock(&self.buffer(e.thread)).push(span);
    }

    fn buffer(&self, thread: usize) -> Arc<Mutex<Vec<Span>>> {
        let mut buffers = lock(&self.threads);
        while buffers.len() <= thread {
            buffers.push(Arc::default());
        }
        buffers[thread].clone()
    }

    /// Spans recorded (this rank's and those gathered from other ranks).
    pub(crate) fn len(&self) -> usize {
        let own: usize = lock(&self.threads).iter().map(|b| lock(b).len()).sum();
        own + lock(&self.gathered).len()
    }

    /// Moves the per-thread buffers into the gathered spans.
    fn flush(&self) -> std::sync::MutexGuard<'_, Vec<Span>> {
        let buffers = lock(&self.threads).clone();
        let mut gathered = lock(&self.gathered);
        for b in buffers {
            gathered.append(&mut lock(&b));
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
    fn quoting_escapes_json_and_html() {
        let mut out = String::new();
        quote_into(&mut out, "a\"b\\c\n</script>\u{1}");
        assert_eq!(out, r#""a\"b\\c\n\u003c/script>\u0001""#);
    }
}
