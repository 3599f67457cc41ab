//! The optimized plan as users see it: `explain()` lists every node once with its fusion, and
//! `plan_graph()` gives the same plan as a petgraph graph whose structure tests can read.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndtask::array::Fused;
use ndtask::engine::petgraph::algo::is_cyclic_directed;
use ndtask::engine::petgraph::visit::EdgeRef;
use ndtask::random;

#[test]
fn the_plan_graph_shows_fused_regions_and_shared_nodes() {
    let x = random::uniform::<f64>([100, 80], [25, 40], 1).unwrap();
    let y = random::uniform::<f64>([80], [40], 2).unwrap();
    // x * 2 + y is one streamed region; both means of x are one node (shared); x itself is
    // materialised (read by the region and by the mean).
    let e = (&x * 2.0 + &y).sum().into_array() + x.mean().into_array() - x.mean().into_array();
    let g = e.plan_graph().unwrap();
    assert!(!is_cyclic_directed(&g));
    let nodes: Vec<_> = g.node_weights().cloned().collect();
    let of_kind = |k: &str| nodes.iter().filter(|n| n.kind == k).count();
    assert_eq!(of_kind("source"), 2);
    assert_eq!(of_kind("reduce"), 2, "{nodes:#?}"); // the sum, and one mean for both
    let streamed: Vec<_> = nodes
        .iter()
        .filter(|n| n.fused == Fused::Streamed)
        .collect();
    assert_eq!(streamed.len(), 1);
    let root = streamed[0].id;
    // The region's members point at its root and are read by it, directly or not.
    let members: Vec<_> = nodes
        .iter()
        .filter(|n| n.fused == Fused::Into(root))
        .collect();
    assert!(!members.is_empty());
    for m in &members {
        assert!(m.id < root);
        assert!(ndtask::engine::petgraph::algo::has_path_connecting(
            &g,
            ndtask::engine::petgraph::graph::NodeIndex::new(m.id),
            ndtask::engine::petgraph::graph::NodeIndex::new(root),
            None
        ));
    }
    // x is materialised: two consumers.
    let x_node = nodes
        .iter()
        .find(|n| n.kind == "source" && n.shape == vec![100, 80])
        .unwrap();
    assert_eq!(x_node.fused, Fused::Materialized);
    assert_eq!(
        g.edges_directed(
            ndtask::engine::petgraph::graph::NodeIndex::new(x_node.id),
            ndtask::engine::petgraph::Direction::Outgoing
        )
        .count(),
        2
    );
    for edge in g.edge_references() {
        assert!(edge.source().index() < edge.target().index());
    }
    assert_eq!(nodes.iter().filter(|n| n.output).count(), 1);
    assert_eq!(x_node.bytes, 100 * 80 * 8);
    assert_eq!((x_node.num_chunks, x_node.chunks.as_str()), (8, "[25, 40]"));
}

#[test]
fn explain_lists_every_node_once() {
    let x = random::uniform::<f64>([1000], [100], 1).unwrap();
    let e = (&x * &x + 1.0).sum();
    let text = e.explain().unwrap();
    let g = e.plan_graph().unwrap();
    // The plan's lines, then the memory model.
    let lines: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("memory: "))
        .collect();
    assert!(
        text.contains("\nmemory: projected peak of live results: "),
        "{text}"
    );
    assert!(
        text.contains("  sum-partial(fused[") && text.contains(": 10 tasks, result up to 8 B"),
        "{text}"
    );
    assert!(text
        .lines()
        .next()
        .unwrap()
        .starts_with("optimized plan (passes: share,"));
    assert_eq!(
        lines.len(),
        g.node_count() + text.matches("(shown above)").count()
    );
    for n in g.node_weights() {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("#{} ", n.id)))
            .unwrap();
        assert!(line.contains(&format!("shape {:?}", n.shape)), "{line}");
        assert!(line.contains(&n.op), "{line}");
    }
    assert!(
        text.contains("[fused region, streamed into its reduction]"),
        "{text}"
    );
    assert!(text.contains("[fused into #"), "{text}");
    // An invalid expression is its error.
    let bad = x.reshape([7, 7]).unwrap_or_else(|_| x.clone());
    assert!(bad.explain().is_ok());
}
