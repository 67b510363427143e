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

module vec_f2i (
  input  logic [31:0] fp_i,
  output logic [31:0] int_o  // two's complement
);

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
  assign round_up  = guard && (sticky || int_part[0]);
  assign mag_right = {7'd0, int_part} + {30'd0, round_up};

  always_comb begin
    if (exp >= 8'd150) begin
      mag = mag_left;
    end else begin
      mag = mag_right;
    end
  end

  always_comb begin
    if (nan) begin
      int_o = 32'd0;
    end else if (inf || exp >= 8'd158) begin
      int_o = sign ? 32'h8000_0000 : 32'h7fff_ffff;
    end else if (zero) begin
      int_o = 32'd0;
    end else begin
      int_o = sign ? (32'd0 - {1'b0, mag}) : {1'b0, mag};
    end
  end

endmodule
