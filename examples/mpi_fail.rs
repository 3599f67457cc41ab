//! A task that panics on one rank must make `compute` fail on every rank, quickly and with the
//! same error, and the process must exit non-zero; no rank may wait forever.
//!
//! `arange(0, 60)` in 6 chunks of 10; on 3 ranks chunks 2 and 3 belong to rank 1, and the map
//! panics on the value 25, inside chunk 2. Every rank prints the error it got, checks that the
//! scheduler still computes correctly afterwards, and exits with code 1 (the expected failure).
//! Code 2 means something else went wrong (no error, a different error, a wrong result).
//!
//! ```text
//! timeout 20 mpirun -n 3 target/release/examples/mpi_fail; echo $?   # 1
//! ```

use ndtask::arange;
use ndtask::prelude::*;
use ndtask::scheduler::MpiScheduler;
use std::rc::Rc;

const POISON: i64 = 25;

fn run(mpi: &Rc<MpiScheduler>) -> Result<String, String> {
    let cfg = Config::new().shared_scheduler(mpi.clone());
    let (rank, ranks) = (mpi.rank(), mpi.ranks());
    let x = arange(0i64, 60, 1, 10).map_err(|e| e.to_string())?;
    let bad = x
        .map(|v| {
            if v == POISON {
                panic!("value {v} is poison");
            }
            v * 2
        })
        .sum();
    let error = match cfg.compute_local(&bad) {
        Ok(v) => {
            return Err(format!(
                "compute succeeded ({v:?}) although a task panicked"
            ))
        }
        Err(e) => e,
    };
    let text = error.to_string();
    let owner = 2 * ranks / 6; // the rank that owns chunk 2
    let expected_rank = format!("on MPI rank {owner} of {ranks}");
    if !matches!(error, Error::Task { .. })
        || !text.contains("value 25 is poison")
        || !text.contains(&expected_rank)
    {
        return Err(format!("unexpected error: {text}"));
    }
    // The failed run left nothing behind: the next compute works on every rank.
    let good = cfg
        .compute_local(&x.sum())
        .map_err(|e| format!("after the failure: {e}"))?;
    match (rank, good) {
        (0, Some(1770)) | (1.., None) => Ok(text),
        (_, other) => Err(format!("after the failure: wrong result {other:?}")),
    }
}

fn main() {
    use ndtask_mpi::mpi::traits::CommunicatorCollectives;
    let code = match MpiScheduler::new() {
        Err(e) => {
            eprintln!("mpi_fail: {e}");
            2
        }
        Ok(mpi) => {
            let mpi = Rc::new(mpi);
            let (rank, ranks) = (mpi.rank(), mpi.ranks());
            let code = match run(&mpi) {
                Ok(text) => {
                    println!("mpi_fail: rank {rank} of {ranks} got the expected error: {text}");
                    1
                }
                Err(e) => {
                    eprintln!("mpi_fail: rank {rank} of {ranks}: FAILED: {e}");
                    2
                }
            };
            // Every rank has printed before any exits (mpirun stops the others at the first
            // non-zero exit).
            mpi.universe().world().barrier();
            code
        }
    };
    std::process::exit(code);
}
