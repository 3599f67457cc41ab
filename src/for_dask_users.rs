//! # ndtask for Dask users
//!
//! Dask's calls and ndtask's, side by side (as ndarray's `ndarray_for_numpy_users`). Every
//! row has a snippet below that runs as a doc test, so the table cannot drift from the code.
//!
//! | Dask / NumPy | ndtask |
//! |---|---|
//! | `da.random.default_rng(42).random((n, n), chunks=c)` | [`random::default_rng(42).uniform::<f64>([n, n], [c, c])`](#arrays-and-chunks) |
//! | `x.mean().compute()` | [`x.mean().compute()?`](#computing) |
//! | `dask.compute(x.mean(), b.count())` | [`ndtask::compute((x.mean(), b.count()))?`](#one-graph-for-everything) |
//! | `dask.config.set(scheduler="sync")` | [`Config::new().scheduler(SyncScheduler)`, then `x.compute_with(&cfg)`](#choosing-how-it-runs) |
//! | `dask.config.set(num_workers=4)` | [`Config::new().threads(4)?`](#choosing-how-it-runs) |
//! | memory limits (`distributed`'s `memory_limit`, Cubed's `allowed_mem`) | [`Config::new().memory_budget(parse_bytes("64MiB")?)`](#choosing-how-it-runs) |
//! | `ProgressBar()`, `performance_report` | [`Config::new().observe(Arc::new(ProgressBar::new()))`](#watching-a-run) |
//! | `x.persist()` | [`x.persist()?`](#persist) |
//! | `da.store(x, target, compute=False)`, `x.to_zarr(..., compute=False)` | [`x.to_zarr(path, "/", &opts)?` is lazy; `.compute()?` runs it](#lazy-writes) |
//! | `da.to_npy_stack`, `np.save` | [`x.to_npy(path)?.compute()?`](#lazy-writes) |
//! | `da.from_zarr(path)` | [`open_zarr(path, "/")?` (any stored type) or `from_zarr::<f64>(..)`](#reading-data) |
//! | `x.map_blocks(f)` | [`x.map_blocks(f)`](#map-blocks) |
//! | `x.visualize()`, `dask.optimize`, `x.dask` | [`x.visualize(path)?`, `x.explain()?`, `x.task_graph()?`](#looking-at-the-plan) |
//! | `db.from_sequence(items, npartitions=4)` | [`Bag::from_vec(items, 4)?`](#bags) |
//! | `db.read_text("*.txt")` | [`bag::read_text("*.txt")?`](#bags) |
//! | `dask.delayed(f)()` | [`delayed::delayed(f)`](#delayed-values) |
//! | `x.astype(np.float32)` | [`x.astype::<f32>()`, on an `AnyArray` `x.astype(DType::F32)`](#element-types) |
//!
//! What differs on purpose: random numbers are the same for any chunking (Dask's change with it,
//! dask#1684); results are bit-identical on every scheduler, thread and MPI rank count; a write
//! is lazy until computed (in Dask `compute=True` is the default); the run configuration is a
//! value passed to a compute, not global state.
//!
//! ## Arrays and chunks
//! ```
//! use ndtask::prelude::*;
//! let x = random::default_rng(42).uniform::<f64>([1000, 1000], [250, 250])?;
//! assert_eq!((x.shape(), x.num_chunks()), (vec![1000, 1000], 16));
//! let y = (&x + 1.0) * 2.0 - &x * &x; // lazy, one fused pass per chunk
//! assert_eq!(y.chunks()[0], vec![250; 4]);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Computing
//! ```
//! let x = ndtask::random::uniform::<f64>([1000], [100], 1)?;
//! let m: f64 = x.mean().compute()?;
//! let values = x.compute()?; // an ndarray::ArrayD<f64>
//! assert!((values.mean().unwrap() - m).abs() < 1e-12);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## One graph for everything
//! ```
//! use ndtask::prelude::*;
//! let x = ndtask::random::uniform::<f64>([1000], [100], 1)?;
//! let b = ndtask::Bag::range(10, 3)?;
//! let d = ndtask::delayed::delayed(|| 42_i64);
//! // An array mean, a bag count and a delayed value over one graph: x runs once.
//! let (mean, count, answer) = ndtask::compute((x.mean(), b.count(), &d))?;
//! assert_eq!((count, answer), (10, 42));
//! # let _ = mean;
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Choosing how it runs
//! ```
//! use ndtask::prelude::*;
//! let x = ndtask::random::uniform::<f64>([1000, 1000], [100, 100], 1)?;
//! let sync = Config::new().scheduler(SyncScheduler);
//! let four = Config::new().threads(4)?.memory_budget(ndtask::parse_bytes("64MiB")?);
//! assert_eq!(x.sum().compute_with(&sync)?, x.sum().compute_with(&four)?); // same bits
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Watching a run
//! ```
//! use ndtask::observe::ChromeTrace;
//! use std::sync::Arc;
//! let x = ndtask::random::uniform::<f64>([1000], [100], 1)?;
//! let trace = Arc::new(ChromeTrace::new());
//! let cfg = ndtask::Config::new().observe(trace.clone());
//! x.mean().compute_with(&cfg)?;
//! assert_eq!(trace.events(), x.mean().task_graph()?.len());
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Persist
//! ```
//! let x = ndtask::random::uniform::<f64>([1000], [100], 1)?;
//! let y = (&x * 2.0).persist()?; // computed once, kept in memory
//! assert_eq!(y.sum().compute()?, (&x * 2.0).sum().compute()?);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Lazy writes
//! ```
//! let path = std::env::temp_dir().join(format!("ndtask-dask-users-{}.npy", std::process::id()));
//! let x = ndtask::random::uniform::<f64>([1000], [100], 1)?;
//! let write = x.to_npy(&path)?;                           // nothing written yet
//! let ((), mean) = ndtask::compute((&write, x.mean()))?;  // the store and the mean in one pass
//! assert_eq!(ndtask::from_npy::<f64>(&path, [500])?.mean().compute()?, mean);
//! # std::fs::remove_file(&path).unwrap();
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Reading data
//! ```
//! let path = std::env::temp_dir().join(format!("ndtask-dask-users-read-{}.npy", std::process::id()));
//! ndtask::arange(0i64, 10, 1, [4])?.to_npy(&path)?.compute()?;
//! let x = ndtask::open_npy(&path, [5])?; // the element type comes from the file
//! assert_eq!(x.dtype(), ndtask::DType::I64);
//! assert_eq!(x.sum().compute()?, ndtask::AnyValue::I64(45));
//! # std::fs::remove_file(&path).unwrap();
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Map blocks
//! ```
//! let x = ndtask::arange(0.0, 10.0, 1.0, [4])?;
//! let y = x.map_blocks(|b| b.mapv(|v| v * 10.0));
//! assert_eq!(y.sum().compute()?, 450.0);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Looking at the plan
//! ```
//! let x = ndtask::random::uniform::<f64>([100, 100], [50, 50], 1)?;
//! let e = (&x * 2.0).sum();
//! assert!(e.explain()?.contains("streamed into its reduction"));
//! assert_eq!(e.task_graph()?.len(), 4 + 1); // four partials, one combine
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Bags
//! ```
//! use ndtask::Bag;
//! let b = Bag::from_vec((1..=10).collect::<Vec<i64>>(), 3)?;
//! let evens = b.filter(|v| v % 2 == 0).map(|v| v * v);
//! assert_eq!(evens.compute()?, vec![4, 16, 36, 64, 100]);
//! assert_eq!(b.sum().compute()?, 55);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Delayed values
//! ```
//! use ndtask::delayed;
//! let a = delayed::value(20_i64);
//! let b = delayed::delayed(|| 22_i64);
//! assert_eq!(a.zip_map(&b, |x, y| x + y).compute()?, 42);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
//! ## Element types
//! ```
//! use ndtask::{AnyArray, DType};
//! let x = ndtask::arange(0i64, 4, 1, [2])?;
//! let f = x.astype::<f32>();
//! let any: AnyArray = x.into();
//! assert_eq!((&any * 0.5).dtype(), DType::F64); // NumPy's promotion: i64 * float -> f64
//! assert_eq!(f.sum().compute()?, 6.0);
//! # Ok::<(), ndtask::Error>(())
//! ```
//!
