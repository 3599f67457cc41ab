//! Scores of predictions on chunked arrays as lazy reductions (scikit-learn's
//! `accuracy_score`, `r2_score` and `log_loss`).

use crate::rows::{each_row, map_rows};
use ndarray::Array2;
use ndtask_array::{concatenate, Array, Scalar};
use ndtask_core::{Error, Result};

/// The length of two 1-D arrays of one length, at least 1.
fn paired(who: &str, y: &Array<f64>, other: &Array<f64>, rows_of_other: bool) -> Result<usize> {
    y.check()?;
    other.check()?;
    let (a, b) = (y.shape(), other.shape());
    let n = b.first().copied().unwrap_or(0);
    let other_ok = if rows_of_other {
        b.len() == 2
    } else {
        b.len() == 1
    };
    if a.len() != 1 || !other_ok || a[0] != n {
        return Err(Error::InvalidArgument(format!(
            "{who}: the labels (shape {a:?}) and the predictions (shape {b:?}) must have one row per sample"
        )));
    }
    if n == 0 {
        return Err(Error::InvalidArgument(format!(
            "{who}: no samples to score"
        )));
    }
    Ok(n)
}

/// The fraction of `y_pred` equal to `y_true` (1-D, one length), lazily. Exact: a count of
/// equal pairs divided by the number of samples.
///
/// # Errors
/// [`Error::InvalidArgument`] for arrays that are not 1-D of one length, or empty.
pub fn accuracy_score(y_true: &Array<f64>, y_pred: &Array<f64>) -> Result<Scalar<f64>> {
    paired("accuracy_score", y_true, y_pred, false)?;
    let equal = y_true.map_blocks2(y_pred, |a, b| {
        ndarray::Zip::from(&a)
            .and(&b)
            .map_collect(|a, b| f64::from(u8::from(a == b)))
    })?;
    Ok(equal.mean())
}

/// The coefficient of determination of `y_pred` for `y_true` (1-D, one length), lazily:
/// `1 - sum((y - pred)^2) / sum((y - mean(y))^2)`; for constant labels, 1 when the
/// predictions are exact and 0 otherwise (scikit-learn's `force_finite`).
///
/// # Errors
/// [`Error::InvalidArgument`] for arrays that are not 1-D of one length, or empty.
pub fn r2_score(y_true: &Array<f64>, y_pred: &Array<f64>) -> Result<Scalar<f64>> {
    paired("r2_score", y_true, y_pred, false)?;
    let residual = y_true - y_pred;
    let centred = y_true - &y_true.mean().into_array();
    let ss_res = (&residual * &residual).sum().into_array();
    let ss_tot = (&centred * &centred).sum().into_array();
    let r2 = ss_res.map_blocks2(&ss_tot, |res, tot| {
        ndarray::Zip::from(&res)
            .and(&tot)
            .map_collect(|&res, &tot| {
                if tot != 0.0 {
                    1.0 - res / tot
                } else if res == 0.0 {
                    1.0
                } else {
                    0.0
                }
            })
    })?;
    Scalar::from_array(r2)
}

/// The mean negative log-likelihood of the labels `y_true` (1-D) under the probabilities
/// `proba` (samples x classes, columns in the order of `classes`), lazily; probabilities are
/// clipped to `[eps, 1 - eps]` as scikit-learn's `log_loss`.
///
/// # Errors
/// [`Error::InvalidArgument`] for shapes that do not pair, or a number of columns other than
/// the number of classes; when computed, a label that is not one of `classes`.
pub fn log_loss(y_true: &Array<f64>, proba: &Array<f64>, classes: &[f64]) -> Result<Scalar<f64>> {
    let n = paired("log_loss", y_true, proba, true)?;
    let c = classes.len();
    if proba.shape()[1] != c || c < 2 {
        return Err(Error::InvalidArgument(format!(
            "log_loss: the probabilities have {} columns for the classes {classes:?}; \
             one column per class, at least two",
            proba.shape()[1]
        )));
    }
    let table = concatenate(&[proba, &y_true.reshape([n, 1])?], 1)?;
    let classes = classes.to_vec();
    let losses = map_rows(&table, c + 1, None, "log_loss", move |block| {
        let eps = f64::EPSILON;
        let rows = each_row(block, |r| {
            let label = r[c];
            let j = classes.iter().position(|&k| k == label).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "log_loss: the label {label} is not one of the classes {classes:?}"
                ))
            })?;
            Ok(-r[j].clamp(eps, 1.0 - eps).ln())
        });
        let v = rows.into_iter().collect::<Result<Vec<f64>>>()?;
        Array2::from_shape_vec((v.len(), 1), v).map_err(Error::internal)
    })?;
    Ok(losses.mean())
}
