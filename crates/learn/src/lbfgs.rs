//! Limited-memory BFGS for smooth convex objectives (multinomial logistic regression, the MLP's
//! cousins): two-loop recursion with 10 correction pairs, an optional preconditioner as the
//! initial inverse Hessian, and a backtracking Armijo line search.

/// Why the minimiser stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Largest gradient component ≤ `gtol`.
    Gradient,
    /// Relative decrease of the objective ≤ `ftol`.
    Objective,
    /// The line search found no decrease.
    LineSearch,
    MaxIter,
}

/// Minimises `f`, which writes the gradient into its second argument and returns the value;
/// `on_iter(k)` is called after the k-th iteration (for progress reports).
/// `precondition(x, v)` replaces v by P·v for a symmetric positive-definite P close to the
/// inverse Hessian at the current iterate x (up to a scale, which the recursion estimates each
/// iteration as sᵀy / yᵀPy): it is the initial matrix of the two-loop recursion, so the
/// minimiser only has to learn the curvature that P misses. P may change with x (it is
/// called with the same x until the iterate moves); `|_, _| {}` gives plain L-BFGS.
/// Returns the minimiser, the number of iterations and why it stopped.
pub fn minimize<F, Q, P>(
    mut f: F,
    x0: Vec<f64>,
    mut precondition: Q,
    max_iter: usize,
    gtol: f64,
    ftol: f64,
    mut on_iter: P,
) -> (Vec<f64>, usize, Stop)
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
    Q: FnMut(&[f64], &mut [f64]),
    P: FnMut(usize),
{
    const M: usize = 10;
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    for iter in 0..max_iter {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) <= gtol {
            return (x, iter, Stop::Gradient);
        }
        // Two-loop recursion: d = -H g.
        let mut q = g.clone();
        let mut alpha = vec![0.0; s_hist.len()];
        for i in (0..s_hist.len()).rev() {
            alpha[i] = rho[i] * dot(&s_hist[i], &q);
            for (qj, yj) in q.iter_mut().zip(&y_hist[i]) {
                *qj -= alpha[i] * yj;
            }
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => {
                let mut py = y.clone();
                precondition(&x, &mut py);
                dot(s, y) / dot(y, &py)
            }
            _ => {
                let mut pg = g.clone();
                precondition(&x, &mut pg);
                1.0 / dot(&g, &pg).sqrt().max(1.0)
            }
        };
        precondition(&x, &mut q);
        q.iter_mut().for_each(|v| *v *= gamma);
        for i in 0..s_hist.len() {
            let beta = rho[i] * dot(&y_hist[i], &q);
            for (qj, sj) in q.iter_mut().zip(&s_hist[i]) {
                *qj += (alpha[i] - beta) * sj;
            }
        }
        let d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        let d = if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            let scale = 1.0 / dot(&g, &g).sqrt().max(1.0);
            let d: Vec<f64> = g.iter().map(|v| -v * scale).collect();
            slope = dot(&g, &d);
            d
        } else {
            d
        };
        let mut t = 1.0;
        let mut f_new;
        loop {
            for j in 0..n {
                x_new[j] = x[j] + t * d[j];
            }
            f_new = f(&x_new, &mut g_new);
            if f_new <= fx + 1e-4 * t * slope {
                break;
            }
            t *= 0.5;
            if t < 1e-12 {
                return (x, iter, Stop::LineSearch);
            }
        }
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if s_hist.len() == M {
                s_hist.remove(0);
                y_hist.remove(0);
                rho.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
            rho.push(1.0 / sy);
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        let f_old = fx;
        fx = f_new;
        on_iter(iter + 1);
        if (f_old - fx) / f_old.abs().max(fx.abs()).max(1.0) <= ftol {
            return (x, iter + 1, Stop::Objective);
        }
    }
    (x, max_iter, Stop::MaxIter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_an_ill_conditioned_quadratic() {
        // f = 0.5 Σ a_i (x_i - i)², a_i from 1 to 1000.
        let a: Vec<f64> = (0..20).map(|i| 1.0 + 999.0 * i as f64 / 19.0).collect();
        let (x, iters, stop) = minimize(
            |x, g| {
                let mut f = 0.0;
                for i in 0..x.len() {
                    let e = x[i] - i as f64;
                    f += 0.5 * a[i] * e * e;
                    g[i] = a[i] * e;
                }
                f
            },
            vec![0.0; 20],
            |_: &[f64], _: &mut [f64]| {},
            500,
            1e-8,
            0.0,
            |_| {},
        );
        assert_eq!(stop, Stop::Gradient, "after {iters} iterations");
        for (i, v) in x.iter().enumerate() {
            assert!((v - i as f64).abs() < 1e-6, "x[{i}] = {v}");
        }
    }

    #[test]
    fn a_preconditioner_equal_to_the_inverse_hessian_converges_at_once() {
        // The same quadratic with P = diag(1/a): the first step is the Newton step.
        let a: Vec<f64> = (0..20).map(|i| 1.0 + 999.0 * i as f64 / 19.0).collect();
        let objective = |x: &[f64], g: &mut [f64]| {
            let mut f = 0.0;
            for i in 0..x.len() {
                let e = x[i] - i as f64;
                f += 0.5 * a[i] * e * e;
                g[i] = a[i] * e;
            }
            f
        };
        let precondition = |_: &[f64], v: &mut [f64]| {
            for (vi, ai) in v.iter_mut().zip(&a) {
                *vi /= ai;
            }
        };
        let (x, iters, stop) = minimize(
            objective,
            vec![0.0; 20],
            precondition,
            500,
            1e-8,
            0.0,
            |_| {},
        );
        assert_eq!(stop, Stop::Gradient);
        assert!(iters <= 3, "{iters} iterations");
        for (i, v) in x.iter().enumerate() {
            assert!((v - i as f64).abs() < 1e-6, "x[{i}] = {v}");
        }
        // Without it, the same run needs many more iterations.
        let (_, plain, _) = minimize(
            objective,
            vec![0.0; 20],
            |_: &[f64], _: &mut [f64]| {},
            500,
            1e-8,
            0.0,
            |_| {},
        );
        assert!(plain > 3 * iters, "{plain} vs {iters}");
    }
}
