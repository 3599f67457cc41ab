//! L-BFGS (Nocedal and Wright, "Numerical Optimization", algorithm 7.4) with a backtracking
//! line search: few evaluations of the objective, each of which is a pass over the chunks.

use ndtask_core::Result;

/// Corrections kept (SciPy's `maxcor`).
const MEMORY: usize = 10;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `f` (value and gradient) from `x0`: stops when no component of the gradient
/// exceeds `tol` (SciPy's `gtol`), when a step lowers the value by no more than rounding
/// (SciPy's `ftol` of 64 machine epsilons), or after `max_iter` iterations. Returns the point
/// and the iterations run.
///
/// # Errors
/// `f`'s error.
pub(crate) fn lbfgs(
    x0: Vec<f64>,
    max_iter: usize,
    tol: f64,
    mut f: impl FnMut(&[f64]) -> Result<(f64, Vec<f64>)>,
) -> Result<(Vec<f64>, usize)> {
    let mut x = x0;
    let (mut value, mut grad) = f(&x)?;
    let mut pairs: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::with_capacity(MEMORY);
    let max_abs = |g: &[f64]| g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for iter in 0..max_iter {
        if max_abs(&grad) <= tol {
            return Ok((x, iter));
        }
        // The two-loop recursion: the direction -H g.
        let mut q = grad.clone();
        let mut alphas = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho * dot(s, &q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= a * yi;
            }
            alphas.push(a);
        }
        let gamma = match pairs.last() {
            Some((s, y, _)) => dot(s, y) / dot(y, y),
            None => 1.0 / max_abs(&grad).max(1.0),
        };
        for qi in q.iter_mut() {
            *qi *= gamma;
        }
        for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * si;
            }
        }
        let direction: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&grad, &direction);
        let direction = if slope < 0.0 {
            direction
        } else {
            // Not a descent direction (rounding): start again from steepest descent.
            pairs.clear();
            slope = -dot(&grad, &grad);
            grad.iter().map(|v| -v).collect()
        };
        // Backtracking to the Armijo condition.
        let mut step = 1.0;
        let mut next = None;
        for _ in 0..40 {
            let trial: Vec<f64> = x
                .iter()
                .zip(&direction)
                .map(|(a, d)| a + step * d)
                .collect();
            let (v, g) = f(&trial)?;
            if v.is_finite() && v <= value + 1e-4 * step * slope {
                next = Some((trial, v, g));
                break;
            }
            step *= 0.5;
        }
        let Some((trial, v, g)) = next else {
            return Ok((x, iter + 1));
        };
        let s: Vec<f64> = trial.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() && sy > 0.0 {
            if pairs.len() == MEMORY {
                pairs.remove(0);
            }
            pairs.push((s, y, 1.0 / sy));
        }
        let drop = (value - v) / value.abs().max(v.abs()).max(1.0);
        x = trial;
        value = v;
        grad = g;
        if drop <= 64.0 * f64::EPSILON {
            return Ok((x, iter + 1));
        }
    }
    Ok((x, max_iter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let rosen = |w: &[f64]| -> Result<(f64, Vec<f64>)> {
            let (a, b) = (w[0], w[1]);
            let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            Ok((v, g))
        };
        let (x, n) = lbfgs(vec![-1.2, 1.0], 200, 1e-8, rosen).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?} after {n}"
        );
    }
}
