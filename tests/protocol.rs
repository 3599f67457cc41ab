//! One protocol for every collection: an array statistic, a bag count, a delayed value and a
//! write computed in one call run one graph, in which the input they share runs once (counted
//! by the user function that makes it and by an observer of the run), on every scheduler; the
//! run configuration (budget, observers, cancellation, optimizer passes) is one value; custom
//! sinks write every chunk once on every scheduler.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, IxDyn};
use ndtask::engine::{Chunk, Fingerprint};
use ndtask::io::Sink;
use ndtask::observe::{Observer, TaskEvent};
use ndtask::{bag, delayed, parse_bytes, Collection, Config, Element, Error};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Counts finished tasks by op name.
#[derive(Default)]
struct Ops(Mutex<Vec<String>>);

impl Observer for Ops {
    fn task_finished(&self, e: &TaskEvent<'_>) {
        self.0.lock().unwrap().push(e.op.to_string());
    }
}

fn temp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ndtask-protocol-{}-{n}-{name}", std::process::id()))
}

#[test]
fn a_statistic_a_bag_a_delayed_value_and_a_write_share_one_graph() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    // The shared input: a user function's chunks (held, not made again), counted.
    let x = ndtask::random::uniform::<f64>([40, 30], [10, 15], 3)
        .unwrap()
        .map_blocks(move |b| {
            c.fetch_add(1, Ordering::SeqCst);
            b.mapv(|v| (v * 8.0).floor())
        });
    let chunks = x.num_chunks();
    let eager = x.compute_with(&sync()).unwrap();
    let want_mean = eager.mean().unwrap();
    let want_over = eager.iter().filter(|&&v| v > 3.0).count();
    for s in schedulers() {
        let path = temp("x.npy");
        let stat = x.mean();
        let over = bag::from_array(&x).filter(|&v| v > 3.0).count();
        let biggest = delayed::from_array(&x).map(|a| a.iter().copied().fold(0.0, f64::max));
        let write = x.to_npy(&path).unwrap();
        let ops = Arc::new(Ops::default());
        calls.store(0, Ordering::SeqCst);
        let cfg = s.clone().observe(ops.clone());
        let (mean, n, max, ()) = cfg.compute((&stat, &over, &biggest, &write)).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), chunks, "{}", s.name());
        let shared = ops
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|op| op.as_str() == "map_blocks")
            .count();
        assert_eq!(
            shared,
            chunks,
            "{}: the shared input's tasks ran once",
            s.name()
        );
        assert!((mean - want_mean).abs() < 1e-12);
        assert_eq!(n, want_over);
        assert_eq!(max, eager.iter().copied().fold(0.0, f64::max));
        let back = ndtask::from_npy::<f64>(&path, [40, 30]).unwrap();
        assert_eq!(back.compute_with(&s).unwrap(), eager);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn the_graph_of_a_mix_has_each_collection_s_tasks_once() {
    let x = ndtask::random::uniform::<f64>([100], [10], 1).unwrap();
    let b = bag::Bag::range(50, 5).unwrap();
    let d = delayed::delayed(|| 7_i64);
    let all = (x.sum(), b.count(), &d, x.mean());
    let cfg = Config::new();
    let g = cfg.task_graph(&all).unwrap();
    // One graph: x's tasks (shared by the sum and the mean), the bag's and the delayed's, and
    // the four outputs in the order asked for.
    assert_eq!(g.outputs().len(), 4);
    let text = cfg.explain(&all).unwrap();
    assert!(text.contains("range+count-partial: 5 tasks"), "{text}");
    assert!(text.contains("delayed: 1 task"), "{text}");
    let (s, n, v, m) = cfg.compute(all).unwrap();
    assert_eq!((n, v), (50, 7));
    assert!((s / 100.0 - m).abs() < 1e-12);
    // A write's targets come back as nothing; an empty write of an empty array only creates.
    let path = temp("empty.npy");
    let empty = ndtask::zeros::<f64>([0], [1]).unwrap();
    let ((), total) = ndtask::compute((empty.to_npy(&path).unwrap(), empty.sum())).unwrap();
    assert_eq!(total, 0.0);
    assert_eq!(
        ndtask::from_npy::<f64>(&path, [1])
            .unwrap()
            .compute()
            .unwrap()
            .len(),
        0
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn the_configuration_is_one_value() {
    let x = ndtask::random::uniform::<f64>([300, 300], [50, 50], 2).unwrap();
    let e = (&x - &x.mean().into_array()).abs().sum();
    let want = e.compute_with(&sync()).unwrap();
    // Every pass off gives the same bits; a pass that is not one is an error naming them.
    let mut plain = sync();
    for pass in [
        "share",
        "source-pushdown",
        "rematerialise",
        "fusion",
        "arithmetic-trees",
    ] {
        plain = plain.disable_pass(pass).unwrap();
    }
    assert_eq!(e.compute_with(&plain).unwrap().to_bits(), want.to_bits());
    assert!(plain.explain(&e).unwrap().contains("fusion (off)"));
    let err = Config::new().disable_pass("speed").unwrap_err().to_string();
    assert!(
        err.contains("\"speed\"") && err.contains("arithmetic-trees"),
        "{err}"
    );
    // A budget given as text through the one parser.
    let tight = sync().memory_budget(parse_bytes("1B").unwrap());
    assert!(matches!(e.compute_with(&tight), Err(Error::Memory(_))));
    let roomy = sync().memory_budget(parse_bytes("64MiB").unwrap());
    assert_eq!(e.compute_with(&roomy).unwrap().to_bits(), want.to_bits());
    assert_eq!(roomy.budget(), Some(64 << 20));
    assert!(parse_bytes("64 MiB").is_ok() && parse_bytes("2GB").unwrap() == 2_000_000_000);
    assert!(parse_bytes("lots").is_err());
}

/// A custom format: each chunk's values as raw little-endian bytes in its own file, named by
/// its block number (what a user writing HDF5, TIFF stacks or an object store plugs in).
struct RawFiles<T> {
    dir: PathBuf,
    created: AtomicUsize,
    _t: std::marker::PhantomData<fn(T)>,
}

impl<T: Element> Sink for RawFiles<T> {
    fn kind(&self) -> &'static str {
        "raw"
    }
    fn target(&self) -> String {
        self.dir.display().to_string()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("raw");
        h.str(&self.target());
    }
    fn create(&self) -> ndtask::Result<()> {
        self.created.fetch_add(1, Ordering::SeqCst);
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("creating {}", self.dir.display()), e))
    }
    fn write(&self, block: usize, chunk: &Chunk) -> ndtask::Result<()> {
        let a = T::chunk_ref(chunk).ok_or_else(|| Error::InvalidArgument("type".into()))?;
        let bytes: Vec<u8> = a.iter().flat_map(|v| v.to_f64().to_le_bytes()).collect();
        let path = self.dir.join(format!("{block}.raw"));
        std::fs::write(&path, bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }
}

#[test]
fn a_custom_sink_gets_every_chunk_once_on_every_scheduler() {
    let x = ndtask::random::uniform::<f64>([23, 17], [5, 4], 9).unwrap();
    let y = (&x * 3.0).map(|v| v.floor());
    let want = y.compute_with(&sync()).unwrap();
    for s in schedulers() {
        let dir = temp("raw");
        let sink = Arc::new(RawFiles::<f64> {
            dir: dir.clone(),
            created: AtomicUsize::new(0),
            _t: std::marker::PhantomData,
        });
        let (total, ()) = s
            .compute((y.sum(), y.to_sink(sink.clone()).unwrap()))
            .unwrap();
        assert_eq!(sink.created.load(Ordering::SeqCst), 1);
        assert_eq!(total, want.sum());
        let grid = y.grid();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), grid.num_chunks());
        for b in 0..grid.num_chunks() {
            let idx = grid.unravel(b);
            let (off, shape) = (grid.chunk_offset(&idx), grid.chunk_shape(&idx));
            let bytes = std::fs::read(dir.join(format!("{b}.raw"))).unwrap();
            let got: Vec<f64> = bytes
                .chunks_exact(8)
                .map(|w| f64::from_le_bytes(w.try_into().unwrap()))
                .collect();
            let part = want.slice_each_axis(|ax| {
                let a = ax.axis.index();
                ndarray::Slice::from(off[a]..off[a] + shape[a])
            });
            let part = ArrayD::from_shape_vec(IxDyn(&shape), got).unwrap() == part;
            assert!(part, "{}: chunk {b}", s.name());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // A sink that fails names the op and the chunk; nothing is half reported as done.
    struct Broken;
    impl Sink for Broken {
        fn kind(&self) -> &'static str {
            "broken"
        }
        fn target(&self) -> String {
            "nowhere".into()
        }
        fn fingerprint(&self, h: &mut Fingerprint) {
            h.str("broken");
        }
        fn create(&self) -> ndtask::Result<()> {
            Ok(())
        }
        fn write(&self, block: usize, _: &Chunk) -> ndtask::Result<()> {
            match block {
                3 => Err(Error::InvalidArgument("the disk is full".into())),
                _ => Ok(()),
            }
        }
    }
    let e = y.to_sink(Arc::new(Broken)).unwrap().compute().unwrap_err();
    assert!(
        matches!(&e, Error::Task { op, message, .. } if op.contains("broken-write") && message.contains("disk is full")),
        "{e}"
    );
}

/// The protocol is open: a collection of collections computes like any other.
#[test]
fn a_user_collection_plugs_into_the_protocol() {
    /// The mean and the maximum of an array, as one lazy value.
    struct Summary(ndtask::Array<f64>);
    impl Collection for Summary {
        type Output = (f64, f64);
        fn add_targets(&self, t: &mut ndtask::engine::collection::Targets) {
            self.0.mean().add_targets(t);
            self.0.max().add_targets(t);
        }
        fn take_results(
            &self,
            r: &mut ndtask::engine::collection::Results,
        ) -> ndtask::Result<(f64, f64)> {
            Ok((
                self.0.mean().take_results(r)?,
                self.0.max().take_results(r)?,
            ))
        }
    }
    let x = ndtask::arange(0.0, 10.0, 1.0, [3]).unwrap();
    let (summary, sum) = ndtask::compute((Summary(x.clone()), x.sum())).unwrap();
    assert_eq!((summary, sum), ((4.5, 9.0), 45.0));
}
