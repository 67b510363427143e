// SPDX-License-Identifier: Apache-2.0
// binary32 to int32 of the vector unit: round half to even, saturating.
//
// The same as Rust's `x.round_ties_even() as i32`: values at or beyond +-2^31 saturate to
// i32::MAX / i32::MIN, a NaN gives 0, and a subnormal reads as a zero (DAZ). Used for the
// exponent n of exp and, followed by a clamp, for requantisation to int8.
//
// With x = m * 2^(e - 150) (m the 24-bit significand): e >= 150 is an exact left shift
// (at most 7 places below saturation); e < 150 a right shift by 150 - e (clamped to 26:
// anything smaller than 2^-2 of the unit rounds to 0) keeping a guard bit and a sticky bit,
// then nearest-even.
//
// Stages 0: one combinational path (clk_i and rst_ni unused). Stages 1: a register after the
// shifts (the shifted significand, its guard and sticky bits, the case flags): int_o is the
// conversion of the input of the cycle before.

`include "prim_assert.svh"

module vec_f2i #(
  parameter int unsigned Stages = 0  // registers inside the unit: 0 or 1
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic [31:0] fp_i,
  output logic [31:0] int_o  // two's complement
);

  `ASSERT_STATIC(gen_stages_A, Stages <= 1, "vec_f2i: Stages must be 0 or 1")

  logic        sign, zero, inf, nan;
  logic [7:0]  exp;
  logic [23:0] mant;

  vec_fp_unpack u_unpack (
    .x_i   (fp_i),
    .sign_o(sign),
    .exp_o (exp),
    .mant_o(mant),
    .zero_o(zero),
    .inf_o (inf),
    .nan_o (nan)
  );

  // Integer magnitude below 2^31 (saturation is decided from the exponent).
  logic [2:0]  lshift;
  logic [30:0] mag_left;   // e in [150, 157]
  logic [7:0]  rshift;
  logic [4:0]  rshift_c;
  logic [49:0] shifted;    // {integer part (24 bits), 26 fraction bits}
  logic [23:0] int_part;
  logic        guard, sticky, round_up;
  logic [30:0] mag_right;  // e < 150
  logic [30:0] mag;

  assign lshift    = 3'(exp - 8'd150);  // e - 150 when e is in [150, 157]
  assign mag_left  = {7'd0, mant} << lshift;
  assign rshift    = 8'd150 - exp;
  assign rshift_c  = (rshift > 8'd26) ? 5'd26 : rshift[4:0];
  assign shifted   = {mant, 26'd0} >> rshift_c;
  assign int_part  = shifted[49:26];
  assign guard     = shifted[25];
  assign sticky    = |shifted[24:0];

  // The stage boundary.
  typedef struct packed {
    logic        sign;
    logic        nan;
    logic        sat;     // an infinity or a magnitude of 2^31 or more
    logic        zero;
    logic        left;    // e >= 150: the exact left shift
    logic [30:0] mag_left;
    logic [23:0] int_part;
    logic        guard;
    logic        sticky;
  } mid_t;

  mid_t mid_d, mid_q;
  assign mid_d = '{sign: sign, nan: nan, sat: inf || exp >= 8'd158, zero: zero,
                   left: exp >= 8'd150, mag_left: mag_left, int_part: int_part, guard: guard,
                   sticky: sticky};

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

  assign round_up  = mid_q.guard && (mid_q.sticky || mid_q.int_part[0]);
  assign mag_right = {7'd0, mid_q.int_part} + {30'd0, round_up};

  always_comb begin
    if (mid_q.left) begin
      mag = mid_q.mag_left;
    end else begin
      mag = mag_right;
    end
  end

  always_comb begin
    if (mid_q.nan) begin
      int_o = 32'd0;
    end else if (mid_q.sat) begin
      int_o = mid_q.sign ? 32'h8000_0000 : 32'h7fff_ffff;
    end else if (mid_q.zero) begin
      int_o = 32'd0;
    end else begin
      int_o = mid_q.sign ? (32'd0 - {1'b0, mag}) : {1'b0, mag};
    end
  end

endmodule
