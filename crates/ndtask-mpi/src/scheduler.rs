//! The [`MpiScheduler`]: MPI set-up, the agreement check, and the [`Scheduler`] entry point.

use crate::exchange::{self, Peers, RunStats, StatsObserver};
use crate::flow;
use crate::jitter::Jitter;
use crate::placement::{Outputs, RankPlan};
use crate::wire;
use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::{Communicator, CommunicatorCollectives, Root};
use mpi::Count;
use mpi::{Tag, Threading};
use ndtask_core::{
    Chunk, Error, Kept, Observer, Result, RunContext, RunInfo, Scheduler, TaskGraph, TaskId,
};
use ndtask_sched::LocalRun;
use rayon::ThreadPool;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::thread::ThreadId;

/// "No rank" and "no budget" in the agreements' reductions: the largest value that MPI_MIN and
/// MPI_MAX order alike in every MPI (see `MpiScheduler::agree`).
const NONE: i64 = i64::MAX;

/// Runs task graphs across MPI ranks, SPMD style: every rank builds the same expression, calls
/// `compute`, and runs its own share of the tasks.
///
/// Each rank runs the tasks it owns (see [`crate::Placement`]) on a rayon pool of its own and
/// exchanges chunks with the ranks that need them; the thread that created the scheduler is the
/// only one that calls MPI. Outputs are gathered to rank 0 (`execute` returns `None` on the other
/// ranks) or, with [`MpiSchedulerBuilder::gather_to_all`], to every rank. Results are
/// bit-identical to the sync scheduler's for every rank count.
///
/// MPI is initialised when the scheduler is created (with [`Threading::Funneled`]) and finalised
/// when it is dropped; a process can do that once, so create one scheduler and reuse it.
///
/// # Error handling
/// A task that fails on any rank makes `execute` return the same `Err` on every rank (the error
/// of the lowest failed task id, naming its op, chunk and rank), never a hang. Ranks that built
/// different graphs (a different seed, scalar, shape, chunking, element type, option or
/// closure name) get the same [`Error::Mpi`] on every rank; an expression that fails to build
/// or lower on some ranks gives every rank the lowest such rank's error. After any of these,
/// the next compute starts clean.
///
/// # Examples
/// ```no_run
/// use ndtask_mpi::MpiScheduler;
/// // Run with: mpirun -n 4 target/release/examples/my_program
/// let mpi = std::rc::Rc::new(MpiScheduler::builder().threads(2).build()?);
/// let cfg = ndtask_array::Config::new().shared_scheduler(mpi.clone());
/// let x = ndtask_array::random::uniform::<f64>([10_000, 10_000], [1_000, 1_000], 42)?;
/// if let Some(mean) = cfg.compute_local(&x.mean())? {
///     println!("mean {mean} on {} ranks", mpi.ranks()); // rank 0 only
/// }
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub struct MpiScheduler {
    // Field order is drop order: the communicators are freed before MPI is finalised.
    /// The communicator runs use: `all`, or while [`MpiScheduler::on_first_ranks`] runs, one of
    /// the first ranks only.
    comm: RefCell<SimpleCommunicator>,
    /// Every rank of the program.
    all: SimpleCommunicator,
    pool: ThreadPool,
    threads: usize,
    rank: Cell<usize>,
    ranks: Cell<usize>,
    gather_to_all: bool,
    thread: ThreadId,
    runs: Cell<u32>,
    last_run: Cell<RunStats>,
    /// Random delays in every run, for testing (`NDTASK_MPI_JITTER`).
    jitter: Option<Jitter>,
    universe: Universe,
}

impl std::fmt::Debug for MpiScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiScheduler")
            .field("rank", &self.rank.get())
            .field("ranks", &self.ranks.get())
            .field("threads", &self.threads)
            .field("gather_to_all", &self.gather_to_all)
            .finish()
    }
}

/// Options for an [`MpiScheduler`].
///
/// # Examples
/// ```no_run
/// let mpi = ndtask_mpi::MpiScheduler::builder().threads(4).gather_to_all(true).build()?;
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MpiSchedulerBuilder {
    threads: Option<usize>,
    gather_to_all: bool,
}

impl MpiSchedulerBuilder {
    /// Worker threads per rank (default: the cores this process may use, divided by the number
    /// of ranks on its node, at least 1).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Whether every rank receives the outputs (default: only rank 0).
    pub fn gather_to_all(mut self, yes: bool) -> Self {
        self.gather_to_all = yes;
        self
    }

    /// Initialises MPI and starts this rank's worker threads.
    ///
    /// # Errors
    /// [`Error::Mpi`] if MPI was already initialised (or finalised) in this process, or cannot
    /// give [`Threading::Funneled`]; [`Error::Scheduler`] if `threads` is zero or the pool
    /// cannot start.
    pub fn build(self) -> Result<MpiScheduler> {
        if self.threads == Some(0) {
            return Err(Error::Scheduler(
                "the MPI scheduler needs at least 1 thread per rank, got 0".into(),
            ));
        }
        let (universe, provided) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or_else(|| {
                Error::Mpi(
                    "MPI is already initialised (or finalised) in this process: create one \
                     MpiScheduler per process and reuse it"
                        .into(),
                )
            })?;
        if provided < Threading::Funneled {
            return Err(Error::Mpi(format!(
                "the MPI library gives thread support {provided:?}; ndtask needs Funneled"
            )));
        }
        let world = universe.world();
        let comm = world.duplicate();
        // A collective call: made on every rank, whatever its options, so that ranks built
        // with different thread counts do not wait for each other here.
        let on_node = world.split_shared(0).size().max(1) as usize;
        let threads = match self.threads {
            Some(n) => n,
            None => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                (cores / on_node).max(1)
            }
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ndtask-mpi-worker-{i}"))
            .build()
            .map_err(|e| Error::Scheduler(format!("cannot start {threads} threads: {e}")))?;
        let comm_rank = comm.rank() as usize;
        Ok(MpiScheduler {
            rank: Cell::new(comm_rank),
            ranks: Cell::new(comm.size() as usize),
            all: comm.duplicate(),
            comm: RefCell::new(comm),
            pool,
            threads,
            gather_to_all: self.gather_to_all,
            thread: std::thread::current().id(),
            runs: Cell::new(0),
            last_run: Cell::new(RunStats::default()),
            jitter: Jitter::from_env(comm_rank),
            universe,
        })
    }
}

impl MpiScheduler {
    /// Initialises MPI with the default options ([`MpiSchedulerBuilder`]).
    ///
    /// # Errors
    /// As [`MpiSchedulerBuilder::build`].
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// Options for a scheduler.
    pub fn builder() -> MpiSchedulerBuilder {
        MpiSchedulerBuilder::default()
    }

    /// The MPI universe, for programs that also make MPI calls of their own (on this thread).
    pub fn universe(&self) -> &Universe {
        &self.universe
    }

    /// This process's rank (also [`Scheduler::rank`], without the trait in scope).
    pub fn rank(&self) -> usize {
        self.rank.get()
    }

    /// The number of ranks taking part.
    pub fn ranks(&self) -> usize {
        self.ranks.get()
    }

    /// Worker threads of this rank.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Whether every rank receives the outputs.
    pub fn gathers_to_all(&self) -> bool {
        self.gather_to_all
    }

    /// What this rank did in the last run: tasks run, messages and bytes sent and received.
    /// A full reduction, for example, sends only partial states, a few bytes per message.
    pub fn last_run(&self) -> RunStats {
        self.last_run.get()
    }

    /// Runs `f` with this scheduler restricted to the first `k` ranks of the program (a weak
    /// scaling table's row): on those ranks the scheduler computes as if the program had been
    /// started on `k` ranks while `f` runs, and `f`'s result is returned; the other ranks skip
    /// `f` and get `None`. Then every rank waits for the others. A collective call: every rank
    /// makes it, with the same `k`.
    ///
    /// # Errors
    /// [`Error::Scheduler`] if `k` is zero or more than the program's ranks, or if called
    /// inside another `on_first_ranks`.
    pub fn on_first_ranks<R>(&self, k: usize, f: impl FnOnce(&Self) -> R) -> Result<Option<R>> {
        let size = self.all.size() as usize;
        if k == 0 || k > size || self.ranks.get() != size {
            return Err(Error::Scheduler(format!(
                "on_first_ranks({k}) on a program of {size} ranks, {} of them active",
                self.ranks.get()
            )));
        }
        let me = self.all.rank() as usize;
        let color = match me < k {
            true => Color::with_value(0),
            false => Color::undefined(),
        };
        let sub = self.all.split_by_color(color);
        let got = sub.map(|sub| {
            let (rank, ranks) = (sub.rank() as usize, sub.size() as usize);
            let full = self.comm.replace(sub);
            self.rank.set(rank);
            self.ranks.set(ranks);
            // Put the whole program back even if `f` panics.
            struct Restore<'a>(&'a MpiScheduler, Option<SimpleCommunicator>);
            impl Drop for Restore<'_> {
                fn drop(&mut self) {
                    if let Some(full) = self.1.take() {
                        let s = self.0;
                        s.rank.set(full.rank() as usize);
                        s.ranks.set(full.size() as usize);
                        drop(s.comm.replace(full));
                    }
                }
            }
            let _restore = Restore(self, Some(full));
            // A panic in `f` still reaches the agreement below, so no rank waits for it.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)))
        });
        // The ranks that ran `f` counted its runs; every rank takes the highest count, so the
        // next run's message tag is the same everywhere.
        let mut runs = 0u32;
        self.all
            .all_reduce_into(&self.runs.get(), &mut runs, SystemOperation::max());
        self.runs.set(runs);
        match got {
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            Some(Ok(r)) => Ok(Some(r)),
            None => Ok(None),
        }
    }

    /// What every rank did in the last run ([`MpiScheduler::last_run`]), indexed by rank, on
    /// every rank. A collective call: every rank makes it, after the same compute.
    pub fn last_run_per_rank(&self) -> Vec<RunStats> {
        let s = self.last_run();
        let mine = [
            s.tasks_run,
            s.messages_sent,
            s.bytes_sent,
            s.messages_received,
            s.bytes_received,
            s.peak_held_bytes,
        ]
        .map(|x| x as u64);
        let mut all = vec![0u64; mine.len() * self.ranks.get()];
        self.comm.borrow().all_gather_into(&mine[..], &mut all[..]);
        all.chunks_exact(mine.len())
            .map(|c| RunStats {
                tasks_run: c[0] as usize,
                messages_sent: c[1] as usize,
                bytes_sent: c[2] as usize,
                messages_received: c[3] as usize,
                bytes_received: c[4] as usize,
                peak_held_bytes: c[5] as usize,
            })
            .collect()
    }

    /// The collective check at the start of every compute, on every rank: did every rank build
    /// its graph (`local` is this rank's graph, or the error that stopped it), and the same
    /// graph with the same options? Every rank gets the same answer: `Ok` everywhere, or the
    /// same `Err` everywhere (the lowest failing rank's error, sent to all). Either way the run
    /// counter moves on, so the next compute's message tag is the same on every rank.
    fn agree(
        &self,
        local: std::result::Result<&TaskGraph, &Error>,
        observed: bool,
        outputs: Outputs,
        budget: Option<usize>,
    ) -> Result<bool> {
        self.runs.set(self.runs.get().wrapping_add(1));
        // Every field is reduced as a signed 64-bit integer and kept below 2^63: MPICH 4.0
        // computes MPI_MIN and MPI_MAX over MPI_UINT64_T as if the values were signed, so a
        // sentinel of u64::MAX ("no rank failed") read as -1 there and beat every real rank.
        // Ranks then disagreed on whether to run at all, and one ran a run the others had left
        // (issue 33).
        let failed_rank = match local {
            Ok(_) => NONE,
            Err(_) => self.rank.get() as i64,
        };
        // Only compared for equality, so any 64 bits will do.
        let fingerprint = local.map_or(0, |g| g.fingerprint()) as i64;
        let outputs_code = match outputs {
            Outputs::ToRoot => 0,
            Outputs::ToAll => 1,
            Outputs::Kept => 2,
        };
        let budget_code = budget.map_or(NONE, |b| b as i64);
        // The run counter: ranks that reach this agreement after different numbers of runs have
        // lost step with each other, which must be an error, not a run with mixed-up tags.
        let runs = i64::from(self.runs.get());
        let mine = [
            fingerprint,
            outputs_code,
            failed_rank,
            observed as i64,
            budget_code,
            runs,
        ];
        let (mut lo, mut hi) = ([0i64; 6], [0i64; 6]);
        self.comm
            .borrow()
            .all_reduce_into(&mine[..], &mut lo[..], SystemOperation::min());
        self.comm
            .borrow()
            .all_reduce_into(&mine[..], &mut hi[..], SystemOperation::max());
        if lo[2] != NONE {
            let every_rank_failed = hi[2] != NONE;
            return Err(self.share_error(lo[2] as usize, local.err(), every_rank_failed));
        }
        if lo[5] != hi[5] {
            return Err(Error::Mpi(format!(
                "the {} ranks reached a compute after different numbers of runs (from {} to {}): \
                 every rank must make the same calls in the same order",
                self.ranks.get(),
                lo[5],
                hi[5]
            )));
        }
        if lo[0] != hi[0] {
            return Err(Error::Mpi(format!(
                "the {} ranks built different task graphs (fingerprints from {:#018x} to \
                 {:#018x}): every rank must build the same expression, with the same seeds, \
                 scalars, shapes, chunks, element types and options",
                self.ranks.get(),
                lo[0] as u64,
                hi[0] as u64
            )));
        }
        if lo[4] != hi[4] {
            let show = |b: i64| match b {
                NONE => "none".to_string(),
                b => ndtask_core::memory::human_bytes(b as usize),
            };
            return Err(Error::Mpi(format!(
                "the ranks disagree on the memory budget (from {} to {}): give every rank the \
                 same",
                show(lo[4]),
                show(hi[4])
            )));
        }
        if lo[1] != hi[1] {
            return Err(Error::Mpi(match hi[1] {
                2 => "the ranks disagree on where the outputs go: some persist the array (each \
                      chunk kept on its rank) while others compute it; call the same on every \
                      rank"
                    .into(),
                _ => {
                    "the ranks disagree on gather_to_all: build every rank's scheduler alike".into()
                }
            }));
        }
        Ok(hi[3] == 1)
    }

    /// After a run that some rank observed: every rank sends its observer's payload (none
    /// without an observer, or when it has nothing to send) to rank 0, whose observer absorbs
    /// them in rank order. A collective call on every rank.
    fn gather_payloads(&self, observer: Option<&dyn Observer>) {
        let payload = observer.and_then(|o| o.payload()).unwrap_or_default();
        let mut lens = vec![0u64; self.ranks.get()];
        self.comm
            .borrow()
            .all_gather_into(&(payload.len() as u64), &mut lens[..]);
        let total: u64 = lens.iter().sum();
        if total == 0 {
            return;
        }
        // MPI counts are C ints. Every rank knows every length, so every rank takes the same
        // way: past 2^31 - 1 bytes in all, rank 0 keeps its own payload and the others' are
        // dropped (reported on each rank's stderr).
        if total > i32::MAX as u64 {
            match (self.rank.get(), observer) {
                (0, Some(o)) => o.absorb(0, &payload),
                _ => eprintln!(
                    "ndtask: rank {}: observer data of {total} bytes on all ranks is more than \
                     one MPI gather carries; rank {} keeps its own",
                    self.rank.get(),
                    self.rank.get()
                ),
            }
            return;
        }
        let counts: Vec<Count> = lens.iter().map(|&n| n as Count).collect();
        let comm = self.comm.borrow();
        let root = comm.process_at_rank(0);
        if self.rank.get() != 0 {
            root.gather_varcount_into(&payload[..]);
            return;
        }
        let displs: Vec<Count> = counts
            .iter()
            .scan(0, |at, &n| {
                let d = *at;
                *at += n;
                Some(d)
            })
            .collect();
        let mut all = vec![0u8; total as usize];
        {
            let mut partition = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(&payload[..], &mut partition);
        }
        if let Some(o) = observer {
            for (r, (&d, &n)) in displs.iter().zip(&counts).enumerate() {
                o.absorb(r, &all[d as usize..(d + n) as usize]);
            }
        }
    }

    /// Broadcasts the error of rank `root` (the lowest rank that could not build its graph) and
    /// returns it on every rank: as it is when every rank failed, wrapped in an [`Error::Mpi`]
    /// naming the rank when only some did (the ranks then disagree on the expression).
    fn share_error(&self, root: usize, mine: Option<&Error>, every_rank_failed: bool) -> Error {
        let error = self.broadcast_error(root, mine);
        if every_rank_failed {
            error
        } else {
            Error::Mpi(format!(
                "rank {root} of {} could not build the expression that other ranks built: {error}",
                self.ranks.get()
            ))
        }
    }

    /// The error `mine` of rank `root`, on every rank. A collective call.
    fn broadcast_error(&self, root: usize, mine: Option<&Error>) -> Error {
        let comm = self.comm.borrow();
        let process = comm.process_at_rank(root as i32);
        let mut bytes = match (self.rank.get() == root, mine) {
            (true, Some(e)) => wire::abort(0, e),
            _ => Vec::new(),
        };
        let mut len = bytes.len() as u64;
        process.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        process.broadcast_into(&mut bytes[..]);
        match wire::decode(&bytes) {
            Ok(wire::Msg::Abort { error, .. }) => error,
            _ => Error::internal(format!("rank {root} sent a malformed error")),
        }
    }

    /// Every rank's `local` check, agreed: `Ok` everywhere, or the lowest failing rank's error
    /// everywhere. A collective call.
    fn agree_on<T>(&self, local: Result<T>) -> Result<T> {
        // Signed, below 2^63: see `agree`.
        let failed_rank = match &local {
            Ok(_) => NONE,
            Err(_) => self.rank.get() as i64,
        };
        let mut lowest = 0i64;
        self.comm
            .borrow()
            .all_reduce_into(&failed_rank, &mut lowest, SystemOperation::min());
        match (local, lowest) {
            (local, NONE) => local,
            (local, root) => Err(self.broadcast_error(root as usize, local.err().as_ref())),
        }
    }
}

impl MpiScheduler {
    /// Runs this rank's share of `graph` with the outputs going where `outputs` says, then
    /// `finish` on the run that ended well.
    fn run_graph<R>(
        &self,
        graph: &TaskGraph,
        ctx: &RunContext,
        outputs: Outputs,
        finish: impl FnOnce(LocalRun<'_>, &RankPlan) -> Result<R>,
    ) -> Result<R> {
        if std::thread::current().id() != self.thread {
            return Err(Error::Scheduler(
                "the MPI scheduler must be used on the thread that created it (MPI runs with \
                 Threading::Funneled)"
                    .into(),
            ));
        }
        // A tag per run, so a message can never be taken for one of another run. MPI promises
        // tags up to at least 32767.
        let tag = (self.runs.get() % 32768) as Tag;
        // A budget of every addressable byte bounds nothing: it runs as none (the agreement
        // also encodes "none" as that value, so every rank must read it the same way).
        // (Nor does one of 2^63 bytes or more, which the agreement could not carry.)
        let budget = ctx.budget().filter(|&b| b < NONE as usize);
        let observed = self.agree(Ok(graph), ctx.observer().is_some(), outputs, budget)?;
        // Every rank agreed on the graph, homes included, so every rank refuses alike.
        let ranks = self.ranks.get();
        let homeless = (0..graph.len() as TaskId)
            .find_map(|t| graph.home_of(t).filter(|&h| h >= ranks).map(|h| (t, h)));
        if let Some((t, home)) = homeless {
            return Err(Error::Scheduler(format!(
                "chunk {} of {} is kept on MPI rank {home}, and this run has {ranks} ranks: \
                 compute what reads a persisted array on the ranks that persisted it",
                graph.describe_task(t),
                graph.op_names()[graph.op_of(t) as usize]
            )));
        }
        let plan = RankPlan::new(graph, self.rank.get(), self.ranks.get(), outputs);
        self.last_run.set(RunStats::default());
        // Every rank agreed on the budget, so every rank checks its steps and agrees on the
        // outcome (before anything runs).
        let flow = match budget {
            Some(b) => Some(self.agree_on(flow::budget_plan(graph, &plan, b))?),
            None => None,
        };
        let stats = Arc::new(StatsObserver::default());
        let ctx = ctx.with_observer(stats.clone());
        let run = LocalRun::with_context(graph, &ctx, self.rank.get());
        run.start(|| RunInfo {
            graph,
            scheduler: self.name(),
            tasks: graph.len(),
            local_tasks: plan.owned,
            threads: self.threads,
            rank: self.rank.get(),
            ranks: self.ranks.get(),
            budget,
        });
        let observer = ctx.observer().unwrap_or(&*stats);
        let comm = self.comm.borrow();
        let (result, peak) = exchange::run_rank(
            Peers {
                comm: &comm,
                tag,
                jitter: self.jitter.as_ref(),
            },
            &self.pool,
            &run,
            &plan,
            flow.as_ref(),
            observer,
        );
        drop(comm);
        run.end(result.is_ok());
        self.last_run.set(RunStats {
            peak_held_bytes: peak.unwrap_or(0),
            ..stats.stats()
        });
        if observed {
            self.gather_payloads(Some(observer));
        }
        result?;
        finish(run, &plan)
    }
}

impl Scheduler for MpiScheduler {
    fn name(&self) -> &str {
        "mpi"
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn ranks(&self) -> usize {
        self.ranks.get()
    }

    fn rank(&self) -> usize {
        self.rank.get()
    }

    fn delivers_to_all(&self) -> bool {
        self.gather_to_all || self.ranks.get() == 1
    }

    /// Runs this rank's share of `graph`; every rank must call it with the same graph.
    ///
    /// # Errors
    /// The first task failure on any rank (the same error everywhere); [`Error::Mpi`] if the
    /// ranks' graphs differ; [`Error::Scheduler`] if called from a thread other than the one that
    /// created the scheduler (on that rank only: the others then wait for it, as MPI programs
    /// do when one rank skips a collective call).
    fn execute_with(&self, graph: &TaskGraph, ctx: &RunContext) -> Result<Option<Vec<Arc<Chunk>>>> {
        let outputs = match self.gather_to_all {
            true => Outputs::ToAll,
            false => Outputs::ToRoot,
        };
        self.run_graph(graph, ctx, outputs, |run, plan| {
            match plan.receives_outputs {
                true => run.finish().map(Some),
                false => Ok(None),
            }
        })
    }

    /// Runs this rank's share of `graph` and keeps each output on the rank that computed it
    /// (nothing is gathered): each rank returns the outputs it holds, and every rank the same
    /// home rank of each output.
    ///
    /// # Errors
    /// As [`MpiScheduler::execute_with`].
    fn execute_kept(&self, graph: &TaskGraph, ctx: &RunContext) -> Result<Kept> {
        let rank = self.rank.get();
        self.run_graph(graph, ctx, Outputs::Kept, |run, plan| {
            let chunks = run.finish_kept()?;
            let homes: Vec<usize> = graph.outputs().iter().map(|&o| plan.owner(o)).collect();
            if let Some(i) = (0..homes.len()).find(|&i| homes[i] == rank && chunks[i].is_none()) {
                return Err(Error::internal(format!(
                    "output {i} of a kept run was computed on rank {rank} but is not here"
                )));
            }
            Ok(Kept { chunks, homes })
        })
    }

    /// Joins the agreement of the other ranks with this rank's failure, so that every rank
    /// returns the same error instead of waiting for this one.
    fn fail_before_run(&self, error: Error) -> Error {
        if std::thread::current().id() != self.thread {
            return error;
        }
        // (A failed rank's output mode does not matter: its failure is what every rank gets.)
        match self.agree(Err(&error), false, Outputs::ToRoot, None) {
            Err(e) => e,
            Ok(_) => Error::internal("the MPI agreement passed over a failed rank"),
        }
    }
}
