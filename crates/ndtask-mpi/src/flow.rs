//! Flow control under a memory budget per rank.
//!
//! Without a budget a rank sends each result as soon as it is made, and receives whatever
//! arrives. Under a budget (the run context's, `ndtask::Config::memory_budget`), every rank
//! instead follows one discipline,
//! which bounds the bytes of results it holds — its own, those waiting to be sent, and those it
//! has received or made room for — by the budget at every moment:
//!
//! 1. **Steps in the global order.** The memory order of the whole graph
//!    ([`ndtask_core::memory::memory_order`], the same on every rank) gives each rank a list of
//!    steps: *run* each task it owns, and *take* each result it receives from another rank, at
//!    the producer's place in the order. A rank starts its steps strictly in that order.
//! 2. **Admission.** A step starts only when its result's projected bytes fit in the budget with
//!    what the rank holds. Running a task holds its result until its last local reader is done
//!    and every rank it goes to has taken it. Taking a result reserves its bytes and sends the
//!    producer a *grant*; the producer sends a result to a rank only once that rank has granted
//!    it, so nothing arrives that was not made room for.
//! 3. **A plan-time check.** Before anything runs, every rank simulates its own steps on one
//!    thread, with every send completing at once ([`budget_plan`], through the one simulation
//!    every scheduler uses, [`ndtask_core::memory::BudgetPlan::simulate`]), and records what it
//!    holds at each step. When some step does not fit, every rank fails the run with the same
//!    [`Error::Memory`], naming the rank and the step.
//! 4. **Looking ahead.** A rank whose first unstarted step (its *head*) waits for a result from
//!    another rank may start a later step early ([`ndtask_core::memory::BudgetPlan::early_step`],
//!    the threaded scheduler's rule too), if its bytes, with those still held of the other steps
//!    started early and not yet reached by the head, fit on top of what the simulation holds at
//!    every step from the head up to it. Once the head passes the step, the simulation counts
//!    it itself.
//!
//! # Why it cannot stall
//! What a rank holds is at most what the simulation holds at its head, plus what it holds of
//! steps started early, plus sends and tasks in flight (which finish by themselves). Rule 4
//! keeps the simulation's bytes at the head plus those early bytes within the budget: the step
//! started early most recently checked that sum, with every early result still held (one
//! freed since is never held again), at every step up to its own. Now take the rank whose head
//! comes first in the global order. Every other rank has started all its steps before that
//! point: every result this rank needs from them has been made (or is being made), and every
//! result of its own that they need has been granted, so its sends complete. Its head therefore
//! fits once what is in flight has finished, its inputs come, and it starts: the run moves on.
//! The bound is kept on the projected sizes ([`ndtask_core::Op::block_layout`]); results whose
//! size is only known when they run (a boolean selection) count as 0 (in one process the
//! threaded scheduler checks the bytes really alive as well; a rank checks the projected sizes
//! only). Transient copies are not counted either: the contiguous copy of a strided result
//! made to send it, and the bytes of an encoded value, live only while their message is in
//! flight.
//!
//! The steps run through the admission loop every scheduler shares ([`ndtask_sched::Admit`]),
//! the rank's [`ndtask_sched::Hooks`] granting each take and reporting each result.

use crate::placement::RankPlan;
use ndtask_core::memory::{human_bytes, memory_order, result_bytes, BudgetPlan, Step};
use ndtask_core::{Error, Result, TaskGraph, TaskId};

/// The steps of `plan`'s rank in `graph` under `budget` bytes, after checking that they fit.
///
/// # Errors
/// [`Error::Memory`] naming the first step that does not fit on this rank.
pub(crate) fn budget_plan(graph: &TaskGraph, plan: &RankPlan, budget: usize) -> Result<BudgetPlan> {
    // A result is held for its uses on this rank (its consumers here, and this rank's copy
    // of an output), and for a task this rank runs, for its run and its sends.
    let sends: Vec<bool> = (0..graph.len() as TaskId)
        .map(|t| plan.owns(t) && !plan.dests(t).is_empty())
        .collect();
    let holds = graph
        .use_counts()
        .iter()
        .zip(&plan.remote_uses)
        .enumerate()
        .map(|(t, (&all, &remote))| {
            let runs = plan.owns(t as TaskId);
            all.saturating_sub(remote) + u32::from(runs) + u32::from(sends[t])
        })
        .collect();
    let steps: Vec<Step> = memory_order(graph)
        .into_iter()
        .filter_map(|t| match (plan.owns(t), plan.expects(t)) {
            (true, _) => Some(Step::Run(t)),
            (false, true) => Some(Step::Take(t)),
            (false, false) => None,
        })
        .collect();
    let mut rank = BudgetPlan::new(result_bytes(graph).0, steps, holds, sends, budget);
    let Err(m) = rank.simulate(graph) else {
        return Ok(rank);
    };
    let t = m.step.task();
    let op = &graph.op_names()[graph.op_of(t) as usize];
    let what = match m.step {
        Step::Run(_) => format!("task {op} on chunk {}", graph.describe_task(t)),
        Step::Take(_) => format!(
            "the result of task {op} on chunk {} from rank {}",
            graph.describe_task(t),
            plan.owner(t)
        ),
    };
    Err(Error::Memory(format!(
        "the plan cannot run within the memory budget of {} per rank: on MPI rank {} of {}, \
         {what} needs {} while {} of other results must stay on that rank (the largest \
         result of one task is {})",
        human_bytes(budget),
        plan.rank(),
        plan.ranks(),
        human_bytes(rank.need(t)),
        human_bytes(m.held),
        human_bytes(rank.largest()),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::Outputs;
    use ndtask_core::{Chunk, DType, Layout, Op};
    use ndtask_sched::{Admit, AfterTask, Hooks, LocalRun};
    use std::sync::Arc;
    use std::time::Duration;

    /// An op whose every block is a vector of `len` f64.
    struct Vector(&'static str, usize);
    impl Op for Vector {
        fn name(&self) -> String {
            self.0.into()
        }
        fn run(&self, _: usize, _: &[&Chunk]) -> Result<Chunk> {
            Err(Error::internal("not run"))
        }
        fn block_layout(&self, _: usize) -> Option<Layout> {
            Some(Layout::array(DType::F64, vec![self.1]))
        }
        fn block_elements(&self, _: usize) -> usize {
            self.1
        }
    }

    /// `n` chunks of 1000 f64 (8000 bytes), each mapped, then a reduction with fan-in 2 of
    /// 1-element partials.
    fn mapped_sum(n: usize) -> TaskGraph {
        let mut g = TaskGraph::new();
        let src = g.add_op(Arc::new(Vector("src", 1000)));
        let map = g.add_op(Arc::new(Vector("map", 1000)));
        let part = g.add_op(Arc::new(Vector("partial", 1)));
        let comb = g.add_op(Arc::new(Vector("combine", 1)));
        let level: Vec<TaskId> = (0..n)
            .map(|b| {
                let s = g.add_task(src, b, &[]).unwrap();
                let m = g.add_task(map, b, &[s]).unwrap();
                g.add_task(part, b, &[m]).unwrap()
            })
            .collect();
        crate::placement::tests::combine_to_one(g, comb, level)
    }

    fn flows(g: &TaskGraph, ranks: usize, budget: usize) -> Vec<Result<BudgetPlan>> {
        (0..ranks)
            .map(|r| budget_plan(g, &RankPlan::new(g, r, ranks, Outputs::ToRoot), budget))
            .collect()
    }

    #[test]
    fn each_rank_runs_its_tasks_and_takes_what_it_receives() {
        let g = mapped_sum(8);
        for ranks in 1..=5 {
            let mut runs = 0;
            for (r, flow) in flows(&g, ranks, usize::MAX).into_iter().enumerate() {
                let flow = flow.unwrap();
                let plan = RankPlan::new(&g, r, ranks, Outputs::ToRoot);
                let run = flow
                    .steps
                    .iter()
                    .filter(|s| matches!(s, Step::Run(_)))
                    .count();
                let take = flow.steps.len() - run;
                assert_eq!((run, take), (plan.owned, plan.expected_count));
                runs += run;
            }
            assert_eq!(runs, g.len());
        }
    }

    #[test]
    fn a_result_is_held_for_its_readers_here_its_run_and_its_sends() {
        let g = mapped_sum(8);
        let (off, ids) = g.consumers();
        let output = g.len() as TaskId - 1; // the last combine
        let mut crossing = 0;
        for r in 0..3 {
            let plan = RankPlan::new(&g, r, 3, Outputs::ToRoot);
            let flow = budget_plan(&g, &plan, usize::MAX).unwrap();
            for t in 0..output {
                let readers = &ids[off[t as usize] as usize..off[t as usize + 1] as usize];
                let here = readers.iter().filter(|&&c| plan.owns(c)).count() as u32;
                let want = match (plan.owns(t), plan.dests(t).is_empty(), plan.expects(t)) {
                    (true, false, _) => {
                        crossing += 1;
                        here + 2
                    }
                    (true, true, _) => here + 1,
                    (false, _, true) => here,
                    (false, _, false) => continue,
                };
                assert_eq!(flow.holds[t as usize], want, "rank {r}, task {t}");
            }
        }
        assert!(crossing > 0, "some results go to other ranks");
    }

    #[test]
    fn the_check_holds_a_source_and_its_map_at_once() {
        let g = mapped_sum(8);
        // A source and its mapped chunk (16000 bytes) and a few partials must fit; one
        // chunk's bytes are not enough.
        for ranks in [1, 2, 3] {
            assert!(
                flows(&g, ranks, 16_100).iter().all(Result::is_ok),
                "{ranks}"
            );
            for flow in flows(&g, ranks, 15_999).into_iter().take(1) {
                let e = flow.unwrap_err().to_string();
                assert!(e.contains("task map on chunk"), "{e}");
                assert!(e.contains(&format!("on MPI rank 0 of {ranks}")), "{e}");
            }
        }
    }

    #[test]
    fn a_received_result_counts_from_its_grant_to_its_last_use() {
        // Two sources of 1000 f64 on two ranks, added on rank 0: rank 0 takes rank 1's chunk
        // while it holds its own, so it needs both and the sum.
        let mut g = TaskGraph::new();
        let src = g.add_op(Arc::new(Vector("src", 1000)));
        let add = g.add_op(Arc::new(Vector("add", 1000)));
        let a = g.add_task(src, 0, &[]).unwrap();
        let b = g.add_task(src, 1, &[]).unwrap();
        let s = g.add_task(add, 0, &[a, b]).unwrap();
        g.set_outputs(vec![s]);
        let plan = |r| RankPlan::new(&g, r, 2, Outputs::ToRoot);
        let owner = plan(0).owner(s);
        let (here, there) = (owner, 1 - owner);
        assert!(budget_plan(&g, &plan(here), 24_000).is_ok());
        let e = budget_plan(&g, &plan(here), 23_999)
            .unwrap_err()
            .to_string();
        assert!(e.contains("task add"), "{e}");
        // The other rank holds only its chunk (sent at once, in the check).
        let other = budget_plan(&g, &plan(there), 8000).unwrap();
        assert_eq!(other.steps, [Step::Run(if there == 0 { a } else { b })]);
        // A take that does not fit is named as one: rank 0 holds its chunk `a` (for `pair`)
        // when it takes rank 1's reduced `f` of 8 bytes.
        let mut g2 = TaskGraph::new();
        let src = g2.add_op(Arc::new(Vector("src", 1000)));
        let tiny = g2.add_op(Arc::new(Vector("first", 1)));
        let a = g2.add_task(src, 0, &[]).unwrap();
        let b = g2.add_task(src, 1, &[]).unwrap();
        let f = g2.add_task(tiny, 0, &[b]).unwrap();
        let pair = g2.add_task(tiny, 1, &[a, f]).unwrap();
        g2.set_outputs(vec![pair]);
        let p0 = RankPlan::new(&g2, 0, 2, Outputs::ToRoot);
        assert!(p0.owns(a) && p0.owns(pair) && p0.expects(f));
        let e = budget_plan(&g2, &p0, 8000).unwrap_err().to_string();
        assert!(e.contains("the result of task first on chunk"), "{e}");
        assert!(e.contains("from rank 1"), "{e}");
        assert!(budget_plan(&g2, &p0, 8016).is_ok());
    }

    /// An op that makes a vector of 1000 zeros per block, each block on the rank `homes` says
    /// (free where it says nothing).
    struct Made(&'static str, Vec<usize>);
    impl Op for Made {
        fn name(&self) -> String {
            self.0.into()
        }
        fn run(&self, _: usize, _: &[&Chunk]) -> Result<Chunk> {
            Ok(Chunk::F64(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1000]))))
        }
        fn block_layout(&self, _: usize) -> Option<Layout> {
            Some(Layout::array(DType::F64, vec![1000]))
        }
        fn block_home(&self, block: usize) -> Option<usize> {
            self.1.get(block).copied()
        }
    }

    enum Seen {
        Ran,
        Took(TaskId),
    }

    struct Record(std::sync::mpsc::Sender<Seen>);
    impl AfterTask for Record {
        fn after_task(&self, _: TaskId, _: Option<&Arc<Chunk>>, _: &mut Vec<TaskId>) {
            let _ = self.0.send(Seen::Ran);
        }
    }
    impl Hooks for Record {
        fn remote_inputs(&self) -> bool {
            true
        }
        fn take(&self, t: TaskId) {
            let _ = self.0.send(Seen::Took(t));
        }
    }

    /// Rank 0's first task waits for a result from rank 1 that comes only once rank 0 has
    /// nothing else to do: it runs the later steps early meanwhile, as far as the budget lets
    /// it, and never holds more than the budget.
    #[test]
    fn a_rank_runs_later_steps_while_its_head_waits() {
        let mut g = TaskGraph::new();
        let pinned = g.add_op(Arc::new(Made("pinned", vec![0, 1])));
        let add = g.add_op(Arc::new(Made("add", vec![])));
        let local = g.add_op(Arc::new(Made("local", vec![0; 20])));
        let map = g.add_op(Arc::new(Made("map", vec![])));
        let here = g.add_task(pinned, 0, &[]).unwrap();
        let there = g.add_task(pinned, 1, &[]).unwrap();
        let first = g.add_task(add, 0, &[here, there]).unwrap();
        let mut outputs = vec![first];
        for b in 0..20 {
            let q = g.add_task(local, b, &[]).unwrap();
            outputs.push(g.add_task(map, b, &[q]).unwrap());
        }
        g.set_outputs(outputs);
        let plan = RankPlan::new(&g, 0, 2, Outputs::ToRoot);
        assert_eq!(plan.owner(first), 0);
        // Ran before rank 1's result came, and the most held.
        let case = |budget: usize| {
            let flow = budget_plan(&g, &plan, budget).unwrap();
            assert_eq!(
                flow.steps[..3],
                [Step::Run(here), Step::Take(there), Step::Run(first)]
            );
            let run = LocalRun::new(&g);
            for (t, &n) in plan.remote_uses.iter().enumerate() {
                run.drop_uses(t as TaskId, n);
            }
            let (tx, rx) = std::sync::mpsc::channel();
            let admit = Admit::new(&run, &flow, 1, Record(tx));
            let (mut took, mut ran, mut before, mut sent) = (Vec::new(), 0, 0, false);
            std::thread::scope(|s| {
                s.spawn(|| admit.work());
                // Play rank 1: send its result once rank 0 has stopped for 200 ms.
                loop {
                    match rx.recv_timeout(Duration::from_millis(200)) {
                        Ok(Seen::Took(t)) => took.push(t),
                        Ok(Seen::Ran) => {
                            ran += 1;
                            if ran == plan.owned {
                                break;
                            }
                        }
                        Err(_) if !sent => {
                            before = ran;
                            sent = true;
                            let zeros = ndarray::ArrayD::zeros(ndarray::IxDyn(&[1000]));
                            run.provide(there, Arc::new(Chunk::F64(zeros)), &mut Vec::new());
                            admit.notify();
                        }
                        Err(_) => break,
                    }
                }
                // (Ends the worker whatever happened, so a failure cannot hang the test.)
                run.fail(TaskId::MAX, Error::Cancelled);
                admit.notify();
            });
            assert_eq!(took, [there]);
            assert_eq!(ran, plan.owned, "every task ran");
            assert_eq!(admit.outstanding(), 0);
            assert!(admit.peak() <= budget, "{} > {budget}", admit.peak());
            before
        };
        // With room for everything, all 40 later tasks run while the head waits (its own
        // input `here` ran first); with less, fewer do.
        assert_eq!(case(100 * 8000), 41);
        let fewer = case(30 * 8000);
        assert!((1..41).contains(&fewer), "{fewer}");
    }

    #[test]
    fn the_ledger_keeps_a_result_until_it_is_sent_used_and_reported_in_any_order() {
        let g = mapped_sum(2);
        let plan = RankPlan::new(&g, 0, 1, Outputs::ToRoot);
        let flow = budget_plan(&g, &plan, usize::MAX).unwrap();
        // Task 0 (the source) is read here by task 1 (its map) and also goes to another rank:
        // three holds (the read, its run, its send), ending in any order.
        #[derive(Clone, Copy, Debug)]
        enum Event {
            ReaderDone,
            SourceDone,
            Sent,
        }
        use Event::*;
        let orders = [
            [ReaderDone, SourceDone, Sent],
            [ReaderDone, Sent, SourceDone],
            [SourceDone, ReaderDone, Sent],
            [SourceDone, Sent, ReaderDone],
            [Sent, ReaderDone, SourceDone],
            [Sent, SourceDone, ReaderDone],
        ];
        for order in orders {
            let mut flow = flow.clone();
            (flow.holds[0], flow.holds[1]) = (3, 1);
            let mut l = flow.ledger();
            l.hold(8000); // the source
            l.hold(8000); // the map, started once the source was provided
            for (i, &event) in order.iter().enumerate() {
                match event {
                    ReaderDone => l.finished(&g, &flow, 1),
                    SourceDone => l.finished(&g, &flow, 0),
                    Sent => l.sent(&flow, 0),
                }
                let map = if i >= order.iter().position(|e| matches!(e, ReaderDone)).unwrap() {
                    0
                } else {
                    8000
                };
                let source = if i < 2 { 8000 } else { 0 };
                assert_eq!(l.held(), source + map, "{order:?} after {event:?}");
            }
            l.sent(&flow, 0); // a late notice changes nothing
            assert_eq!((l.held(), l.peak()), (0, 16_000), "{order:?}");
        }
    }
}
