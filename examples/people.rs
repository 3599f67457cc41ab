//! The bag walk-through of Dask's tutorial, on ndtask's bags: synthetic people records written
//! as JSON lines (one file per partition), read back, filtered, counted and grouped.
//!
//! ```text
//! cargo run --release --example people -- --dir data --records 1e6 --partitions 10 --json
//! mpirun -n 2 target/release/examples/people --dir data --scheduler mpi   # --features mpi
//! ```
//!
//! The same seed gives the same files and the same output on every scheduler, thread count
//! and rank count.

#[path = "cli/mod.rs"]
mod cli;

use cli::parse_count;
use ndtask::bag::{read_text, Bag};
use ndtask::scheduler::Kind;
use ndtask::Error;
use serde::{Deserialize, Serialize};
use std::time::Instant;

const USAGE: &str = "usage: people --dir DIR [--records N] [--partitions P] [--seed S] \
[--scheduler sync|threaded|mpi|auto] [--threads N] [--read-only] [--json] [--report FILE.html]
  --dir DIR       where the JSON files go: DIR/0.json .. DIR/<P-1>.json (required)
  --records N     number of people (default 10000; 1e7 notation accepted)
  --partitions P  partitions, one file each (default 10)
  --seed S        random seed (default 42)
  --scheduler S   sync, threaded (default), mpi (needs --features mpi and mpirun), or auto
  --threads N     threads of the threaded scheduler (default: all cores)
  --read-only     only read DIR/*.json (written before) and count the people older than 30:
                  read_text().decode_json().filter().count(), the Dask comparison's workload
  --decode WHAT   with --read-only, decode each record as a whole `person` (default) or only
                  its `age` (serde skips the other fields: no strings are made)
  --json          end the output with one JSON line
  --report FILE   write a performance report of the runs (one HTML page)";

struct Args {
    dir: String,
    records: usize,
    partitions: usize,
    seed: u64,
    scheduler: Option<Kind>,
    threads: Option<usize>,
    read_only: bool,
    age_only: bool,
    json: bool,
    report: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        dir: String::new(),
        records: 10_000,
        partitions: 10,
        seed: 42,
        scheduler: Some(Kind::Threaded),
        threads: None,
        read_only: false,
        age_only: false,
        json: false,
        report: None,
    };
    cli::each_arg(USAGE, |flag, value| {
        match flag {
            "--dir" => a.dir = value()?,
            "--records" => a.records = parse_count("--records", &value()?)?,
            "--partitions" => a.partitions = parse_count("--partitions", &value()?)?,
            "--seed" => a.seed = parse_count("--seed", &value()?)? as u64,
            "--threads" => a.threads = Some(parse_count("--threads", &value()?)?),
            "--scheduler" => a.scheduler = cli::parse_scheduler(&value()?)?,
            "--read-only" => a.read_only = true,
            "--decode" => match value()?.as_str() {
                "person" => a.age_only = false,
                "age" => a.age_only = true,
                v => return Err(format!("--decode takes person or age, got {v:?}")),
            },
            "--json" => a.json = true,
            "--report" => a.report = Some(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if a.dir.is_empty() {
        return Err(format!("--dir is required\n{USAGE}"));
    }
    if a.partitions == 0 || a.threads == Some(0) {
        return Err("--partitions and --threads must be at least 1".into());
    }
    Ok(a)
}

/// One synthetic person (the fields of Dask's `make_people`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Person {
    name: (String, String),
    age: u32,
    occupation: String,
    email: String,
    telephone: String,
    address: Address,
}

/// Only the age of a record (`--decode age`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Age {
    age: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    street: String,
    city: String,
}

const FIRST: [&str; 12] = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Katherine",
    "Linus",
    "Margaret",
    "Tim",
];
const LAST: [&str; 10] = [
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Johnson",
    "Hamilton",
];
const OCCUPATIONS: [&str; 8] = [
    "Engineer",
    "Teacher",
    "Nurse",
    "Farmer",
    "Physicist",
    "Carpenter",
    "Librarian",
    "Pilot",
];
const CITIES: [&str; 6] = ["Lyon", "Leeds", "Bergen", "Graz", "Porto", "Turku"];
const STREETS: [&str; 5] = [
    "Mill Lane",
    "High Street",
    "Station Road",
    "Elm Row",
    "Quay",
];

/// SplitMix64: the `k`-th value of the stream of (seed, person).
fn mix(seed: u64, i: u64, k: u64) -> u64 {
    let mut z = seed
        .wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(k.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Person {
    /// Person `i` of `seed`: a pure function of both, so any partitioning gives the same people.
    fn generate(seed: u64, i: u64) -> Person {
        let r = |k: u64, n: usize| (mix(seed, i, k) % n as u64) as usize;
        let (first, last) = (FIRST[r(0, FIRST.len())], LAST[r(1, LAST.len())]);
        Person {
            name: (first.to_string(), last.to_string()),
            age: r(2, 101) as u32,
            occupation: OCCUPATIONS[r(3, OCCUPATIONS.len())].to_string(),
            email: format!(
                "{}.{}{}@example.org",
                first.to_lowercase(),
                last.to_lowercase(),
                r(4, 1000)
            ),
            telephone: format!("+44 {:04} {:06}", r(5, 10_000), r(6, 1_000_000)),
            address: Address {
                street: format!("{} {}", 1 + r(7, 200), STREETS[r(8, STREETS.len())]),
                city: CITIES[r(9, CITIES.len())].to_string(),
            },
        }
    }
}

fn main() {
    cli::main_with("people", parse_args, run);
}

fn run(a: &Args) -> Result<(), Error> {
    // Under MPI every rank gets the results: `take` decides on every rank whether to read on.
    let chosen = cli::Chosen::new(a.scheduler, a.threads, true)?;
    let s = chosen.get();
    let cfg = cli::reporting(chosen.config(), a.report.as_deref());
    let say = s.rank() == 0;
    let start = Instant::now();
    let pattern = format!("{}/*.json", a.dir.trim_end_matches('/'));
    if a.read_only {
        let lines = read_text(&pattern)?;
        let over_30 = match a.age_only {
            false => lines.decode_json::<Person>().filter(|p| p.age > 30).count(),
            true => lines.decode_json::<Age>().filter(|p| p.age > 30).count(),
        }
        .compute_with(&cfg)?;
        let seconds = start.elapsed().as_secs_f64();
        if say {
            println!(
                "people older than 30: {over_30} ({seconds:.2} s on {})",
                s.name()
            );
            if a.json {
                let line = serde_json::json!({
                    "count_over_30": over_30,
                    "seconds": seconds,
                    "scheduler": s.name(),
                    "threads": s.threads(),
                    "ranks": s.ranks(),
                });
                println!("{line}");
            }
        }
        return Ok(());
    }

    // Make the records and write them as JSON lines, one file per partition.
    let seed = a.seed;
    let people =
        Bag::range(a.records as u64, a.partitions)?.map(move |&i| Person::generate(seed, i));
    let files = people
        .to_json()
        .to_textfiles(&pattern)?
        .compute_with(&cfg)?;
    let written = start.elapsed().as_secs_f64();

    // Read them back.
    let b = read_text(&pattern)?.decode_json::<Person>();
    let take = b.take_with(2, &cfg)?;
    let over_30 = b.filter(|p| p.age > 30).count();
    let count = b.count();
    let by_occupation = b.foldby(
        |p: &Person| p.occupation.clone(),
        (0u64, 0u64),
        |(sum, n), p| (sum + p.age as u64, n + 1),
        |x, y| (x.0 + y.0, x.1 + y.1),
    );
    let (count_over_30, count, groups) = cfg.compute((&over_30, &count, &by_occupation))?;
    let seconds = start.elapsed().as_secs_f64();

    if !say {
        return Ok(());
    }
    println!("wrote {} files in {written:.2} s", files.len());
    for p in &take {
        println!("{p:?}");
    }
    println!("people older than 30: {count_over_30} of {count}");
    let means: Vec<(String, f64)> = groups
        .iter()
        .map(|(k, (sum, n))| (k.clone(), *sum as f64 / *n as f64))
        .collect();
    for (k, m) in &means {
        println!("mean age of {k}: {m:.2}");
    }
    println!(
        "{} records, {} partitions, {seconds:.2} s on {} ({} threads, {} ranks)",
        a.records,
        a.partitions,
        s.name(),
        s.threads(),
        s.ranks()
    );
    if a.json {
        let line = serde_json::json!({
            "count": count,
            "count_over_30": count_over_30,
            "take": take,
            "files": files,
            "seconds": seconds,
            "seconds_write": written,
            "mean_age_by_occupation": means
                .iter()
                .map(|(k, m)| (k.clone(), serde_json::json!(m)))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
            "records": a.records,
            "partitions": a.partitions,
            "seed": a.seed,
            "scheduler": s.name(),
            "threads": s.threads(),
            "ranks": s.ranks(),
        });
        println!("{line}");
    }
    Ok(())
}
