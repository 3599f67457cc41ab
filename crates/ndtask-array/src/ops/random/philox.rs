//! Philox counter-based generators (Salmon et al., "Parallel random numbers: as easy as 1, 2,
//! 3", SC 2011; the Random123 library): a block of output is a keyed bijection of a counter, so
//! any element of a stream is computed directly from its index, with no state carried from the
//! elements before it.
//!
//! - [`philox4x32`]: Philox4x32-10, the generator of ndtask's random arrays. [`philox4x32_lanes`]
//!   computes [`LANES`] consecutive counters at once in struct-of-arrays form, written so that
//!   LLVM turns the 32x32->64-bit multiplies into vector multiplies (`vpmuludq`).
//! - [`philox4x64`]: Philox4x64-10, NumPy's `np.random.Philox`, for the NumPy parity stream.

/// Counters per call of [`philox4x32_lanes`] in code dispatched to AVX-512 (32 lanes of four
/// words in 512-bit vectors fill 16 of its 32 registers).
pub(crate) const LANES_WIDE: usize = 32;
/// Counters per call elsewhere: 32 in a build for an AVX-512 CPU (`-C target-cpu=native`), 16
/// otherwise (AVX2's 16 registers). More lanes in flight hide the multiplies' latency until the
/// state no longer fits the registers. Batches of 32 (16) lanes also divide a tile of
/// [`ndtask_core::TILE`] values evenly, so no tile ends in a partly used batch.
pub(crate) const LANES: usize = if cfg!(target_feature = "avx512f") {
    32
} else {
    16
};

const M0_32: u32 = 0xD251_1F53;
const M1_32: u32 = 0xCD9E_8D57;
const W0_32: u32 = 0x9E37_79B9;
const W1_32: u32 = 0xBB67_AE85;

const M0_64: u64 = 0xD2E7_470E_E14C_6C93;
const M1_64: u64 = 0xCA5A_8263_9512_1157;
const W0_64: u64 = 0x9E37_79B9_7F4A_7C15;
const W1_64: u64 = 0xBB67_AE85_84CA_A73B;

/// Philox4x32-10 of one counter.
pub(crate) fn philox4x32(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut x0, mut x1, mut x2, mut x3] = ctr;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        let p0 = x0 as u64 * M0_32 as u64;
        let p1 = x2 as u64 * M1_32 as u64;
        (x0, x1, x2, x3) = (
            (p1 >> 32) as u32 ^ x1 ^ k0,
            p1 as u32,
            (p0 >> 32) as u32 ^ x3 ^ k1,
            p0 as u32,
        );
        if round < 9 {
            k0 = k0.wrapping_add(W0_32);
            k1 = k1.wrapping_add(W1_32);
        }
    }
    [x0, x1, x2, x3]
}

/// Philox4x32-10 of the `L` counters `(first + l, hi)` for `l` in `0..L`, where the
/// 64-bit `first + l` fills words 0 and 1 of the counter and `hi` words 2 and 3. Returns the
/// four output words of every lane, struct-of-arrays, each word in the low half of a `u64` (the
/// upper half is not zero: mask it): with 64-bit lanes the 32x32->64-bit products are single
/// vector multiplies (`vpmuludq`) and no shuffles are needed to split them into halves.
#[inline(always)]
pub(crate) fn philox4x32_lanes<const L: usize>(
    first: u64,
    hi: [u32; 2],
    key: [u32; 2],
) -> [[u64; L]; 4] {
    philox4x32_lanes_at(
        std::array::from_fn(|l| first.wrapping_add(l as u64)),
        hi,
        key,
    )
}

/// As [`philox4x32_lanes`], of the counters `(counters[l], hi)`: any `L` counters.
#[inline(always)]
pub(crate) fn philox4x32_lanes_at<const L: usize>(
    counters: [u64; L],
    hi: [u32; 2],
    key: [u32; 2],
) -> [[u64; L]; 4] {
    const LOW: u64 = 0xFFFF_FFFF;
    // (`from_fn`, not `map`: `map` of a large array is not inlined, and the lanes would run
    // as scalar code.)
    let mut x0: [u64; L] = std::array::from_fn(|l| counters[l] & LOW);
    let mut x1: [u64; L] = std::array::from_fn(|l| counters[l] >> 32);
    let mut x2 = [hi[0] as u64; L];
    let mut x3 = [hi[1] as u64; L];
    let (mut k0, mut k1) = (key[0] as u64, key[1] as u64);
    for round in 0..10 {
        for l in 0..L {
            let p0 = (x0[l] & LOW) * M0_32 as u64;
            let p1 = (x2[l] & LOW) * M1_32 as u64;
            let n0 = (p1 >> 32) ^ x1[l] ^ k0;
            let n2 = (p0 >> 32) ^ x3[l] ^ k1;
            // No masks: the upper halves only ever reach a multiply, which ignores them.
            x0[l] = n0;
            x1[l] = p1;
            x2[l] = n2;
            x3[l] = p0;
        }
        if round < 9 {
            k0 = (k0 + W0_32 as u64) & LOW;
            k1 = (k1 + W1_32 as u64) & LOW;
        }
    }
    [x0, x1, x2, x3]
}

/// Philox4x64-10 of one counter.
pub(crate) fn philox4x64(ctr: [u64; 4], key: [u64; 2]) -> [u64; 4] {
    let mul = |a: u64, b: u64| {
        let p = a as u128 * b as u128;
        ((p >> 64) as u64, p as u64)
    };
    let [mut x0, mut x1, mut x2, mut x3] = ctr;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        let (hi0, lo0) = mul(M0_64, x0);
        let (hi1, lo1) = mul(M1_64, x2);
        (x0, x1, x2, x3) = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0);
        if round < 9 {
            k0 = k0.wrapping_add(W0_64);
            k1 = k1.wrapping_add(W1_64);
        }
    }
    [x0, x1, x2, x3]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's known-answer vectors (kat_vectors): counter, key, result.
    #[test]
    fn philox4x32_known_answers() {
        assert_eq!(
            philox4x32([0; 4], [0; 2]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn philox4x64_known_answers() {
        assert_eq!(
            philox4x64([0; 4], [0; 2]),
            [
                0x1655_4d9e_ca36_314c,
                0xdb20_fe9d_672d_0fdc,
                0xd7e7_72ce_e186_176b,
                0x7e68_b68a_ec7b_a23b
            ]
        );
        // NumPy's Philox(key=0) increments its counter before the first block.
        assert_eq!(
            philox4x64([1, 0, 0, 0], [0; 2]),
            [
                0x02f4_ba64_08e4_d89b,
                0x3dd6_2b0b_9ca8_c5b2,
                0x1c86_67a5_5d90_2e79,
                0x907d_7a05_2fd5_b4dc
            ]
        );
    }

    #[test]
    fn lanes_equal_single_blocks() {
        let key = [0x1234_5678, 0x9abc_def0];
        let first = u32::MAX as u64 - 5; // the low word wraps inside the batch
        let lanes = philox4x32_lanes::<LANES>(first, [7, 9], key);
        for (l, c) in (first..first + LANES as u64).enumerate() {
            let one = philox4x32([c as u32, (c >> 32) as u32, 7, 9], key);
            let got = [lanes[0][l], lanes[1][l], lanes[2][l], lanes[3][l]].map(|w| w as u32);
            // (the upper halves are garbage by design)
            assert_eq!(got, one);
        }
    }
}
