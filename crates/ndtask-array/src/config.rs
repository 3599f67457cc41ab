//! The run configuration: the one owner of everything that says *how* a compute runs — the
//! scheduler (and so the threads or MPI ranks), the memory budget, observers, the cancellation
//! token and the optimizer's passes (DataFusion's `RuntimeEnv` + `TaskContext`, Dask's
//! `dask.config.set(scheduler=...)`). Every collection computes with [`Config::default`] or a
//! given one, through the same calls.

use crate::collection::{build, Built, Collection, Targets};
use crate::lower::pass_names;
use crate::plan::passes::Enabled;
use ndtask_core::{
    catch_panic, CancelToken, Error, Observer, Result, RunContext, Scheduler, TaskGraph,
};
use ndtask_sched::observe::Report;
use ndtask_sched::ThreadedScheduler;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

/// The scheduler the default configuration uses: a threaded scheduler on all cores, created on
/// first use.
///
/// # Errors
/// [`Error::Scheduler`] if its thread pool cannot be started.
pub fn default_scheduler() -> Result<&'static ThreadedScheduler> {
    static DEFAULT: OnceLock<std::result::Result<ThreadedScheduler, Error>> = OnceLock::new();
    DEFAULT
        .get_or_init(ThreadedScheduler::new)
        .as_ref()
        .map_err(Clone::clone)
}

/// How computes run: scheduler, memory budget, observers, cancellation, optimizer passes.
/// Cheap to clone (the scheduler is shared); it stays on the thread that made it (an MPI
/// scheduler must be used on its thread).
///
/// # Examples
/// ```
/// use ndtask_array::Config;
/// use ndtask_core::memory::parse_bytes;
/// use ndtask_sched::SyncScheduler;
/// let x = ndtask_array::random::uniform::<f64>([1000, 1000], [100, 100], 1)?;
/// let cfg = Config::new()
///     .scheduler(SyncScheduler)
///     .memory_budget(parse_bytes("8MiB")?)
///     .disable_pass("arithmetic-trees")?;
/// let m = x.mean().compute_with(&cfg)?;
/// let (s, n) = cfg.compute((x.sum(), x.count_nonzero()))?;
/// assert!((s / n as f64 - m).abs() < 1e-12);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Config {
    /// `None`: the default threaded scheduler on all cores.
    scheduler: Option<Rc<dyn Scheduler>>,
    context: RunContext,
    /// Optimizer passes switched off (besides those `NDTASK_OPTIMIZER_DISABLE` names).
    disabled: BTreeSet<String>,
    /// Passes switched back on, overriding `NDTASK_OPTIMIZER_DISABLE`.
    enabled: BTreeSet<String>,
    /// The performance report that every run adds to, and the file it is written to.
    report: Option<(Arc<Report>, PathBuf)>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("scheduler", &self.name())
            .field("context", &self.context)
            .field("disabled", &self.disabled)
            .field("report", &self.report.as_ref().map(|(_, p)| p))
            .finish()
    }
}

impl Config {
    /// The default configuration: the threaded scheduler on all cores, no memory budget, no
    /// observer, every optimizer pass but those the environment variable
    /// `NDTASK_OPTIMIZER_DISABLE` (a comma-separated list) names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs on `scheduler` (a `SyncScheduler`, a `ThreadedScheduler`, an `MpiScheduler`).
    pub fn scheduler(self, scheduler: impl Scheduler + 'static) -> Self {
        self.shared_scheduler(Rc::new(scheduler))
    }

    /// Runs on a scheduler shared with other configurations (or kept to ask it things, such as
    /// an MPI scheduler's statistics). Schedulers are used on the thread that runs the compute
    /// (an MPI scheduler on the thread that made it), so a configuration stays on its thread.
    pub fn shared_scheduler(mut self, scheduler: Rc<dyn Scheduler>) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    /// A configuration on the same scheduler, with nothing else (no budget, no observer, no
    /// cancellation, every pass).
    pub fn same_scheduler(&self) -> Config {
        Config {
            scheduler: self.scheduler.clone(),
            ..Config::default()
        }
    }

    /// Runs on a new threaded scheduler with `threads` worker threads.
    ///
    /// # Errors
    /// [`Error::Scheduler`] if the thread pool cannot be started (or `threads` is 0).
    pub fn threads(self, threads: usize) -> Result<Self> {
        Ok(self.scheduler(ndtask_sched::ThreadedScheduler::with_threads(threads)?))
    }

    /// Bounds the bytes of live results (per MPI rank under MPI); a plan that cannot run within
    /// it fails before anything runs. `ndtask_core::memory::parse_bytes` reads `"64MiB"`.
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.context = self.context.memory_budget(bytes);
        self
    }

    /// Adds an observer of every run (a progress bar, a trace; several are told in order).
    pub fn observe(mut self, observer: Arc<dyn Observer>) -> Self {
        self.context = self.context.observe(observer);
        self
    }

    /// Writes a performance report of every run with this configuration to `path` (an HTML
    /// page that needs no network: the task stream, progress, time per operation, memory held
    /// against the budget, bytes sent between ranks, the configuration; see
    /// [`Report`]). The page is rewritten after each run, on rank 0 under MPI, and shows all
    /// the runs so far; a failure to write it is the compute's error (after a run that
    /// succeeded).
    ///
    /// # Examples
    /// ```
    /// use ndtask_array::Config;
    /// let dir = std::env::temp_dir().join(format!("ndtask-config-report-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).map_err(|e| ndtask_core::Error::io("temp dir", e))?;
    /// let path = dir.join("report.html");
    /// let cfg = Config::new().report(&path);
    /// let x = ndtask_array::random::uniform::<f64>([1000], [100], 1)?;
    /// x.sum().compute_with(&cfg)?;
    /// let page = std::fs::read_to_string(&path).map_err(|e| ndtask_core::Error::io("read", e))?;
    /// assert!(page.contains("ndtask performance report"));
    /// assert_eq!(cfg.report_of().map(|r| r.tasks() > 0), Some(true));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn report(self, path: impl Into<PathBuf>) -> Self {
        self.report_to(Arc::new(Report::new()), path)
    }

    /// As [`Config::report`], with a report of the caller's (one with a title, or one shared
    /// with another configuration).
    pub fn report_to(mut self, report: Arc<Report>, path: impl Into<PathBuf>) -> Self {
        self.context = self.context.observe(report.clone());
        self.report = Some((report, path.into()));
        self
    }

    /// The report [`Config::report`] set, if any.
    pub fn report_of(&self) -> Option<&Arc<Report>> {
        self.report.as_ref().map(|(r, _)| r)
    }

    /// Lets `token` cancel the runs (from another thread).
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.context = self.context.cancel_token(token);
        self
    }

    /// Switches an optimizer pass off (`share`, `source-pushdown`, `rematerialise`, `fusion`,
    /// `arithmetic-trees`; switched off, fusion makes every fusable node a region of its own).
    /// The bits of every result stay the same; speed and memory change.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a name that is not a pass, listing the passes.
    pub fn disable_pass(mut self, name: &str) -> Result<Self> {
        Self::check_pass(name)?;
        self.enabled.remove(name);
        self.disabled.insert(name.to_string());
        Ok(self)
    }

    /// Switches an optimizer pass on (also one that `NDTASK_OPTIMIZER_DISABLE` names).
    ///
    /// # Errors
    /// As [`Config::disable_pass`].
    pub fn enable_pass(mut self, name: &str) -> Result<Self> {
        Self::check_pass(name)?;
        self.disabled.remove(name);
        self.enabled.insert(name.to_string());
        Ok(self)
    }

    fn check_pass(name: &str) -> Result<()> {
        let names = pass_names();
        if names.contains(&name) && name != "cull" {
            return Ok(());
        }
        Err(Error::InvalidArgument(format!(
            "{name:?} is not an optimizer pass that can be switched: the passes are {}",
            names
                .iter()
                .filter(|&&n| n != "cull")
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// The passes that run.
    pub(crate) fn passes(&self) -> Enabled {
        Enabled::from_env().with(&self.disabled, &self.enabled)
    }

    /// The scheduler.
    ///
    /// # Errors
    /// [`Error::Scheduler`] if the default scheduler's thread pool cannot be started.
    pub fn get_scheduler(&self) -> Result<&dyn Scheduler> {
        match &self.scheduler {
            Some(s) => Ok(&**s),
            None => Ok(default_scheduler()?),
        }
    }

    /// The scheduler's name ("sync", "threaded", "mpi").
    pub fn name(&self) -> &str {
        self.get_scheduler().map_or("threaded", |s| s.name())
    }

    /// This process's MPI rank (0 without MPI).
    pub fn rank(&self) -> usize {
        self.get_scheduler().map_or(0, |s| s.rank())
    }

    /// The worker threads of this process.
    pub fn threads_of(&self) -> usize {
        self.get_scheduler().map_or(1, |s| s.threads())
    }

    /// The context each run gets (observers, cancellation, budget): what a scheduler reads.
    pub fn context(&self) -> &RunContext {
        &self.context
    }

    /// The memory budget, if any.
    pub fn budget(&self) -> Option<usize> {
        self.context.budget()
    }

    /// Computes `c` (any collection, or a tuple or `Vec` of them, in any mix) over one graph.
    ///
    /// # Errors
    /// An invalid expression's error, or the first failing task's; [`Error::Scheduler`] on a
    /// process that takes part but does not receive the results (an MPI rank other than the
    /// root: use [`Config::compute_local`] there).
    pub fn compute<C: Collection>(&self, c: C) -> Result<C::Output> {
        let s = self.get_scheduler()?;
        self.compute_local(&c)?.ok_or_else(|| not_here(s))
    }

    /// As [`Config::compute`]; `None` on a process that takes part but does not receive the
    /// results (an MPI rank other than the root; every rank calls it).
    ///
    /// No panic leaves this function: a panic in building the graph, in the scheduler's
    /// book-keeping or in assembling the results is [`Error::Internal`] (one inside a task is
    /// [`Error::Task`]). On MPI, an expression that fails to build on any rank gives the same
    /// error on every rank.
    ///
    /// # Errors
    /// As [`Config::compute`].
    pub fn compute_local<C: Collection + ?Sized>(&self, c: &C) -> Result<Option<C::Output>> {
        let targets = Targets::of(c);
        let (built, run) = self.run(&targets, |s, g| s.execute_with(g, &self.context))?;
        let Some(chunks) = run else {
            return Ok(None);
        };
        catch_panic("assembling the results", || {
            c.take_results(&mut built.results(&targets, chunks))
                .map(Some)
        })
    }

    /// Builds the graph of `targets` and hands it to `run` (a scheduler's entry point): a
    /// failure to build is shared with the run's other processes
    /// ([`Scheduler::fail_before_run`]), and a panic in the scheduler is an
    /// [`Error::Internal`].
    pub(crate) fn run<R>(
        &self,
        targets: &Targets,
        run: impl FnOnce(&dyn Scheduler, &TaskGraph) -> Result<R>,
    ) -> Result<(Built, R)> {
        let s = self.get_scheduler()?;
        let built = match catch_panic("building the graph", || build(targets, &self.passes())) {
            Ok(b) => b,
            Err(e) => return Err(s.fail_before_run(e)),
        };
        let got = catch_panic(&format!("the {} scheduler", s.name()), || {
            run(s, &built.graph)
        });
        if let (Some((report, path)), 0) = (&self.report, s.rank()) {
            let written = report.write(path);
            if got.is_ok() {
                written?;
            }
        }
        Ok((built, got?))
    }

    /// The task graph computing `c` runs.
    ///
    /// # Errors
    /// The expression's build error.
    pub fn task_graph<C: Collection + ?Sized>(&self, c: &C) -> Result<TaskGraph> {
        let targets = Targets::of(c);
        catch_panic("building the graph", || {
            Ok(build(&targets, &self.passes())?.graph)
        })
    }
}

/// The error of a process that took part in a run whose results went to another.
pub(crate) fn not_here(scheduler: &dyn Scheduler) -> Error {
    Error::Scheduler(format!(
        "the {} scheduler delivered the results to another process; use compute_local on every \
         rank",
        scheduler.name()
    ))
}
