//! Logistic regression fitted on chunked data (scikit-learn's `LogisticRegression` and
//! `LogisticRegressionCV` with the `lbfgs` solver, Dask-ML's `LogisticRegression`): L-BFGS on
//! the L2-penalised mean log-loss, each evaluation of the loss and its gradient one pass over
//! the row chunks whose sums are exact in fixed point, so the fitted model is the same bits for
//! every chunking, scheduler and rank count. Binary labels fit one row of coefficients (the
//! second class's logit), more classes one row each (multinomial, softmax).

use crate::exact::{split, Scale};
use crate::optimize::lbfgs;
use crate::postfit::{probabilities, BlockModel, ParallelPostFit};
use crate::rows::{each_row, map_rows, totals, RowChunks};
use ndarray::{Array1, Array2, ArrayView2};
use ndtask_array::{Array, Config};
use ndtask_core::{Error, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most distinct labels a classifier takes.
pub const MAX_CLASSES: usize = 256;

/// Logistic regression with an L2 penalty (scikit-learn's `LogisticRegression(solver="lbfgs")`):
/// a builder of its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    c: f64,
    max_iter: usize,
    tol: f64,
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticModel {
    /// The class labels, in increasing order.
    pub classes: Vec<f64>,
    /// The coefficients: one row (the second class's logit) for two classes, else one per
    /// class; a column per feature.
    pub coef: Array2<f64>,
    /// The intercept of each row of `coef`.
    pub intercept: Vec<f64>,
    /// The inverse regularisation strength it was fitted with.
    pub c: f64,
    /// L-BFGS iterations run.
    pub n_iter: usize,
}

/// Logistic regression whose regularisation strength is chosen by stratified k-fold
/// cross-validation (scikit-learn's `LogisticRegressionCV`): a builder of its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegressionCV {
    cs: Vec<f64>,
    folds: usize,
    /// The iterations and tolerance of each fit (its C is each of `cs` in turn).
    solver: LogisticRegression,
}

/// A model fitted by [`LogisticRegressionCV`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticCvModel {
    /// The model refitted on all the data with the best strength.
    pub model: LogisticModel,
    /// The best inverse regularisation strength (scikit-learn's `C_`).
    pub best_c: f64,
    /// The strengths tried.
    pub cs: Vec<f64>,
    /// The accuracy on each held-out fold (rows) for each strength (columns).
    pub scores: Array2<f64>,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        Self::new()
    }
}

impl LogisticRegression {
    /// C = 1, at most 100 iterations, gradient tolerance 1e-4 (scikit-learn's defaults).
    pub fn new() -> LogisticRegression {
        LogisticRegression {
            c: 1.0,
            max_iter: 100,
            tol: 1e-4,
        }
    }

    /// The inverse regularisation strength (larger: less penalty).
    pub fn c(mut self, c: f64) -> LogisticRegression {
        self.c = c;
        self
    }

    /// The most L-BFGS iterations.
    pub fn max_iter(mut self, n: usize) -> LogisticRegression {
        self.max_iter = n;
        self
    }

    /// Stops when no component of the gradient exceeds this.
    pub fn tol(mut self, tol: f64) -> LogisticRegression {
        self.tol = tol;
        self
    }

    /// Fits on `x` (samples x features) and the labels `y` (one per sample).
    ///
    /// # Errors
    /// As [`LogisticRegression::fit_with`].
    pub fn fit(&self, x: &Array<f64>, y: &Array<f64>) -> Result<LogisticModel> {
        self.fit_with(x, y, &Config::default())
    }

    /// Fits on `x` and `y` with each pass computed under `config`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for data that are not 2-D, empty, or hold NaN or
    /// infinities; labels of another length, of only one class or of more than
    /// [`MAX_CLASSES`]; a C that is not positive and finite. The computation's error.
    pub fn fit_with(
        &self,
        x: &Array<f64>,
        y: &Array<f64>,
        config: &Config,
    ) -> Result<LogisticModel> {
        check_settings("LogisticRegression", &[self.c], self.tol)?;
        let design = Design::new("LogisticRegression", x, y, 1, config)?;
        let (w, n_iter) = design.fit(self, None, None, config)?;
        Ok(design.model(&w, self.c, n_iter))
    }
}

impl Default for LogisticRegressionCV {
    fn default() -> Self {
        Self::new()
    }
}

impl LogisticRegressionCV {
    /// Ten strengths from 1e-4 to 1e4 on a log scale and 3 folds, at most 100 iterations
    /// each, tolerance 1e-4 (scikit-learn's `LogisticRegressionCV(cv=3)`).
    pub fn new() -> LogisticRegressionCV {
        LogisticRegressionCV {
            cs: (0..10)
                .map(|i| 10f64.powf(-4.0 + 8.0 * i as f64 / 9.0))
                .collect(),
            folds: 3,
            solver: LogisticRegression::new(),
        }
    }

    /// The strengths to try.
    pub fn cs(mut self, cs: Vec<f64>) -> LogisticRegressionCV {
        self.cs = cs;
        self
    }

    /// The number of folds (scikit-learn's `cv`).
    pub fn cv(mut self, folds: usize) -> LogisticRegressionCV {
        self.folds = folds;
        self
    }

    /// The most L-BFGS iterations of each fit.
    pub fn max_iter(mut self, n: usize) -> LogisticRegressionCV {
        self.solver = self.solver.max_iter(n);
        self
    }

    /// Each fit stops when no component of the gradient exceeds this.
    pub fn tol(mut self, tol: f64) -> LogisticRegressionCV {
        self.solver = self.solver.tol(tol);
        self
    }

    /// Fits on `x` (samples x features) and the labels `y`.
    ///
    /// # Errors
    /// As [`LogisticRegressionCV::fit_with`].
    pub fn fit(&self, x: &Array<f64>, y: &Array<f64>) -> Result<LogisticCvModel> {
        self.fit_with(x, y, &Config::default())
    }

    /// Fits each strength on all folds but one and scores its accuracy on that one (folds
    /// stratified as scikit-learn's `StratifiedKFold` without shuffling: each class's samples,
    /// in order, dealt out in contiguous runs, the classes in the order they first appear),
    /// picks the strength of the best total accuracy (the first among equals), and refits on all
    /// the data with it, starting from the folds' mean solution. Each fold's strengths are fitted
    /// in order, each starting from the last one's solution.
    ///
    /// # Errors
    /// As [`LogisticRegression::fit_with`]; fewer than 2 folds, more folds than samples, no
    /// strengths or one that is not positive and finite.
    pub fn fit_with(
        &self,
        x: &Array<f64>,
        y: &Array<f64>,
        config: &Config,
    ) -> Result<LogisticCvModel> {
        check_settings("LogisticRegressionCV", &self.cs, self.solver.tol)?;
        if self.folds < 2 {
            return Err(Error::InvalidArgument(format!(
                "LogisticRegressionCV: cv = {} folds; cross-validation needs at least 2",
                self.folds
            )));
        }
        let design = Design::new("LogisticRegressionCV", x, y, self.folds, config)?;
        let mut scores = Array2::zeros((self.folds, self.cs.len()));
        // Each fold's solution for each strength, to start the refit from their mean.
        let mut solutions: Vec<Vec<Vec<f64>>> = Vec::with_capacity(self.folds);
        for fold in 0..self.folds {
            let mut start: Option<Vec<f64>> = None;
            let mut mine = Vec::with_capacity(self.cs.len());
            for (j, &c) in self.cs.iter().enumerate() {
                let solver = self.solver.clone().c(c);
                let (w, _) = design.fit(&solver, Some(fold), start.as_deref(), config)?;
                scores[[fold, j]] = design.accuracy(&w, fold, config)?;
                mine.push(w.clone());
                start = Some(w);
            }
            solutions.push(mine);
        }
        let totals: Vec<f64> = scores.columns().into_iter().map(|c| c.sum()).collect();
        let best = (0..totals.len()).fold(0, |b, j| if totals[j] > totals[b] { j } else { b });
        let best_c = self.cs[best];
        // The refit starts from the folds' mean solution for that strength (scikit-learn's).
        let mut mean = vec![0.0; solutions[0][best].len()];
        for s in &solutions {
            for (m, v) in mean.iter_mut().zip(&s[best]) {
                *m += v / self.folds as f64;
            }
        }
        let solver = self.solver.clone().c(best_c);
        let (w, n_iter) = design.fit(&solver, None, Some(&mean), config)?;
        Ok(LogisticCvModel {
            model: design.model(&w, best_c, n_iter),
            best_c,
            cs: self.cs.clone(),
            scores,
        })
    }
}

fn check_settings(who: &str, cs: &[f64], tol: f64) -> Result<()> {
    if cs.is_empty() || cs.iter().any(|c| !c.is_finite() || *c <= 0.0) || tol.is_nan() || tol < 0.0
    {
        return Err(Error::InvalidArgument(format!(
            "{who}: C = {cs:?} must be positive and finite (at least one), the tolerance {tol} at least 0"
        )));
    }
    Ok(())
}

/// The training data as one table of whole rows: the features, the label's class index and the
/// row's fold, with what every pass needs to know.
struct Design {
    rows: RowChunks,
    f: usize,
    classes: Vec<f64>,
    /// The largest magnitude of each feature.
    max_abs: Vec<f64>,
    /// Fixed point of gradient terms (a residual of at most 1 times a feature).
    gradient: Scale,
}

impl Design {
    /// The table of `x`, `y`'s class indices and folds (all 0 for one fold).
    fn new(
        who: &str,
        x: &Array<f64>,
        y: &Array<f64>,
        folds: usize,
        config: &Config,
    ) -> Result<Design> {
        let (s, table) = crate::joined(who, "labels", x, y, true)?;
        let (n, f) = (s.rows, s.features);
        if folds > n {
            return Err(Error::InvalidArgument(format!(
                "{who}: cv = {folds} folds for {n} samples: each fold needs a sample"
            )));
        }
        let table = RowChunks::new(&table)?;
        // One pass: NaN, each feature's largest magnitude, the labels seen, and per chunk its
        // first row and its count of each label.
        // One pass: NaN, each feature's largest magnitude, the labels seen with their count and
        // first row, and per chunk its first row.
        let width = f + 3 + 3 * MAX_CLASSES;
        let parts = table.pass(width, config, move |chunk| {
            let mut out = vec![0.0; width];
            let mut labels: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
            let (mut first, mut bad) = (f64::INFINITY, 0.0);
            for r in chunk {
                for (m, v) in out[1..=f].iter_mut().zip(&r[..f]) {
                    *m = v.abs().max(*m);
                }
                bad += r[..=f].iter().filter(|v| !v.is_finite()).count() as f64;
                first = first.min(r[f + 1]);
                if labels.len() <= MAX_CLASSES {
                    let e = labels.entry(order_key(r[f])).or_insert((0.0, r[f + 1]));
                    e.0 += 1.0;
                }
            }
            out[0] = bad;
            out[f + 1] = first;
            out[f + 2] = labels.len() as f64;
            for (i, (k, (c, at))) in labels.into_iter().take(MAX_CLASSES).enumerate() {
                out[f + 3 + 3 * i..f + 6 + 3 * i].copy_from_slice(&[from_order_key(k), c, at]);
            }
            out
        })?;
        let bad: f64 = parts.column(0).sum();
        s.finite(bad as i64)?;
        let mut max_abs = vec![0.0f64; f];
        let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
        let mut appear: BTreeMap<u64, f64> = BTreeMap::new();
        let mut chunk_counts = Vec::new();
        let too_many = |counts: &BTreeMap<u64, u64>| {
            let some: Vec<f64> = counts.keys().take(5).map(|&k| from_order_key(k)).collect();
            Error::InvalidArgument(format!(
                "{who}: the labels take more than {MAX_CLASSES} values ({some:?}, ...); a classifier needs class labels"
            ))
        };
        for row in parts.rows() {
            for (m, v) in max_abs.iter_mut().zip(row.iter().skip(1)) {
                *m = m.max(*v);
            }
            let seen = row[f + 2] as usize;
            let mut mine = BTreeMap::new();
            for i in 0..seen.min(MAX_CLASSES) {
                let at = f + 3 + 3 * i;
                let (k, c) = (order_key(row[at]), row[at + 1] as u64);
                *counts.entry(k).or_insert(0) += c;
                let first = appear.entry(k).or_insert(row[at + 2]);
                *first = first.min(row[at + 2]);
                mine.insert(k, c);
            }
            chunk_counts.push((row[f + 1], mine));
            if seen > MAX_CLASSES || counts.len() > MAX_CLASSES {
                return Err(too_many(&counts));
            }
        }
        let classes: Vec<f64> = counts.keys().map(|&k| from_order_key(k)).collect();
        if classes.len() < 2 {
            return Err(Error::InvalidArgument(format!(
                "{who}: the labels are all of one class ({classes:?}); a classifier needs at least two"
            )));
        }
        if folds > 1 && counts.values().all(|&c| c < folds as u64) {
            return Err(Error::InvalidArgument(format!(
                "{who}: cv = {folds} folds, more than the members of every class ({:?} of the classes {classes:?})",
                counts.values().collect::<Vec<_>>()
            )));
        }
        let folds_of = Arc::new(Folds::new(&counts, &appear, &chunk_counts, folds));
        let keys: Arc<Vec<u64>> = Arc::new(counts.keys().copied().collect());
        let coded = map_rows(
            &table.x,
            f + 2,
            Some(f + 2),
            "LogisticRegression",
            move |b| encode(b, f, &keys, &folds_of),
        )?;
        let top = max_abs.iter().fold(1.0f64, |m, v| m.max(*v));
        Ok(Design {
            rows: RowChunks::new(&coded)?,
            f,
            classes,
            max_abs,
            gradient: Scale::for_values(top)?,
        })
    }

    /// Rows of coefficients: one for two classes, one per class for more.
    fn heads(&self) -> usize {
        if self.classes.len() == 2 {
            1
        } else {
            self.classes.len()
        }
    }

    /// The mean log-loss over the training rows (those not in `skip`), its gradient for the
    /// parameters `w` (each head's coefficients then its intercept), and the penalty for `c`.
    fn loss(
        &self,
        w: &[f64],
        c: f64,
        skip: Option<usize>,
        config: &Config,
    ) -> Result<(f64, Vec<f64>)> {
        let (f, h) = (self.f, self.heads());
        let p = h * (f + 1);
        // A row's loss is at most twice its largest logit plus ln k.
        let logit = (0..h)
            .map(|j| {
                let head = &w[j * (f + 1)..(j + 1) * (f + 1)];
                head[f].abs()
                    + head[..f]
                        .iter()
                        .zip(&self.max_abs)
                        .map(|(a, m)| a.abs() * m)
                        .sum::<f64>()
            })
            .fold(0.0f64, f64::max);
        let Ok(losses) = Scale::for_values(2.0 * logit + (self.classes.len() as f64).ln() + 1.0)
        else {
            // Logits beyond any float: a step too far, which the line search halves.
            return Ok((f64::INFINITY, vec![0.0; p]));
        };
        let grads = self.gradient;
        let weights = Arc::new(w.to_vec());
        let skip = skip.map_or(-1.0, |s| s as f64);
        let parts = self.rows.pass(2 * (p + 1) + 1, config, move |chunk| {
            let mut sums = vec![0i128; p + 1];
            let mut used = 0i64;
            let mut z = vec![0.0; h];
            let mut r = vec![0.0; h];
            for row in chunk {
                if row[f + 1] == skip {
                    continue;
                }
                used += 1;
                let class = row[f] as usize;
                let loss = residuals(&weights, &row[..f], class, &mut z, &mut r);
                sums[p] += i128::from(losses.fix(loss));
                for (j, &rj) in r.iter().enumerate() {
                    let g = &mut sums[j * (f + 1)..(j + 1) * (f + 1)];
                    for (s, &x) in g.iter_mut().zip(&row[..f]) {
                        *s += i128::from(grads.fix(rj * x));
                    }
                    g[f] += i128::from(grads.fix(rj));
                }
            }
            let mut out: Vec<i64> = sums.into_iter().flat_map(split).collect();
            out.push(used);
            out
        })?;
        let sums = totals(&parts, p + 1);
        let n: i64 = parts.column(2 * (p + 1)).sum();
        let n = n.max(1) as f64;
        let penalty = 1.0 / (c * n);
        let mut loss = losses.float(sums[p]) / n;
        let mut grad: Vec<f64> = sums[..p].iter().map(|&s| grads.float(s) / n).collect();
        for j in 0..h {
            for i in 0..f {
                let k = j * (f + 1) + i;
                loss += 0.5 * penalty * w[k] * w[k];
                grad[k] += penalty * w[k];
            }
        }
        Ok((loss, grad))
    }

    /// Fits with `solver`'s C, iterations and tolerance on the rows not in `skip`, from `start`
    /// (or zeros).
    fn fit(
        &self,
        solver: &LogisticRegression,
        skip: Option<usize>,
        start: Option<&[f64]>,
        config: &Config,
    ) -> Result<(Vec<f64>, usize)> {
        let p = self.heads() * (self.f + 1);
        let x0 = start.map_or_else(|| vec![0.0; p], <[f64]>::to_vec);
        lbfgs(x0, solver.max_iter, solver.tol, |w| {
            self.loss(w, solver.c, skip, config)
        })
    }

    /// The accuracy of `w` on the rows of `fold`.
    fn accuracy(&self, w: &[f64], fold: usize, config: &Config) -> Result<f64> {
        let (f, h) = (self.f, self.heads());
        let weights = Arc::new(w.to_vec());
        let parts = self.rows.pass(2, config, move |chunk| {
            let (mut right, mut all) = (0i64, 0i64);
            let mut z = vec![0.0; h];
            for row in chunk {
                if row[f + 1] != fold as f64 {
                    continue;
                }
                all += 1;
                right += i64::from(decide(&weights, &row[..f], &mut z) == row[f] as usize);
            }
            vec![right, all]
        })?;
        let (right, all): (i64, i64) = (parts.column(0).sum(), parts.column(1).sum());
        Ok(if all == 0 {
            0.0
        } else {
            right as f64 / all as f64
        })
    }

    fn model(&self, w: &[f64], c: f64, n_iter: usize) -> LogisticModel {
        let (f, h) = (self.f, self.heads());
        let mut coef = Array2::zeros((h, f));
        let mut intercept = vec![0.0; h];
        for j in 0..h {
            for i in 0..f {
                coef[[j, i]] = w[j * (f + 1) + i];
            }
            intercept[j] = w[j * (f + 1) + f];
        }
        LogisticModel {
            classes: self.classes.clone(),
            coef,
            intercept,
            c,
            n_iter,
        }
    }
}

/// Each head's logit of a row into `z`.
fn logits(w: &[f64], x: &[f64], z: &mut [f64]) {
    let f = x.len();
    for (j, zj) in z.iter_mut().enumerate() {
        let head = &w[j * (f + 1)..(j + 1) * (f + 1)];
        *zj = head[f] + head[..f].iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
    }
}

/// A row's log-loss for its class, and each head's residual (probability minus indicator)
/// into `r`.
fn residuals(w: &[f64], x: &[f64], class: usize, z: &mut [f64], r: &mut [f64]) -> f64 {
    logits(w, x, z);
    if z.len() == 1 {
        let (zi, y) = (z[0], class as f64);
        r[0] = crate::postfit::sigmoid(zi) - y;
        // log(1 + e^z) - y z, without overflow.
        return zi.max(0.0) + (-zi.abs()).exp().ln_1p() - y * zi;
    }
    let top = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let total: f64 = z.iter().map(|&v| (v - top).exp()).sum();
    for (j, rj) in r.iter_mut().enumerate() {
        *rj = (z[j] - top).exp() / total - f64::from(u8::from(j == class));
    }
    top + total.ln() - z[class]
}

/// The class a row is given: the second of two when its logit is above 0, else the class of
/// the largest logit (the first among equals).
fn decide(w: &[f64], x: &[f64], z: &mut [f64]) -> usize {
    logits(w, x, z);
    if z.len() == 1 {
        return usize::from(z[0] > 0.0);
    }
    (0..z.len()).fold(0, |b, j| if z[j] > z[b] { j } else { b })
}

/// A key that sorts `f64` labels in numeric order (NaN has been refused before it matters).
fn order_key(v: f64) -> u64 {
    let b = (v + 0.0).to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Stratified folds as scikit-learn's `StratifiedKFold(shuffle=False)`: with the labels sorted,
/// fold `i` takes every `folds`-th of them from the `i`-th, so class `k` gives fold `i` as many
/// samples as that stride meets; each class's samples, in order, fill fold 0's share first.
struct Folds {
    /// Per class, the first rank of each fold after the first.
    bounds: Vec<Vec<u64>>,
    /// Per chunk (by its first row), each class's samples in the chunks before it.
    offsets: BTreeMap<u64, Vec<u64>>,
}

impl Folds {
    /// `counts` of each label (by its order key), the row where each `first` appears, and each
    /// chunk's first row with its counts.
    fn new(
        counts: &BTreeMap<u64, u64>,
        first: &BTreeMap<u64, f64>,
        chunks: &[(f64, BTreeMap<u64, u64>)],
        folds: usize,
    ) -> Folds {
        let folds = folds as u64;
        let keys: Vec<u64> = counts.keys().copied().collect();
        // scikit-learn sorts the classes by where each first appears, not by value.
        let mut appearance: Vec<usize> = (0..keys.len()).collect();
        appearance.sort_by(|&a, &b| first[&keys[a]].total_cmp(&first[&keys[b]]));
        let mut bounds = vec![Vec::new(); keys.len()];
        let mut start = 0u64;
        for j in appearance {
            let n = counts[&keys[j]];
            // Positions start..start+n of the sorted labels, dealt to fold (position % folds).
            let mut at = 0;
            for i in 0..folds {
                let first = start + (i + folds - start % folds) % folds;
                if first < start + n {
                    at += (start + n - first).div_ceil(folds);
                }
                bounds[j].push(at);
            }
            start += n;
        }
        let mut sorted: Vec<&(f64, BTreeMap<u64, u64>)> = chunks.iter().collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut running = vec![0u64; keys.len()];
        let mut offsets = BTreeMap::new();
        for (first, mine) in sorted {
            if first.is_finite() {
                offsets.insert(*first as u64, running.clone());
            }
            for (j, k) in keys.iter().enumerate() {
                running[j] += mine.get(k).copied().unwrap_or(0);
            }
        }
        Folds { bounds, offsets }
    }

    /// The fold of the `rank`-th sample of class `j`.
    fn fold(&self, j: usize, rank: u64) -> usize {
        self.bounds[j].iter().position(|&b| rank < b).unwrap_or(0)
    }
}

/// A chunk of `[features, label, row]` as `[features, class index, fold]`.
fn encode(
    block: ArrayView2<'_, f64>,
    f: usize,
    keys: &[u64],
    folds: &Folds,
) -> Result<Array2<f64>> {
    let first = block.column(f + 1).first().copied().unwrap_or(0.0) as u64;
    let mut seen = folds.offsets.get(&first).cloned().unwrap_or_default();
    seen.resize(keys.len(), 0);
    let rows = each_row(block, |r| {
        let j = keys.binary_search(&order_key(r[f])).map_err(|_| {
            Error::internal(format!("the label {} was not seen while fitting", r[f]))
        })?;
        let fold = folds.fold(j, seen[j]);
        seen[j] += 1;
        let mut out = r[..f].to_vec();
        out.push(j as f64);
        out.push(fold as f64);
        Ok(out)
    });
    let n = rows.len();
    let v: Vec<f64> = rows.into_iter().collect::<Result<Vec<_>>>()?.concat();
    Array2::from_shape_vec((n, f + 2), v).map_err(Error::internal)
}

impl LogisticModel {
    /// The predicted class of each sample, lazily (one task per row chunk).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` is not 2-D with the model's number of features.
    pub fn predict(&self, x: &Array<f64>) -> Result<Array<f64>> {
        ParallelPostFit::new(self.clone())?.predict(x)
    }

    /// The probability of each class for each sample, lazily (samples x classes).
    ///
    /// # Errors
    /// As [`LogisticModel::predict`].
    pub fn predict_proba(&self, x: &Array<f64>) -> Result<Array<f64>> {
        ParallelPostFit::new(self.clone())?.predict_proba(x)
    }

    fn scores(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        x.dot(&self.coef.t()) + &Array1::from(self.intercept.clone())
    }
}

impl BlockModel for LogisticModel {
    fn name(&self) -> String {
        "LogisticRegression".into()
    }
    fn features(&self) -> Option<usize> {
        Some(self.coef.ncols())
    }
    fn predict_block(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        let mut w = Vec::with_capacity(self.coef.len() + self.intercept.len());
        for (row, b) in self.coef.rows().into_iter().zip(&self.intercept) {
            w.extend(row.iter());
            w.push(*b);
        }
        let mut z = vec![0.0; self.intercept.len()];
        let classes = &self.classes;
        Ok(Array1::from(each_row(x, |r| {
            classes[decide(&w, r, &mut z)]
        })))
    }
    fn classes(&self) -> Option<Vec<f64>> {
        Some(self.classes.clone())
    }
    fn predict_proba_block(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        Ok(probabilities(self.scores(x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folds of `y` cut into chunks at `cuts`, row by row.
    fn folds_of(y: &[f64], cuts: &[usize], folds: usize) -> Vec<usize> {
        let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
        for &v in y {
            *counts.entry(order_key(v)).or_insert(0) += 1;
        }
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(y.len());
        let chunks: Vec<(f64, BTreeMap<u64, u64>)> = bounds
            .windows(2)
            .map(|w| {
                let mut mine = BTreeMap::new();
                for &v in &y[w[0]..w[1]] {
                    *mine.entry(order_key(v)).or_insert(0) += 1;
                }
                (w[0] as f64, mine)
            })
            .rev() // in any order
            .collect();
        let mut first = BTreeMap::new();
        for (i, &v) in y.iter().enumerate().rev() {
            first.insert(order_key(v), i as f64);
        }
        let f = Folds::new(&counts, &first, &chunks, folds);
        let keys: Vec<u64> = counts.keys().copied().collect();
        let mut out = Vec::new();
        for w in bounds.windows(2) {
            let mut seen = f.offsets[&(w[0] as u64)].clone();
            for &v in &y[w[0]..w[1]] {
                let j = keys.binary_search(&order_key(v)).unwrap();
                out.push(f.fold(j, seen[j]));
                seen[j] += 1;
            }
        }
        out
    }

    #[test]
    fn folds_are_scikit_learns_stratified_k_fold_on_any_chunking() {
        // StratifiedKFold(3).split(X, y) of scikit-learn 1.8, as each row's test fold.
        let y = [
            0., 0., 1., 1., 1., 0., 2., 2., 0., 1., 0., 0., 2., 1., 1., 2., 0., 1.,
        ];
        let want = [0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 2, 2, 1, 2, 2, 2, 2];
        for cuts in [vec![], vec![7], vec![1, 2, 9, 17]] {
            assert_eq!(folds_of(&y, &cuts, 3), want, "cuts {cuts:?}");
        }
        let y = [5., 5., 5., 5., 5., 5., 5., 9., 9., 9., 9.];
        assert_eq!(folds_of(&y, &[4], 3), [0, 0, 0, 1, 1, 2, 2, 0, 1, 1, 2]);
        // Classes in the order they first appear, not by value.
        let y = [1., 1., 0., 0., 0., 0., 0.];
        for cuts in [vec![], vec![3]] {
            assert_eq!(folds_of(&y, &cuts, 3), [0, 1, 0, 0, 1, 2, 2]);
        }
        for v in [-3.5, -0.0, 0.0, 1e-300, 7.0, f64::MAX, f64::MIN] {
            assert_eq!(from_order_key(order_key(v)), v + 0.0);
        }
        assert!(order_key(-1.0) < order_key(0.0) && order_key(0.0) < order_key(0.5));
    }
}
