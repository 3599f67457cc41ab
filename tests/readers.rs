//! The source extension point: a user's `ChunkReader` makes a lazy array that computes like any
//! other (against eager ndarray, on every scheduler, over random chunkings, fused with
//! arithmetic and reductions), is asked only for the regions that a slice selects, and whose
//! failures are errors that name the reader, the task and the region and keep their source.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{s, ArrayD, IxDyn, Slice};
use ndtask::engine::{Chunk, Fingerprint};
use ndtask::io::{from_reader, ChunkReader, Subset};
use ndtask::{DType, Element, Error, Result};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

/// Reads boxes of an in-memory array and remembers every region it was asked for.
struct Stored {
    data: ArrayD<f64>,
    asked: Arc<Mutex<Vec<Subset>>>,
    /// Fail on regions that contain this index (first axis).
    fail_at: Option<usize>,
}

impl Stored {
    fn new(data: ArrayD<f64>) -> (Self, Arc<Mutex<Vec<Subset>>>) {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let r = Stored {
            data,
            asked: asked.clone(),
            fail_at: None,
        };
        (r, asked)
    }
}

impl ChunkReader for Stored {
    fn name(&self) -> String {
        "stored".into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("stored");
        self.data.iter().for_each(|&v| h.f64(v));
    }
    fn dtype(&self) -> DType {
        DType::F64
    }
    fn read(&self, r: &Subset) -> Result<Chunk> {
        self.asked.lock().unwrap().push(r.clone());
        assert_eq!(r.array, self.data.shape());
        if let Some(i) = self.fail_at {
            if r.start[0] <= i && i < r.start[0] + r.shape[0] {
                let e = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "file truncated");
                return Err(Error::io(
                    format!("reading region {} of data.bin", r.describe()),
                    e,
                ));
            }
        }
        let view = self.data.slice_each_axis(|ax| {
            let i = ax.axis.index();
            Slice::from(r.start[i]..r.start[i] + r.shape[i])
        });
        Ok(f64::into_chunk(view.to_owned()))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A reader's array, through arithmetic and reductions, equals eager ndarray on every
    /// scheduler, for any chunking, also combined with an array chunked differently.
    #[test]
    fn a_reader_computes_like_eager_ndarray((shape, chunks) in shape_and_chunks(3), other in any::<u64>()) {
        let e = data(&shape, 11);
        let (reader, _) = Stored::new(e.clone());
        let x = from_reader::<f64>(reader, &shape, chunks).unwrap();
        let y = ndtask::from_ndarray(data(&shape, other), vec![3; shape.len()]).unwrap();
        let eager_y = data(&shape, other);
        let expr = &x * 2.0 + &y;
        for s in schedulers() {
            prop_assert!(same_bits(&x.compute_with(&s).unwrap(), &e));
            prop_assert!(same_bits(&expr.compute_with(&s).unwrap(), &(&e * 2.0 + &eager_y)));
            let total = x.sum().compute_with(&s).unwrap();
            prop_assert!((total - e.sum()).abs() <= 1e-9 * (1.0 + e.sum().abs()));
        }
    }
}

#[test]
fn each_chunk_is_read_once_and_a_slice_reads_only_its_region() {
    let e = data(&[40, 30], 5);
    let (reader, asked) = Stored::new(e.clone());
    let x = from_reader::<f64>(reader, [40, 30], [10, 7]).unwrap();
    assert_eq!(x.compute().unwrap(), e);
    let mut regions = asked.lock().unwrap().clone();
    assert_eq!(regions.len(), 4 * 5);
    regions.sort_by(|a, b| a.start.cmp(&b.start));
    assert_eq!(regions[0].shape, vec![10, 7]);
    assert_eq!(regions.last().unwrap().shape, vec![10, 2]);
    let covered: usize = regions.iter().map(Subset::len).sum();
    assert_eq!(covered, 40 * 30);

    // A slice asks for the selected box only, cut by the slice's own chunks.
    asked.lock().unwrap().clear();
    let y = x.slice(s![12..15, 3..20]).unwrap();
    for sch in schedulers() {
        assert_eq!(
            y.compute_with(&sch).unwrap(),
            e.slice(s![12..15, 3..20]).into_dyn()
        );
    }
    let regions = asked.lock().unwrap().clone();
    let per_run: usize = regions.iter().map(Subset::len).sum::<usize>() / schedulers().len();
    assert_eq!(per_run, 3 * 17, "{regions:?}");
    assert!(regions
        .iter()
        .all(|r| r.start[0] >= 12 && r.start[0] + r.shape[0] <= 15));

    // An index and a new axis: a box of one row, read as such.
    asked.lock().unwrap().clear();
    let z = x.slice(s![7, ndarray::NewAxis, 4..9]).unwrap();
    assert_eq!(
        z.compute().unwrap(),
        e.slice(s![7, ndarray::NewAxis, 4..9]).into_dyn()
    );
    // The slice keeps the chunk boundary at column 7: two boxes of one row.
    let mut regions = asked.lock().unwrap().clone();
    regions.sort_by(|a, b| a.start.cmp(&b.start));
    let boxes: Vec<_> = regions
        .iter()
        .map(|r| (r.start.clone(), r.shape.clone()))
        .collect();
    assert_eq!(
        boxes,
        vec![(vec![7, 4], vec![1, 3]), (vec![7, 7], vec![1, 2])]
    );
}

#[test]
fn a_failed_read_is_an_io_error_naming_task_and_region() {
    let e = data(&[40, 30], 5);
    let (mut reader, _) = Stored::new(e);
    reader.fail_at = Some(25);
    let x = from_reader::<f64>(reader, [40, 30], [10, 30]).unwrap();
    for sch in schedulers() {
        let err = x.sum().compute_with(&sch).unwrap_err();
        let Error::Io { what, .. } = &err else {
            panic!("expected an I/O error, got {err}");
        };
        assert!(
            what.contains("reading region [20..30, 0..30] of data.bin"),
            "{what}"
        );
        assert!(what.contains("on chunk [2, 0]"), "{what}");
        assert!(err.to_string().ends_with("file truncated"), "{err}");
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "file truncated");
    }
}

/// A reader that lies about what it returns.
struct Liar(DType, Vec<usize>);

impl ChunkReader for Liar {
    fn name(&self) -> String {
        "liar".into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("liar");
    }
    fn dtype(&self) -> DType {
        self.0
    }
    fn read(&self, r: &Subset) -> Result<Chunk> {
        if r.start[0] == 99 {
            panic!("the reader broke");
        }
        Ok(i64::into_chunk(ArrayD::zeros(IxDyn(&self.1))))
    }
}

#[test]
fn a_reader_that_breaks_its_contract_gets_a_clear_error() {
    // The wrong element type is refused when the array is made.
    let e = from_reader::<f64>(Liar(DType::I64, vec![5]), [10], [5]).unwrap_err();
    assert!(
        e.to_string()
            .contains("the reader liar gives i64 values, not f64"),
        "{e}"
    );
    // A chunk of the wrong shape fails its task, naming the region.
    let x = from_reader::<i64>(Liar(DType::I64, vec![4]), [10], [5]).unwrap();
    let e = x.sum().compute().unwrap_err();
    assert!(
        e.to_string()
            .contains("returned a chunk of shape [4] (i64) for the region [0..5] of shape [5]"),
        "{e}"
    );
    // A panic in a reader is a task error, not an abort.
    let x = from_reader::<i64>(Liar(DType::I64, vec![1]), [100], [1]).unwrap();
    for sch in schedulers() {
        let e = x.sum().compute_with(&sch).unwrap_err();
        assert!(
            matches!(&e, Error::Task { message, .. } if message.contains("the reader broke")),
            "{e}"
        );
    }
}

#[test]
fn readers_fingerprint_their_identity() {
    let (a, _) = Stored::new(data(&[10], 1));
    let (b, _) = Stored::new(data(&[10], 2));
    let fa = from_reader::<f64>(a, [10], [5])
        .unwrap()
        .sum()
        .task_graph()
        .unwrap()
        .fingerprint();
    let fb = from_reader::<f64>(b, [10], [5])
        .unwrap()
        .sum()
        .task_graph()
        .unwrap()
        .fingerprint();
    assert_ne!(fa, fb);
}

/// A chunk a reader read whole becomes the storage of a fused kernel's result, each tile
/// written over the values it came from: over chunks of many tiles, with a broadcast row, a
/// second reader, the same source read twice, a slice, a transpose and a change of type, the
/// values are eager ndarray's on every scheduler.
#[test]
fn a_fused_kernel_writing_over_the_chunk_it_reads_computes_like_eager_ndarray() {
    let (xe, ye) = (data(&[300, 70], 3), data(&[300, 70], 4));
    let x = from_reader::<f64>(Stored::new(xe.clone()).0, &[300, 70], [130, 70]).unwrap();
    let y = from_reader::<f64>(Stored::new(ye.clone()).0, &[300, 70], [130, 35]).unwrap();
    // (The mean as ndtask sums it, so that the comparison is of bits.)
    let mean = x.mean_axis(0).unwrap().compute().unwrap();
    let cases: Vec<(ndtask::Array<f64>, ArrayD<f64>)> = vec![
        (&x - &x.mean_axis(0).unwrap(), &xe - &mean),
        (&x * &y + &x * 0.5, &xe * &ye + &xe * 0.5),
        ((&x * &x).sqrt() - &y, xe.mapv(|v| (v * v).sqrt()) - &ye),
        (
            x.slice(s![7..290, 3..60]).unwrap() * 3.0,
            xe.slice(s![7..290, 3..60]).to_owned().into_dyn() * 3.0,
        ),
        (x.t() + 1.0, xe.t().to_owned().into_dyn() + 1.0),
    ];
    for s in schedulers() {
        for (i, (got, want)) in cases.iter().enumerate() {
            let got = got.compute_with(&s).unwrap();
            assert!(same_bits(&got, want), "case {i} on {}", s.name());
        }
        let big = x.greater(0.5).unwrap().compute_with(&s).unwrap();
        assert_eq!(big, xe.mapv(|v| v > 0.5), "{}", s.name());
    }
}
