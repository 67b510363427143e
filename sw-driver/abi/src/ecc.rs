//! The SECDED code of the chip's memories (`rtl/prim/prim_secded_enc.sv`): an extended Hamming
//! code over 64-bit segments of a weight word (8 check bits each) and over each 32-bit word of
//! the token engine's program and data memories (7 check bits).
//!
//! Data bit `i` sits at Hamming position `pos(i)`, the `(i+1)`-th integer ≥ 3 that is not a
//! power of two. Check bit `j` (below the top one) is the XOR of the data bits whose position has
//! bit `j` set; the top check bit is the XOR of every data and check bit. A stored weight word
//! is the data (`word_bytes` bytes), then one check byte per 64-bit segment, padded with zero
//! bytes to whole 32-bit words (the layout the simulation bench copies).

/// Check bits (Hamming bits plus overall parity) for `data_bits` data bits.
pub const fn check_bits(data_bits: u32) -> u32 {
    let mut r = 1;
    while (1u32 << r) < data_bits + r + 1 {
        r += 1;
    }
    r + 1
}

/// Hamming position of data bit `i`: `i + 3`, moved past every power of two it reaches.
pub const fn data_pos(i: u32) -> u32 {
    let mut p = i + 3;
    let mut k = 2;
    while k < 16 {
        if p >= 1 << k {
            p += 1;
        }
        k += 1;
    }
    p
}

/// The data bits check bit `j` covers, for up to 64 data bits (bit `i` set when `pos(i)` has
/// bit `j` set).
const fn column_mask(j: u32) -> u64 {
    let mut m = 0u64;
    let mut i = 0;
    while i < 64 {
        if (data_pos(i) >> j) & 1 == 1 {
            m |= 1 << i;
        }
        i += 1;
    }
    m
}

/// Every check bit's mask, computed once.
const MASKS: [u64; 7] = {
    let mut m = [0u64; 7];
    let mut j = 0;
    while j < 7 {
        m[j] = column_mask(j as u32);
        j += 1;
    }
    m
};

/// Check bits of the `data_bits` low bits of `data` (64 or 32).
pub fn encode(data: u64, data_bits: u32) -> u8 {
    let r = check_bits(data_bits) - 1;
    let d = if data_bits == 64 {
        data
    } else {
        data & ((1u64 << data_bits) - 1)
    };
    let mut c = 0u8;
    for (j, m) in MASKS.iter().enumerate().take(r as usize) {
        c |= (((d & m).count_ones() & 1) as u8) << j;
    }
    let parity = (d.count_ones() + u32::from(c).count_ones()) & 1;
    c | ((parity as u8) << r)
}

/// What a decode found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    Clean(u64),
    Corrected(u64),
    Double,
}

/// Decodes `data_bits` data bits with their stored check bits.
pub fn decode(data: u64, check: u8, data_bits: u32) -> Decoded {
    let r = check_bits(data_bits) - 1;
    let syndrome = (encode(data, data_bits) ^ check) & ((1u8 << r) - 1);
    let used = (((1u16 << (r + 1)) - 1) & 0xff) as u8;
    let parity = ((data.count_ones() + (check & used).count_ones()) & 1) == 1;
    match (parity, syndrome) {
        (false, 0) => Decoded::Clean(data),
        (false, _) => Decoded::Double,
        (true, s) => {
            let fixed = (0..data_bits)
                .find(|&i| data_pos(i) == u32::from(s))
                .map_or(data, |i| data ^ (1u64 << i));
            Decoded::Corrected(fixed)
        }
    }
}

/// Bytes of a stored weight word of `word_bytes` data bytes (a multiple of 8).
pub fn stored_word_bytes(word_bytes: usize) -> usize {
    (word_bytes + word_bytes / 8).div_ceil(4) * 4
}

/// A weight word as the memory stores it: the data, one check byte per 64-bit segment, zero
/// padding to whole 32-bit words.
pub fn stored_word(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    for seg in data.chunks_exact(8) {
        let d = u64::from_le_bytes(seg.try_into().expect("8 bytes"));
        out.push(encode(d, 64));
    }
    out.resize(stored_word_bytes(data.len()), 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_ecc_check_bits_and_positions() {
        assert_eq!(check_bits(64), 8);
        assert_eq!(check_bits(32), 7);
        let p: Vec<u32> = (0..6).map(data_pos).collect();
        assert_eq!(p, [3, 5, 6, 7, 9, 10]);
        assert_eq!(data_pos(63), 71);
        assert_eq!(stored_word_bytes(16), 20);
        assert_eq!(stored_word_bytes(256), 288);
    }

    #[test]
    fn abi_ecc_corrects_one_flip_and_detects_two() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..64 {
            x = x.rotate_left(7) ^ 0xd1b5_4a32_d192_ed03;
            for bits in [64u32, 32] {
                let d = if bits == 64 { x } else { x & 0xffff_ffff };
                let c = encode(d, bits);
                let n = bits + check_bits(bits);
                assert_eq!(decode(d, c, bits), Decoded::Clean(d));
                let flip = |v: (u64, u8), b: u32| {
                    if b < bits {
                        (v.0 ^ (1 << b), v.1)
                    } else {
                        (v.0, v.1 ^ (1 << (b - bits)))
                    }
                };
                for a in 0..n {
                    let (d1, c1) = flip((d, c), a);
                    assert_eq!(decode(d1, c1, bits), Decoded::Corrected(d), "bit {a}");
                    let b = (a + 1 + (x as u32 % (n - 1))) % n;
                    let (d2, c2) = flip((d1, c1), b);
                    assert_eq!(decode(d2, c2, bits), Decoded::Double, "bits {a} {b}");
                }
            }
        }
    }
}
