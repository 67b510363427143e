// SPDX-License-Identifier: Apache-2.0
// Scaling by a power of two of the vector unit: x * 2^n, exact, then the flush and overflow rules.
//
// The significand is unchanged (nothing to round): the biased exponent e + n, with n clamped
// to [-1000, 1000] as the golden model does (any |n| above 300 already flushes or overflows),
// gives a signed zero at 0 or below and an infinity at 255 or above. DAZ on x; +-0 and +-inf
// keep their sign; a NaN gives the canonical quiet NaN 0x7fc00000.

module vec_fp_ldexp (
  input  logic [31:0] x_i,
  input  logic [31:0] n_i,  // two's complement
  output logic [31:0] y_o
);

  localparam logic [31:0] CanonicalNan = 32'h7fc0_0000;

  logic        sign, zero, inf, nan;
  logic [7:0]  exp;
  logic [23:0] mant;

  vec_fp_unpack u_unpack (
    .x_i   (x_i),
    .sign_o(sign),
    .exp_o (exp),
    .mant_o(mant),
    .zero_o(zero),
    .inf_o (inf),
    .nan_o (nan)
  );

  logic signed [31:0] n;
  logic signed [11:0] n_clamped, exp_new;

  assign n = $signed(n_i);
  always_comb begin
    if (n > 32'sd1000) begin
      n_clamped = 12'sd1000;
    end else if (n < -32'sd1000) begin
      n_clamped = -12'sd1000;
    end else begin
      n_clamped = n[11:0];
    end
  end
  assign exp_new = $signed({4'd0, exp}) + n_clamped;

  always_comb begin
    if (nan) begin
      y_o = CanonicalNan;
    end else if (inf) begin
      y_o = {sign, 8'hff, 23'd0};
    end else if (zero || exp_new <= 12'sd0) begin
      y_o = {sign, 31'd0};
    end else if (exp_new >= 12'sd255) begin
      y_o = {sign, 8'hff, 23'd0};
    end else begin
      y_o = {sign, exp_new[7:0], mant[22:0]};
    end
  end

  logic unused_hidden;
  assign unused_hidden = mant[23];

endmodule
