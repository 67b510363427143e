// SPDX-License-Identifier: Apache-2.0
// Operand reader of the vector unit: splits a binary32 and reads a subnormal as a zero (DAZ).

module vec_fp_unpack (
  input  logic [31:0] x_i,
  output logic        sign_o,
  output logic [7:0]  exp_o,   // biased exponent field (0 for a zero or a subnormal)
  output logic [23:0] mant_o,  // significand with the hidden bit; 0 for a zero
  output logic        zero_o,  // +-0 or a subnormal, read as a zero of its sign
  output logic        inf_o,
  output logic        nan_o
);

  logic exp_zero, exp_ones, frac_zero;

  assign exp_zero  = (x_i[30:23] == 8'h00);
  assign exp_ones  = (x_i[30:23] == 8'hff);
  assign frac_zero = (x_i[22:0] == 23'd0);

  assign sign_o = x_i[31];
  assign exp_o  = x_i[30:23];
  assign zero_o = exp_zero;
  assign inf_o  = exp_ones && frac_zero;
  assign nan_o  = exp_ones && !frac_zero;
  assign mant_o = exp_zero ? 24'd0 : {1'b1, x_i[22:0]};

endmodule
