// SPDX-License-Identifier: Apache-2.0
// Test top of the vector unit's arithmetic: every combinational primitive on the same operands,
// and the sequenced function units (clocked) behind one valid/ready stream on those operands:
// unit_op_i 0 exp, 1 recip, 2 silu (vec_fn, on a); 4 divide a / b, 5 sqrt, 6 rsqrt
// (vec_fp_divsqrt, on a). The test driver keeps unit_op_i fixed while a unit has work.

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
  output logic [31:0] f2i_o,    // a rounded half to even to an int32, saturating
  // Sequenced units
  input  logic        unit_valid_i,
  output logic        unit_ready_o,
  input  logic [2:0]  unit_op_i,
  output logic        unit_valid_o,
  input  logic        unit_ready_i,
  output logic [31:0] unit_y_o
);

  vec_fp_add u_add (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .a_i  (a_i),
    .b_i  (b_i),
    .sub_i(1'b0),
    .sum_o(add_o)
  );

  vec_fp_add u_sub (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .a_i  (a_i),
    .b_i  (b_i),
    .sub_i(1'b1),
    .sum_o(sub_o)
  );

  vec_fp_mul u_mul (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .a_i   (a_i),
    .b_i   (b_i),
    .prod_o(mul_o)
  );

  vec_i2f u_i2f (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
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
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .fp_i (a_i),
    .int_o(f2i_o)
  );

  logic        fn_ready, fn_valid, ds_ready, ds_valid;
  logic [31:0] fn_y, ds_y;

  vec_fn u_fn (
    .clk_i      (clk_i),
    .rst_ni     (rst_ni),
    .req_valid_i(unit_valid_i && !unit_op_i[2]),
    .req_ready_o(fn_ready),
    .req_op_i   (unit_op_i[1:0]),
    .req_x_i    (a_i),
    .res_valid_o(fn_valid),
    .res_ready_i(unit_ready_i),
    .res_y_o    (fn_y)
  );

  vec_fp_divsqrt u_divsqrt (
    .clk_i      (clk_i),
    .rst_ni     (rst_ni),
    .req_valid_i(unit_valid_i && unit_op_i[2]),
    .req_ready_o(ds_ready),
    .req_op_i   (unit_op_i[1:0]),
    .req_a_i    (a_i),
    .req_b_i    (b_i),
    .res_valid_o(ds_valid),
    .res_ready_i(unit_ready_i),
    .res_y_o    (ds_y)
  );

  assign unit_ready_o = unit_op_i[2] ? ds_ready : fn_ready;
  assign unit_valid_o = unit_op_i[2] ? ds_valid : fn_valid;
  assign unit_y_o     = unit_op_i[2] ? ds_y : fn_y;

endmodule
