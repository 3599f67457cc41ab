//! The Dask-ML seed on ndtask: fit a cross-validated logistic regression on a small training
//! set, then predict and score in parallel on a chunked array of many copies of it
//! (`ParallelPostFit(LogisticRegressionCV(cv=3), scoring="r2")`). With `--kmeans K`, k-means
//! on Gaussian blobs instead (made once and held in memory; the fit is timed).
//!
//! ```text
//! cargo run --release --features ml --example ml_predict -- --samples 1000 --copies 100 --json
//! cargo run --release --features ml --example ml_predict -- --kmeans 8 --rows 1000000 --features 10 --json
//! ```

#[path = "cli/mod.rs"]
mod cli;

use ndtask::ml::{
    accuracy_score, r2_score, KMeans, LogisticRegressionCV, MakeBlobs, MakeClassification,
    ParallelPostFit,
};
use ndtask::prelude::*;
use ndtask::scheduler::Kind;
use std::time::Instant;

const USAGE: &str = "usage: ml_predict [--samples 1000] [--copies 100] [--seed 1]
              [--kmeans K --rows N --features F [--chunk ROWS]]
              [--scheduler sync|threaded|mpi|auto] [--threads N] [--json] [--report FILE.html]
  --samples N     training samples (make_classification: 2 informative features, 2 classes,
                  one cluster each; default 1000)
  --copies C      copies of the training set in the large array, one chunk each (default 100)
  --seed S        the data's seed (default 1)
  --kmeans K      fit k-means with K clusters on Gaussian blobs instead
  --rows N        the blobs' samples (default 1000000)
  --features F    the blobs' features (default 10)
  --chunk ROWS    the blobs' rows per chunk (default 100000)
  --json          end with one JSON line: best_c, accuracy, r2, chunks, tasks, seconds
                  (with --kmeans: inertia, iterations, seconds)
  --report FILE   write a performance report of the runs (one HTML page)";

struct Args {
    samples: usize,
    copies: usize,
    seed: u64,
    kmeans: Option<usize>,
    rows: usize,
    features: usize,
    chunk: usize,
    json: bool,
    report: Option<String>,
    scheduler: Option<Kind>,
    threads: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        samples: 1000,
        copies: 100,
        seed: 1,
        kmeans: None,
        rows: 1_000_000,
        features: 10,
        chunk: 100_000,
        json: false,
        report: None,
        scheduler: None,
        threads: None,
    };
    cli::each_arg(USAGE, |flag, value| {
        match flag {
            "--samples" => a.samples = cli::parse_count("--samples", &value()?)?,
            "--copies" => a.copies = cli::parse_count("--copies", &value()?)?,
            "--seed" => a.seed = cli::parse_count("--seed", &value()?)? as u64,
            "--kmeans" => a.kmeans = Some(cli::parse_count("--kmeans", &value()?)?),
            "--rows" => a.rows = cli::parse_count("--rows", &value()?)?,
            "--features" => a.features = cli::parse_count("--features", &value()?)?,
            "--chunk" => a.chunk = cli::parse_count("--chunk", &value()?)?.max(1),
            "--json" => a.json = true,
            "--report" => a.report = Some(value()?),
            "--scheduler" => a.scheduler = cli::parse_scheduler(&value()?)?,
            "--threads" => a.threads = Some(cli::parse_count("--threads", &value()?)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if a.copies == 0 || a.samples < 3 {
        return Err(format!(
            "--copies must be at least 1 and --samples at least 3 (one per fold)\n{USAGE}"
        ));
    }
    Ok(a)
}

fn main() {
    cli::main_with("ml_predict", parse_args, run);
}

fn run(a: &Args) -> Result<(), Error> {
    let chosen = cli::Chosen::new(a.scheduler, a.threads, true)?;
    let cfg = cli::reporting(chosen.config(), a.report.as_deref());
    let root = chosen.get().rank() == 0;
    if let Some(k) = a.kmeans {
        let (_, x, _) = MakeBlobs::new(a.rows, a.features)
            .centers(k)
            .seed(a.seed)
            .generate(a.chunk)?;
        // Made once and held in memory (as scikit-learn's in-memory data); the fit is timed.
        let x = x.persist_with(&cfg)?;
        let t = Instant::now();
        let model = KMeans::new(k).seed(a.seed).fit_with(&x, &cfg)?;
        let seconds = t.elapsed().as_secs_f64();
        if root {
            println!(
                "k-means, k = {k}, on {} x {} blobs in {}-row chunks: inertia {}, {} iterations, {seconds:.3} s",
                a.rows, a.features, a.chunk, model.inertia, model.n_iter
            );
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"inertia": model.inertia, "iterations": model.n_iter, "seconds": seconds})
                );
            }
        }
        return Ok(());
    }
    // make_classification(n_features=2, n_redundant=0, n_informative=2, n_clusters_per_class=1)
    let (x, y) = MakeClassification::new(a.samples, 2)
        .features(2, 0, 0)
        .classes(2, 1)
        .seed(a.seed)
        .generate(a.samples)?;
    let (x_train, y_train) = cfg.compute((&x, &y))?;
    let x_train = ndtask::from_ndarray(x_train, [a.samples, 2])?;
    let y_train = ndtask::from_ndarray(y_train, [a.samples])?;
    let t = Instant::now();
    let cv = LogisticRegressionCV::new()
        .cv(3)
        .fit_with(&x_train, &y_train, &cfg)?;
    let fit_seconds = t.elapsed().as_secs_f64();
    let xs: Vec<&Array<f64>> = vec![&x_train; a.copies];
    let ys: Vec<&Array<f64>> = vec![&y_train; a.copies];
    let (x_large, y_large) = (ndtask::concatenate(&xs, 0)?, ndtask::concatenate(&ys, 0)?);
    let clf = ParallelPostFit::new(cv.model.clone())?;
    let t = Instant::now();
    // The predictions once, both scores from them (`clf.scoring(Scoring::R2).score(&x, &y)` is
    // the same r2, from predictions of its own).
    let y_pred = clf.predict(&x_large)?;
    let (accuracy, r2) = (
        accuracy_score(&y_large, &y_pred)?,
        r2_score(&y_large, &y_pred)?,
    );
    let tasks = cfg.task_graph(&(&accuracy, &r2))?.len();
    let (accuracy, r2) = cfg.compute((&accuracy, &r2))?;
    let seconds = t.elapsed().as_secs_f64();
    if !root {
        return Ok(());
    }
    let chunks = x_large.num_chunks();
    println!(
        "LogisticRegressionCV(cv=3) on {} samples: C = {} ({fit_seconds:.3} s); \
         predicted and scored {} x 2 in {chunks} chunks ({tasks} tasks): accuracy {accuracy:.4}, r2 {r2:.4}, {seconds:.4} s",
        a.samples,
        cv.best_c,
        a.samples * a.copies,
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "best_c": cv.best_c, "accuracy": accuracy, "r2": r2, "chunks": chunks,
                "tasks": tasks, "seconds": seconds, "fit_seconds": fit_seconds,
            })
        );
    }
    Ok(())
}
