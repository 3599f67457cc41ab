//! Every bag operation against the same operation on a `Vec`, over random items and random
//! partitionings, on the sync scheduler and the threaded one with 1 to 3 threads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndtask_array::Config;
use ndtask_bag::{Bag, ReadText};
use ndtask_core::Error;
use ndtask_sched::{SyncScheduler, ThreadedScheduler};
use proptest::prelude::*;
use std::collections::HashMap;

fn sync() -> Config {
    Config::new().scheduler(SyncScheduler)
}

fn schedulers() -> Vec<Config> {
    let mut s: Vec<Config> = vec![Config::new().scheduler(SyncScheduler)];
    for t in 1..=3 {
        s.push(Config::new().scheduler(ThreadedScheduler::with_threads(t).unwrap()));
    }
    s
}

/// Items with repeats (so that frequencies, distinct and foldby have groups) and an empty
/// bag now and then.
fn items() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(-20i64..20, 0..200)
}

/// The items of a bag computed on every scheduler, all equal; returned once.
fn on_all<T: ndtask_bag::Data + Clone + PartialEq + std::fmt::Debug>(b: &Bag<T>) -> Vec<T> {
    let all: Vec<Vec<T>> = schedulers()
        .iter()
        .map(|s| b.compute_with(s).unwrap())
        .collect();
    all.windows(2).for_each(|w| assert_eq!(w[0], w[1]));
    all.into_iter().next().unwrap()
}

fn value_on_all<T: Send + Sync + Clone + PartialEq + std::fmt::Debug + 'static>(
    d: &ndtask_bag::Delayed<T>,
) -> T {
    let all: Vec<T> = schedulers()
        .iter()
        .map(|s| d.compute_with(s).unwrap())
        .collect();
    all.windows(2).for_each(|w| assert_eq!(w[0], w[1]));
    all.into_iter().next().unwrap()
}

/// Keys in first-occurrence order with a fold of their items, as a `Vec` computes it.
fn grouped<K: Clone + Eq + std::hash::Hash, A: Clone>(
    v: &[i64],
    key: impl Fn(i64) -> K,
    init: A,
    fold: impl Fn(A, i64) -> A,
) -> Vec<(K, A)> {
    let mut order = Vec::new();
    let mut acc: HashMap<K, A> = HashMap::new();
    for &x in v {
        let k = key(x);
        if !acc.contains_key(&k) {
            order.push(k.clone());
        }
        let a = acc.remove(&k).unwrap_or_else(|| init.clone());
        acc.insert(k, fold(a, x));
    }
    order
        .into_iter()
        .map(|k| {
            let a = acc[&k].clone();
            (k, a)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn element_wise_ops_match_vec(v in items(), p in 1usize..12) {
        let b = Bag::from_vec(v.clone(), p).unwrap();
        prop_assert_eq!(b.npartitions(), p);
        prop_assert_eq!(on_all(&b), v.clone());
        prop_assert_eq!(on_all(&b.map(|x| x * 3 - 1)), v.iter().map(|x| x * 3 - 1).collect::<Vec<_>>());
        prop_assert_eq!(on_all(&b.filter(|x| x % 3 == 0)), v.iter().copied().filter(|x| x % 3 == 0).collect::<Vec<_>>());
        prop_assert_eq!(
            on_all(&b.flat_map(|&x| (0..x.rem_euclid(4)).map(move |k| x + k))),
            v.iter().flat_map(|&x| (0..x.rem_euclid(4)).map(move |k| x + k)).collect::<Vec<_>>()
        );
        prop_assert_eq!(
            on_all(&b.map_partitions(|p| p.iter().rev().map(|x| x * 2).collect())).len(),
            v.len()
        );
        let strings = b.map(|x| format!("#{x}"));
        prop_assert_eq!(on_all(&strings), v.iter().map(|x| format!("#{x}")).collect::<Vec<_>>());
    }

    #[test]
    fn aggregations_match_vec(v in items(), p in 1usize..20) {
        let b = Bag::from_vec(v.clone(), p).unwrap();
        prop_assert_eq!(value_on_all(&b.count()), v.len());
        prop_assert_eq!(value_on_all(&b.sum()), v.iter().sum::<i64>());
        prop_assert_eq!(
            value_on_all(&b.fold(0i64, |a, &x| a + x * x, |a, b| a + b)),
            v.iter().map(|x| x * x).sum::<i64>()
        );
        // min / max: an error for an empty bag, as a Vec has none.
        for s in schedulers() {
            let (min, max) = (b.min().compute_with(&s), b.max().compute_with(&s));
            match v.is_empty() {
                true => prop_assert!(min.is_err() && max.is_err()),
                false => {
                    prop_assert_eq!(min.unwrap(), *v.iter().min().unwrap());
                    prop_assert_eq!(max.unwrap(), *v.iter().max().unwrap());
                }
            }
        }
        let mean = b.map(|&x| x as f64).mean();
        match v.is_empty() {
            true => prop_assert!(mean.compute_with(&sync()).is_err()),
            false => {
                let want = v.iter().sum::<i64>() as f64 / v.len() as f64;
                prop_assert!((value_on_all(&mean) - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn grouping_matches_vec(v in items(), p in 1usize..20, modulus in 1i64..7) {
        let b = Bag::from_vec(v.clone(), p).unwrap();
        prop_assert_eq!(on_all(&b.frequencies()), grouped(&v, |x| x, 0usize, |n, _| n + 1));
        prop_assert_eq!(
            on_all(&b.distinct()),
            grouped(&v, |x| x, (), |_, _| ()).into_iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        prop_assert_eq!(
            on_all(&b.foldby(move |x| x.rem_euclid(modulus), 0i64, |a, &x| a + x, |a, b| a + b)),
            grouped(&v, |x| x.rem_euclid(modulus), 0i64, |a, x| a + x)
        );
        prop_assert_eq!(
            on_all(&b.groupby(move |x| x.rem_euclid(modulus))),
            grouped(&v, |x| x.rem_euclid(modulus), Vec::new(), |mut a, x| { a.push(x); a })
        );
    }

    #[test]
    fn range_matches_vec(n in 0u64..300, p in 1usize..20) {
        let b = Bag::range(n, p).unwrap();
        prop_assert_eq!(on_all(&b), (0..n).collect::<Vec<_>>());
        prop_assert_eq!(value_on_all(&b.count()), n as usize);
    }

    #[test]
    fn take_reads_the_first_items(v in items(), p in 1usize..12, n in 0usize..250) {
        let b = Bag::from_vec(v.clone(), p).unwrap().map(|x| x + 1);
        for s in schedulers() {
            let got = b.take_with(n, &s).unwrap();
            prop_assert_eq!(got, v.iter().take(n).map(|x| x + 1).collect::<Vec<_>>());
        }
    }

    /// Text files out and back: one file per partition, in natural order, cut into blocks of
    /// bytes or read whole, gzip or not; JSON lines decode to the records.
    #[test]
    fn text_round_trip(v in items(), p in 1usize..13, block in prop::option::of(1u64..64), gz in any::<bool>()) {
        let dir = tempdir();
        let ext = if gz { "json.gz" } else { "json" };
        let b = Bag::from_vec(v.clone(), p).unwrap();
        let files = b.to_json().to_textfiles(&format!("{}/*.{ext}", dir.display())).unwrap().compute().unwrap();
        prop_assert_eq!(files.len(), p);
        let back = ndtask_bag::read_text_with(&format!("{}/*.{ext}", dir.display()), &ReadText { blocksize: block }).unwrap();
        prop_assert_eq!(on_all(&back.decode_json::<i64>()), v.clone());
        // Decoding straight from the files and decoding the lines give the same items.
        prop_assert_eq!(on_all(&back.map(|l| l.clone()).decode_json::<i64>()), v.clone());
        if !gz && block.is_some() {
            prop_assert!(back.npartitions() >= p);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A numeric bag as an array, and an array as a bag.
    #[test]
    fn arrays_and_bags(v in items(), p in 1usize..9) {
        let b = Bag::from_vec(v.clone(), p).unwrap().filter(|x| *x > 0);
        let want: Vec<i64> = v.iter().copied().filter(|x| *x > 0).collect();
        let a = b.to_array().unwrap();
        prop_assert_eq!(a.shape(), vec![want.len()]);
        for s in schedulers() {
            prop_assert_eq!(a.compute_with(&s).unwrap().iter().copied().collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(a.sum().compute_with(&s).unwrap(), want.iter().sum::<i64>());
        }
        let x = ndtask_array::arange::<i64>(0, v.len().max(1) as i64, 1, [p]).unwrap();
        let back = ndtask_bag::from_array(&(&x * 2));
        prop_assert_eq!(on_all(&back), (0..v.len().max(1) as i64).map(|i| i * 2).collect::<Vec<_>>());
    }
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "ndtask-bag-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn read_text_orders_files_naturally_and_keeps_lines() {
    let dir = tempdir();
    for i in [0, 1, 2, 10, 11] {
        std::fs::write(
            dir.join(format!("{i}.txt")),
            format!("a{i}\r\nb{i}\n\nc{i}"),
        )
        .unwrap();
    }
    let b = ndtask_bag::read_text(&format!("{}/*.txt", dir.display())).unwrap();
    let want: Vec<String> = [0, 1, 2, 10, 11]
        .iter()
        .flat_map(|i| {
            [
                format!("a{i}"),
                format!("b{i}"),
                String::new(),
                format!("c{i}"),
            ]
        })
        .collect();
    assert_eq!(on_all(&b), want);
    // Cut into blocks of every size, the lines are the same.
    for bs in 1..20 {
        let b = ndtask_bag::read_text_with(
            &format!("{}/*.txt", dir.display()),
            &ReadText {
                blocksize: Some(bs),
            },
        )
        .unwrap();
        assert_eq!(b.compute_with(&sync()).unwrap(), want, "blocksize {bs}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_name_what_went_wrong() {
    let dir = tempdir();
    // No match is an error, not an empty bag.
    let e = ndtask_bag::read_text(&format!("{}/*.nothing", dir.display())).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("no file matches"));
    // A malformed JSON line names its file and line.
    std::fs::write(dir.join("0.json"), "1\n2\n").unwrap();
    std::fs::write(dir.join("1.json"), "3\n{oops\n5\n").unwrap();
    let b = ndtask_bag::read_text(&format!("{}/*.json", dir.display()))
        .unwrap()
        .decode_json::<i64>();
    let lines = ndtask_bag::read_text(&format!("{}/*.json", dir.display())).unwrap();
    let from_lines = lines.map(|l| l.clone()).decode_json::<i64>();
    for s in schedulers() {
        for b in [&b, &from_lines] {
            let e = b.compute_with(&s).unwrap_err().to_string();
            assert!(e.contains("1.json, line 2"), "{e}");
        }
    }
    // A line that is not UTF-8 names its file and line, read as text or as JSON.
    std::fs::write(dir.join("2.txt"), b"1\n\xff\xfe\n").unwrap();
    let text = ndtask_bag::read_text(&format!("{}/2.txt", dir.display())).unwrap();
    for e in [
        text.compute().unwrap_err().to_string(),
        text.decode_json::<i64>().compute().unwrap_err().to_string(),
    ] {
        assert!(e.contains("2.txt, line 2: not UTF-8"), "{e}");
    }
    // A panicking closure is an error on every scheduler.
    let p = Bag::from_vec((0..100).collect::<Vec<i64>>(), 7)
        .unwrap()
        .map(|&x| if x == 57 { panic!("bad item {x}") } else { x });
    for s in schedulers() {
        let e = p.count().compute_with(&s).unwrap_err().to_string();
        assert!(e.contains("bad item 57"), "{e}");
    }
    // Bad arguments.
    assert!(Bag::<i64>::from_vec(vec![1], 0).is_err());
    let strings = Bag::from_vec(vec!["a".to_string()], 1).unwrap();
    assert!(strings.to_textfiles("no-star.txt").is_err());
    assert!(strings.to_textfiles("two*stars*.txt").is_err());
    assert!(ndtask_bag::read_text_with(
        &format!("{}/*.json", dir.display()),
        &ReadText { blocksize: Some(0) }
    )
    .is_err());
    // A missing field names the record.
    let recs = ndtask_bag::read_text(&format!("{}/0.json", dir.display()))
        .unwrap()
        .decode_json::<serde_json::Value>()
        .pluck("name");
    let e = recs.compute().unwrap_err().to_string();
    assert!(e.contains("0.json, line 1") && e.contains("name"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pluck_fields_and_indices() {
    use serde_json::json;
    let b = Bag::from_vec(
        vec![
            json!({"name": "Ada", "langs": ["en", "fr"]}),
            json!({"name": "Alan", "langs": ["en"]}),
        ],
        2,
    )
    .unwrap();
    assert_eq!(on_all(&b.pluck("name")), vec![json!("Ada"), json!("Alan")]);
    assert_eq!(
        on_all(&b.pluck("langs").pluck(0)),
        vec![json!("en"), json!("en")]
    );
    assert!(b.pluck("langs").pluck(1).compute().is_err());
}

#[test]
fn shared_inputs_run_once_in_one_graph() {
    let b = Bag::from_vec((0..50).collect::<Vec<i64>>(), 5)
        .unwrap()
        .map(|x| x * 2);
    let (n, s, items) = ndtask_array::compute((&b.count(), &b.sum(), &b)).unwrap();
    assert_eq!((n, s), (50, (0..50).map(|x| x * 2).sum::<i64>()));
    assert_eq!(items.len(), 50);
    // One graph: the map's five tasks appear once (with the source fused into them), read by
    // both partial reductions and returned.
    let g = ndtask_array::Config::default()
        .task_graph(&(&b.count(), &b.sum(), &b))
        .unwrap();
    let names = g.op_names();
    let per_op = g.tasks_per_op();
    let tasks_of = |name: &str| {
        names
            .iter()
            .zip(&per_op)
            .filter(|(n, _)| *n == name)
            .map(|(_, k)| k)
            .sum::<usize>()
    };
    assert_eq!(tasks_of("from_vec+map"), 5, "{names:?}");
    assert_eq!(
        tasks_of("count-partial") + tasks_of("sum-partial"),
        10,
        "{names:?}"
    );
    assert_eq!(g.len(), 17, "{names:?}");
    // Alone, a chain of partition-wise steps is one task per partition.
    let chain = b.filter(|x| x % 3 == 0).map(|x| x + 1).count();
    let text = chain.explain().unwrap();
    assert!(
        text.contains("from_vec+map+filter+map+count-partial: 5 tasks"),
        "{text}"
    );
    assert_eq!(chain.compute().unwrap(), 17);
}

#[test]
fn take_computes_only_the_partitions_it_needs() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let b = Bag::range(100, 10).unwrap().map(move |&x| {
        m.fetch_add(1, Ordering::SeqCst);
        x * 10
    });
    for s in schedulers() {
        made.store(0, Ordering::SeqCst);
        assert_eq!(b.take_with(3, &s).unwrap(), vec![0, 10, 20]);
        assert_eq!(made.load(Ordering::SeqCst), 10, "only partition 0 was made");
        made.store(0, Ordering::SeqCst);
        // 25 items: partition 0, then 1 and 2 (twice as many at a time).
        assert_eq!(b.take_with(25, &s).unwrap().len(), 25);
        assert_eq!(made.load(Ordering::SeqCst), 30);
    }
    // The graph of one partition holds that partition's tasks only.
    let first = &b.to_delayed()[0];
    assert_eq!(first.task_graph().unwrap().len(), 2);
}

/// Partitions much larger than a piece: a source that makes its partitions in pieces folds
/// them piece by piece into a fused reduction, with the results of folding them whole.
#[test]
fn pieces_fold_like_whole_partitions() {
    let n = 10_007u64;
    let want: Vec<u64> = (0..n).collect();
    let b = Bag::range(n, 3).unwrap();
    let x = b.map(|&i| ((i * 7919) % 1000) as f64 / 7.0);
    let xs: Vec<f64> = want
        .iter()
        .map(|&i| ((i * 7919) % 1000) as f64 / 7.0)
        .collect();
    for s in schedulers() {
        let s = &s;
        // Fused (piece by piece) and held (the bag is also an output, so it is made whole):
        // the same bits.
        // Alone, each reduction folds the pieces (range+map+...-partial); computed with the
        // bag as an output too, it folds whole partitions: the same bits.
        let (sum, mean) = (
            x.sum().compute_with(s).unwrap(),
            x.mean().compute_with(s).unwrap(),
        );
        let (min, max) = (
            x.min().compute_with(s).unwrap(),
            x.max().compute_with(s).unwrap(),
        );
        let (sum2, mean2, items) = s.compute((x.sum(), x.mean(), &x)).unwrap();
        assert_eq!(
            (sum.to_bits(), mean.to_bits()),
            (sum2.to_bits(), mean2.to_bits())
        );
        assert_eq!(items, xs);
        assert_eq!(min, xs.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(max, xs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        assert!((mean - xs.iter().sum::<f64>() / n as f64).abs() < 1e-9);
        let evens = b.filter(|i| i % 2 == 0);
        assert_eq!(
            evens.count().compute_with(s).unwrap(),
            want.iter().filter(|i| *i % 2 == 0).count()
        );
        assert_eq!(
            b.fold(0u64, |a, &i| a + i * i, |a, c| a + c)
                .compute_with(s)
                .unwrap(),
            want.iter().map(|i| i * i).sum::<u64>()
        );
        assert_eq!(
            b.map(|i| i % 13).frequencies().compute_with(s).unwrap(),
            grouped(
                &want.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                |i| (i % 13) as u64,
                0usize,
                |c, _| c + 1
            )
        );
        assert_eq!(
            b.map(|i| i % 5).distinct().compute_with(s).unwrap(),
            vec![0, 1, 2, 3, 4]
        );
    }
    let text = x.sum().explain().unwrap();
    assert!(text.contains("range+map+sum-partial: 3 tasks"), "{text}");
}

/// Files of more lines than a piece, decoded and counted piece by piece; errors still name
/// the right line.
#[test]
fn long_files_in_pieces() {
    let dir = tempdir();
    let lines: Vec<String> = (0..5000).map(|i| format!("{{\"v\": {i}}}")).collect();
    std::fs::write(dir.join("0.json"), lines.join("\n")).unwrap();
    let mut bad = lines.clone();
    bad[3333] = "{\"v\": oops}".into();
    std::fs::write(dir.join("1.json"), bad.join("\n")).unwrap();
    #[derive(serde::Deserialize, serde::Serialize, Clone)]
    struct V {
        v: u64,
    }
    let good = ndtask_bag::read_text(&format!("{}/0.json", dir.display()))
        .unwrap()
        .decode_json::<V>();
    let broken = ndtask_bag::read_text(&format!("{}/*.json", dir.display()))
        .unwrap()
        .decode_json::<V>();
    for s in schedulers() {
        let v = good.map(|r| r.v);
        assert_eq!(v.sum().compute_with(&s).unwrap(), (0..5000).sum::<u64>());
        assert_eq!(
            v.filter(|x| x % 3 == 0).count().compute_with(&s).unwrap(),
            1667
        );
        let e = broken.count().compute_with(&s).unwrap_err().to_string();
        assert!(e.contains("1.json, line 3334"), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A gzip file of several members (concatenated, or bgzip) reads whole.
#[test]
fn gzip_of_several_members() {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let gz = |text: &str| {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let dir = tempdir();
    let mut bytes = gz("one\ntwo\n");
    bytes.extend(gz("three\n"));
    std::fs::write(dir.join("0.txt.gz"), bytes).unwrap();
    let b = ndtask_bag::read_text(&format!("{}/*.gz", dir.display())).unwrap();
    assert_eq!(on_all(&b), vec!["one", "two", "three"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Records whose encoding skips a field decode to themselves (fields are encoded by name).
#[test]
fn records_with_skipped_fields_cross_encodings() {
    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    struct P {
        #[serde(skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        #[serde(default)]
        name: String,
    }
    let items = vec![
        P {
            email: None,
            name: "Ada".into(),
        },
        P {
            email: Some("a@b".into()),
            name: "Alan".into(),
        },
    ];
    let b = Bag::from_vec(items.clone(), 2).unwrap();
    assert_eq!(on_all(&b), items);
    assert_eq!(ndtask_bag::__roundtrip(&items).unwrap(), items);
}

/// What reads a fold's result runs apart from it, so the fold still goes piece by piece; a
/// long chain of steps builds and runs.
#[test]
fn folds_end_their_chain() {
    let b = Bag::range(10_000, 1).unwrap().map(|x| x % 10);
    let counts = b.frequencies().map(|p| p.1);
    let text = counts.explain().unwrap();
    assert!(
        text.contains("range+map+foldby-partial: 1 task") && text.contains("map: 1 task"),
        "{text}"
    );
    assert_eq!(on_all(&counts), vec![1000; 10]);
    let mut long = Bag::range(100, 3).unwrap();
    for _ in 0..5000 {
        long = long.map(|x| x + 1);
    }
    assert_eq!(
        long.sum().compute().unwrap(),
        (0..100u64).map(|x| x + 5000).sum::<u64>()
    );
}
