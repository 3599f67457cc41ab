//! What the command-line examples share: counts like `1e8`, the `--scheduler` choice, and a
//! `main` that prints usage errors (exit 2) and run errors (exit 1).

// Each example uses a subset.
#![allow(dead_code)]

use ndtask::engine::Scheduler;
use ndtask::observe::Report;
use ndtask::scheduler::{self, Kind};
use ndtask::{Config, Error};
use std::rc::Rc;
use std::sync::Arc;

/// A whole number, written plainly, with `_` separators, or as `1e8`.
pub fn parse_count(flag: &str, s: &str) -> Result<usize, String> {
    let clean = s.replace('_', "");
    if let Ok(n) = clean.parse::<usize>() {
        return Ok(n);
    }
    match clean.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 => Ok(v as usize),
        _ => Err(format!(
            "{flag} expects a whole number such as 100000000 or 1e8, got {s:?}"
        )),
    }
}

/// Walks the command line: `on(flag, value)` for each argument, where `value()` takes the
/// argument after it (a usage error naming the flag when there is none). `on` says whether it
/// knows the flag; an unknown one, `-h` and `--help` are usage errors.
pub fn each_arg(
    usage: &str,
    mut on: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<bool, String>,
) -> Result<(), String> {
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(usage.to_string());
        }
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{usage}"))
        };
        if !on(&flag, &mut value)? {
            return Err(format!("unknown argument {flag:?}\n{usage}"));
        }
    }
    Ok(())
}

/// The value of `--scheduler`: a kind, or `None` for `auto`.
pub fn parse_scheduler(v: &str) -> Result<Option<Kind>, String> {
    match v {
        "auto" => Ok(None),
        _ => v.parse().map(Some).map_err(|e: Error| e.to_string()),
    }
}

/// A configuration on the scheduler chosen (`None`: auto) with `threads` threads.
pub fn make_config(kind: Option<Kind>, threads: Option<usize>) -> Result<Config, Error> {
    scheduler::config(kind, threads)
}

/// The scheduler an example runs on, keeping the MPI scheduler's own type (for what only it
/// tells: each rank's figures).
pub enum Chosen {
    /// The MPI scheduler.
    #[cfg(feature = "mpi")]
    Mpi(Rc<ndtask::scheduler::MpiScheduler>),
    /// Any other.
    Other(Rc<dyn Scheduler>),
}

impl Chosen {
    /// The scheduler chosen (`None`: auto) with `threads` threads; under MPI, results go to
    /// every rank when `gather_to_all`.
    pub fn new(
        kind: Option<Kind>,
        threads: Option<usize>,
        gather_to_all: bool,
    ) -> Result<Self, Error> {
        let kind = kind.unwrap_or_else(scheduler::auto_kind);
        #[cfg(feature = "mpi")]
        if kind == Kind::Mpi {
            let mut b = ndtask::scheduler::MpiScheduler::builder().gather_to_all(gather_to_all);
            if let Some(n) = threads {
                b = b.threads(n);
            }
            return Ok(Chosen::Mpi(Rc::new(b.build()?)));
        }
        let _ = gather_to_all;
        Ok(Chosen::Other(Rc::from(scheduler::make(kind, threads)?)))
    }

    /// A configuration on this scheduler.
    pub fn config(&self) -> Config {
        match self {
            #[cfg(feature = "mpi")]
            Chosen::Mpi(m) => Config::new().shared_scheduler(m.clone()),
            Chosen::Other(s) => Config::new().shared_scheduler(s.clone()),
        }
    }

    /// The scheduler.
    pub fn get(&self) -> &dyn Scheduler {
        match self {
            #[cfg(feature = "mpi")]
            Chosen::Mpi(m) => &**m,
            Chosen::Other(s) => &**s,
        }
    }

    /// Tasks run, bytes sent and (under a memory budget) the most bytes held by each rank in the
    /// last run (a collective call under MPI, made by every rank); `None` for a scheduler of one
    /// process.
    pub fn per_rank(&self) -> Option<[Vec<usize>; 3]> {
        match self {
            #[cfg(feature = "mpi")]
            Chosen::Mpi(m) => {
                let all = m.last_run_per_rank();
                Some([
                    all.iter().map(|r| r.tasks_run).collect(),
                    all.iter().map(|r| r.bytes_sent).collect(),
                    all.iter().map(|r| r.peak_held_bytes).collect(),
                ])
            }
            Chosen::Other(_) => None,
        }
    }
}

/// Parses the arguments, then runs: a usage error exits with 2, a run error with 1 (prefixed
/// with the program's `name`).
pub fn main_with<A>(
    name: &str,
    parse: impl FnOnce() -> Result<A, String>,
    run: impl FnOnce(&A) -> Result<(), Error>,
) {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}

/// `cfg`, writing a performance report of its runs to `path` when one is given (`--report
/// FILE.html`: one HTML page, rewritten after each run, by rank 0 under MPI), titled with the
/// command line.
pub fn reporting(cfg: Config, path: Option<&str>) -> Config {
    let Some(path) = path else { return cfg };
    let mut args = std::env::args();
    let program = args.next().unwrap_or_default();
    let name = std::path::Path::new(&program)
        .file_name()
        .map_or(program.clone(), |n| n.to_string_lossy().into_owned());
    let title = std::iter::once(name)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ");
    cfg.report_to(Arc::new(Report::new().title(title)), path)
}
