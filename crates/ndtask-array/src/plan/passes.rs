//! Which optimizer passes run: both planning stages read it (the logical rewrites in
//! `optimize`, fusion and arithmetic trees in `lower`), the run configuration sets it.

use std::collections::HashSet;

/// Which passes run.
#[derive(Debug, Clone)]
pub(crate) struct Enabled {
    disabled: HashSet<String>,
}

impl Enabled {
    /// Every pass except those named in `NDTASK_OPTIMIZER_DISABLE`.
    pub fn from_env() -> Self {
        let disabled = std::env::var("NDTASK_OPTIMIZER_DISABLE")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        Enabled { disabled }
    }

    /// These passes with `off` switched off and then `on` switched on.
    pub fn with(
        mut self,
        off: &std::collections::BTreeSet<String>,
        on: &std::collections::BTreeSet<String>,
    ) -> Self {
        self.disabled.extend(off.iter().cloned());
        on.iter().for_each(|n| {
            self.disabled.remove(n);
        });
        self
    }

    /// Every pass but those named in `off`.
    #[cfg(test)]
    pub fn with_disabled(off: &[&str]) -> Self {
        Enabled {
            disabled: off.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Whether the pass named `name` runs.
    pub fn runs(&self, name: &str) -> bool {
        !self.disabled.contains(name)
    }
}
