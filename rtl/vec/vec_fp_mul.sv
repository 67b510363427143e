// SPDX-License-Identifier: Apache-2.0
// binary32 multiplier of the vector unit: a * b.
//
// The 24 x 24-bit significand product (48 bits, in [2^46, 2^48)) is normalized by at most one
// place and rounded by vec_fp_round with the exponent sum unbounded, so a product just below
// 2^-126 that rounds up to 2^-126 survives the flush. DAZ on both inputs; 0 * inf and any NaN
// give the canonical quiet NaN 0x7fc00000; the sign of a zero or infinite product is the XOR.

module vec_fp_mul (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] prod_o
);

  localparam logic [31:0] CanonicalNan = 32'h7fc0_0000;

  logic        a_sign, a_zero, a_inf, a_nan;
  logic        b_sign, b_zero, b_inf, b_nan;
  logic [7:0]  a_exp, b_exp;
  logic [23:0] a_mant, b_mant;

  vec_fp_unpack u_unpack_a (
    .x_i   (a_i),
    .sign_o(a_sign),
    .exp_o (a_exp),
    .mant_o(a_mant),
    .zero_o(a_zero),
    .inf_o (a_inf),
    .nan_o (a_nan)
  );

  vec_fp_unpack u_unpack_b (
    .x_i   (b_i),
    .sign_o(b_sign),
    .exp_o (b_exp),
    .mant_o(b_mant),
    .zero_o(b_zero),
    .inf_o (b_inf),
    .nan_o (b_nan)
  );

  logic              sign;
  logic [47:0]       p;
  logic signed [9:0] exp_sum;

  assign sign    = a_sign ^ b_sign;
  assign p       = {24'd0, a_mant} * {24'd0, b_mant};
  assign exp_sum = $signed({2'b00, a_exp}) + $signed({2'b00, b_exp}) - 10'sd127;

  logic signed [9:0] r_exp;
  logic [23:0]       r_mant;
  logic              r_guard, r_sticky;
  logic [31:0]       rounded;

  always_comb begin
    if (p[47]) begin
      r_exp    = exp_sum + 10'sd1;
      r_mant   = p[47:24];
      r_guard  = p[23];
      r_sticky = |p[22:0];
    end else begin
      r_exp    = exp_sum;
      r_mant   = p[46:23];
      r_guard  = p[22];
      r_sticky = |p[21:0];
    end
  end

  vec_fp_round u_round (
    .sign_i  (sign),
    .exp_i   (r_exp),
    .mant_i  (r_mant),
    .guard_i (r_guard),
    .sticky_i(r_sticky),
    .result_o(rounded)
  );

  always_comb begin
    if (a_nan || b_nan || (a_inf && b_zero) || (a_zero && b_inf)) begin
      prod_o = CanonicalNan;
    end else if (a_inf || b_inf) begin
      prod_o = {sign, 8'hff, 23'd0};
    end else if (a_zero || b_zero) begin
      prod_o = {sign, 31'd0};
    end else begin
      prod_o = rounded;
    end
  end

endmodule
