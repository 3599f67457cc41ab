//! Where each task runs, and what one rank therefore sends and waits for. Every rank computes
//! this from the same graph with the same rules, so all ranks agree on it without talking.
//!
//! The rules: a task that only one rank can run ([`TaskGraph::home_of`]: a chunk of a persisted
//! array, kept on the rank that computed it) runs there. The other source tasks (no dependencies)
//! of each operation are split over the ranks in contiguous, balanced blocks, so block `i` of `n`
//! goes to rank `i * ranks / n`; two arrays with the same chunking therefore put matching chunks on
//! the same rank. Operations of a single task that is a source (independent `delayed` calls,
//! one-chunk arrays) are split together, in task order, as if they were one operation. Every other
//! task runs where its largest input ran (by elements, [`TaskGraph::elements_of`]; the first of
//! equals), so element-wise work stays with its chunks whatever the operand order, and a small
//! input — a reduced scalar or row broadcast against the chunks — travels to the work instead of
//! pulling the work to the rank that holds it (`y.mean() - y` and `y - y.mean()` place alike). A
//! task whose inputs are of one size but on several ranks (a reduction's combine) is spread over
//! the ranks like sources, so no rank combines more than its share; a full reduction moves only
//! small partial states between ranks. A task that makes far more than it reads (a broadcast of a
//! reduced scalar or row to a chunk) runs on the rank of the task that consumes it, so only its
//! small input crosses the network; one that *processes* far more than it reads (a fused kernel
//! that makes its chunk from a source and reads only a broadcast scalar or row) is spread like a
//! source.

use ndtask_core::{TaskGraph, TaskId};

/// A task that computes more than this many times the elements it reads is a broadcast: it is
/// placed with the task that consumes it (see [`Placement::new`]).
const EXPANDS: usize = 4;

/// The owner rank of every task of a graph.
///
/// # Examples
/// ```
/// use ndtask_mpi::Placement;
/// let x = ndtask_array::arange(0i64, 8, 1, 2)?; // 4 chunks
/// let graph = x.sum().task_graph()?;
/// let p = Placement::new(&graph, 2);
/// // The 4 chunk tasks come first: two per rank.
/// assert_eq!((0..4).map(|t| p.owner(t)).collect::<Vec<_>>(), [0, 0, 1, 1]);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    ranks: usize,
    owner: Vec<u32>,
}

impl Placement {
    /// Places the tasks of `graph` on `ranks` ranks (at least 1).
    pub fn new(graph: &TaskGraph, ranks: usize) -> Self {
        let ranks = ranks.max(1);
        let n = graph.len();
        let ops = graph.tasks_per_op().len();
        // Sources per op, to size each op's blocks.
        let mut roots_of_op = vec![0usize; ops];
        for t in 0..n as TaskId {
            if graph.deps(t).is_empty() {
                roots_of_op[graph.op_of(t) as usize] += 1;
            }
        }
        let mut seen_of_op = vec![0usize; ops];
        let mut tasks_of_op = vec![0usize; ops];
        let mut index_in_op = vec![0usize; n];
        for t in 0..n as TaskId {
            let op = graph.op_of(t) as usize;
            index_in_op[t as usize] = tasks_of_op[op];
            tasks_of_op[op] += 1;
        }
        // Block `i` of `count` of an op, on `i * ranks / count` (`i < count`, so the result is
        // below `ranks` and fits u32 when `ranks` does).
        let spread = |i: usize, count: usize| (i * ranks / count.max(1)) as u32;
        // Ops of one task that is a source (independent delayed calls, one-chunk arrays) are
        // spread together, as if they were one op: otherwise every one of them is block 0 of
        // its op, and all would run on rank 0.
        // (A task with a home is placed there, and takes no share of the spread.)
        let homes: Vec<Option<usize>> = (0..n as TaskId).map(|t| graph.home_of(t)).collect();
        let mut homed_op = vec![false; ops];
        for t in (0..n).filter(|&t| homes[t].is_some()) {
            homed_op[graph.op_of(t as TaskId) as usize] = true;
        }
        let single = |op: usize| tasks_of_op[op] == 1 && roots_of_op[op] == 1 && !homed_op[op];
        let singles = (0..ops).filter(|&op| single(op)).count();
        let mut singles_seen = 0;
        // Every task's size, asked of its op once.
        let elements: Vec<usize> = (0..n as TaskId).map(|t| graph.elements_of(t)).collect();
        let mut owner: Vec<Option<u32>> = vec![None; n];
        for t in 0..n as TaskId {
            if let Some(home) = homes[t as usize] {
                owner[t as usize] = Some(home.min(ranks - 1) as u32);
                continue;
            }
            let deps = graph.deps(t);
            if deps.is_empty() {
                let op = graph.op_of(t) as usize;
                owner[t as usize] = Some(match single(op) {
                    true => {
                        singles_seen += 1;
                        spread(singles_seen - 1, singles)
                    }
                    false => {
                        seen_of_op[op] += 1;
                        spread(seen_of_op[op] - 1, roots_of_op[op])
                    }
                });
                continue;
            }
            // A task that makes far more than it reads (broadcasting a reduced scalar or row to
            // a chunk) is placed with its consumer, later: its small input travels to the work.
            let read: usize = deps.iter().map(|&d| elements[d as usize]).sum();
            if elements[t as usize] > EXPANDS * read.max(1) {
                continue;
            }
            // A task that processes far more than it reads (a fused kernel that makes its
            // chunk from a source and only reads a broadcast scalar or row, as a recomputed
            // `x - x.mean()` does) is spread over the ranks like a source.
            if graph.work_of(t) > EXPANDS * read.max(1) {
                let op = graph.op_of(t) as usize;
                owner[t as usize] = Some(spread(index_in_op[t as usize], tasks_of_op[op]));
                continue;
            }
            let placed: Vec<(usize, u32)> = deps
                .iter()
                .filter_map(|&d| owner[d as usize].map(|o| (elements[d as usize], o)))
                .collect();
            // Inputs of one size from several ranks (a reduction's combine): spread the op's
            // tasks over the ranks like sources, so no rank combines more than its share.
            let spread_out = placed.len() > 1
                && placed.iter().all(|p| p.0 == placed[0].0)
                && placed.iter().any(|p| p.1 != placed[0].1);
            owner[t as usize] = if spread_out {
                let op = graph.op_of(t) as usize;
                Some(spread(index_in_op[t as usize], tasks_of_op[op]))
            } else {
                // Where its largest placed input is, the first among equals.
                placed
                    .into_iter()
                    .reduce(|a, b| if b.0 > a.0 { b } else { a })
                    .map(|(_, o)| o)
            };
        }
        // The tasks left: on the rank of their first consumer (every consumer has a larger id,
        // so it is placed by now), or spread like sources when nothing consumes them.
        let (cons_off, cons) = graph.consumers();
        for t in (0..n).rev() {
            if owner[t].is_none() {
                let first = cons[cons_off[t] as usize..cons_off[t + 1] as usize].first();
                let op = graph.op_of(t as TaskId) as usize;
                owner[t] = Some(match first {
                    Some(&c) => owner[c as usize].unwrap_or(0),
                    None => spread(index_in_op[t], tasks_of_op[op]),
                });
            }
        }
        let owner = owner.into_iter().map(|o| o.unwrap_or(0)).collect();
        Placement { ranks, owner }
    }

    /// The number of ranks.
    pub fn ranks(&self) -> usize {
        self.ranks
    }

    /// The rank that runs task `t`.
    pub fn owner(&self, t: TaskId) -> usize {
        self.owner[t as usize] as usize
    }

    /// How many tasks each rank runs.
    pub fn tasks_per_rank(&self) -> Vec<usize> {
        let mut n = vec![0; self.ranks];
        self.owner.iter().for_each(|&o| n[o as usize] += 1);
        n
    }
}

/// Where a run's outputs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outputs {
    /// To rank 0.
    ToRoot,
    /// To every rank.
    ToAll,
    /// Nowhere: each stays on the rank that computed it (`persist`).
    Kept,
}

/// What one rank does in one run: the tasks it owns, where each of their results goes, what it
/// receives, and which uses of each result happen elsewhere.
#[derive(Debug)]
pub(crate) struct RankPlan {
    rank: usize,
    placement: Placement,
    /// Owned sources, in the memory order.
    pub(crate) roots: Vec<TaskId>,
    /// Number of owned tasks.
    pub(crate) owned: usize,
    /// For each task, the ranks its result is sent to (`dest_ids[dest_off[t]..dest_off[t + 1]]`);
    /// empty for tasks this rank does not own.
    dest_off: Vec<u32>,
    dest_ids: Vec<u32>,
    /// Tasks run elsewhere whose results this rank receives.
    expected: Vec<bool>,
    /// Number of such tasks.
    pub(crate) expected_count: usize,
    /// For each task, the uses of its result that do not happen on this rank.
    pub(crate) remote_uses: Vec<u32>,
    /// Whether this rank receives the outputs.
    pub(crate) receives_outputs: bool,
}

impl RankPlan {
    /// The plan of `rank` among `ranks`, with the outputs going where `outputs` says.
    pub(crate) fn new(graph: &TaskGraph, rank: usize, ranks: usize, outputs: Outputs) -> Self {
        let placement = Placement::new(graph, ranks);
        let n = graph.len();
        let (cons_off, cons) = graph.consumers();
        let mut out_uses = vec![0u32; n];
        graph
            .outputs()
            .iter()
            .for_each(|&o| out_uses[o as usize] += 1);
        // Whether rank `r` receives output task `t`'s result.
        let receives = |r: usize, t: TaskId| match outputs {
            Outputs::ToRoot => r == 0,
            Outputs::ToAll => true,
            Outputs::Kept => placement.owner(t) == r,
        };
        let use_counts = graph.use_counts();

        let mut plan = RankPlan {
            rank,
            roots: Vec::new(),
            owned: 0,
            dest_off: Vec::with_capacity(n + 1),
            dest_ids: Vec::new(),
            expected: vec![false; n],
            expected_count: 0,
            remote_uses: vec![0; n],
            receives_outputs: match outputs {
                Outputs::ToRoot => rank == 0,
                Outputs::ToAll => true,
                Outputs::Kept => false,
            },
            placement: placement.clone(),
        };
        plan.dest_off.push(0);
        let mut dests: Vec<u32> = Vec::new();
        for t in 0..n as TaskId {
            let consumers = &cons[cons_off[t as usize] as usize..cons_off[t as usize + 1] as usize];
            let owner_of = |c: TaskId| plan.placement.owner(c);
            let mut local = consumers.iter().filter(|&&c| owner_of(c) == rank).count() as u32;
            if receives(rank, t) {
                local += out_uses[t as usize];
            }
            plan.remote_uses[t as usize] = use_counts[t as usize] - local;
            if owner_of(t) == rank {
                plan.owned += 1;
                if graph.deps(t).is_empty() {
                    plan.roots.push(t);
                }
                dests.clear();
                dests.extend(consumers.iter().map(|&c| owner_of(c) as u32));
                if out_uses[t as usize] > 0 {
                    dests.extend((0..ranks as u32).filter(|&r| receives(r as usize, t)));
                }
                dests.sort_unstable();
                dests.dedup();
                plan.dest_ids
                    .extend(dests.iter().filter(|&&d| d as usize != rank));
            } else if local > 0 {
                plan.expected[t as usize] = true;
                plan.expected_count += 1;
            }
            plan.dest_off.push(plan.dest_ids.len() as u32);
        }
        // Sources start in the memory order, as on one process, so what a source feeds is
        // finished (and freed) before unrelated sources start.
        let mut position = vec![0u32; n];
        for (i, &t) in ndtask_core::memory::memory_order(graph).iter().enumerate() {
            position[t as usize] = i as u32;
        }
        plan.roots.sort_by_key(|&t| position[t as usize]);
        plan
    }

    /// This rank.
    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub(crate) fn ranks(&self) -> usize {
        self.placement.ranks()
    }

    /// Whether this rank runs task `t` (false for an id outside the graph).
    pub(crate) fn owns(&self, t: TaskId) -> bool {
        self.placement
            .owner
            .get(t as usize)
            .is_some_and(|&o| o as usize == self.rank)
    }

    /// The rank that runs task `t`.
    pub(crate) fn owner(&self, t: TaskId) -> usize {
        self.placement.owner(t)
    }

    /// The ranks the result of owned task `t` is sent to.
    pub(crate) fn dests(&self, t: TaskId) -> &[u32] {
        &self.dest_ids[self.dest_off[t as usize] as usize..self.dest_off[t as usize + 1] as usize]
    }

    /// Whether this rank receives the result of task `t` from its owner.
    pub(crate) fn expects(&self, t: TaskId) -> bool {
        self.expected.get(t as usize).copied().unwrap_or(false)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ndtask_core::{Chunk, Op, Result};
    use std::sync::Arc;

    struct Named(&'static str);
    impl Op for Named {
        fn name(&self) -> String {
            self.0.into()
        }
        fn run(&self, _: usize, _: &[&Chunk]) -> Result<Chunk> {
            Ok(Chunk::I64(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1]))))
        }
    }

    /// `n` sources, then a tree reduction with fan-in 2; the root is the only output.
    fn reduction(n: usize) -> TaskGraph {
        let mut g = TaskGraph::new();
        let src = g.add_op(Arc::new(Named("src")));
        let comb = g.add_op(Arc::new(Named("combine")));
        let level: Vec<TaskId> = (0..n).map(|b| g.add_task(src, b, &[]).unwrap()).collect();
        combine_to_one(g, comb, level)
    }

    /// Combines `level` with tasks of op `comb`, in pairs, until one is left: the graph's only
    /// output.
    pub(crate) fn combine_to_one(mut g: TaskGraph, comb: u32, mut level: Vec<TaskId>) -> TaskGraph {
        while level.len() > 1 {
            level = level
                .chunks(2)
                .enumerate()
                .map(|(b, pair)| g.add_task(comb, b, pair).unwrap())
                .collect();
        }
        g.set_outputs(level);
        g
    }

    /// An op whose blocks must run on given ranks (a persisted array's kept chunks).
    struct Homed(Vec<usize>);
    impl ndtask_core::Op for Homed {
        fn name(&self) -> String {
            "homed".into()
        }
        fn run(
            &self,
            _: usize,
            _: &[&ndtask_core::Chunk],
        ) -> ndtask_core::Result<ndtask_core::Chunk> {
            Err(ndtask_core::Error::internal("not run"))
        }
        fn block_home(&self, block: usize) -> Option<usize> {
            self.0.get(block).copied()
        }
    }

    /// Tasks with a home run there, and what reads them follows them.
    #[test]
    fn tasks_with_a_home_run_there() {
        let mut g = TaskGraph::new();
        let kept = g.add_op(Arc::new(Homed(vec![2, 2, 0, 1])));
        let map = g.add_op(Arc::new(Named("map")));
        let chunks: Vec<TaskId> = (0..4).map(|b| g.add_task(kept, b, &[]).unwrap()).collect();
        let outs: Vec<TaskId> = chunks
            .iter()
            .enumerate()
            .map(|(b, &c)| g.add_task(map, b, &[c]).unwrap())
            .collect();
        g.set_outputs(outs.clone());
        let p = Placement::new(&g, 3);
        let homes: Vec<usize> = chunks.iter().map(|&t| p.owner(t)).collect();
        assert_eq!(homes, [2, 2, 0, 1]);
        let maps: Vec<usize> = outs.iter().map(|&t| p.owner(t)).collect();
        assert_eq!(maps, homes);
        // A home beyond the ranks (a plan made for more ranks) is clamped, not out of range.
        assert_eq!(Placement::new(&g, 2).owner(chunks[0]), 1);
    }

    /// Independent one-task sources (delayed calls), each its own op, with one consumer each.
    #[test]
    fn single_task_sources_are_spread_together() {
        let mut g = TaskGraph::new();
        let map = g.add_op(Arc::new(Named("map")));
        let mut outs = Vec::new();
        for _ in 0..6 {
            let op = g.add_op(Arc::new(Named("delayed")));
            let t = g.add_task(op, 0, &[]).unwrap();
            outs.push(g.add_task(map, outs.len(), &[t]).unwrap());
        }
        g.set_outputs(outs.clone());
        let p = Placement::new(&g, 3);
        let sources: Vec<usize> = (0..6).map(|k| p.owner(2 * k)).collect();
        assert_eq!(sources, [0, 0, 1, 1, 2, 2]);
        // Each consumer stays with its input.
        assert!(outs.iter().all(|&o| p.owner(o) == p.owner(o - 1)));
    }

    #[test]
    fn sources_are_split_in_balanced_contiguous_blocks() {
        let g = reduction(10);
        let p = Placement::new(&g, 3);
        let owners: Vec<usize> = (0..10).map(|t| p.owner(t)).collect();
        assert_eq!(owners, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
        assert_eq!(p.tasks_per_rank().iter().sum::<usize>(), g.len());
    }

    #[test]
    fn combines_are_spread_over_the_ranks() {
        let g = reduction(16);
        let p = Placement::new(&g, 4);
        // Layers of 8, 4, 2 and 1 combines: each layer's combines spread like sources.
        let layer1: Vec<usize> = (16..24).map(|t| p.owner(t)).collect();
        assert_eq!(layer1, [0, 0, 1, 1, 2, 2, 3, 3]);
        let layer2: Vec<usize> = (24..28).map(|t| p.owner(t)).collect();
        assert_eq!(layer2, [0, 1, 2, 3]);
        // A combine whose inputs sit on one rank stays there.
        let g = reduction(8);
        let p = Placement::new(&g, 2);
        assert_eq!(p.owner(8), p.owner(0));
    }

    #[test]
    fn a_full_reduction_sends_only_partials_to_rank_0() {
        let g = reduction(8);
        let ranks = 4;
        let plans: Vec<RankPlan> = (0..ranks)
            .map(|r| RankPlan::new(&g, r, ranks, Outputs::ToRoot))
            .collect();
        // Chunks never move; only combines cross ranks, each once.
        let sent: usize = plans
            .iter()
            .map(|p| {
                (0..g.len() as TaskId)
                    .map(|t| p.dests(t).len())
                    .sum::<usize>()
            })
            .sum();
        let received: usize = plans.iter().map(|p| p.expected_count).sum();
        assert_eq!(sent, received);
        // Only combine inputs and the result move: at most 2 per combine of the 7, plus the
        // root to rank 0.
        assert!(sent <= 7 * 2 + 1, "{sent}");
        for t in 0..8 {
            assert!(plans.iter().all(|p| p.dests(t).is_empty()));
        }
    }

    #[test]
    fn sends_and_receives_match_for_every_rank_count() {
        for n in [1, 2, 5, 9] {
            let g = reduction(n);
            for ranks in 1..=12 {
                for outputs in [Outputs::ToRoot, Outputs::ToAll, Outputs::Kept] {
                    let plans: Vec<RankPlan> = (0..ranks)
                        .map(|r| RankPlan::new(&g, r, ranks, outputs))
                        .collect();
                    for t in 0..g.len() as TaskId {
                        let owner = plans[0].owner(t);
                        let dests = plans[owner].dests(t);
                        for (r, p) in plans.iter().enumerate() {
                            assert_eq!(
                                p.expects(t),
                                dests.contains(&(r as u32)),
                                "n {n} ranks {ranks} task {t} rank {r}"
                            );
                        }
                    }
                    let owned: usize = plans.iter().map(|p| p.owned).sum();
                    assert_eq!(owned, g.len());
                    let out = g.outputs()[0];
                    for (r, p) in plans.iter().enumerate() {
                        // The ranks that receive outputs hold the output; the others only if
                        // they computed it. Kept outputs go nowhere.
                        let receives = match outputs {
                            Outputs::ToRoot => r == 0,
                            Outputs::ToAll => true,
                            Outputs::Kept => false,
                        };
                        assert_eq!(p.expects(out), receives && !p.owns(out));
                        if outputs == Outputs::Kept {
                            assert!(p.dests(out).is_empty() || g.len() > 1);
                        }
                    }
                }
            }
        }
    }

    /// Tasks per rank of an expression on `ranks` ranks.
    fn per_rank<C: ndtask_array::Collection>(c: &C, ranks: usize) -> Vec<usize> {
        Placement::new(
            &ndtask_array::Config::default().task_graph(c).unwrap(),
            ranks,
        )
        .tasks_per_rank()
    }

    /// Whether every rank's task count is within `tol` of the mean.
    fn balanced(counts: &[usize], tol: f64) -> bool {
        let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
        counts
            .iter()
            .all(|&c| (c as f64 - mean).abs() <= tol * mean)
    }

    /// The issue's cases: operand order must not decide where the element-wise work runs.
    #[test]
    fn broadcast_inputs_travel_to_the_work() {
        let y = ndtask_array::random::uniform::<f64>([4000, 4000], [500, 500], 1).unwrap();
        let mean = y.mean().into_array();
        let col = y.mean_axis(0).unwrap();
        let cases = [
            ("y.mean() - y", per_rank(&(&mean - &y), 4)),
            ("y - y.mean()", per_rank(&(&y - &mean), 4)),
            ("x.mean(axis 0) - x", per_rank(&(&col - &y), 4)),
            (
                "((x - x.mean())^2).mean()",
                per_rank(&(&(&y - &mean) * &(&y - &mean)).mean(), 4),
            ),
        ];
        for (name, counts) in &cases {
            assert!(balanced(counts, 0.10), "{name}: {counts:?}");
        }
        assert_eq!(cases[0].1, cases[1].1);
        for ranks in [2, 3, 8] {
            let c = per_rank(&(&mean - &y), ranks);
            assert!(balanced(&c, 0.15), "{ranks} ranks: {c:?}");
        }
    }

    #[test]
    fn more_ranks_than_sources_leaves_ranks_idle() {
        let g = reduction(2);
        let p = Placement::new(&g, 5);
        assert_eq!(p.tasks_per_rank(), [2, 0, 1, 0, 0]);
    }
}
