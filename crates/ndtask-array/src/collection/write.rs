//! [`Write`]: a write that has not run yet — storing an array (`to_npy`, `to_zarr`), a bag's
//! text files — as a lazy value like any other, so a store and a statistic of the same input
//! run in one graph (Dask's `da.store(..., compute=False)`).

use crate::collection::{Collection, Results, Targets};
use crate::config::Config;
use ndtask_core::Result;

/// A write that has not run yet: [`Write::compute`] (or `compute((write, x.mean()))`, or a
/// `Config`'s `compute`) runs it. It does nothing until then.
///
/// # Examples
/// ```
/// let path = std::env::temp_dir().join(format!("ndtask-doc-write-{}.npy", std::process::id()));
/// let x = ndtask_array::random::uniform::<f64>([1000], [100], 1)?;
/// let write = x.to_npy(&path)?;                     // nothing written yet
/// let ((), mean) = ndtask_array::compute((&write, x.mean()))?; // one pass over x
/// assert!((mean - 0.5).abs() < 0.05);
/// assert_eq!(ndtask_array::from_npy::<f64>(&path, [1000])?.compute()?, x.compute()?);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "a write does nothing until it is computed"]
pub struct Write {
    targets: Targets,
    what: String,
}

impl Write {
    /// A write that runs the tasks `targets` names; `what` names it ("npy:x.npy").
    pub fn new(targets: Targets, what: impl Into<String>) -> Self {
        Write {
            targets,
            what: what.into(),
        }
    }

    /// What it writes, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Runs the write on the default configuration.
    ///
    /// # Errors
    /// The first failing task's error (a chunk that could not be written names the target and
    /// the chunk).
    pub fn compute(&self) -> Result<()> {
        self.compute_with(&Config::default())
    }

    /// Runs the write with `config`. Under MPI every rank calls it and gets `Ok(())` once its
    /// share is written (a write delivers nothing to gather).
    ///
    /// # Errors
    /// As [`Write::compute`].
    pub fn compute_with(&self, config: &Config) -> Result<()> {
        config.compute_local(self).map(|_| ())
    }
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Write({})", self.what)
    }
}

impl Collection for Write {
    type Output = ();
    fn add_targets(&self, targets: &mut Targets) {
        targets.extend(&self.targets);
    }
    fn take_results(&self, results: &mut Results) -> Result<()> {
        for _ in 0..self.targets.len() {
            results.take_chunks()?;
        }
        Ok(())
    }
}
