//! Ranks that build different expressions must all get the same error, and compute normally
//! afterwards. Each case below makes rank 0 build one expression and the other ranks another
//! that differs in one parameter only (a seed, a scalar, a shape with the same block count, a
//! chunking, an element type, a reduction option, an axis, a closure's name, a captured
//! scalar, a slice's offset). Then expressions that fail to build on some ranks, or on all of
//! them with different errors. After every case, every rank must hold the same error (compared
//! across ranks by hash) and the next compute must give the right result.
//!
//! Asserts its own results, prints on rank 0 only (and on a rank that finds a problem), exits
//! non-zero on any problem. Works for any rank count: with one rank nothing can disagree, so
//! the cases check that a single rank computes its own expression.
//!
//! ```text
//! cargo build --release --features mpi --examples
//! mpirun -n 3 target/release/examples/mpi_disagree
//! ```

use ndtask::ndarray::s;
use ndtask::prelude::*;
use ndtask::scheduler::MpiScheduler;
use ndtask::{arange, full, ones};
use ndtask_mpi::mpi::collective::SystemOperation;
use ndtask_mpi::mpi::traits::CommunicatorCollectives;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// What one case computes on this rank: its own expression, reduced to one `f64`.
type Case = fn(rank: usize) -> ndtask::Result<Scalar<f64>>;

fn pick<T>(rank: usize, first: T, others: T) -> T {
    if rank == 0 {
        first
    } else {
        others
    }
}

fn x() -> ndtask::Result<Array<f64>> {
    arange(0.0, 100.0, 1.0, [10])
}

/// Cases in which the ranks build valid expressions that differ in one parameter.
fn differing() -> Vec<(&'static str, Case)> {
    vec![
        ("seed", |r| {
            Ok(random::uniform::<f64>([100], [10], pick(r, 1, 2))?.sum())
        }),
        ("scalar", |r| Ok((&x()? + pick(r, 1.0, 2.0)).sum())),
        ("shape with the same block count", |r| {
            Ok(arange(0.0, pick(r, 100.0, 99.0), 1.0, [10])?.sum())
        }),
        ("chunk sizes", |r| {
            let sizes = pick(r, vec![vec![3, 7]], vec![vec![7, 3]]);
            Ok(ones::<f64>([10], sizes)?.sum())
        }),
        ("element type", |r| {
            Ok(if r == 0 {
                full([10], [5], 1.0f64)?.astype::<f64>().sum()
            } else {
                full([10], [5], 1.0f32)?.astype::<f64>().sum()
            })
        }),
        ("reduction option (ddof)", |r| {
            Ok(x()?.var(pick(r, 0.0, 1.0)))
        }),
        ("reduction axis", |r| {
            let sq = x()?.reshape([10, 10])?.rechunk([10, 10])?;
            Ok(sq.sum_axis(pick(r, 0, 1))?.slice(s![0..1])?.sum())
        }),
        ("closure name", |r| {
            Ok(x()?
                .map_named(pick(r, "double", "twice"), |v| v * 2.0)
                .sum())
        }),
        ("captured scalar (clip)", |r| {
            Ok(x()?.clip(0.0, pick(r, 50.0, 60.0))?.sum())
        }),
        ("slice offset", |r| {
            let one = x()?.rechunk([100])?;
            Ok(one.slice(s![pick(r, 0, 1)..pick(r, 50, 51)])?.sum())
        }),
        ("comparison scalar", |r| {
            Ok(x()?
                .greater(pick(r, 10.0, 20.0))?
                .count_true()
                .into_array()
                .astype::<f64>()
                .sum())
        }),
    ]
}

/// The hash of an error's full text and variant, to compare errors across ranks.
fn hash(e: &ndtask::Error) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{e:?}").hash(&mut h);
    h.finish()
}

/// Whether every rank holds the same value.
fn same_everywhere(mpi: &MpiScheduler, v: u64) -> bool {
    let world = mpi.universe().world();
    let (mut lo, mut hi) = (0u64, 0u64);
    world.all_reduce_into(&v, &mut lo, SystemOperation::min());
    world.all_reduce_into(&v, &mut hi, SystemOperation::max());
    lo == hi
}

/// The error a case must give: one that `expected` accepts (given its text), the same on every
/// rank.
fn same_error(
    mpi: &MpiScheduler,
    what: &str,
    got: Option<ndtask::Error>,
    expected: impl Fn(&ndtask::Error, &str) -> bool,
) -> Result<(), String> {
    let e = got.ok_or_else(|| format!("{what}: computed"))?;
    let text = e.to_string();
    if !expected(&e, &text) || !same_everywhere(mpi, hash(&e)) {
        return Err(format!("{what}: unexpected error {text}"));
    }
    Ok(())
}

/// Computes `x.sum()` (4950) and checks the result: the scheduler still works.
fn still_works(mpi: &Rc<MpiScheduler>) -> Result<(), String> {
    let cfg = Config::new().shared_scheduler(mpi.clone());
    match (
        mpi.rank(),
        cfg.compute_local(&x().map_err(|e| e.to_string())?.sum()),
    ) {
        (0, Ok(Some(4950.0))) => Ok(()),
        (1.., Ok(None)) => Ok(()),
        (_, other) => Err(format!("the next compute gave {other:?}")),
    }
}

fn run(mpi: &Rc<MpiScheduler>) -> Result<usize, String> {
    let cfg = Config::new().shared_scheduler(mpi.clone());
    let (rank, ranks) = (mpi.rank(), mpi.ranks());
    let mut checked = 0;
    for (name, case) in differing() {
        let expr = case(rank).map_err(|e| format!("{name}: building: {e}"))?;
        match cfg.compute_local(&expr) {
            Err(e) if ranks > 1 => {
                let text = e.to_string();
                if !matches!(e, ndtask::Error::Mpi(_)) || !text.contains("different task graphs") {
                    return Err(format!("{name}: unexpected error {text}"));
                }
                if !same_everywhere(mpi, hash(&e)) {
                    return Err(format!("{name}: the ranks got different errors ({text})"));
                }
            }
            Err(e) => return Err(format!("{name}: one rank failed: {e}")),
            Ok(_) if ranks > 1 => {
                return Err(format!("{name}: the ranks disagree, yet compute succeeded"))
            }
            Ok(_) => {}
        }
        still_works(mpi).map_err(|e| format!("{name}: {e}"))?;
        checked += 1;
    }

    // The last rank builds an expression with mismatched shapes (its error is deferred to
    // compute); the others build a valid one.
    let last = ranks - 1;
    let a = x().map_err(|e| e.to_string())?;
    let b = if rank == last {
        arange(0.0, 7.0, 1.0, [7]).map_err(|e| e.to_string())?
    } else {
        a.clone()
    };
    let got = cfg.compute_local(&(&a + &b).sum()).err();
    same_error(mpi, &format!("invalid on rank {last}"), got, |e, text| {
        let named = if ranks > 1 {
            matches!(e, ndtask::Error::Mpi(_))
                && text.contains(&format!("rank {last} of {ranks} could not build"))
        } else {
            matches!(e, ndtask::Error::Shape(_))
        };
        named && text.contains("[100] and [7]")
    })?;
    still_works(mpi)?;
    checked += 1;

    // Every rank builds an invalid expression, each with its own shapes: every rank reports
    // rank 0's error, with its variant.
    let c = arange(0.0, 3.0 + rank as f64, 1.0, [2]).map_err(|e| e.to_string())?;
    let got = cfg.compute_local(&(&a + &c).sum()).err();
    same_error(mpi, "invalid everywhere", got, |e, text| {
        matches!(e, ndtask::Error::Shape(_)) && text.contains("[100] and [3]")
    })?;
    still_works(mpi)?;
    checked += 1;

    // Rank 0 computes an array while the others persist it: the graphs are the same, but the
    // outputs would go to rank 0 on one side and stay put on the other. Every rank is told.
    if ranks > 1 {
        let got = match rank {
            0 => cfg.compute_local(&a).err(),
            _ => a.persist_with(&cfg).err(),
        };
        same_error(mpi, "persist against compute", got, |e, text| {
            matches!(e, ndtask::Error::Mpi(_)) && text.contains("where the outputs go")
        })?;
        still_works(mpi)?;
        checked += 1;
        // An array persisted on every rank, read on fewer: refused before it runs, on every
        // rank of the smaller run.
        let kept = a.persist_with(&cfg).map_err(|e| e.to_string())?;
        let fewer = mpi
            .on_first_ranks(1, |_| {
                cfg.compute_local(&kept.sum()).err().map(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?;
        if let Some(text) = fewer {
            let text = text.ok_or("a persisted array computed on fewer ranks")?;
            if !text.contains("compute what reads a persisted array on the ranks") {
                return Err(format!(
                    "persisted array on fewer ranks: unexpected error {text}"
                ));
            }
        }
        still_works(mpi)?;
        checked += 1;
        // Rank 0 runs without a memory budget, the others with one: every rank is told.
        let ctx = match rank {
            0 => cfg.clone(),
            _ => cfg.clone().memory_budget(1 << 30),
        };
        let got = ctx.compute_local(&a.sum()).err();
        same_error(mpi, "budget on some ranks", got, |e, text| {
            matches!(e, ndtask::Error::Mpi(_)) && text.contains("disagree on the memory budget")
        })?;
        still_works(mpi)?;
        checked += 1;
        // A budget that only the rank of the second chunk (rank `ranks / 2`) cannot keep: that
        // chunk of 9 elements, made by a user's function, is 72 bytes. Every rank gets that
        // rank's plan-time error.
        let uneven = ones::<f64>([10], vec![vec![1, 9]])
            .map_err(|e| e.to_string())?
            .map_blocks(|b| b.to_owned());
        let ctx = cfg.clone().memory_budget(40);
        let got = ctx.compute_local(&uneven.sum()).err();
        same_error(mpi, "a budget one rank cannot keep", got, |e, text| {
            matches!(e, ndtask::Error::Memory(_))
                && text.contains(&format!("on MPI rank {} of {ranks}", ranks / 2))
        })?;
        still_works(mpi)?;
        checked += 1;
    }
    Ok(checked)
}

fn main() {
    let code = match MpiScheduler::new() {
        Err(e) => {
            eprintln!("mpi_disagree: {e}");
            2
        }
        Ok(mpi) => {
            let mpi = Rc::new(mpi);
            let (rank, ranks) = (mpi.rank(), mpi.ranks());
            let result = run(&mpi);
            let ok = same_everywhere(&mpi, result.is_ok() as u64) && result.is_ok();
            match result {
                Ok(n) if ok && rank == 0 => {
                    println!("mpi_disagree: {n} cases, the same error on all {ranks} ranks each time, and the next compute right")
                }
                Ok(_) => {}
                Err(e) => eprintln!("mpi_disagree: rank {rank} of {ranks}: FAILED: {e}"),
            }
            mpi.universe().world().barrier();
            if ok {
                0
            } else {
                1
            }
        }
    };
    std::process::exit(code);
}
