// SPDX-License-Identifier: Apache-2.0
// Round-and-pack of the vector unit: nearest-even at 24 significant bits with an unbounded
// exponent, then a magnitude below 2^-126 becomes a zero of the result's sign (flush after
// rounding) and one of 2^128 or more becomes an infinity.
//
// The value is (-1)^sign_i * mant_i.guard_i sticky_i * 2^(exp_i - 127 - 23), mant_i
// normalized (bit 23 set). exp_i is the biased exponent of mant_i[23] and may lie anywhere in
// its signed range: nothing is denormalized before rounding.

module vec_fp_round (
  input  logic              sign_i,
  input  logic signed [9:0] exp_i,
  input  logic [23:0]       mant_i,
  input  logic              guard_i,   // the bit below mant_i[0]
  input  logic              sticky_i,  // OR of every bit below guard_i
  output logic [31:0]       result_o
);

  logic              inc;
  logic [24:0]       mant_sum;
  logic [22:0]       frac;
  logic signed [9:0] exp_r;
  logic              carry;

  // Nearest-even: up when above the halfway point, or exactly on it with an odd last bit.
  assign inc      = guard_i && (sticky_i || mant_i[0]);
  assign mant_sum = {1'b0, mant_i} + {24'd0, inc};
  // A carry out (1.11..1 rounded up to 2.0) leaves a zero fraction one binade higher.
  assign carry    = mant_sum[24];
  assign frac     = mant_sum[22:0];
  assign exp_r    = exp_i + (carry ? 10'sd1 : 10'sd0);

  // mant_sum[23] is the hidden bit (set unless the carry cleared it).
  logic unused_hidden;
  assign unused_hidden = mant_sum[23];

  always_comb begin
    if (exp_r <= 10'sd0) begin
      result_o = {sign_i, 31'd0};
    end else if (exp_r >= 10'sd255) begin
      result_o = {sign_i, 8'hff, 23'd0};
    end else begin
      result_o = {sign_i, exp_r[7:0], frac};
    end
  end

endmodule
