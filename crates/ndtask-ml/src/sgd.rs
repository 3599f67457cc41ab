//! Linear models fitted by stochastic gradient descent over the blocks of a chunked array
//! (scikit-learn's `SGDClassifier` / `SGDRegressor` with `partial_fit`, and Dask-ML's
//! `Incremental`, which feeds the blocks to `partial_fit` one after another).
//!
//! Two ways to fit: [`Incremental::fit`] visits the row chunks in order, one `partial_fit`
//! each (deterministic: the same model for a given chunking on every scheduler); and
//! [`Incremental::fit_averaged`], for many ranks or threads, where every chunk runs SGD from the
//! same weights at once and the epoch's model is the average of theirs weighted by their rows
//! (summed in chunk order, so the same bits on every scheduler and rank count: on the MPI
//! scheduler the averaging is the reduction across ranks, an allreduce with `gather_to_all`).
//! And [`Incremental::fit_synchronous`], synchronous SGD whose every step averages the gradients
//! of a batch spread over all chunks, added exactly: the same bits for every chunking too.

use crate::exact::{split, Scale};
use crate::postfit::{probabilities, BlockModel, ParallelPostFit};
use crate::rows::{each_row, totals, RowChunks};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Ix2};
use ndtask_array::{Array, Config};
use ndtask_core::{Error, Result};
use std::sync::Arc;

/// The loss SGD minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgdLoss {
    /// A linear SVM's hinge loss (scikit-learn's `"hinge"`, its classifier default).
    Hinge,
    /// Logistic regression's log-loss (`"log_loss"`): the model gives probabilities.
    Log,
    /// Least squares (`"squared_error"`, the regressor's default).
    Squared,
}

/// The step size of the `t`-th sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LearningRate {
    /// `1 / (alpha * (t + t0))` with Léon Bottou's `t0` (scikit-learn's `"optimal"`).
    Optimal,
    /// `eta0 / t^power_t` (`"invscaling"`, the regressor's default: 0.01 and 0.25).
    InvScaling {
        /// The first step.
        eta0: f64,
        /// How fast the steps shrink.
        power_t: f64,
    },
    /// `eta0` always.
    Constant(f64),
}

/// Settings of a linear model fitted by SGD with an L2 penalty.
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd {
    loss: SgdLoss,
    /// The classes of a classifier (`None`: a regressor).
    classes: Option<Vec<f64>>,
    alpha: f64,
    rate: LearningRate,
}

/// A linear model being fitted by SGD, or fitted: one row of coefficients per class
/// (one-vs-rest; one row for two classes or for regression).
#[derive(Debug, Clone, PartialEq)]
pub struct SgdModel {
    settings: Sgd,
    /// The coefficients, a row per head, a column per feature.
    pub coef: Array2<f64>,
    /// The intercept of each head.
    pub intercept: Vec<f64>,
    /// The samples seen (scikit-learn's `t_ - 1`).
    pub seen: u64,
}

/// Dask-ML's `Incremental`: fits an [`Sgd`] model on a chunked array, block by block.
#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    sgd: Sgd,
    epochs: usize,
}

impl Sgd {
    /// A classifier of these classes (scikit-learn's `partial_fit(classes=...)`) with `loss`
    /// (`Hinge` or `Log`), alpha 1e-4 and the `Optimal` rate.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for fewer than two classes, a class that repeats or is not
    /// finite, or the squared loss.
    pub fn classifier(loss: SgdLoss, classes: Vec<f64>) -> Result<Sgd> {
        let mut sorted = classes.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        if loss == SgdLoss::Squared
            || sorted.len() != classes.len()
            || classes.len() < 2
            || classes.iter().any(|c| !c.is_finite())
        {
            return Err(Error::InvalidArgument(format!(
                "SGD classifier with {loss:?} loss and the classes {classes:?}: needs the hinge or log loss \
                 and at least two distinct finite classes"
            )));
        }
        Ok(Sgd {
            loss,
            classes: Some(sorted),
            alpha: 1e-4,
            rate: LearningRate::Optimal,
        })
    }

    /// A least-squares regressor: alpha 1e-4, `InvScaling` from 0.01 with power 0.25.
    pub fn regressor() -> Sgd {
        Sgd {
            loss: SgdLoss::Squared,
            classes: None,
            alpha: 1e-4,
            rate: LearningRate::InvScaling {
                eta0: 0.01,
                power_t: 0.25,
            },
        }
    }

    /// The L2 penalty.
    pub fn alpha(mut self, alpha: f64) -> Sgd {
        self.alpha = alpha;
        self
    }

    /// The learning rate.
    pub fn learning_rate(mut self, rate: LearningRate) -> Sgd {
        self.rate = rate;
        self
    }

    /// An unfitted model of `features` features (zero weights).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an alpha or rate that is negative or not finite (alpha
    /// above 0 for the `Optimal` rate).
    pub fn model(&self, features: usize) -> Result<SgdModel> {
        let bad_rate = match self.rate {
            LearningRate::Optimal => self.alpha <= 0.0,
            LearningRate::InvScaling { eta0, power_t } => {
                !(eta0 > 0.0 && eta0.is_finite() && power_t.is_finite())
            }
            LearningRate::Constant(eta0) => !(eta0 > 0.0 && eta0.is_finite()),
        };
        if !self.alpha.is_finite() || self.alpha < 0.0 || bad_rate {
            return Err(Error::InvalidArgument(format!(
                "SGD: alpha = {} must be at least 0 and finite (above 0 for the optimal rate), \
                 the rate {:?} positive and finite",
                self.alpha, self.rate
            )));
        }
        let heads = match &self.classes {
            Some(c) if c.len() > 2 => c.len(),
            _ => 1,
        };
        Ok(SgdModel {
            settings: self.clone(),
            coef: Array2::zeros((heads, features)),
            intercept: vec![0.0; heads],
            seen: 0,
        })
    }

    /// The derivative of the loss at the score `z` for the target `y` (+1 or -1 for a
    /// classifier).
    fn dloss(&self, z: f64, y: f64) -> f64 {
        match self.loss {
            SgdLoss::Hinge => {
                if z * y <= 1.0 {
                    -y
                } else {
                    0.0
                }
            }
            SgdLoss::Log => {
                // The gradient of the log-loss in the score, sigmoid(z) - [y = 1], written as
                // scikit-learn's half-binomial loss computes it.
                let positive = f64::from(u8::from(y > 0.0));
                if z > -37.0 {
                    let e = (-z).exp();
                    ((1.0 - positive) - positive * e) / (1.0 + e)
                } else {
                    z.exp() - positive
                }
            }
            SgdLoss::Squared => z - y,
        }
    }

    /// The step for the `t`-th sample (from 1).
    fn eta(&self, t: f64) -> f64 {
        match self.rate {
            LearningRate::Optimal => {
                // Bottou's heuristic for t0, as scikit-learn's.
                let typw = (1.0 / self.alpha.sqrt()).sqrt();
                let eta0 = typw / self.dloss(-typw, 1.0).max(1.0);
                let t0 = 1.0 / (eta0 * self.alpha);
                1.0 / (self.alpha * (t0 + t - 1.0))
            }
            LearningRate::InvScaling { eta0, power_t } => eta0 / t.powf(power_t),
            LearningRate::Constant(eta0) => eta0,
        }
    }
}

impl SgdModel {
    /// One pass of SGD over the rows of `x` with targets `y`, in order (scikit-learn's
    /// `partial_fit` without shuffling).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for another number of features, targets of another length,
    /// a value that is not finite, or a label that is not one of the classes.
    pub fn partial_fit(&mut self, x: ArrayView2<'_, f64>, y: ArrayView1<'_, f64>) -> Result<()> {
        let f = self.coef.ncols();
        if self.coef.nrows() != self.intercept.len() {
            return Err(Error::InvalidArgument(format!(
                "SGD: the model has {} rows of coefficients but {} intercepts",
                self.coef.nrows(),
                self.intercept.len()
            )));
        }
        if x.ncols() != f || y.len() != x.nrows() {
            return Err(Error::InvalidArgument(format!(
                "SGD: a model of {f} features got a block of {:?} with {} targets",
                x.dim(),
                y.len()
            )));
        }
        if let Some(v) = x.iter().chain(y.iter()).find(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "SGD: the training data hold {v}; they must be finite"
            )));
        }
        let classes = self.settings.classes.clone();
        // Per row, each head's target.
        let targets = y
            .iter()
            .map(|&v| {
                self.targets(v, classes.as_deref()).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "SGD: the label {v} is not one of the classes {:?}",
                        classes.as_deref().unwrap_or(&[])
                    ))
                })
            })
            .collect::<Result<Vec<Vec<f64>>>>()?;
        let alpha = self.settings.alpha;
        let mut t = self.seen as f64;
        for (i, row) in x.rows().into_iter().enumerate() {
            t += 1.0;
            let eta = self.settings.eta(t);
            for (j, &target) in targets[i].iter().enumerate() {
                let mut w = self.coef.row_mut(j);
                let z = w.dot(&row) + self.intercept[j];
                let d = self.settings.dloss(z, target);
                w.mapv_inplace(|v| v * (1.0 - eta * alpha).max(0.0));
                if d != 0.0 {
                    w.scaled_add(-eta * d, &row);
                    self.intercept[j] -= eta * d;
                }
            }
        }
        self.seen += x.nrows() as u64;
        Ok(())
    }

    /// Each head's target for a label: the label itself for a regressor, +1 or -1 per head for
    /// a classifier (one-vs-rest; the second class for one head); `None` for a label outside the
    /// classes.
    fn targets(&self, label: f64, classes: Option<&[f64]>) -> Option<Vec<f64>> {
        let Some(classes) = classes else {
            return Some(vec![label]);
        };
        let c = classes.iter().position(|&k| k == label)?;
        let heads = self.coef.nrows();
        Some(
            (0..heads)
                .map(|j| {
                    let positive = if heads == 1 { 1 } else { j };
                    if c == positive {
                        1.0
                    } else {
                        -1.0
                    }
                })
                .collect(),
        )
    }

    /// Each head's score for each row.
    fn scores(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        x.dot(&self.coef.t()) + &Array1::from(self.intercept.clone())
    }

    /// The predictions for each sample, lazily (one task per row chunk).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` is not 2-D with the model's number of features.
    pub fn predict(&self, x: &Array<f64>) -> Result<Array<f64>> {
        ParallelPostFit::new(self.clone())?.predict(x)
    }
}

impl BlockModel for SgdModel {
    fn name(&self) -> String {
        match self.settings.loss {
            SgdLoss::Squared => "SGDRegressor".into(),
            _ => "SGDClassifier".into(),
        }
    }
    fn features(&self) -> Option<usize> {
        Some(self.coef.ncols())
    }
    fn is_classifier(&self) -> bool {
        self.settings.classes.is_some()
    }
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        let scores = self.scores(x);
        Ok(match &self.settings.classes {
            None => scores.column(0).to_owned(),
            Some(classes) => Array1::from(each_row(scores.view(), |z| {
                if z.len() == 1 {
                    classes[usize::from(z[0] > 0.0)]
                } else {
                    classes[(0..z.len()).fold(0, |b, j| if z[j] > z[b] { j } else { b })]
                }
            })),
        })
    }
    fn classes(&self) -> Option<Vec<f64>> {
        match self.settings.loss {
            SgdLoss::Log => self.settings.classes.clone(),
            _ => None,
        }
    }
    fn predict_proba_block(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if self.settings.loss != SgdLoss::Log {
            return Err(Error::InvalidArgument(
                "SGDClassifier gives class probabilities only with the log loss".into(),
            ));
        }
        let scores = self.scores(x);
        if scores.ncols() == 1 {
            return Ok(probabilities(scores));
        }
        // One-vs-rest: each head's sigmoid, normalised (scikit-learn's).
        let mut p = scores.mapv(crate::postfit::sigmoid);
        let k = p.ncols() as f64;
        for mut row in p.rows_mut() {
            let total = row.sum();
            if total > 0.0 {
                row.mapv_inplace(|v| v / total);
            } else {
                row.fill(1.0 / k);
            }
        }
        Ok(p)
    }
}

impl Incremental {
    /// Fits `sgd` with one pass over the data (an epoch).
    pub fn new(sgd: Sgd) -> Incremental {
        Incremental { sgd, epochs: 1 }
    }

    /// The passes over the data.
    pub fn epochs(mut self, epochs: usize) -> Incremental {
        self.epochs = epochs;
        self
    }

    /// The data as whole rows of `[features, target, position]` for the passes that run on every
    /// chunk at once, checked first: every value finite, every label one of the classes. Also
    /// the largest magnitude of each column.
    fn checked(
        &self,
        x: &Array<f64>,
        y: &Array<f64>,
        config: &Config,
    ) -> Result<(RowChunks, Vec<f64>)> {
        let (s, table) = crate::joined("Incremental", "targets", x, y, true)?;
        let f = s.features;
        let top = crate::largest_magnitudes(&table, s, config)?;
        let rows = RowChunks::new(&table)?;
        if let Some(known) = self.sgd.classes.clone() {
            // How many labels are outside the classes, and the first of them.
            let parts = rows.pass(2, config, move |chunk| {
                let mut out = vec![0.0, f64::NAN];
                for r in chunk.filter(|r| !known.contains(&r[f])) {
                    if out[0] == 0.0 {
                        out[1] = r[f];
                    }
                    out[0] += 1.0;
                }
                out
            })?;
            let strange: f64 = parts.column(0).sum();
            if strange > 0.0 {
                let first = parts
                    .rows()
                    .into_iter()
                    .find(|r| r[0] > 0.0)
                    .map_or(f64::NAN, |r| r[1]);
                return Err(Error::InvalidArgument(format!(
                    "SGD: the label {first} (and {} more) is not one of the classes {:?}",
                    strange - 1.0,
                    self.sgd.classes.as_deref().unwrap_or(&[])
                )));
            }
        }
        Ok((rows, top))
    }

    /// Feeds the row chunks of `x` (samples x features) and `y` to `partial_fit` in order, each
    /// chunk computed under `config` when its turn comes (Dask-ML's `Incremental.fit`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for data that are not 2-D or are empty, targets of another
    /// length, and as [`SgdModel::partial_fit`]; the computation's error.
    pub fn fit(&self, x: &Array<f64>, y: &Array<f64>, config: &Config) -> Result<SgdModel> {
        let (s, table) = crate::joined("Incremental", "targets", x, y, false)?;
        let f = s.features;
        let mut model = self.sgd.model(f)?;
        let rows = table.chunks()[0].clone();
        for _ in 0..self.epochs {
            let mut start = 0;
            for &n in &rows {
                let block = config
                    .compute(&table.slice(s![start..start + n, ..])?)?
                    .into_dimensionality::<Ix2>()
                    .map_err(Error::internal)?;
                model.partial_fit(block.slice(s![.., ..f]), block.column(f))?;
                start += n;
            }
        }
        Ok(model)
    }

    /// Each epoch, every row chunk runs SGD over its rows from the same weights, all at once
    /// (spread over the scheduler's threads or ranks), and the new weights are the average of
    /// theirs weighted by their rows (model averaging): the same bits on every scheduler and
    /// rank count for a given chunking.
    ///
    /// # Errors
    /// As [`Incremental::fit`].
    pub fn fit_averaged(
        &self,
        x: &Array<f64>,
        y: &Array<f64>,
        config: &Config,
    ) -> Result<SgdModel> {
        let (rows, _) = self.checked(x, y, config)?;
        // The columns: the features, the target, the position.
        let f = rows.f - 2;
        let mut model = self.sgd.model(f)?;
        let heads = model.coef.nrows();
        let width = heads * (f + 1) + 2;
        for _ in 0..self.epochs {
            let start = Arc::new(model.clone());
            let parts = rows.pass(width, config, move |chunk| {
                let mut local = (*start).clone();
                let data: Vec<f64> = chunk.flatten().copied().collect();
                let n = data.len() / (f + 2);
                let mut out = vec![0.0; width];
                let Ok(block) = ndarray::ArrayView2::from_shape((n, f + 2), &data) else {
                    out[width - 1] = 1.0;
                    return out;
                };
                if local
                    .partial_fit(block.slice(s![.., ..f]), block.column(f))
                    .is_err()
                {
                    out[width - 1] = 1.0;
                    return out;
                }
                let w = n as f64;
                for j in 0..heads {
                    for i in 0..f {
                        out[j * (f + 1) + i] = w * local.coef[[j, i]];
                    }
                    out[j * (f + 1) + f] = w * local.intercept[j];
                }
                out[width - 2] = w;
                out
            })?;
            if parts.column(width - 1).sum() > 0.0 {
                // The data were checked: a chunk cannot fail.
                return Err(Error::internal(
                    "a chunk failed its SGD pass on checked data",
                ));
            }
            // Chunk order: the same sums on every scheduler.
            let total: f64 = parts.column(width - 2).iter().sum();
            for j in 0..heads {
                for i in 0..=f {
                    let v: f64 = parts.column(j * (f + 1) + i).iter().sum::<f64>() / total;
                    if i < f {
                        model.coef[[j, i]] = v;
                    } else {
                        model.intercept[j] = v;
                    }
                }
            }
            model.seen += total as u64;
        }
        Ok(model)
    }

    /// Synchronous SGD with averaged gradients (data-parallel SGD): each epoch takes `batches`
    /// steps, and step `s` moves along the mean gradient of the samples whose position is `s`
    /// modulo `batches` (plus the penalty's), each chunk computing its share for its own rows at
    /// once. The gradients are added exactly in fixed point (on the MPI scheduler, the reduction
    /// across ranks: an allreduce with `gather_to_all`), so the model is the same bits for every
    /// chunking, scheduler and rank count. The learning rate counts steps, not samples.
    ///
    /// # Errors
    /// As [`Incremental::fit`]; `batches` of 0 or more than the samples.
    pub fn fit_synchronous(
        &self,
        x: &Array<f64>,
        y: &Array<f64>,
        batches: usize,
        config: &Config,
    ) -> Result<SgdModel> {
        let (rows, top) = self.checked(x, y, config)?;
        let (n, f) = (rows.x.shape()[0], rows.f - 2);
        if batches == 0 || batches > n {
            return Err(Error::InvalidArgument(format!(
                "Incremental: {batches} batches of {n} samples; between 1 and the number of samples"
            )));
        }
        let m = top[..f].iter().fold(1.0f64, |a, v| a.max(*v));
        let y_top = top[f];
        let mut model = self.sgd.model(f)?;
        let heads = model.coef.nrows();
        let p = heads * (f + 1);
        let classes = Arc::new(self.sgd.classes.clone());
        let mut step = 0u64;
        for _ in 0..self.epochs {
            for s in 0..batches {
                let w = Arc::new(model.clone());
                // Each term is a derivative (at most 1 for the classifiers' losses; for least
                // squares at most the largest score plus the largest target) times a feature.
                let slope = match self.sgd.loss {
                    SgdLoss::Squared => {
                        let score = (0..heads)
                            .map(|j| {
                                model.intercept[j].abs()
                                    + model.coef.row(j).iter().map(|v| v.abs() * m).sum::<f64>()
                            })
                            .fold(0.0f64, f64::max);
                        score + y_top
                    }
                    _ => 1.0,
                };
                let scale = Scale::for_values(slope * m).map_err(|_| {
                    Error::InvalidArgument(format!(
                        "SGD diverged at step {step}: the scores reach {slope:e}; lower the learning rate"
                    ))
                })?;
                let classes = classes.clone();
                let parts = rows.pass(2 * p + 1, config, move |chunk| {
                    let mut sums = vec![0i128; p];
                    let mut used = 0i64;
                    for r in chunk {
                        if (r[f + 1] as u64) % batches as u64 != s as u64 {
                            continue;
                        }
                        // (Labels outside the classes were refused by `checked`.)
                        let Some(targets) = w.targets(r[f], classes.as_deref()) else {
                            continue;
                        };
                        used += 1;
                        for (j, t) in targets.into_iter().enumerate() {
                            let row = &r[..f];
                            let z = w.intercept[j]
                                + w.coef
                                    .row(j)
                                    .iter()
                                    .zip(row)
                                    .map(|(a, b)| a * b)
                                    .sum::<f64>();
                            let d = w.settings.dloss(z, t);
                            let g = &mut sums[j * (f + 1)..(j + 1) * (f + 1)];
                            for (acc, v) in g.iter_mut().zip(row) {
                                *acc += i128::from(scale.fix(d * v));
                            }
                            g[f] += i128::from(scale.fix(d));
                        }
                    }
                    let mut out: Vec<i64> = sums.into_iter().flat_map(split).collect();
                    out.push(used);
                    out
                })?;
                let used = parts.column(2 * p).sum().max(1) as f64;
                let sums = totals(&parts, p);
                step += 1;
                let eta = self.sgd.eta(step as f64);
                let alpha = self.sgd.alpha;
                for j in 0..heads {
                    for i in 0..f {
                        let g =
                            scale.float(sums[j * (f + 1) + i]) / used + alpha * model.coef[[j, i]];
                        model.coef[[j, i]] -= eta * g;
                    }
                    model.intercept[j] -= eta * scale.float(sums[j * (f + 1) + f]) / used;
                }
            }
            model.seen += n as u64;
        }
        Ok(model)
    }
}
