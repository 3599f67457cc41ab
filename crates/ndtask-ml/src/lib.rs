//! # ndtask-ml: models on chunked arrays
//!
//! Dask-ML's estimators on ndtask arrays of samples x features, chunked along the samples:
//!
//! - [`ParallelPostFit`]: any fitted [`BlockModel`] (smartcore's models, this crate's) predicts,
//!   gives probabilities and transforms lazily, one task per row chunk; [`accuracy_score`],
//!   [`r2_score`] and [`log_loss`] are lazy reductions.
//! - [`StandardScaler`] and [`MinMaxScaler`]: fitted by one pass of lazy reductions,
//!   transforms lazy.
//! - [`KMeans`]: k-means|| initialisation and Lloyd iterations as map-reduce over row chunks.
//! - [`LogisticRegression`] (L-BFGS, each evaluation one pass), [`LogisticRegressionCV`]
//!   (stratified k-fold over a grid of strengths) and [`LinearRegression`] (normal equations).
//! - [`Incremental`] SGD: blocks to `partial_fit` in order, model averaging, or synchronous
//!   gradient averaging across chunks and ranks.
//! - [`MakeClassification`], [`MakeBlobs`] and [`train_test_split`]: the same rows for every
//!   chunking.
//!
//! Every sum a fit makes is exact in fixed point (`i128`), so centres, coefficients, labels and
//! inertia are the same bits for every chunking, scheduler, thread and rank count.
//!
//! ```
//! use ndtask_ml::{KMeans, StandardScaler};
//! let x = ndtask_array::random::default_rng(3).normal::<f64>(0.0, 1.0, [400, 2], [100, 2])?;
//! let shifted = &x + &ndtask_array::from_ndarray(
//!     ndarray::Array2::from_shape_fn((400, 2), |(i, _)| if i % 2 == 0 { 10.0 } else { -10.0 }), [100, 2])?;
//! let scaled = StandardScaler::fit(&shifted)?.transform(&shifted)?;
//! let model = KMeans::new(2).seed(7).fit(&scaled)?;
//! let labels = model.predict(&scaled)?.compute()?;
//! assert_ne!(labels[[0]], labels[[1]]);
//! assert_eq!(labels[[0]], labels[[2]]);
//! # Ok::<(), ndtask_core::Error>(())
//! ```

mod datasets;
mod exact;
mod kmeans;
mod linear;
mod logistic;
mod metrics;
mod optimize;
mod postfit;
mod rows;
mod scale;
mod sgd;
mod split;

pub use datasets::{MakeBlobs, MakeClassification};
pub use kmeans::{KMeans, KMeansInit, KMeansModel};
pub use linear::{LinearModel, LinearRegression};
pub use logistic::{
    LogisticCvModel, LogisticModel, LogisticRegression, LogisticRegressionCV, MAX_CLASSES,
};
pub use metrics::{accuracy_score, log_loss, r2_score};
pub use postfit::{BlockModel, ParallelPostFit, Scoring};
pub use scale::{MinMaxScaler, StandardScaler};
pub use sgd::{Incremental, LearningRate, Sgd, SgdLoss, SgdModel};
pub use smartcore;
pub use split::{train_test_split, TrainTest};

use ndtask_array::{concatenate, from_ndarray, Array, Config, ReduceOptions, Scalar};
use ndtask_core::{Error, Result};

/// The shape of a samples x features array, checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Samples {
    pub rows: usize,
    pub features: usize,
}

impl Samples {
    /// `x`'s samples and features: 2-D, at least one of each.
    pub(crate) fn of(x: &Array<f64>) -> Result<Samples> {
        let shape = x.shape();
        if shape.len() != 2 {
            return Err(Error::InvalidArgument(format!(
                "the data must be 2-D (samples x features), got shape {shape:?}"
            )));
        }
        if shape[0] == 0 || shape[1] == 0 {
            return Err(Error::InvalidArgument(format!(
                "the data of shape {shape:?} are empty: fitting needs at least one sample and one feature"
            )));
        }
        Ok(Samples {
            rows: shape[0],
            features: shape[1],
        })
    }

    /// An error for data holding `bad` NaN or infinite values (none: fine).
    pub(crate) fn finite(self, bad: i64) -> Result<()> {
        if bad > 0 {
            return Err(Error::InvalidArgument(format!(
                "the training data hold {bad} NaN or infinite values (of {} x {})",
                self.rows, self.features
            )));
        }
        Ok(())
    }
}

/// `x` (samples x features) and its labels or targets `y` (one per sample) as one table: the
/// features, `y` as the next column, then (with `positions`) each row's position, 0 to n - 1.
/// `noun` names what `y` holds, for `who`'s error.
///
/// # Errors
/// [`Error::InvalidArgument`] for `x` not 2-D or empty, or `y` of another length.
pub(crate) fn joined(
    who: &str,
    noun: &str,
    x: &Array<f64>,
    y: &Array<f64>,
    positions: bool,
) -> Result<(Samples, Array<f64>)> {
    let s = Samples::of(x)?;
    let n = s.rows;
    y.check()?;
    if y.shape() != [n] {
        return Err(Error::InvalidArgument(format!(
            "{who}: {n} samples of {} features need {n} {noun}, got {noun} of shape {:?}",
            s.features,
            y.shape()
        )));
    }
    let y = y.reshape([n, 1])?;
    let table = if positions {
        concatenate(&[x, &y, &rows::positions(x.chunks()[0].clone())?], 1)?
    } else {
        concatenate(&[x, &y], 1)?
    };
    Ok((s, table))
}

/// The largest magnitude of each column of `table` (samples of `s`), after checking that every
/// value is finite (an error naming how many are not): one compute.
///
/// # Errors
/// [`Error::InvalidArgument`] for NaN or infinities; the computation's error.
pub(crate) fn largest_magnitudes(
    table: &Array<f64>,
    s: Samples,
    config: &Config,
) -> Result<Vec<f64>> {
    let abs = table.map(f64::abs);
    let (top, bad) =
        config.compute((&abs.max_with(&ReduceOptions::axes([0]))?, &check_fit(table)))?;
    s.finite(bad)?;
    Ok(top.iter().copied().collect())
}

/// How many values of `x` are NaN or infinite, lazily.
pub(crate) fn check_fit(x: &Array<f64>) -> Scalar<i64> {
    x.map(|v| !v.is_finite()).count_true()
}

/// One value per feature as a 1 x features array (to broadcast over the rows of `x`), after
/// checking that `x` has that many features.
pub(crate) fn columns(x: &Array<f64>, values: &[f64], who: &str) -> Result<Array<f64>> {
    let shape = x.shape();
    if shape.len() != 2 || shape[1] != values.len() {
        return Err(Error::InvalidArgument(format!(
            "{who} was fitted on {} features; the data have shape {shape:?}",
            values.len()
        )));
    }
    let row = ndarray::Array2::from_shape_vec((1, values.len()), values.to_vec())
        .map_err(Error::internal)?;
    from_ndarray(row, [1, values.len()])
}
