//! Safe wrappers over `matrixmultiply::sgemm` and `dgemm` (pure Rust, run-time AVX/FMA detection), used by
//! the blocked distances of `knn`, the layers of `mlp`, the losses of `lr`. The one `unsafe`
//! call is guarded by length checks on every slice.

macro_rules! gemm {
    ($name:ident, $t:ty, $kernel:path) => {
        /// `c = alpha · op(a) · op(b) + beta · c`, all row-major; `op(a)` is m×k (`a` is k×m when
        /// `a_transposed`), `op(b)` is k×n (`b` is n×k when `b_transposed`), `c` is m×n.
        #[allow(clippy::too_many_arguments, dead_code)]
        pub(crate) fn $name(
            m: usize,
            k: usize,
            n: usize,
            alpha: $t,
            a: &[$t],
            a_transposed: bool,
            b: &[$t],
            b_transposed: bool,
            beta: $t,
            c: &mut [$t],
        ) {
            assert_eq!(
                a.len(),
                m * k,
                "gemm: a has {} values, expected {m}×{k}",
                a.len()
            );
            assert_eq!(
                b.len(),
                k * n,
                "gemm: b has {} values, expected {k}×{n}",
                b.len()
            );
            assert_eq!(
                c.len(),
                m * n,
                "gemm: c has {} values, expected {m}×{n}",
                c.len()
            );
            if m == 0 || n == 0 {
                return;
            }
            let (rsa, csa) = if a_transposed {
                (1, m as isize)
            } else {
                (k as isize, 1)
            };
            let (rsb, csb) = if b_transposed {
                (1, k as isize)
            } else {
                (n as isize, 1)
            };
            // SAFETY: the asserts above make every element addressed by (m, k, n) and these
            // strides lie inside `a`, `b` and `c`; `c` is a unique borrow, so it does not alias.
            #[allow(unsafe_code)]
            unsafe {
                $kernel(
                    m,
                    k,
                    n,
                    alpha,
                    a.as_ptr(),
                    rsa,
                    csa,
                    b.as_ptr(),
                    rsb,
                    csb,
                    beta,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
        }
    };
}

gemm!(sgemm, f32, matrixmultiply::sgemm);
gemm!(dgemm, f64, matrixmultiply::dgemm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_transposes_match_the_definition() {
        // a: 2×3, b: 3×2.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut c = [1.0; 4];
        sgemm(2, 3, 2, 1.0, &a, false, &b, false, 0.0, &mut c);
        assert_eq!(c, [58.0, 64.0, 139.0, 154.0]);
        // aᵀ (3×2) stored as a; (aᵀ)ᵀ·... : compute aᵀ·a = 3×3 via a_transposed.
        let mut g = [0.0; 9];
        sgemm(3, 2, 3, 1.0, &a, true, &a, false, 0.0, &mut g);
        assert_eq!(g, [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
        // a·aᵀ = 2×2 via b_transposed, accumulated onto c with beta = 1.
        let mut h = [1.0; 4];
        sgemm(2, 3, 2, 1.0, &a, false, &a, true, 1.0, &mut h);
        assert_eq!(h, [15.0, 33.0, 33.0, 78.0]);
        let a64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
        let b64: Vec<f64> = b.iter().map(|&v| v as f64).collect();
        let mut c64 = [0.0f64; 4];
        dgemm(2, 3, 2, 1.0, &a64, false, &b64, false, 0.0, &mut c64);
        assert_eq!(c64, [58.0, 64.0, 139.0, 154.0]);
    }
}
