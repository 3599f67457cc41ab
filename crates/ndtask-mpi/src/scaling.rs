//! The scaling model: what each of `P` ranks would do in a run of a graph — tasks, messages and
//! bytes sent and received — computed without running it and without `P` processes. Placement
//! is a pure function of (graph, ranks) and every result's layout is known before it runs
//! ([`ndtask_core::Op::block_layout`]), so the counts are exact: `mpi_check` compares them with
//! [`crate::MpiScheduler::last_run`] on every rank.

use crate::exchange::RunStats;
use crate::placement::Placement;
use crate::wire;
use ndtask_core::{TaskGraph, TaskId};

/// What every rank of `ranks` does in a successful run of `graph` (outputs gathered to rank 0,
/// or to every rank with `gather_to_all`), as [`crate::MpiScheduler::last_run`] reports it.
/// `None` if a result's size depends on the data (a boolean selection).
///
/// # Examples
/// ```
/// let x = ndtask_array::random::uniform::<f64>([1000, 1000], [100, 100], 1)?;
/// let g = x.sum().task_graph()?;
/// let per_rank = ndtask_mpi::predict(&g, 4, false).unwrap();
/// assert_eq!(per_rank.iter().map(|r| r.tasks_run).sum::<usize>(), g.len());
/// // Only partial sums move: a few small messages per rank.
/// assert!(per_rank.iter().all(|r| r.bytes_sent < 1000));
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn predict(graph: &TaskGraph, ranks: usize, gather_to_all: bool) -> Option<Vec<RunStats>> {
    predict_with(graph, ranks, gather_to_all, false)
}

/// As [`predict`], for a run under a memory budget (that fits): each result a rank receives
/// costs it one more message, the grant it sends the result's owner
/// (`ndtask::Config::memory_budget`).
pub fn predict_under_budget(
    graph: &TaskGraph,
    ranks: usize,
    gather_to_all: bool,
) -> Option<Vec<RunStats>> {
    predict_with(graph, ranks, gather_to_all, true)
}

fn predict_with(
    graph: &TaskGraph,
    ranks: usize,
    gather_to_all: bool,
    grants: bool,
) -> Option<Vec<RunStats>> {
    let ranks = ranks.max(1);
    let placement = Placement::new(graph, ranks);
    let (cons_off, cons) = graph.consumers();
    let mut is_output = vec![false; graph.len()];
    graph
        .outputs()
        .iter()
        .for_each(|&o| is_output[o as usize] = true);
    let mut stats = vec![RunStats::default(); ranks];
    let mut dests: Vec<usize> = Vec::new();
    for t in 0..graph.len() {
        let owner = placement.owner(t as TaskId);
        stats[owner].tasks_run += 1;
        dests.clear();
        dests.extend(
            cons[cons_off[t] as usize..cons_off[t + 1] as usize]
                .iter()
                .map(|&c| placement.owner(c)),
        );
        if is_output[t] {
            dests.extend((0..ranks).filter(|&r| gather_to_all || r == 0));
        }
        dests.sort_unstable();
        dests.dedup();
        dests.retain(|&d| d != owner);
        if dests.is_empty() {
            continue;
        }
        let layout = graph.layout_of(t as TaskId)?;
        let messages = 1 + layout.parts.len();
        let bytes = wire::header_len(&layout) + layout.nbytes();
        for &d in &dests {
            stats[owner].messages_sent += messages;
            stats[owner].bytes_sent += bytes;
            stats[d].messages_received += messages;
            stats[d].bytes_received += bytes;
            if grants {
                stats[d].messages_sent += 1;
                stats[d].bytes_sent += wire::GRANT_LEN;
                stats[owner].messages_received += 1;
                stats[owner].bytes_received += wire::GRANT_LEN;
            }
        }
    }
    Some(stats)
}
