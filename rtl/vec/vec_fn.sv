// SPDX-License-Identifier: Apache-2.0
// Elementary functions of the vector unit: exp, reciprocal and SiLU, bit-exact with the golden
// model's chip mode (golden-model/src/chip.rs: `exp`, `recip`, `silu`).
//
// A sequenced unit: one multiplier (vec_fp_mul) and one adder (vec_fp_add) shared by every
// step, and a small program counter. Each step is one rounded binary32 operation of the golden
// definition, in its order, so the intermediate roundings are the same:
//
//   exp (steps 0..20):  t = x*LOG2E; n = rint(t) (vec_f2i), nf = float(n) (vec_i2f);
//                       r = (x - nf*LN2_HI) - nf*LN2_LO; p = c7; 7x: p = p*r, p = p + c_k;
//                       y = ldexp(p, n)
//   silu (0..35):       exp of -g (steps 0..20); d = 1 + e (21); recip of d (22..34);
//                       y = g * (1/d) (35)
//   recip (22..34):     m = significand in [1/2, 1), e = exponent (22); y = A - B*m;
//                       3x: t = m*y, t = 2 - t, y = y*t; 1/d = +-ldexp(y, -e)
//
// The special cases are decided where the golden model decides them: exp's input range
// (x > 89 gives +inf, x < -104 gives +0, NaN) when the request is taken, the reciprocal's
// (+-0, +-inf, NaN) at its first step; the special value then goes straight to the final
// scaling step. NaN results are the canonical quiet NaN 0x7fc00000.
//
// Interface: a valid/ready request (op, x) and a valid/ready result. One function at a time:
// the result is valid 22 (exp), 14 (recip) or 37 (silu) cycles after the request is taken,
// and a new request is taken in the cycle the result is (so one result per 22 / 14 / 37
// cycles). Ops: 0 exp, 1 recip, 2 silu (3 is taken as silu).
//
// Stages 1 registers the step's operands, the middle of the multiplier, the adder and the
// integer-to-float conversion (their Stages parameter) and rint's integer: a step then takes
// three cycles (operands, the units' first half, the result), rint four (operands, rint, the
// conversion's first half, the result), so the result is valid 65 (exp), 40 (recip) or 110
// (silu) cycles after the request is taken.

`include "prim_assert.svh"

module vec_fn #(
  parameter int unsigned Stages = 0  // registers inside the shared units: 0 or 1
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  // Request
  input  logic        req_valid_i,
  output logic        req_ready_o,
  input  logic [1:0]  req_op_i,
  input  logic [31:0] req_x_i,
  // Result
  output logic        res_valid_o,
  input  logic        res_ready_i,
  output logic [31:0] res_y_o
);

  localparam logic [1:0] OpExp   = 2'd0;
  localparam logic [1:0] OpRecip = 2'd1;

  // Constants of chip.rs as bit patterns.
  localparam logic [31:0] Log2e   = 32'h3fb8_aa3b;
  localparam logic [31:0] Ln2Hi   = 32'h3f31_7200;
  localparam logic [31:0] Ln2Lo   = 32'h35bf_be8e;
  localparam logic [31:0] ExpOver  = 32'h42b2_0000;  // 89
  localparam logic [31:0] ExpUnder = 32'hc2d0_0000;  // -104
  localparam logic [31:0] RecipA  = 32'h4034_b4b5;
  localparam logic [31:0] RecipB  = 32'h3ff0_f0f1;
  localparam logic [31:0] One     = 32'h3f80_0000;
  localparam logic [31:0] Two     = 32'h4000_0000;
  localparam logic [31:0] PosInf  = 32'h7f80_0000;
  localparam logic [31:0] CanonicalNan = 32'h7fc0_0000;
  // EXP_POLY: c0 .. c7 (1/k! rounded to binary32).
  function automatic logic [31:0] exp_coef(logic [2:0] k);
    unique case (k)
      3'd0, 3'd1: exp_coef = 32'h3f80_0000;
      3'd2:       exp_coef = 32'h3f00_0000;
      3'd3:       exp_coef = 32'h3e2a_aaab;
      3'd4:       exp_coef = 32'h3d2a_aaab;
      3'd5:       exp_coef = 32'h3c08_8889;
      3'd6:       exp_coef = 32'h3ab6_0b61;
      default:    exp_coef = 32'h3950_0d01;
    endcase
  endfunction

  // Program counter values (one step per cycle, in order).
  localparam logic [5:0] PcExpMul   = 6'd0;   // t = x * LOG2E
  localparam logic [5:0] PcExpRint  = 6'd1;   // n = rint(t), m = float(n)
  localparam logic [5:0] PcExpHi    = 6'd2;   // t = m * LN2_HI
  localparam logic [5:0] PcExpSubHi = 6'd3;   // r = x - t
  localparam logic [5:0] PcExpLo    = 6'd4;   // t = m * LN2_LO
  localparam logic [5:0] PcExpSubLo = 6'd5;   // r = r - t
  localparam logic [5:0] PcHorner   = 6'd6;   // 6..19: p = (c7 | p) * r; p = p + c_k
  localparam logic [5:0] PcExpScale = 6'd20;  // p = ldexp(p, n): exp done
  localparam logic [5:0] PcSiluAdd  = 6'd21;  // p = 1 + p
  localparam logic [5:0] PcRcpSetup = 6'd22;  // m, n = -e, sign from p
  localparam logic [5:0] PcRcpSeedM = 6'd23;  // t = B * m
  localparam logic [5:0] PcRcpSeedS = 6'd24;  // p = A - t
  localparam logic [5:0] PcNewton   = 6'd25;  // 25..33: t = m * p; t = 2 - t; p = p * t
  localparam logic [5:0] PcRcpScale = 6'd34;  // p = +-ldexp(p, n): recip done
  localparam logic [5:0] PcSiluMul  = 6'd35;  // p = g * p: silu done

  typedef enum logic [2:0] {
    KindMul,
    KindAdd,
    KindSub,
    KindRint,
    KindScale,
    KindRcpSetup
  } kind_e;

  typedef enum logic [1:0] {
    DstP,
    DstR,
    DstT
  } dst_e;

  `ASSERT_STATIC(gen_stages_A, Stages <= 1, "vec_fn: Stages must be 0 or 1")

  // Registers.
  logic [1:0]  ph_q, ph_d;      // Stages 1: cycle of the step (the last one takes the result)
  logic        busy_q, busy_d;
  logic        done_q, done_d;  // result valid
  logic [1:0]  op_q, op_d;
  logic [5:0]  pc_q, pc_d;
  logic [31:0] x_q, x_d;  // exp argument (-g for silu)
  logic [31:0] g_q, g_d;  // silu input
  logic [31:0] m_q, m_d;  // nf (exp) or the significand m (recip)
  logic [31:0] r_q, r_d;
  logic [31:0] t_q, t_d;
  logic [31:0] p_q, p_d;  // polynomial / Newton iterate / result
  logic signed [9:0] n_q, n_d;  // scaling power
  logic        neg_q, neg_d;  // sign of the reciprocal

  // Step decode.
  kind_e       kind;
  dst_e        dst;
  logic [31:0] opa, opb;
  logic        last;
  logic [5:0]  step;

  assign step = pc_q - PcHorner;  // Horner step index while pc is in 6..19

  always_comb begin
    kind = KindMul;
    dst  = DstT;
    opa  = m_q;
    opb  = r_q;
    last = 1'b0;
    unique case (pc_q)
      PcExpMul:   begin kind = KindMul;  dst = DstT; opa = x_q; opb = Log2e; end
      PcExpRint:  begin kind = KindRint; opa = t_q; end
      PcExpHi:    begin kind = KindMul;  dst = DstT; opa = m_q; opb = Ln2Hi; end
      PcExpSubHi: begin kind = KindSub;  dst = DstR; opa = x_q; opb = t_q; end
      PcExpLo:    begin kind = KindMul;  dst = DstT; opa = m_q; opb = Ln2Lo; end
      PcExpSubLo: begin kind = KindSub;  dst = DstR; opa = r_q; opb = t_q; end
      6'd6, 6'd8, 6'd10, 6'd12, 6'd14, 6'd16, 6'd18: begin
        kind = KindMul;
        dst  = DstP;
        opa  = (pc_q == PcHorner) ? exp_coef(3'd7) : p_q;
        opb  = r_q;
      end
      6'd7, 6'd9, 6'd11, 6'd13, 6'd15, 6'd17, 6'd19: begin
        kind = KindAdd;
        dst  = DstP;
        opa  = p_q;
        opb  = exp_coef(3'd6 - 3'(step[5:1]));
      end
      PcExpScale: begin kind = KindScale; dst = DstP; last = (op_q == OpExp); end
      PcSiluAdd:  begin kind = KindAdd;   dst = DstP; opa = One; opb = p_q; end
      PcRcpSetup: begin kind = KindRcpSetup; end
      PcRcpSeedM: begin kind = KindMul;  dst = DstT; opa = RecipB; opb = m_q; end
      PcRcpSeedS: begin kind = KindSub;  dst = DstP; opa = RecipA; opb = t_q; end
      PcNewton, PcNewton + 6'd3, PcNewton + 6'd6: begin
        kind = KindMul; dst = DstT; opa = m_q; opb = p_q; end
      PcNewton + 6'd1, PcNewton + 6'd4, PcNewton + 6'd7: begin
        kind = KindSub; dst = DstT; opa = Two; opb = t_q; end
      PcNewton + 6'd2, PcNewton + 6'd5, PcNewton + 6'd8: begin
        kind = KindMul; dst = DstP; opa = p_q; opb = t_q; end
      PcRcpScale: begin kind = KindScale; dst = DstP; last = (op_q == OpRecip); end
      PcSiluMul:  begin kind = KindMul;   dst = DstP; opa = g_q; opb = p_q; last = 1'b1; end
      default:    begin kind = KindMul;   last = 1'b1; end
    endcase
  end

  // Shared arithmetic. With Stages 1 the units take the operands registered in the step's
  // first cycle, and the integer-to-float conversion rint's integer registered in its second.
  logic [31:0] mul_y, add_y, rint_i, rint_f, scale_y;
  logic [31:0] opa_u, opb_u, rint_u;
  logic        sub_u;
  logic [1:0]  ph_last;

  if (Stages == 1) begin : gen_opnd_reg
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        opa_u  <= 32'd0;
        opb_u  <= 32'd0;
        sub_u  <= 1'b0;
        rint_u <= 32'd0;
      end else begin
        opa_u  <= opa;
        opb_u  <= opb;
        sub_u  <= (kind == KindSub);
        rint_u <= rint_i;
      end
    end
    assign ph_last = (kind == KindRint) ? 2'd3 : 2'd2;
  end else begin : gen_opnd_comb
    assign opa_u   = opa;
    assign opb_u   = opb;
    assign sub_u   = (kind == KindSub);
    assign rint_u  = rint_i;
    assign ph_last = 2'd0;
  end

  vec_fp_mul #(
    .Stages(Stages)
  ) u_mul (
    .clk_i (clk_i),
    .rst_ni(rst_ni),
    .a_i   (opa_u),
    .b_i   (opb_u),
    .prod_o(mul_y)
  );

  vec_fp_add #(
    .Stages(Stages)
  ) u_add (
    .clk_i(clk_i),
    .rst_ni(rst_ni),
    .a_i  (opa_u),
    .b_i  (opb_u),
    .sub_i(sub_u),
    .sum_o(add_y)
  );

  vec_f2i u_f2i (
    .clk_i(clk_i),
    .rst_ni(rst_ni),
    .fp_i (opa_u),
    .int_o(rint_i)
  );

  vec_i2f #(
    .Stages(Stages)
  ) u_i2f (
    .clk_i(clk_i),
    .rst_ni(rst_ni),
    .int_i(rint_u),
    .fp_o (rint_f)
  );

  // -ldexp(y) = ldexp(-y) for every non-NaN y; a NaN stays canonical.
  vec_fp_ldexp u_scale (
    .x_i({p_q[31] ^ neg_q, p_q[30:0]}),
    .n_i({{22{n_q[9]}}, n_q}),
    .y_o(scale_y)
  );

  // The reciprocal's operand (p) read as the unit reads it.
  logic       d_sign, d_zero, d_inf, d_nan;
  logic [7:0] d_exp;
  logic [23:0] d_mant;

  vec_fp_unpack u_unpack_d (
    .x_i   (p_q),
    .sign_o(d_sign),
    .exp_o (d_exp),
    .mant_o(d_mant),
    .zero_o(d_zero),
    .inf_o (d_inf),
    .nan_o (d_nan)
  );

  // exp's input range on the request (as integers on the magnitude bits: both bounds are
  // finite and nonzero, so sign and magnitude order binary32 values outside NaN).
  logic [31:0] arg;
  logic        arg_nan, arg_over, arg_under;

  assign arg       = (req_op_i == OpExp) ? req_x_i : {~req_x_i[31], req_x_i[30:0]};
  assign arg_nan   = (arg[30:23] == 8'hff) && (arg[22:0] != 23'd0);
  assign arg_over  = !arg[31] && (arg[30:0] > ExpOver[30:0]);
  assign arg_under = arg[31] && (arg[30:0] > ExpUnder[30:0]);

  logic take, give;
  assign req_ready_o = !busy_q && (!done_q || res_ready_i);
  assign take        = req_valid_i && req_ready_o;
  assign give        = done_q && res_ready_i;
  assign res_valid_o = done_q;
  assign res_y_o     = p_q;

  logic [31:0] step_y;
  always_comb begin
    unique case (kind)
      KindAdd, KindSub: step_y = add_y;
      KindScale:        step_y = scale_y;
      default:          step_y = mul_y;
    endcase
  end

  always_comb begin
    ph_d   = 2'd0;
    busy_d = busy_q;
    done_d = done_q && !give;
    op_d   = op_q;
    pc_d   = pc_q;
    x_d    = x_q;
    g_d    = g_q;
    m_d    = m_q;
    r_d    = r_q;
    t_d    = t_q;
    p_d    = p_q;
    n_d    = n_q;
    neg_d  = neg_q;
    if (take) begin
      busy_d = 1'b1;
      op_d   = req_op_i;
      x_d    = arg;
      g_d    = req_x_i;
      neg_d  = 1'b0;
      n_d    = 10'sd0;
      if (req_op_i == OpRecip) begin
        pc_d = PcRcpSetup;
        p_d  = req_x_i;
      end else if (arg_nan || arg_over || arg_under) begin
        pc_d = PcExpScale;
        p_d  = arg_nan ? CanonicalNan : (arg_over ? PosInf : 32'd0);
      end else begin
        pc_d = PcExpMul;
      end
    end else if (busy_q && ph_q != ph_last) begin
      ph_d = ph_q + 2'd1;  // Stages 1: the step's registers fill
    end else if (busy_q) begin
      pc_d = pc_q + 6'd1;
      unique case (kind)
        KindRint: begin
          n_d = rint_u[9:0];
          m_d = rint_f;
        end
        KindRcpSetup: begin
          neg_d = d_sign && !d_nan;
          n_d   = 10'sd126 - $signed({2'd0, d_exp});
          m_d   = {1'b0, 8'd126, d_mant[22:0]};
          if (d_nan || d_zero || d_inf) begin
            // 1/NaN = NaN, 1/+-0 = +-inf, 1/+-inf = +-0: scaled by 2^0 with the sign.
            n_d  = 10'sd0;
            p_d  = d_nan ? CanonicalNan : (d_zero ? PosInf : 32'd0);
            pc_d = PcRcpScale;
          end
        end
        default: begin
          unique case (dst)
            DstR:    r_d = step_y;
            DstT:    t_d = step_y;
            default: p_d = step_y;
          endcase
        end
      endcase
      if (last) begin
        busy_d = 1'b0;
        done_d = 1'b1;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      ph_q   <= 2'd0;
      busy_q <= 1'b0;
      done_q <= 1'b0;
      op_q   <= OpExp;
      pc_q   <= PcExpMul;
      x_q    <= 32'd0;
      g_q    <= 32'd0;
      m_q    <= 32'd0;
      r_q    <= 32'd0;
      t_q    <= 32'd0;
      p_q    <= 32'd0;
      n_q    <= 10'sd0;
      neg_q  <= 1'b0;
    end else begin
      ph_q   <= ph_d;
      busy_q <= busy_d;
      done_q <= done_d;
      op_q   <= op_d;
      pc_q   <= pc_d;
      x_q    <= x_d;
      g_q    <= g_d;
      m_q    <= m_d;
      r_q    <= r_d;
      t_q    <= t_d;
      p_q    <= p_d;
      n_q    <= n_d;
      neg_q  <= neg_d;
    end
  end

  // rint above 2^9 never occurs (|t| < 152 inside exp's input range).
  logic unused;
  assign unused = ^{rint_u[31:10], d_mant[23], step[0]};

  `ASSERT_STREAM(ReqStream_A, req_valid_i, req_ready_o, {req_op_i, req_x_i})
  `ASSERT_STREAM(ResStream_A, res_valid_o, res_ready_i, res_y_o)
  `ASSERT_NEVER(BusyAndDone_A, busy_q && done_q)
  `ASSERT(ExpPowerInRange_A, !(busy_q && pc_q == PcExpRint && ph_q == ph_last) ||
          ($signed(rint_u) >= -32'sd160 && $signed(rint_u) <= 32'sd160))

endmodule
