// SPDX-License-Identifier: Apache-2.0
// Two's-complement integer to binary32 of the vector unit: nearest-even at 24 bits (exact for
// |v| <= 2^24).
//
// IntWidth is 32 for int32 (`Fz::from_i32`) and 64 for the wide sums of the token engine (the
// exact fixed-point sums of squares and of softmax weights, the combined p.V passes). The
// magnitude (2^(IntWidth-1) for the most negative value fits IntWidth unsigned bits) is
// normalized by the leading-zero normalizer and rounded by vec_fp_round; 0 gives +0. The result
// is never subnormal nor infinite.
//
// Stages 0: one combinational path (clk_i and rst_ni unused). Stages 1: a register after the
// normalizer (the normalized magnitude, its shift, the sign): fp_o is the conversion of the
// input of the cycle before.

`include "prim_assert.svh"

module vec_i2f #(
  parameter int unsigned IntWidth = 32,
  parameter int unsigned Stages   = 0,  // registers inside the unit: 0 or 1
  localparam int unsigned LzWidth = $clog2(IntWidth)
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic [IntWidth-1:0] int_i,  // two's complement
  output logic [31:0]         fp_o
);

  `ASSERT_STATIC(gen_width_A, IntWidth == 32 || IntWidth == 64,
                 "vec_i2f: IntWidth must be 32 or 64")
  `ASSERT_STATIC(gen_stages_A, Stages <= 1, "vec_i2f: Stages must be 0 or 1")

  logic                neg, neg_q;
  logic [IntWidth-1:0] mag, norm, norm_q;
  logic [LzWidth-1:0]  lz, lz_q;
  logic                zero, zero_q;
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
  // The stage boundary.
  if (Stages == 1) begin : gen_reg
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        neg_q  <= 1'b0;
        norm_q <= '0;
        lz_q   <= '0;
        zero_q <= 1'b1;
      end else begin
        neg_q  <= neg;
        norm_q <= norm;
        lz_q   <= lz;
        zero_q <= zero;
      end
    end
  end else begin : gen_comb
    assign neg_q  = neg;
    assign norm_q = norm;
    assign lz_q   = lz;
    assign zero_q = zero;
    logic unused_clk;
    assign unused_clk = clk_i ^ rst_ni;
  end

  vec_fp_round u_round (
    .sign_i  (neg_q),
    .exp_i   ($signed(10'(126 + IntWidth)) - $signed({3'd0, 7'(lz_q)})),
    .mant_i  (norm_q[IntWidth-1 -: 24]),
    .guard_i (norm_q[IntWidth-25]),
    .sticky_i(|norm_q[IntWidth-26:0]),
    .result_o(rounded)
  );

  assign fp_o = zero_q ? 32'd0 : rounded;

endmodule
