//! One run of a task graph on one rank. The rank's rayon workers run the tasks it owns; the
//! thread that called `execute` (the only one that talks to MPI) runs the loop below, which
//! sends finished results to the ranks that need them, receives the results this rank needs,
//! and hands tasks that became ready to the workers.
//!
//! # No deadlock
//! Nothing ever blocks on a peer: results go out as synchronous immediate sends (`MPI_Issend`),
//! and while they are in flight the loop keeps receiving (`MPI_Improbe`). Every rank services
//! receives until the run is over, so every send is eventually matched.
//!
//! # Ending a run
//! A rank is done with its own work when every task it owns has run and every result it waits
//! for has arrived (or, after a failure, when its running tasks have stopped), and all its sends
//! have been matched. It then joins a non-blocking barrier (`MPI_Ibarrier`) and keeps receiving
//! until the barrier completes. Since a rank joins only after its sends were matched, a
//! completed barrier means no message of this run is still in flight: nothing leaks into the
//! next run, and a failure announced by any rank has reached every rank (Hoefler et al.'s
//! non-blocking consensus).
//!
//! # Under a memory budget
//! The workers start the rank's steps in the global memory order, each when it fits, and a
//! result goes to another rank only once that rank has granted it ([`crate::flow`]): until
//! then it waits here, parked, and counts against this rank's budget.
//!
//! # Failures
//! When a task fails, its rank sends the error (the poison) to every other rank. Each rank that
//! learns of a failure stops starting tasks, drops results not yet sent, and finishes the run as
//! above. The error of the lowest failed task id wins everywhere, so all ranks return the same
//! `Err`.

use crate::jitter::{maybe_delay, Jitter};
use crate::placement::RankPlan;
use crate::wire::{self, Msg, Part};
use mpi::datatype::Equivalence;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, Source};
use mpi::Tag;
use ndarray::{ArrayD, IxDyn};
use ndtask_core::memory::BudgetPlan;
use ndtask_core::{
    panic_message, try_filled, Chunk, DType, Element, Error, MessageEvent, Observer, Result,
    TaskEvent, TaskId, Value,
};
use ndtask_sched::{Admit, AfterTask, Hooks, LocalRun, Workers};
use rayon::{Scope, ThreadPool};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest and longest nap of the MPI thread when nothing happens. A worker finishing a
/// task wakes it at once (through the channel); the nap only bounds how late it notices a
/// message from another rank.
const NAP_MIN: Duration = Duration::from_micros(20);
const NAP_MAX: Duration = Duration::from_millis(1);

/// Task ids of failures the MPI thread itself detects (a malformed or unexpected message): above
/// every real task, so a task's own error wins when there is one.
const NO_TASK: TaskId = TaskId::MAX;

/// The task id a cancellation is announced under: above every real task (a task's own failure
/// wins), below [`NO_TASK`].
const CANCELLED: TaskId = TaskId::MAX - 1;

/// How often a rank reports its progress to rank 0 when rank 0's observer wants it.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// What a worker tells the MPI thread.
enum Report {
    /// A task has run.
    Done(Done),
    /// This rank has made room for the result of a task another rank runs (under a budget).
    Take(TaskId),
}

/// What a worker tells the MPI thread after running a task.
struct Done {
    task: TaskId,
    /// Whether the task produced a result (false: it failed, or was skipped after a failure).
    ok: bool,
    /// The result's header and the result, when other ranks need it.
    message: Option<(Arc<Vec<u8>>, Arc<Chunk>)>,
}

/// What a worker does after each task: report it to the MPI thread (with the result's header
/// when other ranks need the result), and keep only the consumers this rank owns.
struct Reporter<'a, 'g> {
    run: &'a LocalRun<'g>,
    plan: &'a RankPlan,
    done: Sender<Report>,
    jitter: Option<&'a Jitter>,
}

impl AfterTask for Reporter<'_, '_> {
    fn after_task(&self, t: TaskId, result: Option<&Arc<Chunk>>, ready: &mut Vec<TaskId>) {
        let mut ok = result.is_some();
        let mut message = None;
        if let (Some(chunk), false) = (result, self.plan.dests(t).is_empty()) {
            match outgoing(t, chunk) {
                Ok((header, chunk)) => message = Some((Arc::new(header), chunk)),
                Err(e) => {
                    self.run.fail(t, e);
                    ok = false;
                    ready.clear();
                }
            }
        }
        maybe_delay(self.jitter);
        // The receiver outlives every worker (it is dropped after the scope), so this only fails
        // if the MPI thread is gone, and then nobody waits for the report.
        let _ = self.done.send(Report::Done(Done {
            task: t,
            ok,
            message,
        }));
        ready.retain(|&c| self.plan.owns(c));
    }

    fn after_panic(&self, t: TaskId) {
        let _ = self.done.send(Report::Done(Done {
            task: t,
            ok: false,
            message: None,
        }));
    }
}

impl Hooks for Reporter<'_, '_> {
    fn remote_inputs(&self) -> bool {
        true
    }

    fn take(&self, t: TaskId) {
        maybe_delay(self.jitter);
        let _ = self.done.send(Report::Take(t));
    }
}

/// The header of task `t`'s result and the result to send (a value encoded as bytes), or why
/// it cannot be sent.
fn outgoing(t: TaskId, chunk: &Arc<Chunk>) -> Result<(Vec<u8>, Arc<Chunk>)> {
    let chunk = match &**chunk {
        Chunk::Value(v) if v.bytes().is_none() => {
            let bytes = v
                .encoded()
                .map_err(|e| Error::Mpi(format!("the result of task {t}: {e}")))?;
            Arc::new(Chunk::Value(Value::from_bytes(bytes)))
        }
        _ => chunk.clone(),
    };
    Ok((outgoing_header(t, &chunk)?, chunk))
}

/// The header of task `t`'s result, or why it cannot be sent.
fn outgoing_header(t: TaskId, chunk: &Chunk) -> Result<Vec<u8>> {
    // MPI counts are C ints: no array of more than 2^31 - 1 elements in one message.
    let too_big = wire::parts(chunk)?
        .iter()
        .map(|a| match a {
            Chunk::Value(v) => v.nbytes(),
            a => a.shape().iter().product::<usize>(),
        })
        .find(|&n| n > i32::MAX as usize);
    if let Some(n) = too_big {
        return Err(Error::Mpi(format!(
            "the result of task {t} has an array of {n} elements, more than one MPI message \
             carries (2^31 - 1): use smaller chunks"
        )));
    }
    wire::header(t, chunk)
}

type RankWorkers<'a, 'g> = Workers<'a, 'g, Reporter<'a, 'g>>;
type RankAdmit<'a, 'g> = Admit<'a, 'g, Reporter<'a, 'g>>;

/// How a rank's workers run its tasks.
#[derive(Clone, Copy)]
enum Drive<'a, 'g> {
    /// Without a budget: chains of tasks from each source, results sent as soon as made.
    Chains(&'a RankWorkers<'a, 'g>),
    /// Under a budget: the rank's steps in order, each when it fits; results sent when granted.
    Admit(&'a RankAdmit<'a, 'g>),
}

impl Drive<'_, '_> {
    /// Work spawned and not yet finished: zero means no task runs or is about to.
    fn outstanding(self) -> usize {
        match self {
            Drive::Chains(w) => w.outstanding(),
            Drive::Admit(a) => a.outstanding(),
        }
    }

    /// A result arrived, a send completed or the run failed: steps waiting may start.
    fn notify(self) {
        if let Drive::Admit(a) = self {
            a.notify();
        }
    }
}

/// A result made here waiting for grants (under a budget): sent to each rank that grants it,
/// dropped once every rank that needs it has it.
struct Parked {
    bytes: Arc<Vec<u8>>,
    chunk: Arc<Chunk>,
    /// Ranks that need it and do not have it yet.
    waiting: usize,
}

/// A message waiting to be sent: bytes (a failure, or a result's header) and, for a result,
/// the chunk whose arrays follow the header as typed messages.
struct Outgoing {
    dest: i32,
    bytes: Arc<Vec<u8>>,
    chunk: Option<Arc<Chunk>>,
    poison: bool,
    /// The task whose result this is (a result under a budget: parked until sent).
    task: Option<TaskId>,
}

impl Outgoing {
    /// A message of bytes alone to `dest`.
    fn note(dest: usize, bytes: Vec<u8>) -> Self {
        Outgoing {
            dest: dest as i32,
            bytes: Arc::new(bytes),
            chunk: None,
            poison: false,
            task: None,
        }
    }
}

/// The most bytes of results in flight to one peer (sent and not yet matched): a round sends at
/// most this much to each rank (but always at least one message), so a fast producer cannot
/// flood a slow consumer with more than a window of chunks it has not taken yet.
const WINDOW: usize = 64 << 20;

/// The messages of the next send round, in outbox order: per destination, results up to
/// `window` bytes (at least one message), and every failure notice. The rest wait.
fn take_round(outbox: &mut VecDeque<Outgoing>, ranks: usize, window: usize) -> Vec<Outgoing> {
    let mut load = vec![0usize; ranks];
    let mut round = Vec::new();
    let mut waiting = VecDeque::new();
    for m in outbox.drain(..) {
        let size = m.bytes.len() + m.chunk.as_deref().map_or(0, Chunk::nbytes);
        let d = (m.dest.max(0) as usize).min(ranks.saturating_sub(1));
        if m.poison || load[d] == 0 || load[d] + size <= window {
            load[d] += size;
            round.push(m);
        } else {
            waiting.push_back(m);
        }
    }
    *outbox = waiting;
    round
}

/// A send in flight: its buffer's element type decides the request's type.
enum Pending<'a, S: mpi::request::Scope<'a>> {
    Bytes(mpi::request::Request<'a, [u8], S>),
    F64(mpi::request::Request<'a, [f64], S>),
    F32(mpi::request::Request<'a, [f32], S>),
    I64(mpi::request::Request<'a, [i64], S>),
    Bool(mpi::request::Request<'a, [bool], S>),
}

impl<'a, S: mpi::request::Scope<'a>> Pending<'a, S> {
    /// `None` once the send has been matched, the request still pending otherwise.
    fn test(self) -> Option<Self> {
        match self {
            Pending::Bytes(r) => r.test().err().map(Pending::Bytes),
            Pending::F64(r) => r.test().err().map(Pending::F64),
            Pending::F32(r) => r.test().err().map(Pending::F32),
            Pending::I64(r) => r.test().err().map(Pending::I64),
            Pending::Bool(r) => r.test().err().map(Pending::Bool),
        }
    }
}

/// Receives one array of a result from `from` into a new chunk of `shape`, after checking that
/// the message holds exactly the elements the header announced (the buffer is allocated only
/// then). A message of another length is still received, so that its sender's send completes,
/// and the run fails.
fn receive_array<T: Equivalence + Element>(
    comm: &SimpleCommunicator,
    from: i32,
    tag: Tag,
    shape: &[usize],
) -> (usize, Result<Chunk>) {
    let (bytes, data) = receive_vec::<T>(comm, from, tag, shape);
    let chunk = data.and_then(|data| {
        ArrayD::from_shape_vec(IxDyn(shape), data)
            .map(T::into_chunk)
            .map_err(Error::internal)
    });
    (bytes, chunk)
}

/// Receives one message of `shape.product()` elements of `T` from `from` (see
/// [`receive_array`]), with its length in bytes.
fn receive_vec<T: Equivalence + Default + Clone>(
    comm: &SimpleCommunicator,
    from: i32,
    tag: Tag,
    shape: &[usize],
) -> (usize, Result<Vec<T>>) {
    let (msg, status) = comm.process_at_rank(from).matched_probe_with_tag(tag);
    let count = status.count(T::equivalent_datatype()).max(0) as usize;
    let want: usize = shape.iter().product();
    let bytes = count * std::mem::size_of::<T>();
    if count != want {
        let (_, _) = (msg, status).matched_receive_vec::<T>();
        return (
            bytes,
            Err(Error::internal(format!(
                "rank {from} sent {count} elements for an array of shape {shape:?}"
            ))),
        );
    }
    let mut data = match try_filled(
        want,
        T::default(),
        format_args!("a chunk of shape {shape:?}"),
    ) {
        Ok(v) => v,
        Err(e) => {
            let (_, _) = (msg, status).matched_receive_vec::<T>();
            return (bytes, Err(e));
        }
    };
    msg.matched_receive_into(&mut data[..]);
    (bytes, Ok(data))
}

/// What one rank did in one run (see [`crate::MpiScheduler::last_run`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Tasks this rank ran to completion.
    pub tasks_run: usize,
    /// Messages this rank sent, per destination rank: a failure notice is one; a result is a
    /// header and one message per array (two for an array, four for a mean's partial state).
    pub messages_sent: usize,
    /// Bytes in those messages.
    pub bytes_sent: usize,
    /// Messages this rank received.
    pub messages_received: usize,
    /// Bytes in those messages.
    pub bytes_received: usize,
    /// Under a memory budget, the most bytes of results this rank held at once by their
    /// projected sizes: its own (those waiting to be sent included) and those it received or
    /// made room for. Never above the budget. 0 without a budget.
    pub peak_held_bytes: usize,
}

/// Counts what a rank does into a [`RunStats`]: the MPI scheduler adds it to every run's
/// observers.
#[derive(Debug, Default)]
pub(crate) struct StatsObserver {
    tasks_run: AtomicUsize,
    messages_sent: AtomicUsize,
    bytes_sent: AtomicUsize,
    messages_received: AtomicUsize,
    bytes_received: AtomicUsize,
}

impl StatsObserver {
    pub(crate) fn stats(&self) -> RunStats {
        let get = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        RunStats {
            tasks_run: get(&self.tasks_run),
            messages_sent: get(&self.messages_sent),
            bytes_sent: get(&self.bytes_sent),
            messages_received: get(&self.messages_received),
            bytes_received: get(&self.bytes_received),
            peak_held_bytes: 0,
        }
    }
}

impl Observer for StatsObserver {
    fn task_finished(&self, event: &TaskEvent<'_>) {
        if event.ok {
            self.tasks_run.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn message(&self, event: &MessageEvent) {
        let (count, bytes) = match event.sent {
            true => (&self.messages_sent, &self.bytes_sent),
            false => (&self.messages_received, &self.bytes_received),
        };
        count.fetch_add(1, Ordering::Relaxed);
        bytes.fetch_add(event.bytes, Ordering::Relaxed);
    }
}

/// How a run reaches the other ranks: the communicator, the run's message tag, and the
/// testing delays (if any).
pub(crate) struct Peers<'a> {
    pub comm: &'a SimpleCommunicator,
    pub tag: Tag,
    pub jitter: Option<&'a Jitter>,
}

/// The MPI thread's side of a run.
struct Exchange<'a, 'g> {
    comm: &'a SimpleCommunicator,
    tag: Tag,
    size: usize,
    run: &'a LocalRun<'g>,
    drive: Drive<'a, 'g>,
    plan: &'a RankPlan,
    observer: &'a dyn Observer,
    done: Receiver<Report>,
    outbox: VecDeque<Outgoing>,
    /// Under a budget: results made here that wait for grants.
    parked: HashMap<TaskId, Parked>,
    /// Under a budget: grants that came before their result was made (task, rank).
    early: BTreeSet<(TaskId, u32)>,
    owned_done: usize,
    received: Vec<bool>,
    received_count: usize,
    /// The lowest failed task and its error, as every rank will report it.
    failure: Option<(TaskId, Error)>,
    /// Local failures already announced to the other ranks.
    announced: BTreeSet<TaskId>,
    nap: Duration,
    /// Rank 0's observer wants this rank's progress: the count last reported, and when.
    progress: Option<(usize, Instant)>,
    /// Random delays before each round of sends (testing).
    jitter: Option<&'a Jitter>,
}

/// Runs this rank's share of the graph, under `flow` when there is a budget; afterwards `run`
/// holds the outputs this rank receives. `observer` sees every message (and, through `run`,
/// every task). Returns the failure of the lowest failed task id on any rank (the same error on
/// every rank) if the run failed, and under a budget the most bytes this rank held.
pub(crate) fn run_rank(
    peers: Peers<'_>,
    pool: &ThreadPool,
    run: &LocalRun<'_>,
    plan: &RankPlan,
    flow: Option<&BudgetPlan>,
    observer: &dyn Observer,
) -> (Result<()>, Option<usize>) {
    let Peers { comm, tag, jitter } = peers;
    for (t, &n) in plan.remote_uses.iter().enumerate() {
        run.drop_uses(t as TaskId, n);
    }
    let (tx, rx) = channel();
    let reporter = Reporter {
        run,
        plan,
        done: tx,
        jitter,
    };
    let threads = pool.current_num_threads();
    let (workers, admit);
    let drive = match flow {
        None => {
            workers = Workers::new(run, &plan.roots, threads, reporter);
            Drive::Chains(&workers)
        }
        Some(flow) => {
            admit = Admit::new(run, flow, threads, reporter);
            Drive::Admit(&admit)
        }
    };
    let wants_progress = plan.rank() != 0 && observer.wants_remote_progress();
    let mut ex = Exchange {
        comm,
        tag,
        size: comm.size() as usize,
        run,
        drive,
        plan,
        observer,
        done: rx,
        outbox: VecDeque::new(),
        parked: HashMap::new(),
        early: BTreeSet::new(),
        owned_done: 0,
        received: vec![false; run.graph().len()],
        received_count: 0,
        failure: None,
        announced: BTreeSet::new(),
        nap: NAP_MIN,
        progress: wants_progress.then(|| (0, Instant::now())),
        jitter,
    };
    pool.in_place_scope(|s| {
        match drive {
            Drive::Chains(w) => s.spawn_broadcast(|s, _| w.feed(s)),
            Drive::Admit(a) => s.spawn_broadcast(|_, _| a.work()),
        }
        // A panic in the loop's book-keeping fails the run on every rank (announced like an
        // internal error); the loop then runs again to wind the run down, sends included.
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| ex.work(s))) {
            ex.internal(format!(
                "the MPI communication loop panicked: {}",
                panic_message(p.as_ref())
            ));
            ex.work(s);
        }
    });
    ex.close();
    let peak = match drive {
        Drive::Chains(_) => None,
        Drive::Admit(a) => Some(a.peak()),
    };
    match ex.failure {
        Some((_, e)) => (Err(e), peak),
        None => (Ok(()), peak),
    }
}

impl<'a, 'g> Exchange<'a, 'g> {
    fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Whether this rank's own part is over: no task running, nothing left to send, and either
    /// everything done or the run failed.
    fn local_work_over(&self) -> bool {
        self.outbox.is_empty()
            && self.parked.is_empty()
            && self.drive.outstanding() == 0
            && (self.failed()
                || (self.owned_done == self.plan.owned
                    && self.received_count == self.plan.expected_count))
    }

    /// A cancellation seen on this rank fails the run on every rank.
    fn check_cancelled(&mut self) {
        if !self.failed() && self.run.failed() && self.run.cancelled() {
            self.announce(CANCELLED, Error::Cancelled);
        }
    }

    /// Queues a progress report to rank 0 when the count changed, at most every 100 ms unless
    /// `now` (the rank's own work is over).
    fn report_progress(&mut self, now: bool) {
        let Some((reported, at)) = self.progress else {
            return;
        };
        if self.failed() || reported == self.owned_done || (!now && at.elapsed() < PROGRESS_EVERY) {
            return;
        }
        self.progress = Some((self.owned_done, Instant::now()));
        self.outbox
            .push_back(Outgoing::note(0, wire::progress(self.owned_done)));
    }

    /// Runs the loop while the workers compute.
    fn work<'s>(&mut self, s: &Scope<'s>)
    where
        'a: 's,
    {
        let drive = self.drive;
        let mut spawn = |t: TaskId| match drive {
            Drive::Chains(w) => w.spawn(s, t),
            Drive::Admit(a) => a.notify(),
        };
        loop {
            self.check_cancelled();
            self.report_progress(false);
            if self.local_work_over() {
                self.report_progress(true);
                if !self.outbox.is_empty() {
                    continue;
                }
                // Reports sent just before the last worker finished are in the channel now.
                if !self.drain_reports() {
                    break;
                }
                continue;
            }
            if self.outbox.is_empty() {
                self.service(&mut spawn);
            } else {
                self.send_round(&mut spawn);
            }
        }
    }

    /// Joins the barrier that ends the run and receives until it completes (see the module doc).
    fn close(&mut self) {
        let mut barrier = self.comm.immediate_barrier();
        let mut spawn = |_: TaskId| {};
        loop {
            match barrier.test() {
                Ok(_) => break,
                Err(b) => barrier = b,
            }
            self.service(&mut spawn);
        }
    }

    /// Sends a round of the outbox (up to [`WINDOW`] bytes per peer) and services the rank until
    /// all of it has been matched. New messages wait in the outbox for the next round (the send
    /// buffers must outlive the requests, which rsmpi ties to a scope).
    fn send_round(&mut self, spawn: &mut dyn FnMut(TaskId)) {
        maybe_delay(self.jitter);
        let batch = take_round(&mut self.outbox, self.size, WINDOW);
        // The arrays each result sends after its header, in order (a strided one as a copy in
        // standard layout, which outlives the sends).
        let arrays: Vec<Vec<Cow<'_, Chunk>>> = batch
            .iter()
            .map(|m| {
                let parts = m.chunk.as_deref().map_or(Ok(Vec::new()), wire::parts);
                parts
                    .unwrap_or_default()
                    .into_iter()
                    .map(
                        |a| match a.is_standard_layout() && !matches!(a, Chunk::Tuple(_)) {
                            true => Cow::Borrowed(a),
                            false => Cow::Owned(a.to_standard_layout()),
                        },
                    )
                    .collect()
            })
            .collect();
        let comm = self.comm;
        let tag = self.tag;
        mpi::request::scope(|scope| {
            let mut requests: Vec<Option<Pending<'_, _>>> = Vec::new();
            for (m, arrays) in batch.iter().zip(&arrays) {
                let dest = comm.process_at_rank(m.dest);
                requests.push(Some(Pending::Bytes(
                    dest.immediate_synchronous_send_with_tag(scope, &m.bytes[..], tag),
                )));
                for a in arrays {
                    let a: &Chunk = a;
                    let p = match a {
                        Chunk::F64(x) => x.as_slice().map(|s| {
                            Pending::F64(dest.immediate_synchronous_send_with_tag(scope, s, tag))
                        }),
                        Chunk::F32(x) => x.as_slice().map(|s| {
                            Pending::F32(dest.immediate_synchronous_send_with_tag(scope, s, tag))
                        }),
                        Chunk::I64(x) => x.as_slice().map(|s| {
                            Pending::I64(dest.immediate_synchronous_send_with_tag(scope, s, tag))
                        }),
                        Chunk::Bool(x) => x.as_slice().map(|s| {
                            Pending::Bool(dest.immediate_synchronous_send_with_tag(scope, s, tag))
                        }),
                        Chunk::Value(v) => v.bytes().map(|s| {
                            Pending::Bytes(dest.immediate_synchronous_send_with_tag(scope, s, tag))
                        }),
                        _ => None,
                    };
                    requests.push(p);
                }
            }
            loop {
                let mut pending = false;
                for slot in &mut requests {
                    if let Some(r) = slot.take() {
                        *slot = r.test();
                        pending |= slot.is_some();
                    }
                }
                if !pending {
                    break;
                }
                self.service(spawn);
            }
        });
        for m in &batch {
            self.on_sent(m);
        }
        for (m, arrays) in batch.iter().zip(&arrays) {
            let peer = m.dest as usize;
            let sent = |bytes| MessageEvent {
                sent: true,
                peer,
                bytes,
            };
            self.observer.message(&sent(m.bytes.len()));
            arrays
                .iter()
                .for_each(|a| self.observer.message(&sent(a.nbytes())));
        }
    }

    /// Handles whatever arrived (worker reports, messages); naps briefly when nothing did.
    fn service(&mut self, spawn: &mut dyn FnMut(TaskId)) {
        let mut busy = self.drain_reports();
        while let Some((msg, status)) = self
            .comm
            .any_process()
            .immediate_matched_probe_with_tag(self.tag)
        {
            let from = status.source_rank();
            let (bytes, _) = (msg, status).matched_receive_vec::<u8>();
            self.observer.message(&MessageEvent {
                sent: false,
                peer: from as usize,
                bytes: bytes.len(),
            });
            self.on_message(from, &bytes, spawn);
            busy = true;
        }
        if busy {
            self.nap = NAP_MIN;
        } else if let Ok(d) = self.done.recv_timeout(self.nap) {
            self.on_report(d);
            self.nap = NAP_MIN;
        } else {
            self.nap = (self.nap * 2).min(NAP_MAX);
        }
    }

    /// Handles the reports in the channel; returns whether there were any.
    fn drain_reports(&mut self) -> bool {
        let mut any = false;
        while let Ok(d) = self.done.try_recv() {
            self.on_report(d);
            any = true;
        }
        any
    }

    fn on_report(&mut self, report: Report) {
        match report {
            Report::Done(d) => self.on_done(d),
            Report::Take(t) if !self.failed() => {
                let owner = self.plan.owner(t);
                self.outbox.push_back(Outgoing::note(owner, wire::grant(t)));
            }
            Report::Take(_) => {}
        }
    }

    /// The message of the result of `task` to `dest`.
    fn result_to(dest: u32, task: TaskId, bytes: &Arc<Vec<u8>>, chunk: &Arc<Chunk>) -> Outgoing {
        Outgoing {
            dest: dest as i32,
            bytes: bytes.clone(),
            chunk: Some(chunk.clone()),
            poison: false,
            task: Some(task),
        }
    }

    fn on_done(&mut self, d: Done) {
        if d.ok {
            self.owned_done += 1;
            let Some((bytes, chunk)) = d.message.filter(|_| !self.failed()) else {
                return;
            };
            let dests = self.plan.dests(d.task);
            if let Drive::Chains(_) = self.drive {
                for &dest in dests {
                    let m = Self::result_to(dest, d.task, &bytes, &chunk);
                    self.outbox.push_back(m);
                }
                return;
            }
            // Under a budget: to the ranks that granted it already; the others wait.
            for &dest in dests {
                if self.early.remove(&(d.task, dest)) {
                    let m = Self::result_to(dest, d.task, &bytes, &chunk);
                    self.outbox.push_back(m);
                }
            }
            let waiting = dests.len();
            self.parked.insert(
                d.task,
                Parked {
                    bytes,
                    chunk,
                    waiting,
                },
            );
            return;
        }
        // Failed or skipped: announce the lowest failure if it is this rank's and news (a
        // worker's own failure outside any task, reported as one of no task, included, unless a
        // failure of no task came from elsewhere first).
        if let Some((t, e)) = self.run.first_error() {
            let mine = match t {
                NO_TASK => d.task == NO_TASK && self.failure.is_none(),
                t => self.plan.owns(t),
            };
            if mine && !self.announced.contains(&t) {
                self.announce(t, e);
            }
        }
    }

    /// Sends the failure of `task` (run here, or detected here) to every other rank.
    fn announce(&mut self, task: TaskId, error: Error) {
        self.announced.insert(task);
        let (rank, size) = (self.plan.rank(), self.size);
        let error = match error {
            Error::Task { op, chunk, message } => Error::Task {
                op,
                chunk,
                message: format!("{message} (on MPI rank {rank} of {size})"),
            },
            Error::Internal(m) => Error::Internal(format!("{m} (on MPI rank {rank} of {size})")),
            Error::Mpi(m) => Error::Mpi(format!("on MPI rank {rank} of {size}: {m}")),
            Error::Cancelled => Error::Cancelled,
            Error::Io { what, source } => Error::Io {
                what: format!("{what} (on MPI rank {rank} of {size})"),
                source,
            },
            e => Error::Mpi(format!("on MPI rank {rank} of {size}: {e}")),
        };
        let bytes = Arc::new(wire::abort(task, &error));
        // Report exactly what the others will decode, so every rank returns the same error.
        let error = match wire::decode(&bytes) {
            Ok(Msg::Abort { error, .. }) => error,
            _ => error,
        };
        self.record_failure(task, error);
        for dest in (0..self.size).filter(|&d| d != rank) {
            self.outbox.push_back(Outgoing {
                dest: dest as i32,
                bytes: bytes.clone(),
                chunk: None,
                poison: true,
                task: None,
            });
        }
    }

    /// Remembers a failure, stops the workers, and drops results not yet sent.
    fn record_failure(&mut self, task: TaskId, error: Error) {
        if self.failure.as_ref().is_none_or(|(t, _)| task < *t) {
            self.failure = Some((task, error.clone()));
        }
        self.run.fail(task, error);
        self.outbox.retain(|m| m.poison);
        self.parked.clear();
        self.early.clear();
        self.drive.notify();
    }

    /// A message of this round has been matched: under a budget, a result sent to every rank
    /// that needs it no longer counts here.
    fn on_sent(&mut self, m: &Outgoing) {
        let (Drive::Admit(admit), Some(t)) = (self.drive, m.task) else {
            return;
        };
        let Some(p) = self.parked.get_mut(&t) else {
            return;
        };
        p.waiting -= 1;
        if p.waiting == 0 {
            self.parked.remove(&t);
            admit.sent(t);
        }
    }

    /// Rank `from` has made room for the result of `task`: send it now if it is made, when it
    /// is otherwise.
    fn on_grant(&mut self, from: i32, task: TaskId) {
        let wanted = matches!(self.drive, Drive::Admit(_))
            && self.plan.owns(task)
            && self.plan.dests(task).contains(&(from as u32));
        if !wanted {
            return self.internal(format!(
                "rank {} got a grant of the result of task {task} from rank {from}, which does not \
                 need it from here",
                self.plan.rank()
            ));
        }
        if self.failed() {
            return;
        }
        match self.parked.get(&task) {
            Some(p) => {
                let m = Self::result_to(from as u32, task, &p.bytes, &p.chunk);
                self.outbox.push_back(m);
            }
            None => {
                self.early.insert((task, from as u32));
            }
        }
    }

    fn on_message(&mut self, from: i32, bytes: &[u8], spawn: &mut dyn FnMut(TaskId)) {
        match wire::decode(bytes) {
            Ok(Msg::Abort { task, error }) => self.record_failure(task, error),
            Ok(Msg::Progress { tasks_done }) => self
                .observer
                .remote_progress(from as usize, tasks_done as usize),
            Ok(Msg::Grant { task }) => self.on_grant(from, task),
            Ok(Msg::Data { task, tuple, parts }) => {
                // The arrays follow from the same rank, in order: receive them even after a
                // failure, so that the sender's sends complete.
                let chunk = self.receive_parts(from, tuple, &parts);
                match chunk {
                    Ok(_) if self.failed() => {}
                    Ok(chunk) => self.on_result(from, task, chunk, spawn),
                    Err(e) => self.internal(format!("from rank {from}: {e}")),
                }
            }
            Err(e) => self.internal(format!("from rank {from}: {e}")),
        }
    }

    /// Receives the arrays of a result whose header said `parts`, straight into new chunks.
    fn receive_parts(
        &mut self,
        from: i32,
        tuple: bool,
        parts: &[(Part, Vec<usize>)],
    ) -> Result<Chunk> {
        let mut arrays = Vec::with_capacity(parts.len());
        let mut first_error = None;
        for (dtype, shape) in parts {
            let (comm, tag) = (self.comm, self.tag);
            let (bytes, chunk) = match dtype {
                Part::Array(DType::F64) => receive_array::<f64>(comm, from, tag, shape),
                Part::Array(DType::F32) => receive_array::<f32>(comm, from, tag, shape),
                Part::Array(DType::I64) => receive_array::<i64>(comm, from, tag, shape),
                Part::Array(DType::Bool) => receive_array::<bool>(comm, from, tag, shape),
                Part::Value => {
                    let (n, data) = receive_vec::<u8>(comm, from, tag, shape);
                    (n, data.map(|b| Chunk::Value(Value::from_bytes(b))))
                }
            };
            self.observer.message(&MessageEvent {
                sent: false,
                peer: from as usize,
                bytes,
            });
            match chunk {
                Ok(c) => arrays.push(c),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if tuple {
            return Ok(Chunk::Tuple(arrays));
        }
        arrays
            .pop()
            .ok_or_else(|| Error::internal("a result header without arrays"))
    }

    fn on_result(&mut self, from: i32, task: TaskId, chunk: Chunk, spawn: &mut dyn FnMut(TaskId)) {
        let plan = self.plan;
        let fresh = plan.expects(task) && !self.received[task as usize];
        if !fresh || plan.owner(task) != from as usize {
            return self.internal(format!(
                "rank {} got the result of task {task} from rank {from}, which it did not expect",
                plan.rank()
            ));
        }
        self.received[task as usize] = true;
        self.received_count += 1;
        let mut ready = Vec::new();
        self.run.provide(task, Arc::new(chunk), &mut ready);
        ready
            .into_iter()
            .filter(|&c| plan.owns(c))
            .for_each(&mut *spawn);
    }

    /// A broken invariant seen by the MPI thread: fail the run everywhere.
    fn internal(&mut self, msg: String) {
        if !self.announced.contains(&NO_TASK) {
            self.announce(NO_TASK, Error::internal(msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(dest: i32, bytes: usize, poison: bool) -> Outgoing {
        Outgoing {
            poison,
            ..Outgoing::note(dest as usize, vec![0; bytes])
        }
    }

    #[test]
    fn a_round_sends_at_most_a_window_per_peer() {
        let mut outbox: VecDeque<Outgoing> = [
            msg(1, 60, false),
            msg(1, 60, false),  // over the window of 100 for rank 1: waits
            msg(2, 500, false), // alone larger than the window: goes (one message at least)
            msg(1, 30, false),
            msg(2, 1, false), // rank 2's window is used: waits
            msg(1, 80, true), // failure notices always go
        ]
        .into_iter()
        .collect();
        let round = take_round(&mut outbox, 3, 100);
        let sent: Vec<(i32, usize)> = round.iter().map(|m| (m.dest, m.bytes.len())).collect();
        assert_eq!(sent, [(1, 60), (2, 500), (1, 30), (1, 80)]);
        let left: Vec<(i32, usize)> = outbox.iter().map(|m| (m.dest, m.bytes.len())).collect();
        assert_eq!(left, [(1, 60), (2, 1)]);
        // The next round takes what waited, in order.
        let round = take_round(&mut outbox, 3, 100);
        assert_eq!(round.len(), 2);
        assert!(outbox.is_empty());
    }
}
