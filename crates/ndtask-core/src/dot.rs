//! Task graphs as [`petgraph`] graphs, and as Graphviz DOT pictures drawn by `petgraph::dot`.
//! A graph too big to read (more than a few hundred tasks) is drawn with each op's tasks
//! collapsed into one node that shows their count, so a million-chunk graph gives a picture of
//! a dozen nodes.

use crate::{Error, Result, TaskGraph, TaskId};
use petgraph::algo::toposort;
use petgraph::dot::{Config, Dot};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, Reversed};

/// The most nodes [`TaskGraph::to_dot`] draws one per task; bigger graphs are drawn by op.
pub const MAX_DRAWN_TASKS: usize = 200;

/// A node of a task graph's picture: one task, or all the tasks of one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNode {
    /// The op's name.
    pub op: String,
    /// The task (`None` for a node that stands for all of an op's tasks).
    pub task: Option<TaskId>,
    /// The chunk the task computes (its block index), or `None` for an op's node.
    pub chunk: Option<String>,
    /// How many tasks the node stands for.
    pub tasks: usize,
    /// Whether it is (or holds) an output task.
    pub output: bool,
}

impl std::fmt::Display for TaskNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.task, &self.chunk) {
            (Some(t), Some(c)) => write!(f, "{} {c}\n(task {t})", self.op),
            _ => write!(f, "{}\n× {} tasks", self.op, self.tasks),
        }
    }
}

impl TaskGraph {
    /// The graph as a [`petgraph`] graph: node `i` is task `i`, an edge runs from each
    /// dependency to its consumer (weight: the position among the consumer's inputs).
    ///
    /// # Examples
    /// ```
    /// use petgraph::algo::is_cyclic_directed;
    /// let g = ndtask_core::TaskGraph::new().to_petgraph();
    /// assert_eq!(g.node_count(), 0);
    /// assert!(!is_cyclic_directed(&g));
    /// ```
    pub fn to_petgraph(&self) -> DiGraph<TaskNode, usize> {
        let names = self.op_names();
        let outputs = self.output_flags();
        let mut g = DiGraph::with_capacity(self.len(), 0);
        for t in 0..self.len() as TaskId {
            g.add_node(TaskNode {
                op: names[self.op_of(t) as usize].clone(),
                task: Some(t),
                chunk: Some(self.describe_task(t)),
                tasks: 1,
                output: outputs[t as usize],
            });
        }
        for t in 0..self.len() as TaskId {
            for (i, &d) in self.deps(t).iter().enumerate() {
                g.add_edge(NodeIndex::new(d as usize), NodeIndex::new(t as usize), i);
            }
        }
        g
    }

    /// The graph with each op's tasks collapsed into one node (with their count); an edge runs
    /// from op `a` to op `b` when a task of `b` reads one of `a`, weighted by how many such
    /// dependencies there are. Ops without tasks (culled) are left out.
    pub fn to_petgraph_by_op(&self) -> DiGraph<TaskNode, usize> {
        let names = self.op_names();
        let counts = self.tasks_per_op();
        let outputs = self.output_flags();
        let mut node = vec![None; names.len()];
        let mut g = DiGraph::new();
        for (op, (name, &n)) in names.iter().zip(&counts).enumerate() {
            if n > 0 {
                node[op] = Some(g.add_node(TaskNode {
                    op: name.clone(),
                    task: None,
                    chunk: None,
                    tasks: n,
                    output: false,
                }));
            }
        }
        let mut edges = std::collections::BTreeMap::new();
        for t in 0..self.len() as TaskId {
            let to = self.op_of(t) as usize;
            if outputs[t as usize] {
                if let Some(n) = node[to] {
                    g[n].output = true;
                }
            }
            for &d in self.deps(t) {
                *edges.entry((self.op_of(d) as usize, to)).or_insert(0) += 1;
            }
        }
        for ((a, b), n) in edges {
            if let (Some(a), Some(b)) = (node[a], node[b]) {
                g.add_edge(a, b, n);
            }
        }
        g
    }

    /// The graph as Graphviz DOT: one node per task when it has at most `max_tasks` tasks
    /// ([`MAX_DRAWN_TASKS`] is a good choice), one node per op otherwise. Output tasks are
    /// drawn as double octagons.
    ///
    /// # Examples
    /// ```
    /// let dot = ndtask_core::TaskGraph::new().to_dot(ndtask_core::MAX_DRAWN_TASKS);
    /// assert!(dot.starts_with("digraph {"));
    /// ```
    pub fn to_dot(&self, max_tasks: usize) -> String {
        let g = match self.len() <= max_tasks {
            true => self.to_petgraph(),
            false => self.to_petgraph_by_op(),
        };
        let node_attrs = |_: &DiGraph<TaskNode, usize>, (_, n): (NodeIndex, &TaskNode)| {
            let shape = if n.output { "doubleoctagon" } else { "box" };
            format!("shape={shape}")
        };
        let edge_attrs = |_: &DiGraph<TaskNode, usize>,
                          e: petgraph::graph::EdgeReference<'_, usize>| {
            match self.len() <= max_tasks {
                true => String::new(),
                false => format!("label=\"{}\"", e.weight()),
            }
        };
        let dot = Dot::with_attr_getters(&g, &[Config::EdgeNoLabel], &edge_attrs, &node_attrs);
        format!("{dot}")
    }

    /// Checks the graph's structure with petgraph's algorithms: no cycle (a topological order
    /// exists), and every task feeds an output (what a culled graph promises). Lowering runs it
    /// in debug builds.
    ///
    /// # Errors
    /// [`Error::Internal`] naming a task on a cycle, or the first task that feeds no output.
    ///
    /// # Examples
    /// ```
    /// let mut g = ndtask_core::TaskGraph::new();
    /// assert!(g.check().is_ok());
    /// ```
    pub fn check(&self) -> Result<()> {
        let mut g = DiGraph::<(), ()>::with_capacity(self.len(), 0);
        for _ in 0..self.len() {
            g.add_node(());
        }
        for t in 0..self.len() as TaskId {
            for &d in self.deps(t) {
                g.add_edge(NodeIndex::new(d as usize), NodeIndex::new(t as usize), ());
            }
        }
        toposort(&g, None).map_err(|c| {
            Error::internal(format!(
                "the task graph has a cycle through task {}",
                c.node_id().index()
            ))
        })?;
        let mut feeds = vec![false; self.len()];
        let back = Reversed(&g);
        let mut dfs = Dfs::empty(back);
        for &o in self.outputs() {
            dfs.move_to(NodeIndex::new(o as usize));
            while let Some(n) = dfs.next(back) {
                feeds[n.index()] = true;
            }
        }
        match feeds.iter().position(|&f| !f) {
            Some(t) => Err(Error::internal(format!(
                "task {t} ({}) feeds no output",
                self.op_names()[self.op_of(t as TaskId) as usize]
            ))),
            None => Ok(()),
        }
    }

    fn output_flags(&self) -> Vec<bool> {
        let mut out = vec![false; self.len()];
        self.outputs().iter().for_each(|&o| out[o as usize] = true);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::{Chunk, Op, Result, TaskGraph};
    use std::sync::Arc;

    struct Nothing;
    impl Op for Nothing {
        fn name(&self) -> String {
            "nothing".into()
        }
        fn run(&self, _: usize, _: &[&Chunk]) -> Result<Chunk> {
            Ok(Chunk::Tuple(Vec::new()))
        }
    }

    #[test]
    fn a_task_that_feeds_no_output_is_found_and_culling_removes_it() {
        let mut g = TaskGraph::new();
        let op = g.add_op(Arc::new(Nothing));
        let a = g.add_task(op, 0, &[]).unwrap();
        let b = g.add_task(op, 1, &[a]).unwrap();
        let _stray = g.add_task(op, 2, &[a]).unwrap();
        g.set_outputs(vec![b]);
        let e = g.check().unwrap_err();
        assert!(
            e.to_string().contains("task 2 (nothing) feeds no output"),
            "{e}"
        );
        let (culled, _) = g.cull();
        assert!(culled.check().is_ok());
        assert_eq!(culled.len(), 2);
        let pg = culled.to_petgraph();
        assert_eq!((pg.node_count(), pg.edge_count()), (2, 1));
        assert!(culled.to_dot(1).contains("× 2 tasks"));
    }
}
