// SPDX-License-Identifier: Apache-2.0
// Test top of the vector unit's arithmetic primitives: every primitive on the same operands,
// combinational. clk_i and rst_ni exist for the model wrapper and are not used.

module vec_prims (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] add_o,  // a + b
  output logic [31:0] sub_o,  // a - b
  output logic [31:0] mul_o,  // a * b
  output logic [31:0] i2f_o,  // binary32 of a read as int32
  output logic [31:0] max_o,  // b if b > a, else a
  output logic [31:0] cmp_o,    // {unord, gt, eq, lt} of a against b in bits 3..0
  output logic [31:0] ldexp_o,  // a * 2^b, b read as int32
  output logic [31:0] f2i_o     // a rounded half to even to an int32, saturating
);

  vec_fp_add u_add (
    .a_i  (a_i),
    .b_i  (b_i),
    .sub_i(1'b0),
    .sum_o(add_o)
  );

  vec_fp_add u_sub (
    .a_i  (a_i),
    .b_i  (b_i),
    .sub_i(1'b1),
    .sum_o(sub_o)
  );

  vec_fp_mul u_mul (
    .a_i   (a_i),
    .b_i   (b_i),
    .prod_o(mul_o)
  );

  vec_i2f u_i2f (
    .int_i(a_i),
    .fp_o (i2f_o)
  );

  logic lt, eq, gt, unord;

  vec_fp_cmp u_cmp (
    .a_i    (a_i),
    .b_i    (b_i),
    .lt_o   (lt),
    .eq_o   (eq),
    .gt_o   (gt),
    .unord_o(unord),
    .max_o  (max_o)
  );

  assign cmp_o = {28'd0, unord, gt, eq, lt};

  vec_fp_ldexp u_ldexp (
    .x_i(a_i),
    .n_i(b_i),
    .y_o(ldexp_o)
  );

  vec_f2i u_f2i (
    .fp_i (a_i),
    .int_o(f2i_o)
  );

endmodule
