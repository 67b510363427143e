// SPDX-License-Identifier: Apache-2.0
// Two's-complement integer to binary32 of the vector unit: nearest-even at 24 bits (exact for
// |v| <= 2^24).
//
// IntWidth is 32 for int32 (`Fz::from_i32`) and 64 for the wide sums of the token engine (the
// exact fixed-point sums of squares and of softmax weights, the combined p.V passes). The
// magnitude (2^(IntWidth-1) for the most negative value fits IntWidth unsigned bits) is
// normalized by the leading-zero normalizer and rounded by vec_fp_round; 0 gives +0. The result
// is never subnormal nor infinite.

`include "prim_assert.svh"

module vec_i2f #(
  parameter int unsigned IntWidth = 32,
  localparam int unsigned LzWidth = $clog2(IntWidth)
) (
  input  logic [IntWidth-1:0] int_i,  // two's complement
  output logic [31:0]         fp_o
);

  `ASSERT_STATIC(gen_width_A, IntWidth == 32 || IntWidth == 64,
                 "vec_i2f: IntWidth must be 32 or 64")

  logic                neg;
  logic [IntWidth-1:0] mag, norm;
  logic [LzWidth-1:0]  lz;
  logic                zero;
  logic [31:0]         rounded;

  assign neg = int_i[IntWidth-1];
  assign mag = neg ? (IntWidth'(0) - int_i) : int_i;

  vec_lzc_norm #(
    .Width(IntWidth)
  ) u_norm (
    .x_i    (mag),
    .norm_o (norm),
    .count_o(lz),
    .zero_o (zero)
  );

  // The leading bit of the magnitude has weight 2^(IntWidth - 1 - lz).
  vec_fp_round u_round (
    .sign_i  (neg),
    .exp_i   ($signed(10'(126 + IntWidth)) - $signed({3'd0, 7'(lz)})),
    .mant_i  (norm[IntWidth-1 -: 24]),
    .guard_i (norm[IntWidth-25]),
    .sticky_i(|norm[IntWidth-26:0]),
    .result_o(rounded)
  );

  assign fp_o = zero ? 32'd0 : rounded;

endmodule
