//! Where each task runs, and what one rank therefore sends and waits for. Every rank computes
//! this from the same graph with the same rules, so all ranks agree on it without talking.
//!
//! The rules: the source tasks (no dependencies) of each operation are split over the ranks in
//! contiguous, balanced blocks, so block `i` of `n` goes to rank `i * ranks / n`; two arrays with
//! the same chunking therefore put matching chunks on the same rank. Every other task runs where
//! its first dependency ran, so a reduction's combine sits next to its first partial and a full
//! reduction moves only small partial states between ranks.

use ndtask_core::{TaskGraph, TaskId};

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
        let mut owner = vec![0u32; n];
        for t in 0..n as TaskId {
            owner[t as usize] = match graph.deps(t).first() {
                Some(&d) => owner[d as usize],
                None => {
                    let op = graph.op_of(t) as usize;
                    let i = seen_of_op[op];
                    seen_of_op[op] += 1;
                    // i < roots_of_op[op], so the result is < ranks and fits u32 when ranks does.
                    (i * ranks / roots_of_op[op]) as u32
                }
            };
        }
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

/// What one rank does in one run: the tasks it owns, where each of their results goes, what it
/// receives, and which uses of each result happen elsewhere.
#[derive(Debug)]
pub(crate) struct RankPlan {
    rank: usize,
    placement: Placement,
    /// Owned sources, in id order.
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
    /// The plan of `rank` among `ranks`; outputs go to rank 0, or to every rank when
    /// `gather_to_all`.
    pub(crate) fn new(graph: &TaskGraph, rank: usize, ranks: usize, gather_to_all: bool) -> Self {
        let placement = Placement::new(graph, ranks);
        let n = graph.len();
        let (cons_off, cons) = graph.consumers();
        let mut out_uses = vec![0u32; n];
        graph
            .outputs()
            .iter()
            .for_each(|&o| out_uses[o as usize] += 1);
        let receives = |r: usize| gather_to_all || r == 0;
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
            receives_outputs: receives(rank),
            placement,
        };
        plan.dest_off.push(0);
        let mut dests: Vec<u32> = Vec::new();
        for t in 0..n as TaskId {
            let consumers = &cons[cons_off[t as usize] as usize..cons_off[t as usize + 1] as usize];
            let owner_of = |c: TaskId| plan.placement.owner(c);
            let mut local = consumers.iter().filter(|&&c| owner_of(c) == rank).count() as u32;
            if plan.receives_outputs {
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
                    dests.extend((0..ranks as u32).filter(|&r| receives(r as usize)));
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
        plan
    }

    /// This rank.
    pub(crate) fn rank(&self) -> usize {
        self.rank
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
mod tests {
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
        let mut level: Vec<TaskId> = (0..n).map(|b| g.add_task(src, b, &[]).unwrap()).collect();
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

    #[test]
    fn sources_are_split_in_balanced_contiguous_blocks() {
        let g = reduction(10);
        let p = Placement::new(&g, 3);
        let owners: Vec<usize> = (0..10).map(|t| p.owner(t)).collect();
        assert_eq!(owners, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
        assert_eq!(p.tasks_per_rank().iter().sum::<usize>(), g.len());
    }

    #[test]
    fn combines_follow_their_first_input() {
        let g = reduction(8);
        let p = Placement::new(&g, 4);
        for t in 8..g.len() as TaskId {
            assert_eq!(p.owner(t), p.owner(g.deps(t)[0]));
        }
        // The final combine runs where the first chunk ran.
        assert_eq!(p.owner(g.outputs()[0]), 0);
    }

    #[test]
    fn a_full_reduction_sends_only_partials_to_rank_0() {
        let g = reduction(8);
        let ranks = 4;
        let plans: Vec<RankPlan> = (0..ranks)
            .map(|r| RankPlan::new(&g, r, ranks, false))
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
        assert_eq!(sent, 3); // 8 chunks on 4 ranks: the partials of ranks 1, 2, 3 move once
        for t in 0..8 {
            assert!(plans.iter().all(|p| p.dests(t).is_empty()));
        }
    }

    #[test]
    fn sends_and_receives_match_for_every_rank_count() {
        for n in [1, 2, 5, 9] {
            let g = reduction(n);
            for ranks in 1..=12 {
                for all in [false, true] {
                    let plans: Vec<RankPlan> = (0..ranks)
                        .map(|r| RankPlan::new(&g, r, ranks, all))
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
                        let holds = p.owns(out) || p.expects(out);
                        assert_eq!(holds, all || r == 0);
                    }
                }
            }
        }
    }

    #[test]
    fn more_ranks_than_sources_leaves_ranks_idle() {
        let g = reduction(2);
        let p = Placement::new(&g, 5);
        assert_eq!(p.tasks_per_rank(), [2, 0, 1, 0, 0]);
    }
}
