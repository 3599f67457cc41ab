//! The performance report (`Config::report`, `observe::Report`): the page written for real
//! runs is opened in headless Chromium, which must run its script without an error and draw one
//! bar per task (or the aggregate beyond `DRAW_LIMIT`), one lane per worker thread, the
//! operations' names and the budget; a page of 1e5 tasks must open in under 2 s.
//!
//! Chromium: `NDTASK_CHROMIUM`, else `chromium` on the PATH (Debian's package `chromium`);
//! without one the browser checks are skipped with a message, except under CI (`CI` set), where
//! they fail. `.ci/run` installs it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use ndtask::observe::{Report, DRAW_LIMIT};
use ndtask::scheduler::SyncScheduler;
use ndtask::{random, Config};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ndtask-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium, or `None` (skip) where there is none and CI is not set.
fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("NDTASK_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(PathBuf::from));
    common::first_working(
        "Chromium",
        "set NDTASK_CHROMIUM",
        candidates,
        &["--version"],
    )
}

/// What the browser made of a page: the `data-` attributes the page's script set on `<body>`,
/// the DOM it drew, what Chromium logged, and the seconds from launch to exit.
struct Opened {
    body: BTreeMap<String, String>,
    dom: String,
    log: String,
    seconds: f64,
}

impl Opened {
    fn get(&self, key: &str) -> &str {
        self.body
            .get(key)
            .unwrap_or_else(|| panic!("no data-{key} on <body>: {:?}", self.body))
    }

    fn number(&self, key: &str) -> usize {
        self.get(key).parse().unwrap()
    }

    /// Elements drawn with class `class`.
    fn count(&self, class: &str) -> usize {
        self.dom.matches(&format!("class=\"{class}\"")).count()
    }

    /// The page ran its script to the end with no error, and Chromium logged none.
    fn assert_clean(&self) {
        assert_eq!(self.get("ready"), "1", "{}", self.log);
        assert_eq!(self.get("errors"), "0", "{}", self.log);
        for line in self.log.lines() {
            let console = line.contains("CONSOLE");
            assert!(
                !(console && (line.contains("Uncaught") || line.contains("rror"))),
                "console error: {line}"
            );
        }
    }
}

/// Opens `page` in headless Chromium and dumps its DOM once the page has loaded.
fn open(browser: &Path, page: &Path) -> Opened {
    let profile = page.with_extension("profile");
    let started = Instant::now();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {log}");
    // What the page drew: the DOM without its scripts (whose text names the same classes).
    let mut dom = String::from_utf8_lossy(&out.stdout).into_owned();
    while let Some(start) = dom.find("<script") {
        let end = dom[start..]
            .find("</script>")
            .map_or(dom.len(), |e| start + e + 9);
        dom.replace_range(start..end, "");
    }
    let start = dom
        .find("<body")
        .unwrap_or_else(|| panic!("no <body> in {dom}"));
    let tag = &dom[start..start + dom[start..].find('>').unwrap()];
    let mut body = BTreeMap::new();
    for part in tag.split(" data-").skip(1) {
        let (key, value) = part.split_once("=\"").unwrap();
        let value = &value[..value.find('"').unwrap()];
        body.insert(key.to_string(), value.to_string());
    }
    Opened {
        body,
        dom,
        log,
        seconds,
    }
}

#[test]
fn a_report_shows_every_task_lane_and_operation_of_its_runs() {
    let dir = scratch("small");
    let path = dir.join("report.html");
    let report = Arc::new(Report::new().title("two runs <of> a test"));
    let cfg = Config::new()
        .threads(2)
        .unwrap()
        .memory_budget(64 << 20)
        .report_to(report.clone(), &path);
    let x = random::uniform::<f64>([40_000], [1_000], 7).unwrap();
    let y = random::uniform::<f64>([40_000], [2_500], 8).unwrap();
    let first = ((&x * 2.0 + &y).sum(), x.mean());
    let second = (&x - &y).abs().max();
    let tasks = cfg.task_graph(&first).unwrap().len() + cfg.task_graph(&second).unwrap().len();
    let mut ops: Vec<String> = cfg.task_graph(&first).unwrap().op_names();
    ops.extend(cfg.task_graph(&second).unwrap().op_names());
    let (s, m) = cfg.compute(first).unwrap();
    let got_max = cfg.compute(second).unwrap();
    // The report watched the runs without changing their results.
    let (xs, ys) = (x.compute().unwrap(), y.compute().unwrap());
    let want = (&xs * 2.0 + &ys).sum();
    assert!((s - want).abs() < 1e-9 * want.abs(), "{s} {want}");
    assert!((m - xs.mean().unwrap()).abs() < 1e-12);
    let want_max = (&xs - &ys).mapv(f64::abs).fold(f64::MIN, |a, &b| a.max(b));
    assert_eq!(got_max, want_max);
    assert_eq!(report.tasks(), tasks);

    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained: nothing is fetched.
    for external in ["src=\"http", "href=\"http", "<link", "@import", "fetch("] {
        assert!(!html.contains(external), "{external}");
    }
    // The title is escaped where it is embedded.
    assert!(html.contains(r"two runs \u003cof> a test"));

    let Some(browser) = chromium() else { return };
    let page = open(&browser, &path);
    page.assert_clean();
    assert_eq!(page.number("tasks"), tasks);
    assert_eq!(page.number("bars"), tasks);
    assert_eq!(page.count("task"), tasks);
    assert_eq!(page.number("bins"), 0);
    let lanes = page.number("lanes");
    assert!((1..=2).contains(&lanes), "{lanes} lanes on 2 threads");
    assert_eq!(page.dom.matches("rank 0 · thread ").count(), lanes);
    for op in ops.iter().filter(|o| !o.is_empty()) {
        let shown = format!(
            "</span>{}</span>",
            op.replace('&', "&amp;").replace('<', "&lt;")
        );
        assert!(page.dom.contains(&shown), "the legend lacks {op}");
        assert_eq!(
            page.dom.matches(&format!("</span>{op}</td>")).count(),
            1,
            "{op}"
        );
    }
    assert_eq!(page.count("run"), 2);
    assert_eq!(page.count("budget"), 1);
    assert!(page.dom.contains("budget 64.0 MiB"));
    assert!(page.dom.contains("two runs &lt;of&gt; a test"));
    assert!(page.dom.contains("No messages between ranks."));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn one_thread_draws_one_lane() {
    let dir = scratch("sync");
    let path = dir.join("report.html");
    let cfg = Config::new().scheduler(SyncScheduler).report(&path);
    let x = random::uniform::<f32>([10, 30], [3, 7], 1).unwrap();
    let tasks = cfg.task_graph(&x.sum_axis(1).unwrap()).unwrap().len();
    let got = x.sum_axis(1).unwrap().compute_with(&cfg).unwrap();
    assert_eq!(got.len(), 10);
    let Some(browser) = chromium() else { return };
    let page = open(&browser, &path);
    page.assert_clean();
    assert_eq!(page.number("lanes"), 1);
    assert_eq!(page.number("bars"), tasks);
    assert_eq!(page.count("budget"), 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_page_of_1e5_tasks_is_aggregated_and_opens_in_under_2_s() {
    let dir = scratch("large");
    let path = dir.join("report.html");
    let cfg = Config::new().threads(2).unwrap().report(&path);
    let x = random::uniform::<f64>([100_000], [1], 3).unwrap();
    let tasks = cfg.task_graph(&x.sum()).unwrap().len();
    assert!(tasks >= 100_000, "{tasks}");
    const { assert!(DRAW_LIMIT < 100_000) };
    let total = x.sum().compute_with(&cfg).unwrap();
    assert!((total - 50_000.0).abs() < 500.0, "{total}");
    let Some(browser) = chromium() else { return };
    let page = open(&browser, &path);
    page.assert_clean();
    assert_eq!(page.number("tasks"), tasks);
    assert_eq!(page.number("bars"), 0);
    assert_eq!(page.count("task"), 0);
    let bins = page.number("bins");
    assert!(bins > 0 && bins == page.count("bin"), "{bins}");
    let ms = page.number("render-ms");
    eprintln!(
        "a page of {tasks} tasks ({} bytes) drew in {ms} ms ({:.2} s from Chromium's start to its exit)",
        std::fs::metadata(&path).unwrap().len(),
        page.seconds
    );
    assert!(
        ms < 2000,
        "the page took {ms} ms to draw ({} s in all)",
        page.seconds
    );
    std::fs::remove_dir_all(&dir).ok();
}
