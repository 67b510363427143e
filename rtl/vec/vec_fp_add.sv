// SPDX-License-Identifier: Apache-2.0
// binary32 adder of the vector unit: a + b, or a - b with sub_i (b's sign flipped first).
//
// Single path: the operands are ordered by magnitude; the smaller significand is aligned right
// by the exponent difference into 24 bits + guard + round + sticky (at most 27 places; beyond
// that it is all sticky); the two are added or subtracted in 28 bits; a carry shifts right by
// one, otherwise the leading-zero normalizer shifts left (cancellation); vec_fp_round rounds
// and applies the flush and overflow rules. DAZ on both inputs; an exact zero sum is +0 unless
// both addends are -0; any NaN result is the canonical quiet NaN 0x7fc00000.
//
// Stages 0: one combinational path from the operands to sum_o (clk_i and rst_ni unused).
// Stages 1: a register after the magnitude sum (the sum, the larger operand's sign and
// exponent, the special-case result): sum_o is the sum of the operands of the cycle before.

`include "prim_assert.svh"

module vec_fp_add #(
  parameter int unsigned Stages = 0  // registers inside the unit: 0 or 1
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  input  logic        sub_i,
  output logic [31:0] sum_o
);

  `ASSERT_STATIC(gen_stages_A, Stages <= 1, "vec_fp_add: Stages must be 0 or 1")

  localparam logic [31:0] CanonicalNan = 32'h7fc0_0000;

  logic        a_sign, a_zero, a_inf, a_nan;
  logic        b_sign_raw, b_zero, b_inf, b_nan;
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
    .sign_o(b_sign_raw),
    .exp_o (b_exp),
    .mant_o(b_mant),
    .zero_o(b_zero),
    .inf_o (b_inf),
    .nan_o (b_nan)
  );

  logic b_sign;
  assign b_sign = b_sign_raw ^ sub_i;

  // Order by magnitude: l is the larger (or equal), s the smaller.
  logic        swap;
  logic        l_sign, s_sign;
  logic [7:0]  l_exp, s_exp;
  logic [23:0] l_mant, s_mant;

  assign swap   = {b_exp, b_mant[22:0]} > {a_exp, a_mant[22:0]};
  assign l_sign = swap ? b_sign : a_sign;
  assign s_sign = swap ? a_sign : b_sign;
  assign l_exp  = swap ? b_exp : a_exp;
  assign s_exp  = swap ? a_exp : b_exp;
  assign l_mant = swap ? b_mant : a_mant;
  assign s_mant = swap ? a_mant : b_mant;

  // Alignment: 24 significand bits + guard + round kept, the rest ORed into the sticky bit.
  logic [7:0]  exp_diff;
  logic [4:0]  shamt;
  logic [53:0] s_shifted;
  logic [26:0] x, y;

  assign exp_diff  = l_exp - s_exp;
  assign shamt     = (exp_diff > 8'd27) ? 5'd27 : exp_diff[4:0];
  assign s_shifted = {s_mant, 30'd0} >> shamt;
  assign x         = {l_mant, 3'b000};
  assign y         = {s_shifted[53:28], |s_shifted[27:0]};

  // Magnitude sum or difference (never negative: |l| >= |s|).
  logic        eff_sub;
  logic [27:0] z;

  assign eff_sub = l_sign ^ s_sign;
  assign z       = eff_sub ? ({1'b0, x} - {1'b0, y}) : ({1'b0, x} + {1'b0, y});

  // Special cases, decided on the operands.
  logic        special;
  logic [31:0] special_y;

  always_comb begin
    special   = 1'b1;
    special_y = CanonicalNan;
    if (a_nan || b_nan || (a_inf && b_inf && (a_sign != b_sign))) begin
      special_y = CanonicalNan;
    end else if (a_inf) begin
      special_y = {a_sign, 8'hff, 23'd0};
    end else if (b_inf) begin
      special_y = {b_sign, 8'hff, 23'd0};
    end else if (a_zero && b_zero) begin
      special_y = {a_sign && b_sign, 31'd0};
    end else if (b_zero) begin
      special_y = a_i;
    end else if (a_zero) begin
      special_y = {b_sign, b_i[30:0]};
    end else begin
      special = 1'b0;
    end
  end

  // The stage boundary.
  typedef struct packed {
    logic        special;
    logic [31:0] special_y;
    logic        l_sign;
    logic [7:0]  l_exp;
    logic [27:0] z;
  } mid_t;

  mid_t mid_d, mid_q;
  assign mid_d = '{special: special, special_y: special_y, l_sign: l_sign, l_exp: l_exp, z: z};

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

  // Normalization: right by one on a carry, left by the leading-zero count otherwise.
  logic [26:0] z_norm;
  logic [4:0]  lz;
  logic        z_zero;

  vec_lzc_norm #(
    .Width(27)
  ) u_norm (
    .x_i    (mid_q.z[26:0]),
    .norm_o (z_norm),
    .count_o(lz),
    .zero_o (z_zero)
  );

  logic signed [9:0] r_exp;
  logic [23:0]       r_mant;
  logic              r_guard, r_sticky;
  logic [31:0]       rounded;

  always_comb begin
    if (mid_q.z[27]) begin
      r_exp    = $signed({2'b00, mid_q.l_exp}) + 10'sd1;
      r_mant   = mid_q.z[27:4];
      r_guard  = mid_q.z[3];
      r_sticky = |mid_q.z[2:0];
    end else begin
      r_exp    = $signed({2'b00, mid_q.l_exp}) - $signed({5'd0, lz});
      r_mant   = z_norm[26:3];
      r_guard  = z_norm[2];
      r_sticky = |z_norm[1:0];
    end
  end

  vec_fp_round u_round (
    .sign_i  (mid_q.l_sign),
    .exp_i   (r_exp),
    .mant_i  (r_mant),
    .guard_i (r_guard),
    .sticky_i(r_sticky),
    .result_o(rounded)
  );

  always_comb begin
    if (mid_q.special) begin
      sum_o = mid_q.special_y;
    end else if (!mid_q.z[27] && z_zero) begin
      sum_o = 32'd0;  // exact cancellation: +0 under nearest-even
    end else begin
      sum_o = rounded;
    end
  end

endmodule
