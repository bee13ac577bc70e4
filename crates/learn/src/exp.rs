//! Branch-free e^x for x ≤ 0 (f64 and f32), so that loops over many values (softmax logits in `lr`, RBF
//! kernel columns in `svm_rbf`) vectorise instead of calling libm once per value.

/// e^x for x ≤ 0 (a logit minus its row's largest, −γ·‖a − b‖² of the RBF kernel), branch-free so that a loop over many
/// values vectorises: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 in two parts, Cody–Waite), e^r by its
/// Taylor series to r¹³ (truncation below 1e-17 relative), 2ⁿ built in the exponent bits.
/// Within 2 ulp of the correctly rounded value; below −708 it returns about 3e-308 instead of
/// a smaller value or 0, which no softmax share can tell apart.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f64) -> f64 {
    // 1.5·2⁵²: adding it rounds to the nearest integer, which then sits in the low bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000); // ln2's high 32 bits (fdlibm)
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76); // ln2 − LN2_HI
    let x = x.max(-708.0);
    let t = x * std::f64::consts::LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Horner on the Taylor coefficients 1/i!, written out so that it is unrolled.
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let p = C[13] * r + C[12];
    let p = p * r + C[11];
    let p = p * r + C[10];
    let p = p * r + C[9];
    let p = p * r + C[8];
    let p = p * r + C[7];
    let p = p * r + C[6];
    let p = p * r + C[5];
    let p = p * r + C[4];
    let p = p * r + C[3];
    let p = p * r + C[2];
    let p = p * r + C[1];
    let p = p * r + C[0];
    // The low bits of t hold n (two's complement): (n + 1023) << 52 is 2ⁿ for n in −1022..=0.
    p * f64::from_bits(t.to_bits().wrapping_add(1023) << 52)
}

/// e^x for x ≤ 0 in f32 (RBF kernel values, which are stored as f32), the same construction
/// as [`exp_nonpositive`] with eight f32 lanes per AVX2 instruction instead of four f64:
/// x = n·ln2 + r, |r| ≤ ln2/2, e^r by its Taylor series to r⁷ (truncation below 2e-9
/// relative), 2ⁿ in the exponent bits. Within 2 ulp of the correctly rounded value; below −87
/// it returns about 1.6e-38 instead of a smaller value or 0.
#[inline(always)]
pub(crate) fn exp_nonpositive_f32(x: f32) -> f32 {
    // 1.5·2²³: adding it rounds to the nearest integer, which then sits in the low bits.
    const SHIFTER: f32 = 12_582_912.0;
    const LN2_HI: f32 = f32::from_bits(0x3F31_7200); // 0.693145751953125
    const LN2_LO: f32 = f32::from_bits(0x35BF_BE8E); // ln2 − LN2_HI
    let x = x.max(-87.0);
    let t = x * std::f32::consts::LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    const C: [f32; 8] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
    ];
    let p = C[7] * r + C[6];
    let p = p * r + C[5];
    let p = p * r + C[4];
    let p = p * r + C[3];
    let p = p * r + C[2];
    let p = p * r + C[1];
    let p = p * r + C[0];
    // The low bits of t hold n (two's complement): (n + 127) << 23 is 2ⁿ for n in −126..=0.
    p * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_two_ulp_of_libm_on_the_nonpositive_range() {
        let mut worst = 0u64;
        for i in 0..=200_000 {
            let x = -708.0 * i as f64 / 200_000.0;
            let (a, b) = (exp_nonpositive(x), x.exp());
            worst = worst.max(a.to_bits().abs_diff(b.to_bits()));
        }
        assert!(worst <= 2, "{worst} ulp");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1e6) < 1e-307);
    }

    #[test]
    fn f32_within_two_ulp_of_libm_on_the_nonpositive_range() {
        let mut worst = 0u32;
        for i in 0..=200_000 {
            let x = -87.0f32 * i as f32 / 200_000.0;
            let (a, b) = (exp_nonpositive_f32(x), (x as f64).exp() as f32);
            worst = worst.max(a.to_bits().abs_diff(b.to_bits()));
        }
        assert!(worst <= 2, "{worst} ulp");
        assert_eq!(exp_nonpositive_f32(0.0), 1.0);
        assert!(exp_nonpositive_f32(-1e6) < 2e-38);
    }
}
