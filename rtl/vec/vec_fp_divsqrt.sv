// SPDX-License-Identifier: Apache-2.0
// Divider and square root of the vector unit: a / b, sqrt(a) and 1/sqrt(a), correctly rounded
// (nearest-even, flush after rounding, DAZ), bit-exact with the golden model's chip mode
// (golden-model/src/chip.rs: `Fz / Fz`, `Fz::sqrt`, `rsqrt`).
//
// One radix-2 restoring digit recurrence shared by both operations, one result bit per cycle:
//
//   divide: q = ma / mb with ma, mb the 24-bit significands (ma doubled when ma < mb so that
//           q is in [1, 2)): 25 steps of "rem >= mb ? (rem - mb, bit 1) : (rem, bit 0);
//           rem <<= 1".
//   sqrt:   the integer square root of ma * 2^25 (ma doubled for an even biased exponent, so
//           the unbiased one is even): 25 steps of "rem = rem*4 + next two radicand bits;
//           rem >= 4*root + 1 ? (rem - (4*root + 1), bit 1) : (rem, bit 0)".
//
// The 25 bits are 24 significant bits and a guard bit, the nonzero remainder the sticky bit;
// vec_fp_round rounds them with the exponent unbounded. rsqrt is sqrt, rounded, then 1 divided
// by it (two correctly rounded operations, as the golden model defines it).
//
// Special cases (inputs read with DAZ): a NaN operand, 0/0, inf/inf and the square root of a
// negative nonzero value give the canonical NaN 0x7fc00000; x/0 and inf/x give a signed
// infinity; x/inf and 0/x a signed zero; sqrt(+-0) = +-0, sqrt(+inf) = +inf. They skip the
// recurrence.
//
// Interface: valid/ready request (op, a, b; b unused by sqrt and rsqrt) and valid/ready
// result. One operation at a time: the result is valid 28 cycles (divide, sqrt; 3 for a
// special case) or 55 cycles (rsqrt; 5 for a special case) after the request is taken; a new request is taken in the
// cycle the result is. Ops: 0 divide, 1 sqrt, 2 rsqrt (3 is taken as rsqrt).

`include "prim_assert.svh"

module vec_fp_divsqrt (
  input  logic        clk_i,
  input  logic        rst_ni,
  // Request
  input  logic        req_valid_i,
  output logic        req_ready_o,
  input  logic [1:0]  req_op_i,
  input  logic [31:0] req_a_i,
  input  logic [31:0] req_b_i,
  // Result
  output logic        res_valid_o,
  input  logic        res_ready_i,
  output logic [31:0] res_y_o
);

  localparam logic [1:0]  OpDiv  = 2'd0;
  localparam logic [1:0]  OpSqrt = 2'd1;
  localparam logic [31:0] One    = 32'h3f80_0000;
  localparam logic [31:0] CanonicalNan = 32'h7fc0_0000;
  localparam logic [4:0]  LastStep = 5'd24;  // 25 recurrence steps

  typedef enum logic [1:0] {
    StIdle,
    StSetup,
    StIter,
    StRound
  } state_e;

  state_e            state_q, state_d;
  logic              done_q, done_d;
  logic [1:0]        op_q, op_d;
  logic              sqrt_q, sqrt_d;  // the current pass is a square root
  logic [31:0]       a_q, a_d;
  logic [31:0]       b_q, b_d;
  logic              sign_q, sign_d;
  logic signed [9:0] exp_q, exp_d;
  logic [27:0]       rem_q, rem_d;
  logic [24:0]       quo_q, quo_d;
  logic [23:0]       div_q, div_d;   // divisor significand
  logic [25:0]       rad_q, rad_d;   // radicand bits still to bring down, two per step
  logic [4:0]        cnt_q, cnt_d;
  logic [31:0]       y_q, y_d;

  // Operands of the current pass.
  logic        a_sign, a_zero, a_inf, a_nan;
  logic        b_sign, b_zero, b_inf, b_nan;
  logic [7:0]  a_exp, b_exp;
  logic [23:0] a_mant, b_mant;

  vec_fp_unpack u_unpack_a (
    .x_i   (a_q),
    .sign_o(a_sign),
    .exp_o (a_exp),
    .mant_o(a_mant),
    .zero_o(a_zero),
    .inf_o (a_inf),
    .nan_o (a_nan)
  );

  vec_fp_unpack u_unpack_b (
    .x_i   (b_q),
    .sign_o(b_sign),
    .exp_o (b_exp),
    .mant_o(b_mant),
    .zero_o(b_zero),
    .inf_o (b_inf),
    .nan_o (b_nan)
  );

  // Special results of a pass (valid when special is set).
  logic        special;
  logic [31:0] special_y;
  logic        q_sign;

  assign q_sign = a_sign ^ b_sign;

  always_comb begin
    special   = 1'b1;
    special_y = CanonicalNan;
    if (sqrt_q) begin
      if (a_nan || (a_sign && !a_zero)) begin
        special_y = CanonicalNan;
      end else if (a_zero) begin
        special_y = {a_sign, 31'd0};
      end else if (a_inf) begin
        special_y = {1'b0, 8'hff, 23'd0};
      end else begin
        special = 1'b0;
      end
    end else begin
      if (a_nan || b_nan || (a_zero && b_zero) || (a_inf && b_inf)) begin
        special_y = CanonicalNan;
      end else if (a_inf || b_zero) begin
        special_y = {q_sign, 8'hff, 23'd0};
      end else if (a_zero || b_inf) begin
        special_y = {q_sign, 31'd0};
      end else begin
        special = 1'b0;
      end
    end
  end

  // Setup of the recurrence.
  logic              a_lt_b, a_even;
  logic [24:0]       rad_mant;
  logic signed [9:0] div_exp, sqrt_exp;

  assign a_lt_b   = a_mant < b_mant;
  assign a_even   = !a_exp[0];  // even biased exponent: odd unbiased, radicand doubled
  assign rad_mant = a_even ? {a_mant, 1'b0} : {1'b0, a_mant};
  assign div_exp  = $signed({2'd0, a_exp}) - $signed({2'd0, b_exp}) + 10'sd127
                    - (a_lt_b ? 10'sd1 : 10'sd0);
  // (e_a - 127 - odd)/2 + 127 = (e_a + 127 - odd)/2
  assign sqrt_exp = $signed({1'b0, 9'(({1'b0, a_exp} + 9'd126 + {8'd0, a_exp[0]}) >> 1)});

  // One recurrence step.
  logic [27:0] cand, trial, diff;
  logic        ge;

  always_comb begin
    if (sqrt_q) begin
      cand  = {rem_q[25:0], rad_q[25:24]};
      trial = {1'b0, quo_q, 2'b01};
    end else begin
      cand  = rem_q;
      trial = {4'd0, div_q};
    end
  end
  assign ge   = cand >= trial;
  assign diff = ge ? (cand - trial) : cand;

  // Rounding of the finished recurrence.
  logic [31:0] rounded;

  vec_fp_round u_round (
    .sign_i  (sign_q),
    .exp_i   (exp_q),
    .mant_i  (quo_q[24:1]),
    .guard_i (quo_q[0]),
    .sticky_i(rem_q != 28'd0),
    .result_o(rounded)
  );

  logic take, give;
  assign req_ready_o = (state_q == StIdle) && (!done_q || res_ready_i);
  assign take        = req_valid_i && req_ready_o;
  assign give        = done_q && res_ready_i;
  assign res_valid_o = done_q;
  assign res_y_o     = y_q;

  always_comb begin
    state_d = state_q;
    done_d  = done_q && !give;
    op_d    = op_q;
    sqrt_d  = sqrt_q;
    a_d     = a_q;
    b_d     = b_q;
    sign_d  = sign_q;
    exp_d   = exp_q;
    rem_d   = rem_q;
    quo_d   = quo_q;
    div_d   = div_q;
    rad_d   = rad_q;
    cnt_d   = cnt_q;
    y_d     = y_q;
    unique case (state_q)
      StIdle: begin
        if (take) begin
          state_d = StSetup;
          op_d    = req_op_i;
          sqrt_d  = (req_op_i != OpDiv);
          a_d     = req_a_i;
          b_d     = req_b_i;
        end
      end
      StSetup: begin
        cnt_d = 5'd0;
        quo_d = 25'd0;
        if (sqrt_q) begin
          sign_d = 1'b0;
          exp_d  = sqrt_exp;
          rem_d  = 28'd0;
          rad_d  = {rad_mant, 1'b0};
        end else begin
          sign_d = q_sign;
          exp_d  = div_exp;
          rem_d  = {3'd0, a_lt_b ? {a_mant, 1'b0} : {1'b0, a_mant}};
          div_d  = b_mant;
        end
        if (special) begin
          y_d     = special_y;
          state_d = StRound;
        end else begin
          state_d = StIter;
        end
      end
      StIter: begin
        quo_d = {quo_q[23:0], ge};
        rem_d = sqrt_q ? diff : {diff[26:0], 1'b0};
        rad_d = {rad_q[23:0], 2'b00};
        cnt_d = cnt_q + 5'd1;
        if (cnt_q == LastStep) begin
          state_d = StRound;
        end
      end
      StRound: begin
        // A special case has its result in y already (set in StSetup).
        if (cnt_q == LastStep + 5'd1) begin
          y_d = rounded;
        end
        if (op_q != OpDiv && op_q != OpSqrt && sqrt_q) begin
          // rsqrt: now 1 / sqrt(a).
          sqrt_d  = 1'b0;
          a_d     = One;
          b_d     = (cnt_q == LastStep + 5'd1) ? rounded : y_q;
          state_d = StSetup;
        end else begin
          done_d  = 1'b1;
          state_d = StIdle;
        end
      end
      default: state_d = StIdle;
    endcase
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q <= StIdle;
      done_q  <= 1'b0;
      op_q    <= OpDiv;
      sqrt_q  <= 1'b0;
      a_q     <= 32'd0;
      b_q     <= 32'd0;
      sign_q  <= 1'b0;
      exp_q   <= 10'sd0;
      rem_q   <= 28'd0;
      quo_q   <= 25'd0;
      div_q   <= 24'd0;
      rad_q   <= 26'd0;
      cnt_q   <= 5'd0;
      y_q     <= 32'd0;
    end else begin
      state_q <= state_d;
      done_q  <= done_d;
      op_q    <= op_d;
      sqrt_q  <= sqrt_d;
      a_q     <= a_d;
      b_q     <= b_d;
      sign_q  <= sign_d;
      exp_q   <= exp_d;
      rem_q   <= rem_d;
      quo_q   <= quo_d;
      div_q   <= div_d;
      rad_q   <= rad_d;
      cnt_q   <= cnt_d;
      y_q     <= y_d;
    end
  end

  `ASSERT_STREAM(ReqStream_A, req_valid_i, req_ready_o, {req_op_i, req_a_i, req_b_i})
  `ASSERT_STREAM(ResStream_A, res_valid_o, res_ready_i, res_y_o)
  // The quotient and the root have their leading bit where rounding expects it.
  `ASSERT(LeadingBit_A, !(state_q == StRound && cnt_q == LastStep + 5'd1) || quo_q[24])

endmodule
