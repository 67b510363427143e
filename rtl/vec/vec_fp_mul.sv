// SPDX-License-Identifier: Apache-2.0
// binary32 multiplier of the vector unit: a * b.
//
// The 24 x 24-bit significand product (48 bits, in [2^46, 2^48)) is normalized by at most one
// place and rounded by vec_fp_round with the exponent sum unbounded, so a product just below
// 2^-126 that rounds up to 2^-126 survives the flush. DAZ on both inputs; 0 * inf and any NaN
// give the canonical quiet NaN 0x7fc00000; the sign of a zero or infinite product is the XOR.
//
// Stages 0: one combinational path from the operands to prod_o (clk_i and rst_ni unused).
// Stages 1: a register after the significand product (the product, the exponent sum, the sign,
// the special-case result): prod_o is the product of the operands of the cycle before.

`include "prim_assert.svh"

module vec_fp_mul #(
  parameter int unsigned Stages = 0  // registers inside the unit: 0 or 1
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] prod_o
);

  `ASSERT_STATIC(gen_stages_A, Stages <= 1, "vec_fp_mul: Stages must be 0 or 1")

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

  // Special cases, decided on the operands.
  logic        special;
  logic [31:0] special_y;

  always_comb begin
    special   = 1'b1;
    special_y = CanonicalNan;
    if (a_nan || b_nan || (a_inf && b_zero) || (a_zero && b_inf)) begin
      special_y = CanonicalNan;
    end else if (a_inf || b_inf) begin
      special_y = {sign, 8'hff, 23'd0};
    end else if (a_zero || b_zero) begin
      special_y = {sign, 31'd0};
    end else begin
      special = 1'b0;
    end
  end

  // The stage boundary.
  typedef struct packed {
    logic              special;
    logic [31:0]       special_y;
    logic              sign;
    logic signed [9:0] exp_sum;
    logic [47:0]       p;
  } mid_t;

  mid_t mid_d, mid_q;
  assign mid_d = '{special: special, special_y: special_y, sign: sign, exp_sum: exp_sum, p: p};

  if (Stages == 1) begin : gen_reg
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        mid_q <= '0;
      end else begin
        mid_q <= mid_d;
      end
    end
  end else begin : gen_comb
    assign mid_q = mid_d;
    logic unused_clk;
    assign unused_clk = clk_i ^ rst_ni;
  end

  logic signed [9:0] r_exp;
  logic [23:0]       r_mant;
  logic              r_guard, r_sticky;
  logic [31:0]       rounded;

  always_comb begin
    if (mid_q.p[47]) begin
      r_exp    = mid_q.exp_sum + 10'sd1;
      r_mant   = mid_q.p[47:24];
      r_guard  = mid_q.p[23];
      r_sticky = |mid_q.p[22:0];
    end else begin
      r_exp    = mid_q.exp_sum;
      r_mant   = mid_q.p[46:23];
      r_guard  = mid_q.p[22];
      r_sticky = |mid_q.p[21:0];
    end
  end

  vec_fp_round u_round (
    .sign_i  (mid_q.sign),
    .exp_i   (r_exp),
    .mant_i  (r_mant),
    .guard_i (r_guard),
    .sticky_i(r_sticky),
    .result_o(rounded)
  );

  assign prod_o = mid_q.special ? mid_q.special_y : rounded;

endmodule
