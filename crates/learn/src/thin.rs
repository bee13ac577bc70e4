//! The three products of a dense layer with few output units (at most [`LANES`]: the output
//! layer of `mlp`, one unit per class), which general GEMM kernels run at a fraction of their
//! speed (thin panels, masked edge tiles). The layer's outputs, errors and weight gradient are
//! kept padded to [`LANES`] columns, so that every step over them is one 8-lane vector; the
//! padding stays zero.
//!
//! Each product is compiled twice: for AVX2 (chosen at run time where the processor has it)
//! and portably. Multiplies and adds stay separate (Rust never fuses them) and the order of
//! every sum is fixed in the source, so both builds give the same bits (tested).

/// Padded width of the layer's outputs.
pub(crate) const LANES: usize = 8;

/// Rows of `a` handled together by [`forward`]: that many independent sums in flight.
const ROWS: usize = 8;

/// Which build of the products runs. Only [`Simd::detect`] selects AVX2, after checking the
/// processor has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Simd {
    avx2: bool,
}

impl Simd {
    /// AVX2 where the processor has it, else the portable build.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Simd {
                avx2: std::arch::is_x86_feature_detected!("avx2"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Simd { avx2: false }
        }
    }
    /// Whether AVX2 builds may run (only [`Simd::detect`] says yes, after checking).
    pub(crate) fn avx2(self) -> bool {
        self.avx2
    }
    /// The portable build (also on AVX2 processors: for tests).
    #[cfg(test)]
    pub(crate) fn portable() -> Self {
        Simd { avx2: false }
    }
}

/// Runs `$body` (a call of an `#[inline(always)]` function) compiled for AVX2 when `$simd`
/// selects it, else as is.
macro_rules! dispatch {
    ($simd:expr, $name:ident ( $($arg:ident : $t:ty),* ) => $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(unsafe_code)]
        unsafe fn $name($($arg: $t),*) {
            $body
        }
        #[cfg(target_arch = "x86_64")]
        if $simd.avx2 {
            // SAFETY: `avx2` is only true when `Simd::detect` found AVX2 on this processor,
            // the only requirement of a `target_feature(enable = "avx2")` function.
            #[allow(unsafe_code)]
            unsafe {
                $name($($arg),*)
            };
            return;
        }
        $body
    }};
}

/// `v` (a multiple of [`LANES`] long) as arrays of [`LANES`].
#[inline(always)]
fn lanes(v: &[f32]) -> impl Iterator<Item = &[f32; LANES]> + Clone {
    v.chunks_exact(LANES)
        .map(|c| <&[f32; LANES]>::try_from(c).expect("chunks of LANES"))
}

/// `weights` (fan_in × k, row-major, k ≤ [`LANES`]) as fan_in × [`LANES`] (zero-padded), for
/// [`forward`], and transposed in blocks of [`LANES`] inputs (⌈fan_in / 8⌉ × k × [`LANES`],
/// zero-padded), for [`back_errors`].
pub(crate) fn pad_and_transpose(
    weights: &[f32],
    fan_in: usize,
    k: usize,
    padded: &mut Vec<f32>,
    blocked: &mut Vec<f32>,
) {
    assert!(k <= LANES && weights.len() == fan_in * k);
    padded.clear();
    padded.resize(fan_in * LANES, 0.0);
    blocked.clear();
    blocked.resize(fan_in.div_ceil(LANES) * k * LANES, 0.0);
    for (j, row) in weights.chunks_exact(k).enumerate() {
        padded[j * LANES..j * LANES + k].copy_from_slice(row);
        let (block, lane) = (j / LANES, j % LANES);
        for (c, w) in row.iter().enumerate() {
            blocked[(block * k + c) * LANES + lane] = *w;
        }
    }
}

/// `z` (m × [`LANES`]) = `a` (m × fan_in) · `padded` (fan_in × [`LANES`]); each output is the
/// sum over the inputs in order, starting from 0.
pub(crate) fn forward(simd: Simd, a: &[f32], fan_in: usize, padded: &[f32], z: &mut [f32]) {
    assert!(padded.len() == fan_in * LANES && a.len() / fan_in.max(1) * LANES == z.len());
    dispatch!(simd, forward_avx2(a: &[f32], fan_in: usize, padded: &[f32], z: &mut [f32])
        => forward_impl(a, fan_in, padded, z))
}

#[inline(always)]
fn forward_impl(a: &[f32], fan_in: usize, padded: &[f32], z: &mut [f32]) {
    if fan_in == 0 {
        z.fill(0.0);
        return;
    }
    let w = lanes(&padded[..fan_in * LANES]);
    let mut a_blocks = a.chunks_exact(ROWS * fan_in);
    let mut z_blocks = z.chunks_exact_mut(ROWS * LANES);
    for (ab, zb) in (&mut a_blocks).zip(&mut z_blocks) {
        let rows: [&[f32]; ROWS] = std::array::from_fn(|r| &ab[r * fan_in..(r + 1) * fan_in]);
        let mut acc = [[0f32; LANES]; ROWS];
        for (j, wj) in w.clone().enumerate() {
            let xs: [f32; ROWS] = std::array::from_fn(|r| rows[r][j]);
            for r in 0..ROWS {
                for l in 0..LANES {
                    acc[r][l] += xs[r] * wj[l];
                }
            }
        }
        zb.copy_from_slice(acc.as_flattened());
    }
    for (ar, zr) in a_blocks
        .remainder()
        .chunks_exact(fan_in)
        .zip(z_blocks.into_remainder().chunks_exact_mut(LANES))
    {
        let mut acc = [0f32; LANES];
        for (x, wj) in ar.iter().zip(w.clone()) {
            for l in 0..LANES {
                acc[l] += x * wj[l];
            }
        }
        zr.copy_from_slice(&acc);
    }
}

/// `grad` (fan_in × [`LANES`]) = `a`ᵀ (fan_in × m) · `delta` (m × [`LANES`]); each entry is the
/// sum over the rows in order, starting from 0.
pub(crate) fn weight_gradient(
    simd: Simd,
    a: &[f32],
    fan_in: usize,
    delta: &[f32],
    grad: &mut [f32],
) {
    assert!(grad.len() == fan_in * LANES && a.len() / fan_in.max(1) * LANES == delta.len());
    dispatch!(simd, weight_gradient_avx2(a: &[f32], fan_in: usize, delta: &[f32], grad: &mut [f32])
        => weight_gradient_impl(a, fan_in, delta, grad))
}

#[inline(always)]
fn weight_gradient_impl(a: &[f32], fan_in: usize, delta: &[f32], grad: &mut [f32]) {
    if fan_in == 0 {
        return;
    }

    // Eight gradient rows (inputs) at a time, held in registers over all the rows of `a`:
    // eight independent sums in flight, and no gradient loads or stores inside the loop.
    for (block, g) in grad.chunks_mut(ROWS * LANES).enumerate() {
        let j0 = block * ROWS;
        let used = g.len() / LANES;
        let mut acc = [[0f32; LANES]; ROWS];
        for (ar, dr) in a.chunks_exact(fan_in).zip(lanes(delta)) {
            let xs: [f32; ROWS] = if used == ROWS {
                ar[j0..j0 + ROWS].try_into().expect("eight inputs")
            } else {
                let mut xs = [0f32; ROWS];
                xs[..used].copy_from_slice(&ar[j0..j0 + used]);
                xs
            };
            for r in 0..ROWS {
                for l in 0..LANES {
                    acc[r][l] += xs[r] * dr[l];
                }
            }
        }
        g.copy_from_slice(&acc.as_flattened()[..used * LANES]);
    }
}

/// The errors one layer down: `prev` (m × fan_in) = `delta` (m × [`LANES`], first k columns
/// used) · the weights transposed (`blocked`, from [`pad_and_transpose`]), set to 0 where
/// `below` (the layer's input activations, m × fan_in, ReLU outputs) is not positive (ReLU's
/// derivative). Each entry sums over the k outputs in order, starting from 0.
pub(crate) fn back_errors(
    simd: Simd,
    delta: &[f32],
    blocked: &[f32],
    k: usize,
    below: &[f32],
    prev: &mut [f32],
) {
    assert!(
        k <= LANES
            && k > 0
            && prev.len() == below.len()
            && delta.len() % LANES == 0
            && blocked.len() % (k * LANES) == 0
    );
    let fan_in = prev.len() / (delta.len() / LANES).max(1);
    assert!(blocked.len() == fan_in.div_ceil(LANES) * k * LANES);
    dispatch!(simd, back_errors_avx2(delta: &[f32], blocked: &[f32], k: usize, below: &[f32], prev: &mut [f32])
        => back_errors_impl(delta, blocked, k, below, prev))
}

#[inline(always)]
fn back_errors_impl(delta: &[f32], blocked: &[f32], k: usize, below: &[f32], prev: &mut [f32]) {
    let fan_in = prev.len() / (delta.len() / LANES).max(1);
    if fan_in == 0 {
        return;
    }
    for ((dr, pr), br) in delta
        .chunks_exact(LANES)
        .zip(prev.chunks_exact_mut(fan_in))
        .zip(below.chunks_exact(fan_in))
    {
        let dr = &dr[..k];
        let mut p_chunks = pr.chunks_exact_mut(LANES);
        let mut b_chunks = br.chunks_exact(LANES);
        let mut w_blocks = blocked.chunks_exact(k * LANES);
        for ((pc, bc), wc) in (&mut p_chunks).zip(&mut b_chunks).zip(&mut w_blocks) {
            let mut acc = [0f32; LANES];
            for (dc, w) in dr.iter().zip(lanes(wc)) {
                for l in 0..LANES {
                    acc[l] += dc * w[l];
                }
            }
            for l in 0..LANES {
                pc[l] = if bc[l] > 0.0 { acc[l] } else { 0.0 };
            }
        }
        if let Some(wc) = w_blocks.next() {
            let mut acc = [0f32; LANES];
            for (dc, w) in dr.iter().zip(lanes(wc)) {
                for l in 0..LANES {
                    acc[l] += dc * w[l];
                }
            }
            for ((p, b), s) in p_chunks
                .into_remainder()
                .iter_mut()
                .zip(b_chunks.remainder())
                .zip(acc)
            {
                *p = if *b > 0.0 { s } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1), some exactly 0 (to exercise the ReLU mask).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::rng::Rng::new(seed);
        (0..n)
            .map(|_| {
                let v = (rng.unit_f64() * 2.0 - 1.0) as f32;
                if v.abs() < 0.2 {
                    0.0
                } else {
                    v
                }
            })
            .collect()
    }

    /// The three products against plain triple loops, on shapes that leave remainders
    /// (rows not a multiple of 8 or 4, fan_in not a multiple of 8); the detected build and the
    /// portable build give the same bits.
    #[test]
    fn products_match_the_definition_and_both_builds_agree() {
        for &(m, fan_in, k) in &[(37, 100, 5), (8, 20, 5), (3, 7, 2), (64, 16, 8), (1, 1, 1)] {
            let a = values(m * fan_in, 1);
            let w = values(fan_in * k, 2);
            let (mut padded, mut blocked) = (Vec::new(), Vec::new());
            pad_and_transpose(&w, fan_in, k, &mut padded, &mut blocked);
            let mut delta = vec![0f32; m * LANES];
            for (r, row) in delta.chunks_exact_mut(LANES).enumerate() {
                row[..k].copy_from_slice(&values(k, 10 + r as u64));
            }
            let mut results = Vec::new();
            for simd in [Simd::detect(), Simd::portable()] {
                let mut z = vec![f32::NAN; m * LANES];
                forward(simd, &a, fan_in, &padded, &mut z);
                let mut g = vec![f32::NAN; fan_in * LANES];
                weight_gradient(simd, &a, fan_in, &delta, &mut g);
                let mut p = vec![f32::NAN; m * fan_in];
                back_errors(simd, &delta, &blocked, k, &a, &mut p);
                for r in 0..m {
                    for c in 0..LANES {
                        let want: f64 = (0..fan_in)
                            .map(|j| {
                                let wv = if c < k { w[j * k + c] } else { 0.0 };
                                a[r * fan_in + j] as f64 * wv as f64
                            })
                            .sum();
                        assert!((z[r * LANES + c] as f64 - want).abs() < 1e-4, "z {r} {c}");
                    }
                    for j in 0..fan_in {
                        let want: f64 = if a[r * fan_in + j] > 0.0 {
                            (0..k)
                                .map(|c| delta[r * LANES + c] as f64 * w[j * k + c] as f64)
                                .sum()
                        } else {
                            0.0
                        };
                        assert!((p[r * fan_in + j] as f64 - want).abs() < 1e-4, "p {r} {j}");
                    }
                }
                for j in 0..fan_in {
                    for c in 0..LANES {
                        let want: f64 = (0..m)
                            .map(|r| a[r * fan_in + j] as f64 * delta[r * LANES + c] as f64)
                            .sum();
                        assert!((g[j * LANES + c] as f64 - want).abs() < 1e-4, "g {j} {c}");
                    }
                }
                results.push((z, g, p));
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&results[0].0),
                bits(&results[1].0),
                "forward {m}×{fan_in}"
            );
            assert_eq!(
                bits(&results[0].1),
                bits(&results[1].1),
                "gradient {m}×{fan_in}"
            );
            assert_eq!(
                bits(&results[0].2),
                bits(&results[1].2),
                "errors {m}×{fan_in}"
            );
        }
    }
}
