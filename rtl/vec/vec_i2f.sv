// SPDX-License-Identifier: Apache-2.0
// int32 to binary32 of the vector unit: nearest-even at 24 bits (exact for |v| <= 2^24).
//
// The magnitude (2^31 for -2^31 fits 32 unsigned bits) is normalized by the leading-zero
// normalizer and rounded by vec_fp_round; 0 gives +0. The result is never subnormal nor
// infinite.

module vec_i2f (
  input  logic [31:0] int_i,  // two's complement
  output logic [31:0] fp_o
);

  logic        neg;
  logic [31:0] mag, norm;
  logic [4:0]  lz;
  logic        zero;
  logic [31:0] rounded;

  assign neg = int_i[31];
  assign mag = neg ? (32'd0 - int_i) : int_i;

  vec_lzc_norm #(
    .Width(32)
  ) u_norm (
    .x_i    (mag),
    .norm_o (norm),
    .count_o(lz),
    .zero_o (zero)
  );

  vec_fp_round u_round (
    .sign_i  (neg),
    .exp_i   (10'sd158 - $signed({5'd0, lz})),
    .mant_i  (norm[31:8]),
    .guard_i (norm[7]),
    .sticky_i(|norm[6:0]),
    .result_o(rounded)
  );

  assign fp_o = zero ? 32'd0 : rounded;

endmodule
