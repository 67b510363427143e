// SPDX-License-Identifier: Apache-2.0
// binary32 comparator of the vector unit: a < b, a == b, a > b, unordered, and max.
//
// Values as the unit reads them (DAZ): +0 and -0 are equal; a NaN operand makes every
// relation false and unord_o true. max_o is b when b > a and a otherwise (so for equal
// operands, +-0 included, it is a, and max(x, NaN) = x), with a subnormal a read as a zero of
// its sign and a NaN result given as the canonical quiet NaN 0x7fc00000.

module vec_fp_cmp (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic        lt_o,
  output logic        eq_o,
  output logic        gt_o,
  output logic        unord_o,
  output logic [31:0] max_o
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

  // Magnitudes after DAZ (a subnormal's fraction is dropped).
  logic [30:0] a_mag, b_mag;
  logic        mag_lt, mag_eq, both_zero, lt, eq;

  assign a_mag     = {a_exp, a_mant[22:0]};
  assign b_mag     = {b_exp, b_mant[22:0]};
  assign mag_lt    = a_mag < b_mag;
  assign mag_eq    = a_mag == b_mag;
  assign both_zero = a_zero && b_zero;

  always_comb begin
    if (both_zero) begin
      lt = 1'b0;
    end else if (a_sign != b_sign) begin
      lt = a_sign;  // the negative one is smaller
    end else if (a_sign) begin
      lt = !mag_lt && !mag_eq;  // both negative: the larger magnitude is smaller
    end else begin
      lt = mag_lt;
    end
  end

  assign eq      = both_zero || (mag_eq && (a_sign == b_sign));
  assign unord_o = a_nan || b_nan;
  assign lt_o    = lt && !unord_o;
  assign eq_o    = eq && !unord_o;
  assign gt_o    = !lt && !eq && !unord_o;

  always_comb begin
    if (lt_o) begin
      max_o = b_zero ? {b_sign, 31'd0} : b_i;
    end else if (a_nan) begin
      max_o = CanonicalNan;
    end else begin
      max_o = a_zero ? {a_sign, 31'd0} : a_i;
    end
  end

  // Only the zero/NaN classes and the magnitudes are needed from the unpackers.
  logic unused_class;
  assign unused_class = ^{a_inf, b_inf, a_mant[23], b_mant[23]};

endmodule
