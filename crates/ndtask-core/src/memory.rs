//! The memory model of a task graph, known before anything runs.
//!
//! Every task's result has a size known at plan time ([`Op::block_layout`](crate::Op)); a
//! result is alive from the moment its task starts (its storage is being filled) until the
//! last task that reads it has finished, and an output stays alive to the end. Given an order
//! in which tasks start and a number of threads, the bytes alive at every moment, and so the
//! peak, follow. [`memory_order`] is the order the schedulers use: depth first from the
//! outputs (each task right after the inputs it needs, the inputs in the order the task reads
//! them), so that what a result feeds is finished, and the result freed, before unrelated work
//! starts, as Dask's `order` does.
//!
//! [`MemoryProfile::of`] simulates a run (tasks start in that order, each on the first free
//! thread once its inputs are done, taking time in proportion to the elements it processes)
//! and reports the projected peak. [`check_budget`] runs the same simulation on one thread and
//! fails, before anything runs, when some task cannot start within a budget: a scheduler that
//! starts tasks in this order and only when their result fits (the threaded scheduler under a
//! budget) then never waits for memory that nothing will free.

use crate::{Error, Result, TaskGraph, TaskId};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// The order in which tasks start: depth first from the outputs, each task after the inputs it
/// reads (in the order it reads them), then any task no output reaches, in id order. A pure
/// function of the graph, so every MPI rank computes the same order.
pub fn memory_order(graph: &TaskGraph) -> Vec<TaskId> {
    let n = graph.len();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<(TaskId, usize)> = Vec::new();
    let starts = graph
        .outputs()
        .iter()
        .copied()
        .chain(0..n as TaskId)
        .collect::<Vec<_>>();
    for root in starts {
        if placed[root as usize] {
            continue;
        }
        stack.push((root, 0));
        while let Some(&(t, next)) = stack.last() {
            let deps = graph.deps(t);
            // The next input not placed yet, if any.
            match deps[next..].iter().position(|&d| !placed[d as usize]) {
                Some(k) => {
                    let d = deps[next + k];
                    if let Some(top) = stack.last_mut() {
                        top.1 = next + k + 1;
                    }
                    // A task appears on the stack at most once: the graph is acyclic, so an
                    // input is never an ancestor on the stack.
                    stack.push((d, 0));
                }
                None => {
                    stack.pop();
                    if !placed[t as usize] {
                        placed[t as usize] = true;
                        order.push(t);
                    }
                }
            }
        }
    }
    order
}

/// The projected memory of a run: the result bytes of every task, and the peak of the bytes
/// alive under a given order and thread count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryProfile {
    /// Threads simulated.
    pub threads: usize,
    /// The most bytes of results alive at once.
    pub peak_bytes: usize,
    /// The task whose start reached the peak.
    pub peak_task: Option<TaskId>,
    /// The largest result of one task.
    pub largest_result: usize,
    /// Tasks whose result size is only known when they run (a boolean selection), counted as
    /// 0 bytes.
    pub unknown: usize,
}

/// The bytes of each task's result, 0 where the size is not known before the run.
pub fn result_bytes(graph: &TaskGraph) -> (Vec<usize>, usize) {
    let mut unknown = 0;
    let bytes = (0..graph.len() as TaskId)
        .map(|t| match graph.layout_of(t) {
            Some(l) => l.nbytes(),
            None => {
                unknown += 1;
                0
            }
        })
        .collect();
    (bytes, unknown)
}

impl MemoryProfile {
    /// Simulates a run of `graph` whose tasks start in `order` (a topological order, such as
    /// [`memory_order`]) on `threads` threads: the head of the order starts on the first free
    /// thread once its inputs are done, and a task takes time in proportion to the elements it
    /// processes ([`TaskGraph::work_of`]).
    pub fn of(graph: &TaskGraph, order: &[TaskId], threads: usize) -> Self {
        let (bytes, unknown) = result_bytes(graph);
        // The bytes alive, counted as a budget plan counts them (with no budget to check).
        let plan = BudgetPlan::new(
            bytes,
            Vec::new(),
            local_holds(graph),
            Vec::new(),
            usize::MAX,
        );
        let mut alive = plan.ledger();
        let mut done = vec![false; graph.len()];
        let mut running: BinaryHeap<Reverse<(u64, TaskId)>> = BinaryHeap::new();
        let (mut clock, mut peak, mut peak_task) = (0u64, 0usize, None);
        let threads = threads.max(1);
        let mut next = order.iter().peekable();
        loop {
            // Start the head while a thread is free and its inputs are done.
            while running.len() < threads {
                let Some(&&t) = next.peek() else { break };
                if !graph.deps(t).iter().all(|&d| done[d as usize]) {
                    break;
                }
                next.next();
                alive.hold(plan.need(t));
                if alive.held() > peak {
                    (peak, peak_task) = (alive.held(), Some(t));
                }
                let cost = graph.work_of(t).max(1) as u64;
                running.push(Reverse((clock.saturating_add(cost), t)));
            }
            let Some(Reverse((end, t))) = running.pop() else {
                break;
            };
            clock = end;
            done[t as usize] = true;
            alive.finished(graph, &plan, t);
        }
        MemoryProfile {
            threads,
            peak_bytes: peak,
            peak_task,
            largest_result: plan.largest(),
            unknown,
        }
    }
}

/// Why each result is held when one process runs all of `graph` ([`BudgetPlan::holds`]): for
/// each of its readers (and output copy), and while its task runs.
fn local_holds(graph: &TaskGraph) -> Vec<u32> {
    graph.use_counts().into_iter().map(|u| u + 1).collect()
}

/// Checks, before anything runs, that `graph` can run within `budget` bytes of live results
/// when its tasks start one at a time in `order` (see [`memory_order`]). Returns the result
/// bytes of every task ([`result_bytes`]), which a scheduler holding the budget admits tasks
/// by.
///
/// # Errors
/// [`Error::Memory`] naming the first task whose result does not fit, with its projected
/// bytes and what is alive when it would start.
pub fn check_budget(
    graph: &TaskGraph,
    order: &[TaskId],
    budget: usize,
) -> crate::Result<Vec<usize>> {
    BudgetPlan::local(graph, order, budget).map(|p| p.bytes)
}

#[doc(hidden)] // the schedulers' own: not part of the extension API
/// One step of a process's share of a run, in the memory order of the whole graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Run a task.
    Run(TaskId),
    /// Make room for the result of a task another process runs (an MPI rank's grant).
    Take(TaskId),
}

impl Step {
    /// The task of the step.
    pub fn task(self) -> TaskId {
        match self {
            Step::Run(t) | Step::Take(t) => t,
        }
    }
}

#[doc(hidden)] // the schedulers' own: not part of the extension API
/// The steps a process starts in order under a memory budget, and what the one plan-time
/// simulation of them held: the threaded scheduler and every MPI rank admit their steps by it
/// (the admission loop of `ndtask-sched`).
///
/// The simulation starts the steps one at a time, each holding its result's projected bytes
/// ([`result_bytes`]) until every reason to hold it has ended ([`Ledger`]), every send
/// completing at once. Starting the real steps in the same order, each only when it fits
/// beside what is held, can then never wait for memory that nothing will free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetPlan {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The result bytes of every task ([`result_bytes`]); empty without a budget.
    pub bytes: Vec<usize>,
    /// Why each result is held when it is made or taken ([`Ledger`]); empty without a budget.
    pub holds: Vec<u32>,
    /// Whether each task's result is sent to other processes; empty without a budget.
    pub sends: Vec<bool>,
    /// The bytes held at each step, when it starts (its own result included), in the
    /// simulation; empty without a budget (then nothing starts early).
    pub held: Vec<usize>,
    /// The budget.
    pub budget: usize,
}

#[doc(hidden)] // the schedulers' own: not part of the extension API
/// The step of a [`BudgetPlan`] that did not fit, and what was held when it would have
/// started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Misfit {
    /// Its position in the steps.
    pub at: usize,
    /// The step.
    pub step: Step,
    /// The bytes held then.
    pub held: usize,
}

impl BudgetPlan {
    /// Every task of a graph in `order`, with no budget: nothing is counted.
    pub fn unbounded(order: &[TaskId]) -> Self {
        BudgetPlan {
            steps: order.iter().map(|&t| Step::Run(t)).collect(),
            bytes: Vec::new(),
            holds: Vec::new(),
            sends: Vec::new(),
            held: Vec::new(),
            budget: usize::MAX,
        }
    }

    /// A plan of `steps` whose results have the projected sizes `bytes` ([`result_bytes`]),
    /// held and sent as `holds` and `sends` say (the fields of the same name), before its
    /// simulation ([`BudgetPlan::simulate`]).
    pub fn new(
        bytes: Vec<usize>,
        steps: Vec<Step>,
        holds: Vec<u32>,
        sends: Vec<bool>,
        budget: usize,
    ) -> Self {
        BudgetPlan {
            steps,
            bytes,
            holds,
            sends,
            held: Vec::new(),
            budget,
        }
    }

    /// One process running every task of `graph` in `order` within `budget`.
    ///
    /// # Errors
    /// As [`check_budget`].
    pub fn local(graph: &TaskGraph, order: &[TaskId], budget: usize) -> crate::Result<Self> {
        let steps = order.iter().map(|&t| Step::Run(t)).collect();
        let sends = vec![false; graph.len()];
        let mut plan = Self::new(
            result_bytes(graph).0,
            steps,
            local_holds(graph),
            sends,
            budget,
        );
        let Err(m) = plan.simulate(graph) else {
            return Ok(plan);
        };
        let (t, bytes) = (order[m.at], &plan.bytes);
        let op = graph.op_names().get(graph.op_of(t) as usize).cloned();
        Err(Error::Memory(format!(
            "the plan cannot run within the memory budget of {}: task {} on chunk {} needs {} \
             for its result while {} of other results must stay alive (the largest result of \
             one task is {}){}",
            human_bytes(budget),
            op.unwrap_or_default(),
            graph.describe_task(t),
            human_bytes(bytes[t as usize]),
            human_bytes(m.held),
            human_bytes(plan.largest()),
            held_for(graph, bytes, order, m.at),
        )))
    }

    /// Simulates the steps of the plan on one thread within its budget, every send completing
    /// at once, and records what was held at each step ([`BudgetPlan::held`]).
    ///
    /// # Errors
    /// The first step that does not fit.
    pub fn simulate(&mut self, graph: &TaskGraph) -> std::result::Result<(), Misfit> {
        let mut ledger = self.ledger();
        let mut held = Vec::with_capacity(self.steps.len());
        for (at, &step) in self.steps.iter().enumerate() {
            let t = step.task();
            if !ledger.fits(self.need(t), self.budget) {
                return Err(Misfit {
                    at,
                    step,
                    held: ledger.held,
                });
            }
            ledger.hold(self.need(t));
            held.push(ledger.held);
            if let Step::Run(t) = step {
                ledger.finished(graph, self, t);
                if self.sends_result(t) {
                    ledger.sent(self, t);
                }
            }
        }
        self.held = held;
        Ok(())
    }

    /// The largest projected result of one task.
    pub fn largest(&self) -> usize {
        self.bytes.iter().copied().max().unwrap_or(0)
    }

    /// The projected bytes of the result of `t` (0 without a budget).
    pub fn need(&self, t: TaskId) -> usize {
        self.bytes.get(t as usize).copied().unwrap_or(0)
    }

    /// Whether the result of `t` goes to other processes.
    pub fn sends_result(&self, t: TaskId) -> bool {
        self.sends.get(t as usize).copied().unwrap_or(false)
    }

    /// A ledger at the start of a run of the plan: nothing held.
    pub fn ledger(&self) -> Ledger {
        Ledger {
            held: 0,
            peak: 0,
            holds: self.holds.clone(),
            early: vec![false; self.holds.len()],
            early_held: 0,
        }
    }

    /// The first step past `head` (within [`LOOKAHEAD`]) that may start before the head does
    /// without losing the budget: its bytes, with `early` (the bytes of steps started early
    /// that the head has not reached), fit on top of what the simulation held at every step
    /// from the head up to it, and `may` (given the step's position and bytes) says it can
    /// start now (inputs done, not started yet, room for it beside what is held).
    ///
    /// What is held then stays at most what the simulation held at the head plus the early
    /// bytes (plus what is being made), so the head still fits once nothing else runs.
    pub fn early_step(
        &self,
        head: usize,
        early: usize,
        mut may: impl FnMut(usize, usize) -> bool,
    ) -> Option<usize> {
        let mut most = *self.held.get(head)?;
        for (q, &h) in self.held.iter().enumerate().skip(head + 1).take(LOOKAHEAD) {
            let n = self.need(self.steps[q].task());
            if most.saturating_add(early).saturating_add(n) <= self.budget && may(q, n) {
                return Some(q);
            }
            most = most.max(h);
        }
        None
    }
}

#[doc(hidden)] // the schedulers' own: not part of the extension API
/// How many steps past the head of its order a scheduler holding a budget may look for one to
/// start early ([`BudgetPlan::early_step`]).
pub const LOOKAHEAD: usize = 4096;

#[doc(hidden)] // the schedulers' own: not part of the extension API
/// The bytes a process holds, by the projected sizes of a [`BudgetPlan`]: in its simulation,
/// and while the plan runs.
#[derive(Debug, Clone)]
pub struct Ledger {
    held: usize,
    peak: usize,
    /// Why each result is still held: one for each use left in this process, one while its
    /// task runs here, and one until every process it goes to has it. The result is freed when
    /// none is left, in whatever order the three kinds end (a send can complete, and a reader
    /// here can finish, before the worker that ran the task has reported back).
    holds: Vec<u32>,
    /// Results of steps started early, still held, that the head has not reached.
    early: Vec<bool>,
    /// Their bytes.
    early_held: usize,
}

impl Ledger {
    /// The bytes held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// The most bytes held at once so far.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The bytes of results of steps started early that the head has not reached.
    pub fn early_held(&self) -> usize {
        self.early_held
    }

    /// Whether `need` more bytes fit in `budget`.
    pub fn fits(&self, need: usize, budget: usize) -> bool {
        self.held.saturating_add(need) <= budget
    }

    /// Holds `need` more bytes (a step starts).
    pub fn hold(&mut self, need: usize) {
        self.held = self.held.saturating_add(need);
        self.peak = self.peak.max(self.held);
    }

    /// Holds the result of `t`, a step started before the head reached it.
    pub fn hold_early(&mut self, plan: &BudgetPlan, t: TaskId) {
        self.hold(plan.need(t));
        if let Some(e) = self.early.get_mut(t as usize) {
            *e = true;
            self.early_held += plan.need(t);
        }
    }

    /// The head has reached the step of `t`: from here the simulation counts its result.
    pub fn reached(&mut self, plan: &BudgetPlan, t: TaskId) {
        if self.early.get_mut(t as usize).is_some_and(std::mem::take) {
            self.early_held -= plan.need(t);
        }
    }

    /// Task `t` has run (or failed): its inputs lose a use, and its result the hold of its
    /// run.
    pub fn finished(&mut self, graph: &TaskGraph, plan: &BudgetPlan, t: TaskId) {
        if self.holds.is_empty() {
            return;
        }
        for &d in graph.deps(t) {
            self.let_go(plan, d);
        }
        self.let_go(plan, t);
    }

    /// Every process that needs the result of `t` has it, or it will never be sent.
    pub fn sent(&mut self, plan: &BudgetPlan, t: TaskId) {
        self.let_go(plan, t);
    }

    /// One reason to hold the result of `t` has ended.
    fn let_go(&mut self, plan: &BudgetPlan, t: TaskId) {
        let Some(h) = self.holds.get_mut(t as usize) else {
            return;
        };
        if *h > 0 {
            *h -= 1;
            if *h == 0 {
                self.held = self.held.saturating_sub(plan.need(t));
                self.reached(plan, t);
            }
        }
    }
}

/// What the results alive before step `at` of `order` wait for: the ops of the tasks still to
/// run that read them, with how many results each waits on (and a hint where a rechunk is
/// among them).
fn held_for(graph: &TaskGraph, bytes: &[usize], order: &[TaskId], at: usize) -> String {
    let uses = graph.use_counts();
    let mut held = vec![false; graph.len()];
    for &d in &order[..at] {
        held[d as usize] = uses[d as usize] > 0 && bytes[d as usize] > 0;
    }
    let names = graph.op_names();
    let mut readers: BTreeMap<&str, BTreeSet<TaskId>> = Default::default();
    for &r in &order[at..] {
        let op = names[graph.op_of(r) as usize].as_str();
        for &d in graph.deps(r).iter().filter(|&&d| held[d as usize]) {
            readers.entry(op).or_default().insert(d);
        }
    }
    if readers.is_empty() {
        return String::new();
    }
    let list: Vec<String> = readers
        .iter()
        .map(|(op, ds)| match ds.len() {
            1 => format!("{op} (1 result)"),
            n => format!("{op} ({n} results)"),
        })
        .collect();
    let hint = match readers.keys().any(|op| op.starts_with("rechunk")) {
        true => {
            "; a rechunk of a computed array between very different chunkings can go \
             through a file instead (Array::rechunk_through), holding a few chunks"
        }
        false => "",
    };
    format!("; they wait to be read by {}{hint}", list.join(", "))
}

/// Bytes as B, KiB, MiB, GiB or TiB with two decimals ("7.63 MiB").
pub fn human_bytes(n: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    match u {
        0 => format!("{n} B"),
        _ => format!("{v:.2} {}", UNITS[u]),
    }
}

/// Bytes written as people write them: `1048576`, `64MiB`, `64MB`, `1.5GiB`, `512k`, `2TB`
/// (decimal units are powers of 1000, binary ones of 1024; case does not matter). The one
/// parser behind every `--memory-budget` flag and the run configuration's budget.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the text for an unknown unit, a number that is not one,
/// or a size beyond `usize`.
///
/// # Examples
/// ```
/// use ndtask_core::memory::parse_bytes;
/// assert_eq!(parse_bytes("64MiB")?, 64 << 20);
/// assert_eq!(parse_bytes("2GB")?, 2_000_000_000);
/// assert_eq!(parse_bytes("1048576")?, 1 << 20);
/// assert!(parse_bytes("12 parsecs").is_err());
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn parse_bytes(text: &str) -> Result<usize> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(Error::InvalidArgument(format!(
                "unknown unit in {text:?} (use B, kB, KiB, MB, MiB, GB, GiB, TB, TiB)"
            )))
        }
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "expected bytes like 64MiB or 1048576, got {text:?}"
        ))
    })?;
    let bytes = (v * factor).round();
    if !(0.0..usize::MAX as f64).contains(&bytes) {
        return Err(Error::InvalidArgument(format!(
            "{text:?} is not a number of bytes this machine can address"
        )));
    }
    Ok(bytes as usize)
}

/// What one op's tasks need, in a [`MemoryReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpMemory {
    /// The op's name.
    pub op: String,
    /// Its tasks.
    pub tasks: usize,
    /// The largest result of one of its tasks.
    pub largest_result: usize,
    /// The most a task of the op needs while it runs: its inputs (held for it) and its result.
    pub largest_task: usize,
}

/// The memory model of a graph ([`MemoryReport::of`]): per op, what its tasks need, and the
/// projected peak of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryReport {
    /// The run on the given number of threads, tasks starting in the memory order.
    pub profile: MemoryProfile,
    /// The peak on one thread: the smallest memory budget the graph runs within.
    pub min_budget: usize,
    /// Per op, in registration order (ops with no task left out).
    pub ops: Vec<OpMemory>,
}

impl MemoryReport {
    /// The report of `graph` run on `threads` threads.
    pub fn of(graph: &TaskGraph, threads: usize) -> Self {
        let order = memory_order(graph);
        let (bytes, _) = result_bytes(graph);
        let names = graph.op_names();
        let mut ops: Vec<OpMemory> = names
            .into_iter()
            .map(|op| OpMemory {
                op,
                tasks: 0,
                largest_result: 0,
                largest_task: 0,
            })
            .collect();
        for t in 0..graph.len() as TaskId {
            let o = &mut ops[graph.op_of(t) as usize];
            let own = bytes[t as usize];
            let inputs = graph
                .deps(t)
                .iter()
                .map(|&d| bytes[d as usize])
                .fold(0usize, usize::saturating_add);
            o.tasks += 1;
            o.largest_result = o.largest_result.max(own);
            o.largest_task = o.largest_task.max(own.saturating_add(inputs));
        }
        ops.retain(|o| o.tasks > 0);
        MemoryReport {
            profile: MemoryProfile::of(graph, &order, threads),
            min_budget: MemoryProfile::of(graph, &order, 1).peak_bytes,
            ops,
        }
    }
}

impl std::fmt::Display for MemoryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.profile;
        writeln!(
            f,
            "projected peak of live results: {} on {} thread{} ({} on one thread: the smallest \
             budget it runs within)",
            human_bytes(p.peak_bytes),
            p.threads,
            if p.threads == 1 { "" } else { "s" },
            human_bytes(self.min_budget)
        )?;
        if p.unknown > 0 {
            writeln!(
                f,
                "({} tasks make results whose size is only known when they run, counted as 0)",
                p.unknown
            )?;
        }
        for o in &self.ops {
            writeln!(
                f,
                "  {}: {} tasks, result up to {}, inputs and result up to {}",
                o.op,
                o.tasks,
                human_bytes(o.largest_result),
                human_bytes(o.largest_task)
            )?;
        }
        Ok(())
    }
}
