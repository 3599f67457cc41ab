//! Prediction in parallel with a model fitted in memory (Dask-ML's `ParallelPostFit`): any model
//! that predicts on an in-memory block of rows predicts lazily on a chunked array, one task per
//! row chunk, and is scored by lazy reductions.

use crate::metrics::{accuracy_score, log_loss, r2_score};
use crate::rows::map_rows;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use ndtask_array::{Array, Scalar};
use ndtask_core::{Error, Result};
use smartcore::cluster::kmeans::KMeans as SmartKMeans;
use smartcore::ensemble::random_forest_classifier::RandomForestClassifier;
use smartcore::linear::linear_regression::LinearRegression as SmartLinearRegression;
use smartcore::linear::logistic_regression::LogisticRegression as SmartLogisticRegression;
use std::sync::Arc;

/// A fitted model that works on one in-memory block of samples x features: what
/// [`ParallelPostFit`] runs inside each chunk. Implemented for smartcore's linear and logistic
/// regression, k-means and random forest, and for this crate's models.
pub trait BlockModel: Send + Sync + 'static {
    /// The model's name, for errors.
    fn name(&self) -> String;

    /// The number of features the model was fitted on, where the model knows it.
    fn features(&self) -> Option<usize>;

    /// One prediction per row of `x` (a classifier's class labels as numbers).
    ///
    /// # Errors
    /// The model's error.
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>>;

    /// The classes, in the order of [`BlockModel::predict_proba_block`]'s columns; `None` for a
    /// model that gives no probabilities.
    fn classes(&self) -> Option<Vec<f64>> {
        None
    }

    /// Whether the model predicts classes (then [`ParallelPostFit::score`] gives accuracy by
    /// default); by default, whether it gives class probabilities.
    fn is_classifier(&self) -> bool {
        self.classes().is_some()
    }

    /// The probability of each class (columns in [`BlockModel::classes`]'s order) for each row.
    ///
    /// # Errors
    /// The model's error; by default, that the model gives no probabilities.
    fn predict_proba_block(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let _ = x;
        Err(Error::InvalidArgument(format!(
            "{} gives no class probabilities",
            self.name()
        )))
    }

    /// The number of columns [`BlockModel::transform_block`] gives; `None` for a model with no
    /// transform.
    fn transform_width(&self) -> Option<usize> {
        None
    }

    /// The rows of `x` transformed (a scaler's scaled rows, k-means' distances to the centres).
    ///
    /// # Errors
    /// The model's error; by default, that the model has no transform.
    fn transform_block(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let _ = x;
        Err(Error::InvalidArgument(format!(
            "{} has no transform",
            self.name()
        )))
    }
}

/// How [`ParallelPostFit::score`] scores predictions (scikit-learn's `scoring=` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoring {
    /// The fraction of predictions equal to the labels (`"accuracy"`, a classifier's default).
    Accuracy,
    /// The coefficient of determination of the predictions (`"r2"`, a regressor's default).
    R2,
    /// The mean negative log-likelihood of the labels under the predicted probabilities
    /// (`log_loss`; lower is better, as scikit-learn's `log_loss` function, not its negated
    /// `"neg_log_loss"` scorer).
    LogLoss,
}

/// A model fitted in memory, predicting and scoring on chunked arrays in parallel (Dask-ML's
/// `ParallelPostFit`): `predict`, `predict_proba` and `transform` are lazy, one task per row
/// chunk (a chunk that does not span every feature is rechunked so that it does), and the
/// predictions do not depend on the chunking, scheduler or rank count.
pub struct ParallelPostFit<M> {
    model: Arc<M>,
    features: usize,
    scoring: Option<Scoring>,
}

impl<M> Clone for ParallelPostFit<M> {
    fn clone(&self) -> Self {
        ParallelPostFit {
            model: self.model.clone(),
            features: self.features,
            scoring: self.scoring,
        }
    }
}

impl<M: BlockModel> ParallelPostFit<M> {
    /// Wraps a fitted model that knows its number of features.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a model that does not say how many features it was
    /// fitted on (smartcore's k-means and random forest): use
    /// [`ParallelPostFit::with_features`].
    pub fn new(model: M) -> Result<ParallelPostFit<M>> {
        let features = model.features().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} does not say how many features it was fitted on: \
                 use ParallelPostFit::with_features(model, features)",
                model.name()
            ))
        })?;
        Ok(Self::with_features(model, features))
    }

    /// Wraps a fitted model, fitted on `features` features.
    pub fn with_features(model: M, features: usize) -> ParallelPostFit<M> {
        ParallelPostFit {
            model: Arc::new(model),
            features,
            scoring: None,
        }
    }

    /// Scores with `scoring` instead of the default (accuracy for a model that gives classes,
    /// r2 otherwise).
    pub fn scoring(mut self, scoring: Scoring) -> ParallelPostFit<M> {
        self.scoring = Some(scoring);
        self
    }

    /// The fitted model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model's predictions for the rows of `x`, lazily (1-D, one value per sample).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` is not 2-D with the model's number of features.
    pub fn predict(&self, x: &Array<f64>) -> Result<Array<f64>> {
        let model = self.model.clone();
        map_rows(x, self.features, None, &self.model.name(), move |block| {
            let n = block.nrows();
            model
                .predict_block(block)?
                .into_shape_with_order((n, 1))
                .map_err(Error::internal)
        })
    }

    /// The probability of each class for the rows of `x`, lazily (samples x classes, columns in
    /// the order of [`BlockModel::classes`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] as for [`ParallelPostFit::predict`];
    /// [`Error::InvalidArgument`] too for a model that gives no probabilities.
    pub fn predict_proba(&self, x: &Array<f64>) -> Result<Array<f64>> {
        let classes = self.classes()?;
        let model = self.model.clone();
        map_rows(
            x,
            self.features,
            Some(classes.len()),
            &self.model.name(),
            move |block| model.predict_proba_block(block),
        )
    }

    /// The rows of `x` transformed by the model, lazily.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] as for [`ParallelPostFit::predict`];
    /// [`Error::InvalidArgument`] for a model without a transform.
    pub fn transform(&self, x: &Array<f64>) -> Result<Array<f64>> {
        let width = self.model.transform_width().ok_or_else(|| {
            Error::InvalidArgument(format!("{} has no transform", self.model.name()))
        })?;
        let model = self.model.clone();
        map_rows(
            x,
            self.features,
            Some(width),
            &self.model.name(),
            move |b| model.transform_block(b),
        )
    }

    /// The score of the model's predictions for `x` against `y` (1-D, one label or target per
    /// sample), as a lazy reduction: accuracy for a classifier, r2 otherwise, or the scoring
    /// chosen with [`ParallelPostFit::scoring`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for data of the wrong shape, or `y` of another length;
    /// [`Error::InvalidArgument`] for log-loss with a model that gives no probabilities.
    pub fn score(&self, x: &Array<f64>, y: &Array<f64>) -> Result<Scalar<f64>> {
        let scoring = self.scoring.unwrap_or(if self.model.is_classifier() {
            Scoring::Accuracy
        } else {
            Scoring::R2
        });
        match scoring {
            Scoring::Accuracy => accuracy_score(y, &self.predict(x)?),
            Scoring::R2 => r2_score(y, &self.predict(x)?),
            Scoring::LogLoss => log_loss(y, &self.predict_proba(x)?, &self.classes()?),
        }
    }

    fn classes(&self) -> Result<Vec<f64>> {
        self.model.classes().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} gives no class probabilities",
                self.model.name()
            ))
        })
    }
}

/// A smartcore error as ndtask's.
fn failed(who: &str, e: smartcore::error::Failed) -> Error {
    Error::InvalidArgument(format!("{who}: {e}"))
}

/// Labels as numbers.
fn labels(y: Array1<i64>) -> Array1<f64> {
    y.mapv(|v| v as f64)
}

/// The logistic function, without overflow for any `z`.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Each row of scores turned into probabilities: one score per row is the second of two
/// classes' logit (a binary model), more are one per class (softmax).
pub(crate) fn probabilities(mut scores: Array2<f64>) -> Array2<f64> {
    if scores.ncols() == 1 {
        let p = scores.column(0).mapv(sigmoid);
        let mut out = Array2::zeros((scores.nrows(), 2));
        out.column_mut(1).assign(&p);
        out.column_mut(0).assign(&p.mapv(|v| 1.0 - v));
        return out;
    }
    for mut row in scores.axis_iter_mut(Axis(0)) {
        let top = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - top).exp());
        let total = row.sum();
        row.mapv_inplace(|v| v / total);
    }
    scores
}

type Matrix = Array2<f64>;

impl BlockModel for SmartLogisticRegression<f64, i64, Matrix, Array1<i64>> {
    fn name(&self) -> String {
        "smartcore LogisticRegression".into()
    }
    fn features(&self) -> Option<usize> {
        Some(self.coefficients().ncols())
    }
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.predict(&x.to_owned())
            .map(labels)
            .map_err(|e| failed("smartcore LogisticRegression", e))
    }
    fn classes(&self) -> Option<Vec<f64>> {
        Some(self.classes().iter().map(|&c| c as f64).collect())
    }
    fn predict_proba_block(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        // Binary: one row of coefficients, the logit of the second class; more classes: a row
        // per class.
        let scores = x.dot(&self.coefficients().t()) + self.intercept().t();
        Ok(probabilities(scores))
    }
}

impl BlockModel for SmartLinearRegression<f64, f64, Matrix, Array1<f64>> {
    fn name(&self) -> String {
        "smartcore LinearRegression".into()
    }
    fn features(&self) -> Option<usize> {
        Some(self.coefficients().nrows())
    }
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.predict(&x.to_owned())
            .map_err(|e| failed("smartcore LinearRegression", e))
    }
}

impl BlockModel for SmartKMeans<f64, i64, Matrix, Array1<i64>> {
    fn name(&self) -> String {
        "smartcore KMeans".into()
    }
    fn features(&self) -> Option<usize> {
        None
    }
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.predict(&x.to_owned())
            .map(labels)
            .map_err(|e| failed("smartcore KMeans", e))
    }
}

impl BlockModel for RandomForestClassifier<f64, i64, Matrix, Array1<i64>> {
    fn name(&self) -> String {
        "smartcore RandomForestClassifier".into()
    }
    fn features(&self) -> Option<usize> {
        None
    }
    fn is_classifier(&self) -> bool {
        true
    }
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.predict(&x.to_owned())
            .map(labels)
            .map_err(|e| failed("smartcore RandomForestClassifier", e))
    }
}
