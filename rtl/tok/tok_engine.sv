// SPDX-License-Identifier: Apache-2.0
// Token engine: runs the program in its program memory once per TOKEN descriptor, from the
// token id to the next token id (docs/architecture.md, "Token engine program"), bit-exact with
// the reference interpreter (sw-driver/src/token/interp.rs) and so with the golden model's chip
// mode (numerics v2).
//
// A sequencer fetches one 256-bit instruction (eight words of the program memory), checks it as
// `Instr::check` does (the same codes in the same order; a MATVEC is checked by the command
// processor, which runs it), then executes it one element at a time on one scalar
// floating-point datapath: an adder, a multiplier, a comparator, the integer conversions and
// the exponent scaler of rtl/vec (one rounded operation per cycle), the divide/square-root
// unit and the exp/reciprocal/SiLU unit (sequenced, behind valid/ready). Every operation is the
// golden definition's, in its order, so every rounding is the same.
//
// Memories: the program (ProgInstrs x 256 bits), the data memory DMEM (DmemWords x 32 bits:
// the model's constants and the KV caches), the vector memory VMEM (VmemWords x binary32) and
// two scratch memories of ATTEND (Context words of scores and weights, HeadDimMax int8 query
// elements). Program memory and DMEM are loaded from the stream (ENG_LOAD) a beat at a time.
// The activation and result buffers are the command processor's: QUANT writes activation
// chunks, DEQUANT reads result words once every product has completed.
//
// Output: with logits asked for, each LOGITS instruction sends its words on the output stream
// (StreamWidth/32 per beat, the last beat zero-padded); with the trace flag, every instruction
// but END is followed by a beat of the cycles it took; END sends one beat {instructions
// executed, NEXT} with tlast (on a 32-bit stream two: NEXT, then the count with tlast). A failing instruction raises err_o with its code and index and
// the engine stops; the command processor stops with it until a soft reset.

`include "prim_assert.svh"

module tok_engine
  import tessera_pkg::*;
#(
  parameter int unsigned Lanes       = 4,
  parameter int unsigned KWidth      = 8,
  parameter int unsigned AbufWords   = 256,
  parameter int unsigned RbufWords   = 256,
  parameter int unsigned StreamWidth = 64,
  parameter int unsigned VmemWords   = 4096,     // vector memory, binary32 words
  parameter int unsigned DmemWords   = 1048576,  // data memory, 32-bit words
  parameter int unsigned ProgInstrs  = 1024,     // program memory, instructions
  parameter int unsigned Context     = 256,      // largest context of ROPE, KV_APPEND, ATTEND
  parameter int unsigned HeadDimMax  = 128,      // largest head_dim of ATTEND
  parameter int unsigned FpStages    = 0,        // 1: the arithmetic units registered inside
  localparam int unsigned ChunkBits = KWidth * 8,
  localparam int unsigned RWordBits = Lanes * AccWidth,
  localparam int unsigned BeatWords = StreamWidth / 32,
  localparam int unsigned AbufAw    = $clog2(AbufWords),
  localparam int unsigned RbufAw    = $clog2(RbufWords),
  localparam int unsigned PmWords   = ProgInstrs * DescWords,
  localparam int unsigned PmAw      = $clog2(PmWords),
  localparam int unsigned DmAw      = $clog2(DmemWords),
  localparam int unsigned DmRw      = (DmemWords / BeatWords > 1) ?
                                      $clog2(DmemWords / BeatWords) : 1,
  localparam int unsigned PmRw      = (PmWords / BeatWords > 1) ? $clog2(PmWords / BeatWords) : 1
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  input  logic                   stop_i,      // the command processor stopped on an error
  // Loads (ENG_LOAD payload beats): BeatWords words at word address ld_addr_i
  input  logic                   ld_valid_i,
  input  logic                   ld_space_i,  // 0: program memory, 1: DMEM
  input  logic [31:0]            ld_addr_i,
  input  logic [StreamWidth-1:0] ld_data_i,
  // Token command
  input  logic                   start_i,     // pulse: run the program
  input  logic [31:0]            token_i,
  input  logic [31:0]            pos_i,
  input  logic [1:0]             flags_i,     // TOKEN's flags: 0 send the LOGITS words, 1 trace
  output logic                   done_o,      // pulse: END's beat was taken
  output logic                   err_o,       // pulse: an instruction failed
  output logic [7:0]             err_code_o,
  output logic [23:0]            pc_o,        // index of the instruction in hand
  // Matrix-vector products, run by the command processor
  output logic                   mv_valid_o,
  output logic [6*32-1:0]        mv_fields_o, // MATVEC's words 1..6
  input  logic                   mv_ack_i,    // pulse: its chunks are all sent
  input  logic                   mv_idle_i,   // no product result is still due
  // Activation buffer (write) and result buffer (read)
  output logic                   abuf_we_o,
  output logic [AbufAw-1:0]      abuf_waddr_o,
  output logic [ChunkBits-1:0]   abuf_wdata_o,
  output logic                   rbuf_re_o,
  output logic [RbufAw-1:0]      rbuf_raddr_o,
  input  logic [RWordBits-1:0]   rbuf_rdata_i,
  // Output stream
  output logic                   m_valid_o,
  input  logic                   m_ready_i,
  output logic [StreamWidth-1:0] m_data_o,
  output logic                   m_last_o,
  // ECC of the data and program memories: pulses for the word read in the previous cycle
  output logic                   ecc_single_o,  // a single-bit error, corrected
  output logic                   ecc_double_o,  // a double-bit error in DMEM, detected
  output logic [31:0]            ecc_addr_o     // its DMEM word address
);

  ////////////////
  // Parameters //
  ////////////////

  localparam int unsigned LgLanes  = $clog2(Lanes);
  localparam int unsigned LgKWidth = $clog2(KWidth);
  localparam int unsigned VmAw     = $clog2(VmemWords);
  localparam int unsigned SmAw     = $clog2(Context);
  localparam int unsigned QmAw     = $clog2(HeadDimMax);
  localparam logic [65:0] DmemBytes = 66'(DmemWords) * 66'd4;

  `ASSERT_STATIC(gen_pow2_A, (Lanes & (Lanes - 1)) == 0 && (KWidth & (KWidth - 1)) == 0,
                 "tok_engine: Lanes and KWidth must be powers of two")
  `ASSERT_STATIC(gen_stream_A, StreamWidth >= 32 && StreamWidth <= 256 &&
                 (StreamWidth & (StreamWidth - 1)) == 0,
                 "tok_engine: StreamWidth must be a power of two from 32 to 256")
  `ASSERT_STATIC(gen_sizes_A, VmemWords >= 2 && VmemWords <= (1 << 24) &&
                 DmemWords >= 2 * BeatWords && DmemWords <= (1 << 29) &&
                 (DmemWords & (DmemWords - 1)) == 0 && ProgInstrs >= 2 &&
                 (ProgInstrs & (ProgInstrs - 1)) == 0 && Context >= 2 &&
                 HeadDimMax >= 2 && HeadDimMax <= 4096,
                 "tok_engine: memory sizes out of range")
  `ASSERT_STATIC(gen_fp_stages_A, FpStages <= 1, "tok_engine: FpStages must be 0 or 1")

  // Constants (binary32).
  localparam logic [31:0] FOne    = 32'h3f80_0000;
  localparam logic [31:0] FZero   = 32'h0000_0000;
  localparam logic [31:0] FNegInf = 32'hff80_0000;
  localparam logic [31:0] FPosInf = 32'h7f80_0000;
  localparam logic [31:0] FQmax   = 32'h42fe_0000;  // 127
  localparam logic [31:0] FPmax   = 32'h467f_fc00;  // 16383

  // divsqrt and vec_fn operations.
  localparam logic [1:0] DvDiv   = 2'd0;
  localparam logic [1:0] DvRsqrt = 2'd2;
  localparam logic [1:0] FnExp   = 2'd0;
  localparam logic [1:0] FnSilu  = 2'd2;

  ///////////
  // State //
  ///////////

  typedef struct packed {
    tok_state_e             state;
    logic [31:0]            pc;
    logic [2:0]             k;       // fetch: word of the instruction
    logic [DescBits-1:0]    ir;      // the instruction in hand
    logic [31:0]            token;
    logic [31:0]            pos;
    logic                   wl;      // logits asked for
    logic                   tr;      // trace: a beat of cycles after every instruction
    logic [31:0]            icyc;    // cycles of the instruction in hand
    logic [31:0]            next;    // NEXT
    logic [31:0]            sx;      // SX
    logic [7:0]             ecode;
    // Loops
    logic [31:0]            i, n, lim, j, h, g, gc, d;
    logic                   kv_v;    // KV_APPEND: 0 keys, 1 values
    logic                   sm;      // ATTEND: quantizing the softmax weights
    // Division (heads / kv_heads) and range products
    logic [5:0]             dstep;
    logic [31:0]            quo;
    logic [32:0]            rem;
    logic [63:0]            p1, p2, p3;
    // Floating-point registers
    logic [31:0]            fa, fb, fc, fd, fe, ff;
    logic [31:0]            m, mx, s, inv, c, scale, attn, sum, qmax, best;
    logic [7:0]             emax;
    logic [63:0]            acc;
    logic [31:0]            hi, lo;
    logic [7:0]             qb;
    // Addresses (VMEM words, DMEM bytes)
    logic [31:0]            a0, a1, a2, a3, a4, a5;
    logic [31:0]            vals, slots, stride;
    logic [1:0]             bsel;    // byte of the DMEM word read
    logic [11:0]            lane;    // lane of the result word read
    logic                   pend;    // a sequenced unit has the request
    logic [ChunkBits-1:0]   cbuf;
    logic [StreamWidth-1:0] obuf;
    logic [7:0]             ocnt;
  } tok_regs_t;

  tok_regs_t r_d, r_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      r_q      <= '0;
      r_q.sx   <= FOne;
    end else begin
      r_q <= r_d;
    end
  end

  //////////////
  // Memories //
  //////////////

  logic              pm_re, dm_re, dm_we, vm_re, vm_we, sm_re, sm_we, qm_re, qm_we;
  logic [PmAw-1:0]   pm_raddr;
  logic [31:0]       pm_rdata, dm_rdata, vm_rdata, sm_rdata, vm_wdata, sm_wdata, dm_wdata;
  logic [DmAw-1:0]   dm_raddr, dm_waddr;
  logic [VmAw-1:0]   vm_raddr, vm_waddr;
  logic [SmAw-1:0]   sm_raddr, sm_waddr;
  logic [QmAw-1:0]   qm_raddr, qm_waddr;
  logic [7:0]        qm_rdata, qm_wdata;
  logic              pm_single, pm_double, dm_single, dm_double, dm_rv_q, pm_rv_q;

  prim_ram_banked #(
    .Banks (BeatWords),
    .Words (PmWords)
  ) u_pmem (
    .clk_i       (clk_i),
    .wide_we_i   (ld_valid_i && !ld_space_i),
    .wide_row_i  (PmRw'(ld_addr_i / BeatWords)),
    .wide_data_i (ld_data_i),
    .we_i        (1'b0),
    .waddr_i     ('0),
    .wdata_i     ('0),
    .re_i        (pm_re),
    .raddr_i     (pm_raddr),
    .rdata_o     (pm_rdata),
    .single_o    (pm_single),
    .double_o    (pm_double)
  );

  prim_ram_banked #(
    .Banks (BeatWords),
    .Words (DmemWords)
  ) u_dmem (
    .clk_i       (clk_i),
    .wide_we_i   (ld_valid_i && ld_space_i),
    .wide_row_i  (DmRw'(ld_addr_i / BeatWords)),
    .wide_data_i (ld_data_i),
    .we_i        (dm_we),
    .waddr_i     (dm_waddr),
    .wdata_i     (dm_wdata),
    .re_i        (dm_re),
    .raddr_i     (dm_raddr),
    .rdata_o     (dm_rdata),
    .single_o    (dm_single),
    .double_o    (dm_double)
  );

  // ECC: the flags of a read belong to it in the cycle after it. DMEM's go to the chip's ECC
  // counters; a double-bit error in DMEM or the program memory fails the instruction.
  logic [DmAw-1:0] dm_raddr_q;
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      dm_rv_q    <= 1'b0;
      pm_rv_q    <= 1'b0;
      dm_raddr_q <= '0;
    end else begin
      dm_rv_q    <= dm_re;
      pm_rv_q    <= pm_re;
      dm_raddr_q <= dm_re ? dm_raddr : dm_raddr_q;
    end
  end
  assign ecc_single_o = (dm_rv_q && dm_single) || (pm_rv_q && pm_single);
  assign ecc_double_o = dm_rv_q && dm_double;
  assign ecc_addr_o   = 32'(dm_raddr_q);

  prim_ram_1r1w #(
    .Width (32),
    .Depth (VmemWords)
  ) u_vmem (
    .clk_i   (clk_i),
    .we_i    (vm_we),
    .waddr_i (vm_waddr),
    .wdata_i (vm_wdata),
    .re_i    (vm_re),
    .raddr_i (vm_raddr),
    .rdata_o (vm_rdata)
  );

  prim_ram_1r1w #(
    .Width (32),
    .Depth (Context)
  ) u_smem (
    .clk_i   (clk_i),
    .we_i    (sm_we),
    .waddr_i (sm_waddr),
    .wdata_i (sm_wdata),
    .re_i    (sm_re),
    .raddr_i (sm_raddr),
    .rdata_o (sm_rdata)
  );

  prim_ram_1r1w #(
    .Width (8),
    .Depth (HeadDimMax)
  ) u_qmem (
    .clk_i   (clk_i),
    .we_i    (qm_we),
    .waddr_i (qm_waddr),
    .wdata_i (qm_wdata),
    .re_i    (qm_re),
    .raddr_i (qm_raddr),
    .rdata_o (qm_rdata)
  );

  // The byte and the half-word of the last DMEM read.
  logic [7:0]  dm_byte;
  logic [15:0] dm_half;
  assign dm_byte = dm_rdata[8*r_q.bsel +: 8];
  assign dm_half = r_q.bsel[1] ? dm_rdata[31:16] : dm_rdata[15:0];

  ///////////////////////
  // Arithmetic units  //
  ///////////////////////

  // With FpStages 1 the adder, the multiplier and the conversions have a register inside, and
  // the integer multiplier one at its output: a result is that of the operands of the cycle
  // before. A state that takes one runs twice (fp_wait below); so does the check, whose codes
  // are registered too.
  logic [31:0] add_a, add_b, add_y, mul_a, mul_b, mul_y, cmp_a, cmp_b, cmp_max;
  logic        add_sub, cmp_gt;
  logic [31:0] i2f_in, i2f_y, l2f_y, f2i_in, f2i_y, ldx_x, ldx_n, ldx_y;
  logic [63:0] l2f_in;
  logic [31:0] imul_a, imul_b;
  logic [63:0] imul_p, imul_c;

  vec_fp_add #(.Stages(FpStages)) u_add (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .a_i    (add_a),
    .b_i    (add_b),
    .sub_i  (add_sub),
    .sum_o  (add_y)
  );
  vec_fp_mul #(.Stages(FpStages)) u_mul (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .a_i    (mul_a),
    .b_i    (mul_b),
    .prod_o (mul_y)
  );
  vec_fp_cmp u_cmp (
    .a_i     (cmp_a),
    .b_i     (cmp_b),
    .lt_o    (),
    .eq_o    (),
    .gt_o    (cmp_gt),
    .unord_o (),
    .max_o   (cmp_max)
  );
  vec_i2f #(.IntWidth(32), .Stages(FpStages)) u_i2f (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .int_i  (i2f_in),
    .fp_o   (i2f_y)
  );
  vec_i2f #(.IntWidth(64), .Stages(FpStages)) u_l2f (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .int_i  (l2f_in),
    .fp_o   (l2f_y)
  );
  vec_f2i #(.Stages(FpStages)) u_f2i (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .fp_i   (f2i_in),
    .int_o  (f2i_y)
  );
  vec_fp_ldexp u_ldexp (.x_i(ldx_x), .n_i(ldx_n), .y_o(ldx_y));

  // One integer multiplier for the range checks, addresses and the sum of squares.
  assign imul_c = 64'(imul_a) * 64'(imul_b);

  if (FpStages == 1) begin : gen_out_regs
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        imul_p <= '0;
      end else begin
        imul_p <= imul_c;
      end
    end
  end else begin : gen_out_comb
    assign imul_p = imul_c;
  end

  logic        dv_valid, dv_ready, dv_res_valid, fn_valid, fn_ready, fn_res_valid;
  logic [1:0]  dv_op, fn_op;
  logic [31:0] dv_a, dv_b, dv_y, fn_x, fn_y;

  vec_fp_divsqrt u_divsqrt (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .req_valid_i (dv_valid),
    .req_ready_o (dv_ready),
    .req_op_i    (dv_op),
    .req_a_i     (dv_a),
    .req_b_i     (dv_b),
    .res_valid_o (dv_res_valid),
    .res_ready_i (1'b1),
    .res_y_o     (dv_y)
  );

  vec_fn #(
    .Stages      (FpStages)
  ) u_fn (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .req_valid_i (fn_valid),
    .req_ready_o (fn_ready),
    .req_op_i    (fn_op),
    .req_x_i     (fn_x),
    .res_valid_o (fn_res_valid),
    .res_ready_i (1'b1),
    .res_y_o     (fn_y)
  );

  ////////////////////////
  // Helper functions   //
  ////////////////////////

  function automatic logic [31:0] fabs(logic [31:0] x);
    logic [31:0] y;
    y = x;
    y[31] = 1'b0;
    return y;
  endfunction

  // A positive normal value (the scale rule of quantize_activation and quantize_softmax:
  // 0 < m < inf; m is a flushed magnitude, never a NaN).
  function automatic logic pos_finite(logic [8:0] sign_exp);
    return !sign_exp[8] && sign_exp[7:0] != 8'd0 && sign_exp[7:0] != 8'hff;
  endfunction

  function automatic logic [31:0] clamp(logic [31:0] v, logic signed [31:0] lo,
                                        logic signed [31:0] hi);
    if ($signed(v) < lo) return lo;
    if ($signed(v) > hi) return hi;
    return v;
  endfunction

  function automatic logic [31:0] sat32(logic [63:0] v);
    return (v[63:32] != 32'd0) ? 32'hffff_ffff : v[31:0];
  endfunction

  // VMEM range [addr, addr + n) past the memory.
  function automatic logic vm_bad(logic [31:0] addr, logic [63:0] n);
    return (66'(addr) + 66'(n)) > 66'(VmemWords);
  endfunction

  // DMEM range [addr, addr + bytes) past the memory, or addr not a multiple of align.
  function automatic logic dm_bad(logic [31:0] addr, logic [65:0] bytes, logic [1:0] lg_align);
    return ((addr & ~(32'hffff_ffff << lg_align)) != 32'd0) || (66'(addr) + bytes > DmemBytes);
  endfunction

  // A destination that overlaps a source of the same length without being it.
  function automatic logic partial(logic [31:0] dst, logic [31:0] src, logic [31:0] n);
    return dst != src && 33'(dst) < 33'(src) + 33'(n) && 33'(src) < 33'(dst) + 33'(n);
  endfunction

  ///////////////////
  // Decode, check //
  ///////////////////

  logic [7:0]  op;
  logic [31:0] f1, f2, f3, f4, f5, f6, f7;
  assign op = r_q.ir[7:0];
  assign f1 = r_q.ir[32*1 +: 32];
  assign f2 = r_q.ir[32*2 +: 32];
  assign f3 = r_q.ir[32*3 +: 32];
  assign f4 = r_q.ir[32*4 +: 32];
  assign f5 = r_q.ir[32*5 +: 32];
  assign f6 = r_q.ir[32*6 +: 32];
  assign f7 = r_q.ir[32*7 +: 32];

  // Unknown opcode, reserved bits or a word past the opcode's fields set.
  logic       dec_bad;
  logic [3:0] nfields;
  always_comb begin
    dec_bad = 1'b0;
    unique case (op)
      TokNop, TokEnd:                nfields = 4'd0;
      TokArgmax, TokLogits:          nfields = 4'd2;
      TokEmbed, TokQuant, TokDequant, TokSiluMul, TokAdd: nfields = 4'd4;
      TokRmsNorm, TokRope:           nfields = 4'd5;
      TokMatvec, TokKvAppend:        nfields = 4'd6;
      TokAttend:                     nfields = 4'd7;
      default: begin
        nfields = 4'd7;
        dec_bad = 1'b1;
      end
    endcase
    if (r_q.ir[31:8] != 24'd0) begin
      dec_bad = 1'b1;
    end
    for (int unsigned w = 1; w < DescWords; w++) begin
      if (w > nfields && r_q.ir[32*w +: 32] != 32'd0) begin
        dec_bad = 1'b1;
      end
    end
  end

  // Instr::check with the products of TokMul1..3 (p1, p2, p3) and the remainder of
  // heads / kv_heads; ErrNone when legal. FpStages 1 registers it (TokCheck runs twice).
  logic [7:0] chk_err, chk_err_c;
  always_comb begin
    chk_err_c = ErrNone;
    unique case (op)
      TokEmbed: begin  // dst table n rows
        if (f3 == 0 || f4 == 0) chk_err_c = ErrShape;
        else if (vm_bad(f1, 64'(f3))) chk_err_c = ErrVmemRange;
        else if (dm_bad(f2, {r_q.p1, 2'b0} >> 1, 2'd1)) chk_err_c = ErrDmemRange;
      end
      TokRmsNorm: begin  // dst src gamma n eps
        if (f4 == 0) chk_err_c = ErrShape;
        else if (vm_bad(f1, 64'(f4)) || vm_bad(f2, 64'(f4))) chk_err_c = ErrVmemRange;
        else if (dm_bad(f3, 66'(f4) << 2, 2'd2)) chk_err_c = ErrDmemRange;
        else if (partial(f1, f2, f4)) chk_err_c = ErrVmemRange;
      end
      TokQuant: begin  // src n abuf chunks
        if (f2 == 0 || f4 == 0 || 64'(f2) > (64'(f4) << LgKWidth)) chk_err_c = ErrShape;
        else if (vm_bad(f1, 64'(f2))) chk_err_c = ErrVmemRange;
        else if (33'(f3) + 33'(f4) > 33'(AbufWords)) chk_err_c = ErrAbufRange;
      end
      TokDequant: begin  // dst rbuf rows scales
        if (f3 == 0) chk_err_c = ErrShape;
        else if (vm_bad(f1, 64'(f3))) chk_err_c = ErrVmemRange;
        else if ((66'(f2) << LgLanes) + 66'(f3) > 66'(RbufWords) * 66'(Lanes))
          chk_err_c = ErrRbufRange;
        else if (dm_bad(f4, 66'(f3) << 2, 2'd2)) chk_err_c = ErrDmemRange;
      end
      TokRope: begin  // vec heads head_dim table context
        if (f2 == 0 || f3 == 0 || f3[0] || f5 == 0 || f5 > 32'(Context)) chk_err_c = ErrShape;
        else if (vm_bad(f1, r_q.p1)) chk_err_c = ErrVmemRange;
        else if (dm_bad(f4, 66'(r_q.p2) << 2, 2'd2)) chk_err_c = ErrDmemRange;
      end
      TokKvAppend: begin  // k v kv_heads head_dim cache context
        if (f3 == 0 || f4 == 0 || f4[0] || f6 == 0 || f6 > 32'(Context)) chk_err_c = ErrShape;
        else if (vm_bad(f1, r_q.p1) || vm_bad(f2, r_q.p1)) chk_err_c = ErrVmemRange;
        else if (dm_bad(f5, 66'(r_q.p3), 2'd2)) chk_err_c = ErrDmemRange;
      end
      TokAttend: begin  // dst q heads kv_heads head_dim cache context
        if (f3 == 0 || f4 == 0 || r_q.rem != 33'd0 || f5 == 0 || f5[0] || f7 == 0 ||
            f7 > 32'(Context) || f5 > 32'(HeadDimMax)) chk_err_c = ErrShape;
        else if (vm_bad(f1, r_q.p1) || vm_bad(f2, r_q.p1)) chk_err_c = ErrVmemRange;
        else if (dm_bad(f6, 66'(r_q.p3), 2'd2)) chk_err_c = ErrDmemRange;
        else if (partial(f1, f2, r_q.p1[31:0])) chk_err_c = ErrVmemRange;
      end
      TokSiluMul, TokAdd: begin  // dst a b n
        if (f4 == 0) chk_err_c = ErrShape;
        else if (vm_bad(f1, 64'(f4)) || vm_bad(f2, 64'(f4)) || vm_bad(f3, 64'(f4)))
          chk_err_c = ErrVmemRange;
        else if (partial(f1, f2, f4) || partial(f1, f3, f4)) chk_err_c = ErrVmemRange;
      end
      TokArgmax, TokLogits: begin  // src n
        if (f2 == 0) chk_err_c = ErrShape;
        else if (vm_bad(f1, 64'(f2))) chk_err_c = ErrVmemRange;
      end
      default: ;  // NOP, END; MATVEC is checked by the command processor
    endcase
  end

  if (FpStages == 1) begin : gen_chk_reg
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        chk_err <= ErrNone;
      end else begin
        chk_err <= chk_err_c;
      end
    end
  end else begin : gen_chk_comb
    assign chk_err = chk_err_c;
  end

  ///////////////
  // Sequencer //
  ///////////////

  logic [7:0]  qv;       // the requantized element of TokQeCvt
  logic [31:0] hd;       // head_dim of the instruction in hand
  logic [63:0] combined; // 128 * hi + lo
  assign hd = (op == TokAttend) ? f5 : (op == TokKvAppend) ? f4 : f3;
  assign combined = {{25{r_q.hi[31]}}, r_q.hi, 7'd0} + {{32{r_q.lo[31]}}, r_q.lo};

  logic [31:0] ldxw_y, f2iw_y;  // the chained units' results (below)

  // Values the next-state logic derives within one state.
  logic [32:0]          div_t;    // TokDiv: the partial remainder with the next dividend bit
  logic [9:0]           sq_shift; // TokRnB: 2 (Emax - E) + 8
  logic [ChunkBits-1:0] chunk;    // TokQePut: the chunk with the new element
  logic [31:0]          kv_addr;  // TokQePut: the cache byte of the new element
  logic [31:0]          kv_word;  // TokQePut: its word with the element
  logic [31:0]          q31;      // TokAtE3: rint(e * 2^31) clamped to [0, 2^31]
  assign div_t    = {r_q.rem[31:0], f3[5'd31 - r_q.dstep[4:0]]};
  assign sq_shift = {1'b0, r_q.emax - vm_rdata[30:23], 1'b0} + 10'd8;
  assign kv_addr  = r_q.a2 + r_q.i;
  always_comb begin
    kv_word = dm_rdata;
    kv_word[8*kv_addr[1:0] +: 8] = r_q.qb;
  end
  always_comb begin
    chunk = r_q.cbuf;
    chunk[8*r_q.i[LgKWidth-1:0] +: 8] = r_q.qb;
  end
  always_comb begin
    if (r_q.fc[30:23] == 8'hff && r_q.fc[22:0] != 23'd0) q31 = 32'd0;  // NaN
    else if (r_q.fc[31]) q31 = 32'd0;
    else if (r_q.fc[30:0] >= FOne[30:0]) q31 = 32'h8000_0000;
    else q31 = f2iw_y;
  end

  // FpStages 1: a state that takes a result of the units above runs twice. In its first cycle
  // (fp_wait_q clear) the units' registers take its operands while every register of the
  // engine holds and nothing else happens: no memory read or write, no request to a sequenced
  // unit, no pulse. Read data stay as they were (a memory without a read keeps its output), so
  // the second cycle sees the same operands and runs the state with the registered results.
  // The cycle counter of the trace counts both cycles.
  logic fp_use, fp_stall, fp_wait_q;
  always_comb begin
    unique case (r_q.state)
      TokMul1, TokMul2, TokMul3, TokCheck, TokEmbAddr, TokRnB, TokRnSs, TokRnNf, TokRnEps, TokRnC1,
      TokRnC2, TokQeMul, TokQeCvt, TokDq1, TokDq2, TokDq3, TokRoAddr, TokRo2, TokRo3, TokRo4,
      TokRo5, TokRo6, TokRo7, TokKv0, TokKv1, TokKv2, TokAt0, TokAt1, TokAtC, TokAtS1, TokAtS2,
      TokAtS3, TokAtM, TokAtE1, TokAtE3, TokAtE4, TokAtSum, TokAtPMul, TokAtPCvt, TokAtV0, TokAtV1,
      TokAtV2, TokSi3, TokAd2: fp_use = 1'b1;
      default: fp_use = 1'b0;
    endcase
  end

  if (FpStages == 1) begin : gen_fp_wait
    assign fp_stall = fp_use && !fp_wait_q;
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        fp_wait_q <= 1'b0;
      end else begin
        fp_wait_q <= fp_stall;
      end
    end
  end else begin : gen_fp_nowait
    assign fp_stall  = 1'b0;
    assign fp_wait_q = 1'b0;
    logic unused_fp;
    assign unused_fp = fp_use ^ fp_wait_q;
  end

  // Operands of the arithmetic units and the memory reads of each state: from registers and
  // read data only (the next-state logic below takes the results).
  logic [31:0] cmpw_a, cmpw_max, instrs;
  assign instrs = r_q.pc + 32'd1;
  logic        cmpw_abs;
  always_comb begin
    pm_re = 1'b0;  pm_raddr = '0;
    dm_re = 1'b0;  dm_raddr = '0;
    vm_re = 1'b0;  vm_raddr = '0;
    sm_re = 1'b0;  sm_raddr = '0;
    qm_re = 1'b0;  qm_raddr = '0;
    rbuf_re_o = 1'b0;  rbuf_raddr_o = '0;
    add_a = '0;  add_b = '0;  add_sub = 1'b0;
    mul_a = '0;  mul_b = '0;
    cmp_a = '0;  cmp_b = '0;  cmpw_a = '0;  cmpw_abs = 1'b0;
    i2f_in = '0;  l2f_in = '0;  f2i_in = '0;  ldx_x = '0;  ldx_n = '0;
    imul_a = '0;  imul_b = '0;
    dv_valid = 1'b0;  dv_op = DvDiv;  dv_a = '0;  dv_b = '0;
    fn_valid = 1'b0;  fn_op = FnExp;  fn_x = '0;
    mv_valid_o = 1'b0;
    m_valid_o = 1'b0;  m_data_o = '0;  m_last_o = 1'b0;

    unique case (r_q.state)
      TokFetch: begin
        pm_re    = r_q.pc < 32'(ProgInstrs);
        pm_raddr = PmAw'({r_q.pc, r_q.k});
      end
      TokMul1: begin
        unique case (op)
          TokEmbed:    begin imul_a = f3; imul_b = f4; end  // n * rows
          TokRope:     begin imul_a = f2; imul_b = f3; end  // heads * head_dim
          TokKvAppend: begin imul_a = f3; imul_b = f4; end  // kv_heads * head_dim
          TokAttend:   begin imul_a = f3; imul_b = f5; end  // heads * head_dim
          default: ;
        endcase
      end
      TokMul2: begin
        unique case (op)
          TokRope:     begin imul_a = f5; imul_b = f3; end  // context * head_dim
          TokKvAppend: begin imul_a = f6; imul_b = f3; end  // context * kv_heads
          TokAttend:   begin imul_a = f7; imul_b = f4; end  // context * kv_heads
          default: ;
        endcase
      end
      TokMul3: begin
        // Bytes of the KV region: slots * (2 * head_dim + 8), saturated: a saturated factor
        // is past any DMEM, as the exact product is.
        imul_a = sat32(r_q.p2);
        imul_b = sat32(64'(hd) * 64'd2 + 64'd8);
      end
      TokEmbAddr: begin imul_a = r_q.token; imul_b = f3; end
      TokEmbRd: begin
        dm_re    = 1'b1;
        dm_raddr = DmAw'((r_q.a0 + {r_q.i[30:0], 1'b0}) >> 2);
      end
      TokRnARd, TokRnBRd: begin
        vm_re    = 1'b1;
        vm_raddr = VmAw'(f2 + r_q.i);
      end
      TokRnB: begin
        imul_a = {8'd0, 1'b1, vm_rdata[22:0]};
        imul_b = {8'd0, 1'b1, vm_rdata[22:0]};
      end
      TokRnSs: begin  // f32(S) * 2^(2 Emax - 292)
        l2f_in = r_q.acc;
        ldx_n  = 32'({r_q.emax, 1'b0}) - 32'd292;
      end
      TokRnNf: i2f_in = f4;
      TokRnDiv: begin
        dv_valid = !r_q.pend;
        dv_a     = r_q.fa;
        dv_b     = r_q.fb;
      end
      TokRnEps: begin add_a = r_q.fa; add_b = f5; end
      TokRnRsq: begin
        dv_valid = !r_q.pend;
        dv_op    = DvRsqrt;
        dv_a     = r_q.fa;
      end
      TokRnCRd: begin
        vm_re    = 1'b1;
        vm_raddr = VmAw'(f2 + r_q.i);
        dm_re    = 1'b1;
        dm_raddr = DmAw'((f3 + {r_q.i[29:0], 2'b00}) >> 2);
      end
      TokRnC1: begin mul_a = vm_rdata; mul_b = r_q.fe; end
      TokRnC2: begin mul_a = r_q.fb; mul_b = r_q.fa; end
      TokMaxRd: begin
        vm_re    = 1'b1;
        vm_raddr = VmAw'(r_q.a0 + r_q.i);
      end
      TokMax: begin cmp_a = r_q.m; cmp_b = fabs(vm_rdata); end
      TokQs1: begin
        dv_valid = pos_finite(r_q.m[31:23]) && !r_q.pend;
        dv_a     = r_q.m;
        dv_b     = r_q.qmax;
      end
      TokQs2: begin
        dv_valid = !r_q.pend;
        dv_a     = r_q.qmax;
        dv_b     = r_q.m;
      end
      TokQeRd: begin
        vm_re    = !(op == TokQuant && r_q.i >= r_q.n);
        vm_raddr = VmAw'(r_q.a0 + r_q.i);
      end
      TokQeMul: begin mul_a = vm_rdata; mul_b = r_q.inv; end
      TokQeCvt: begin
        f2i_in = r_q.fa;
        // KV_APPEND: the cache word the element goes into (written back in TokQePut).
        dm_re    = (op == TokKvAppend);
        dm_raddr = DmAw'(kv_addr >> 2);
      end
      TokMv: mv_valid_o = 1'b1;
      TokDqRd: begin
        rbuf_re_o    = 1'b1;
        rbuf_raddr_o = RbufAw'(f2 + (r_q.i >> LgLanes));
        dm_re        = 1'b1;
        dm_raddr     = DmAw'((f4 + {r_q.i[29:0], 2'b00}) >> 2);
      end
      TokDq1: begin mul_a = r_q.sx; mul_b = dm_rdata; end
      TokDq2: i2f_in = r_q.fa;
      TokDq3: begin mul_a = r_q.fd; mul_b = r_q.fc; end
      TokRoAddr: begin imul_a = r_q.pos; imul_b = f3; end
      TokRoRdA: begin  // a = x[k], cos[k]
        vm_re    = 1'b1;
        vm_raddr = VmAw'(r_q.a1 + r_q.i);
        dm_re    = 1'b1;
        dm_raddr = DmAw'((r_q.a0 + {r_q.i[29:0], 2'b00}) >> 2);
      end
      TokRoRdB: begin  // b = x[k + half], sin[k]
        vm_re    = 1'b1;
        vm_raddr = VmAw'(r_q.a1 + r_q.i + (f3 >> 1));
        dm_re    = 1'b1;
        dm_raddr = DmAw'((r_q.a0 + {r_q.i[29:0], 2'b00} + {f3[31:1], 2'b00}) >> 2);
      end
      TokRo2: begin mul_a = r_q.fa; mul_b = r_q.fc; end
      TokRo3: begin mul_a = r_q.fb; mul_b = r_q.fd; end
      TokRo4: begin add_a = r_q.fe; add_b = r_q.ff; add_sub = 1'b1; end
      TokRo5: begin mul_a = r_q.fb; mul_b = r_q.fc; end
      TokRo6: begin mul_a = r_q.fa; mul_b = r_q.fd; end
      TokRo7: begin add_a = r_q.fe; add_b = r_q.ff; end
      TokKv0: begin imul_a = r_q.p2[31:0]; imul_b = f4; end
      TokKv1: begin imul_a = r_q.pos; imul_b = f3; end
      TokKv2: begin imul_a = r_q.a4; imul_b = f4; end
      TokAt0: begin imul_a = r_q.p2[31:0]; imul_b = f5; end
      TokAt1: begin imul_a = f4; imul_b = f5; i2f_in = f5; end
      TokAt2: begin
        dv_valid = !r_q.pend;
        dv_op    = DvRsqrt;
        dv_a     = r_q.fa;
      end
      TokAtC: begin mul_a = r_q.s; mul_b = r_q.attn; imul_a = r_q.g; imul_b = f5; end
      TokAtSRd: begin
        qm_re    = 1'b1;
        qm_raddr = QmAw'(r_q.d);
        dm_re    = 1'b1;
        dm_raddr = DmAw'((r_q.a4 + r_q.d) >> 2);
      end
      TokAtSKs: begin
        dm_re    = 1'b1;
        dm_raddr = DmAw'(r_q.a5 >> 2);
      end
      TokAtS1: begin mul_a = r_q.c; mul_b = dm_rdata; end
      TokAtS2: i2f_in = r_q.acc[31:0];
      TokAtS3: begin mul_a = r_q.fd; mul_b = r_q.fc; cmpw_a = r_q.mx; end
      TokAtM: begin add_a = r_q.mx; add_b = FZero; end
      TokAtERd: begin
        sm_re    = 1'b1;
        sm_raddr = SmAw'(r_q.j);
        dm_re    = 1'b1;
        dm_raddr = DmAw'(r_q.a5 >> 2);
      end
      TokAtE1: begin add_a = sm_rdata; add_b = r_q.mx; add_sub = 1'b1; end
      TokAtE2: begin
        fn_valid = !r_q.pend;
        fn_x     = r_q.fa;
      end
      TokAtE3: begin ldx_x = r_q.fc; ldx_n = 32'd31; end
      TokAtE4: begin mul_a = r_q.fc; mul_b = r_q.fb; cmpw_a = r_q.m; cmpw_abs = 1'b1; end
      TokAtSum: begin l2f_in = r_q.acc; ldx_n = -32'sd31; end
      TokAtSc: begin
        dv_valid = !r_q.pend;
        dv_a     = r_q.s;
        dv_b     = r_q.sum;
      end
      TokAtPRd: begin
        sm_re    = 1'b1;
        sm_raddr = SmAw'(r_q.j);
      end
      TokAtPMul: begin mul_a = sm_rdata; mul_b = r_q.inv; end
      TokAtPCvt: f2i_in = r_q.fa;
      TokAtV0: begin imul_a = r_q.g; imul_b = f5; end
      TokAtVRd: begin
        sm_re    = 1'b1;
        sm_raddr = SmAw'(r_q.j);
        dm_re    = 1'b1;
        dm_raddr = DmAw'(r_q.a4 >> 2);
      end
      TokAtV1: l2f_in = combined;
      TokAtV2: begin mul_a = r_q.fa; mul_b = r_q.scale; end
      TokSiRd: begin
        vm_re    = 1'b1;
        vm_raddr = VmAw'(f2 + r_q.i);
      end
      TokSi1, TokAd1: begin
        vm_re    = 1'b1;
        vm_raddr = VmAw'(f3 + r_q.i);
      end
      TokSi2: begin
        fn_valid = !r_q.pend;
        fn_op    = FnSilu;
        fn_x     = r_q.fa;
      end
      TokSi3: begin mul_a = r_q.fc; mul_b = r_q.fb; end
      TokAdRd: begin
        vm_re    = 1'b1;
        vm_raddr = VmAw'(f2 + r_q.i);
      end
      TokAd2: begin add_a = r_q.fa; add_b = vm_rdata; end
      TokAmRd, TokLgRd: begin
        vm_re    = 1'b1;
        vm_raddr = VmAw'(f1 + r_q.i);
      end
      TokAm1: begin cmp_a = vm_rdata; cmp_b = r_q.best; end
      TokLgSend: begin
        m_valid_o = 1'b1;
        m_data_o  = r_q.obuf;
      end
      TokEndSend: begin  // {instructions, NEXT}: one beat, or two of 32 bits
        m_valid_o = 1'b1;
        if (BeatWords == 1) begin
          m_last_o = r_q.ocnt[0];
          m_data_o = StreamWidth'(r_q.next);
          if (r_q.ocnt[0]) m_data_o = StreamWidth'(instrs);
        end else begin
          m_last_o = 1'b1;
          m_data_o = StreamWidth'({instrs, r_q.next});
        end
      end
      TokTrace: begin  // the cycles of the instruction just done
        m_valid_o = 1'b1;
        m_data_o  = StreamWidth'(r_q.icyc);
      end
      default: ;
    endcase

    if (fp_stall) begin
      pm_re     = 1'b0;
      dm_re     = 1'b0;
      vm_re     = 1'b0;
      sm_re     = 1'b0;
      qm_re     = 1'b0;
      rbuf_re_o = 1'b0;
      dv_valid  = 1'b0;
      fn_valid  = 1'b0;
    end
  end

  // Units chained behind the multiplier and the wide conversion within one state.
  vec_fp_ldexp u_ldexp_w (.x_i(l2f_y), .n_i(ldx_n), .y_o(ldxw_y));
  vec_f2i #(.Stages(FpStages)) u_f2i_w (
    .clk_i  (clk_i),
    .rst_ni (rst_ni),
    .fp_i   (ldx_y),
    .int_o  (f2iw_y)
  );
  vec_fp_cmp u_cmp_w (
    .a_i     (cmpw_a),
    .b_i     (cmpw_abs ? fabs(mul_y) : mul_y),
    .lt_o    (),
    .eq_o    (),
    .gt_o    (),
    .unord_o (),
    .max_o   (cmpw_max)
  );

  always_comb begin
    r_d = r_q;
    r_d.icyc = r_q.icyc + 32'd1;

    dm_we = 1'b0;  dm_waddr = '0;  dm_wdata = '0;
    vm_we = 1'b0;  vm_waddr = '0;  vm_wdata = '0;
    sm_we = 1'b0;  sm_waddr = '0;  sm_wdata = '0;
    qm_we = 1'b0;  qm_waddr = '0;  qm_wdata = '0;
    abuf_we_o = 1'b0;  abuf_waddr_o = '0;  abuf_wdata_o = '0;
    done_o = 1'b0;
    err_o  = 1'b0;
    qv = 8'(clamp(f2i_y, -32'sd127, 32'sd127));

    unique case (r_q.state)
      TokIdle: begin
        if (start_i) begin
          r_d.state = TokFetch;
          r_d.pc    = '0;
          r_d.k     = '0;
          r_d.token = token_i;
          r_d.pos   = pos_i;
          r_d.wl    = flags_i[0];
          r_d.tr    = flags_i[1];
          r_d.icyc  = '0;
          r_d.obuf  = '0;
          r_d.ocnt  = '0;
        end
      end

      // Fetch: the eight words of instruction pc.
      TokFetch: begin
        if (r_q.pc >= 32'(ProgInstrs)) begin
          r_d.ecode = ErrProgRange;
          r_d.state = TokFault;
        end else begin
          r_d.state = TokFetchW;
        end
      end
      TokFetchW: begin
        r_d.ir[32*r_q.k +: 32] = pm_rdata;
        r_d.k = r_q.k + 3'd1;
        r_d.state = (r_q.k == 3'd7) ? TokDecode : TokFetch;
      end

      TokDecode: begin
        if (dec_bad) begin
          r_d.ecode = ErrInstr;
          r_d.state = TokFault;
        end else begin
          r_d.quo   = '0;
          r_d.rem   = '0;
          r_d.dstep = '0;
          r_d.state = (op == TokAttend && f4 != 0) ? TokDiv : TokMul1;
        end
      end
      // heads / kv_heads, restoring, one quotient bit per cycle.
      TokDiv: begin
        if (div_t >= 33'(f4)) begin
          r_d.rem = div_t - 33'(f4);
          r_d.quo = {r_q.quo[30:0], 1'b1};
        end else begin
          r_d.rem = div_t;
          r_d.quo = {r_q.quo[30:0], 1'b0};
        end
        r_d.dstep = r_q.dstep + 6'd1;
        if (r_q.dstep == 6'd31) r_d.state = TokMul1;
      end
      // The products of the range checks (operands above), one per cycle.
      TokMul1: begin
        r_d.p1 = imul_p;
        r_d.state = TokMul2;
      end
      TokMul2: begin
        r_d.p2 = imul_p;
        r_d.state = TokMul3;
      end
      TokMul3: begin
        r_d.p3 = imul_p;
        r_d.state = TokCheck;
      end

      TokCheck: begin
        r_d.ocnt = '0;
        r_d.i = '0;
        r_d.j = '0;
        r_d.h = '0;
        r_d.g = '0;
        r_d.gc = '0;
        r_d.d = '0;
        if (chk_err != ErrNone) begin
          r_d.ecode = chk_err;
          r_d.state = TokFault;
        end else if (op == TokEmbed && r_q.token >= f4) begin
          r_d.ecode = ErrToken;
          r_d.state = TokFault;
        end else if ((op == TokRope && r_q.pos >= f5) || (op == TokKvAppend && r_q.pos >= f6) ||
                     (op == TokAttend && r_q.pos >= f7)) begin
          r_d.ecode = ErrKvFull;
          r_d.state = TokFault;
        end else begin
          unique case (op)
            TokEmbed: r_d.state = TokEmbAddr;
            TokRmsNorm: begin
              r_d.emax  = '0;
              r_d.state = TokRnARd;
            end
            TokQuant: begin
              r_d.a0    = f1;
              r_d.n     = f2;
              r_d.lim   = f4 << LgKWidth;
              r_d.m     = FZero;
              r_d.qmax  = FQmax;
              r_d.state = TokMaxRd;
            end
            TokMatvec: r_d.state = TokMv;
            TokDequant: r_d.state = TokDqWait;
            TokRope: r_d.state = TokRoAddr;
            TokKvAppend: r_d.state = TokKv0;
            TokAttend: r_d.state = TokAt0;
            TokSiluMul: r_d.state = TokSiRd;
            TokAdd: r_d.state = TokAdRd;
            TokArgmax: r_d.state = TokAmRd;
            TokLogits: r_d.state = r_q.wl ? TokLgRd : TokNext;
            TokEnd: r_d.state = TokEndSend;
            default: r_d.state = TokNext;  // NOP
          endcase
        end
      end

      TokFault: begin
        err_o = 1'b1;
        r_d.state = TokIdle;
      end

      TokNext: begin
        if (r_q.tr) begin
          r_d.state = TokTrace;
        end else begin
          r_d.pc = r_q.pc + 32'd1;
          r_d.k  = '0;
          r_d.icyc = '0;
          r_d.state = TokFetch;
        end
      end
      TokTrace: begin
        r_d.icyc = r_q.icyc;  // the beat's payload: held while it waits for ready
        if (m_ready_i) begin
          r_d.pc = r_q.pc + 32'd1;
          r_d.k  = '0;
          r_d.icyc = '0;
          r_d.state = TokFetch;
        end
      end

      ///////////
      // EMBED //
      ///////////
      TokEmbAddr: begin  // a0 = table + 2 * TOKEN * n
        r_d.a0 = f2 + {imul_p[30:0], 1'b0};
        r_d.state = TokEmbRd;
      end
      TokEmbRd: begin
        r_d.bsel = 2'(r_q.a0 + {r_q.i[30:0], 1'b0});
        r_d.state = TokEmbWr;
      end
      TokEmbWr: begin
        // bfloat16 to binary32: the bits shifted up by 16, a subnormal flushed.
        vm_we = 1'b1;
        vm_waddr = VmAw'(f1 + r_q.i);
        vm_wdata = (dm_half[14:7] == 8'd0) ? {dm_half[15], 31'd0} : {dm_half, 16'd0};
        r_d.i = r_q.i + 32'd1;
        r_d.state = (r_q.i + 32'd1 == f3) ? TokNext : TokEmbRd;
      end

      //////////////
      // RMS_NORM //
      //////////////
      // Sum of squares in exact fixed point: the largest exponent, then the shifted squares.
      TokRnARd: begin
        r_d.state = TokRnA;
      end
      TokRnA: begin
        if (vm_rdata[30:23] != 8'd0 && vm_rdata[30:23] > r_q.emax) r_d.emax = vm_rdata[30:23];
        r_d.i = r_q.i + 32'd1;
        r_d.acc = '0;
        if (r_q.i + 32'd1 == f4) begin
          r_d.i = '0;
          r_d.state = TokRnBRd;
          if (r_d.emax == 8'd0) begin
            r_d.fa = FZero;
            r_d.state = TokRnNf;
          end else if (r_d.emax == 8'hff) begin
            r_d.fa = FPosInf;
            r_d.state = TokRnNf;
          end
        end else begin
          r_d.state = TokRnARd;
        end
      end
      TokRnBRd: begin
        r_d.state = TokRnB;
      end
      TokRnB: begin
        if (vm_rdata[30:23] != 8'd0 && sq_shift < 10'd64) r_d.acc = r_q.acc + (imul_p >> sq_shift);
        r_d.i = r_q.i + 32'd1;
        r_d.state = (r_q.i + 32'd1 == f4) ? TokRnSs : TokRnBRd;
      end
      TokRnSs: begin  // f32(S) * 2^(2 Emax - 292)
        r_d.fa = ldxw_y;
        r_d.state = TokRnNf;
      end
      TokRnNf: begin
        r_d.fb = i2f_y;
        r_d.state = TokRnDiv;
      end
      TokRnDiv: begin  // sum / n
        if (dv_valid && dv_ready) r_d.pend = 1'b1;
        if (dv_res_valid) begin
          r_d.pend = 1'b0;
          r_d.fa = dv_y;
          r_d.state = TokRnEps;
        end
      end
      TokRnEps: begin
        r_d.fa = add_y;
        r_d.state = TokRnRsq;
      end
      TokRnRsq: begin
        if (dv_valid && dv_ready) r_d.pend = 1'b1;
        if (dv_res_valid) begin
          r_d.pend = 1'b0;
          r_d.fe = dv_y;  // r
          r_d.i = '0;
          r_d.state = TokRnCRd;
        end
      end
      TokRnCRd: begin
        r_d.state = TokRnC1;
      end
      TokRnC1: begin  // x * r; gamma kept
        r_d.fa = mul_y;
        r_d.fb = dm_rdata;
        r_d.state = TokRnC2;
      end
      TokRnC2: begin  // gamma * (x * r)
        vm_we = 1'b1;
        vm_waddr = VmAw'(f1 + r_q.i);
        vm_wdata = mul_y;
        r_d.i = r_q.i + 32'd1;
        r_d.state = (r_q.i + 32'd1 == f4) ? TokNext : TokRnCRd;
      end

      ////////////////////////////////////////////////////
      // Requantization (QUANT, KV_APPEND, ATTEND's q)  //
      ////////////////////////////////////////////////////
      // m = max |x| over VMEM [a0, a0 + n).
      TokMaxRd: begin
        r_d.state = TokMax;
      end
      TokMax: begin
        r_d.m = cmp_max;
        r_d.i = r_q.i + 32'd1;
        r_d.state = (r_q.i + 32'd1 == r_q.n) ? TokQs1 : TokMaxRd;
      end
      // s = m / qmax, inv = qmax / m if 0 < m < inf, else 1 and 1.
      TokQs1: begin
        if (!pos_finite(r_q.m[31:23])) begin
          r_d.s = FOne;
          r_d.inv = FOne;
          r_d.state = TokQsEnd;
        end else begin
          if (dv_valid && dv_ready) r_d.pend = 1'b1;
          if (dv_res_valid) begin
            r_d.pend = 1'b0;
            r_d.s = dv_y;
            r_d.state = TokQs2;
          end
        end
      end
      TokQs2: begin
        if (dv_valid && dv_ready) r_d.pend = 1'b1;
        if (dv_res_valid) begin
          r_d.pend = 1'b0;
          r_d.inv = dv_y;
          r_d.state = TokQsEnd;
        end
      end
      TokQsEnd: begin
        r_d.i = '0;
        r_d.state = (op == TokAttend && r_q.sm) ? TokAtSc : TokQeRd;
      end
      // q[i] = clamp(rint(x[i] * inv), -127, 127); QUANT pads with zeros up to whole chunks.
      TokQeRd: begin
        if (op == TokQuant && r_q.i >= r_q.n) begin
          r_d.qb = 8'd0;
          r_d.state = TokQePut;
        end else begin
          r_d.state = TokQeMul;
        end
      end
      TokQeMul: begin
        r_d.fa = mul_y;
        r_d.state = TokQeCvt;
      end
      TokQeCvt: begin
        r_d.qb = qv;
        r_d.state = TokQePut;
      end
      TokQePut: begin
        r_d.i = r_q.i + 32'd1;
        unique case (op)
          TokQuant: begin
            r_d.cbuf = chunk;
            if (r_q.i[LgKWidth-1:0] == LgKWidth'(KWidth - 1)) begin
              abuf_we_o = 1'b1;
              abuf_waddr_o = AbufAw'(f3 + (r_q.i >> LgKWidth));
              abuf_wdata_o = chunk;
            end
            if (r_q.i + 32'd1 == r_q.lim) begin
              r_d.sx = r_q.s;
              r_d.state = TokNext;
            end else begin
              r_d.state = TokQeRd;
            end
          end
          TokKvAppend: begin  // the byte into the cache word read in TokQeCvt
            dm_we = 1'b1;
            dm_waddr = DmAw'(kv_addr >> 2);
            dm_wdata = kv_word;
            r_d.state = (r_q.i + 32'd1 == hd) ? TokKvScale : TokQeRd;
          end
          default: begin  // ATTEND: the query head to the scratch
            qm_we = 1'b1;
            qm_waddr = QmAw'(r_q.i);
            qm_wdata = r_q.qb;
            r_d.state = (r_q.i + 32'd1 == hd) ? TokAtC : TokQeRd;
          end
        endcase
      end

      ////////////
      // MATVEC //
      ////////////
      TokMv: begin
        if (mv_ack_i) r_d.state = TokNext;
      end

      /////////////
      // DEQUANT //
      /////////////
      TokDqWait: begin
        if (mv_idle_i) r_d.state = TokDqRd;
      end
      TokDqRd: begin
        r_d.lane = 12'(r_q.i[LgLanes-1:0]);
        r_d.state = TokDq1;
      end
      TokDq1: begin  // sx * sw; the accumulator kept
        r_d.fc = mul_y;
        r_d.fa = rbuf_rdata_i[AccWidth*r_q.lane[LgLanes-1:0] +: AccWidth];
        r_d.state = TokDq2;
      end
      TokDq2: begin
        r_d.fd = i2f_y;
        r_d.state = TokDq3;
      end
      TokDq3: begin
        vm_we = 1'b1;
        vm_waddr = VmAw'(f1 + r_q.i);
        vm_wdata = mul_y;
        r_d.i = r_q.i + 32'd1;
        r_d.state = (r_q.i + 32'd1 == f3) ? TokNext : TokDqRd;
      end

      //////////
      // ROPE //
      //////////
      TokRoAddr: begin  // a0 = table + 4 * POS * head_dim; a1 = the head
        r_d.a0 = f4 + {imul_p[29:0], 2'b00};
        r_d.a1 = f1;
        r_d.state = TokRoRdA;
      end
      TokRoRdA: begin  // a = x[k], cos[k]
        r_d.state = TokRoRdB;
      end
      TokRoRdB: begin  // b = x[k + half], sin[k]
        r_d.fa = vm_rdata;
        r_d.fc = dm_rdata;
        r_d.state = TokRo1;
      end
      TokRo1: begin
        r_d.fb = vm_rdata;
        r_d.fd = dm_rdata;
        r_d.state = TokRo2;
      end
      TokRo2: begin r_d.fe = mul_y; r_d.state = TokRo3; end
      TokRo3: begin r_d.ff = mul_y; r_d.state = TokRo4; end
      TokRo4: begin  // a cos - b sin
        vm_we = 1'b1;
        vm_waddr = VmAw'(r_q.a1 + r_q.i);
        vm_wdata = add_y;
        r_d.state = TokRo5;
      end
      TokRo5: begin r_d.fe = mul_y; r_d.state = TokRo6; end
      TokRo6: begin r_d.ff = mul_y; r_d.state = TokRo7; end
      TokRo7: begin  // b cos + a sin
        vm_we = 1'b1;
        vm_waddr = VmAw'(r_q.a1 + r_q.i + (f3 >> 1));
        vm_wdata = add_y;
        r_d.i = r_q.i + 32'd1;
        r_d.state = TokRoRdA;
        if (r_q.i + 32'd1 == (f3 >> 1)) begin
          r_d.i = '0;
          r_d.h = r_q.h + 32'd1;
          r_d.a1 = r_q.a1 + f3;
          if (r_q.h + 32'd1 == f2) r_d.state = TokNext;
        end
      end

      ///////////////
      // KV_APPEND //
      ///////////////
      // Region: keys [slots][hd], values [slots][hd], key scales [slots], value scales
      // [slots]; slots = context * kv_heads; slot of head g at POS = POS * kv_heads + g.
      TokKv0: begin  // vals = slots * head_dim
        r_d.slots = r_q.p2[31:0];
        r_d.vals = imul_p[31:0];
        r_d.state = TokKv1;
      end
      TokKv1: begin  // POS * kv_heads
        r_d.a4 = imul_p[31:0];
        r_d.state = TokKv2;
      end
      TokKv2: begin  // keys first: a2 = value bytes of the slot, a3 = its scale
        r_d.a5 = imul_p[31:0];                        // slot * head_dim
        r_d.a2 = f5 + imul_p[31:0];
        r_d.a3 = f5 + {r_q.vals[30:0], 1'b0} + {r_q.a4[29:0], 2'b00};
        r_d.a0 = f1;
        r_d.kv_v = 1'b0;
        r_d.g = '0;
        r_d.state = TokKvHead;
      end
      TokKvHead: begin
        r_d.n = f4;
        r_d.i = '0;
        r_d.m = FZero;
        r_d.qmax = FQmax;
        r_d.state = TokMaxRd;
      end
      TokKvScale: begin
        dm_we = 1'b1;
        dm_waddr = DmAw'(r_q.a3 >> 2);
        dm_wdata = r_q.s;
        r_d.g = r_q.g + 32'd1;
        r_d.a0 = r_q.a0 + f4;
        r_d.a2 = r_q.a2 + f4;
        r_d.a3 = r_q.a3 + 32'd4;
        r_d.state = TokKvHead;
        if (r_q.g + 32'd1 == f3) begin
          if (r_q.kv_v) begin
            r_d.state = TokNext;
          end else begin  // the values
            r_d.kv_v = 1'b1;
            r_d.g = '0;
            r_d.a0 = f2;
            r_d.a2 = f5 + r_q.vals + r_q.a5;
            r_d.a3 = f5 + {r_q.vals[30:0], 1'b0} + {r_q.slots[29:0], 2'b00} +
                     {r_q.a4[29:0], 2'b00};
          end
        end
      end

      ////////////
      // ATTEND //
      ////////////
      TokAt0: begin  // vals = slots * head_dim
        r_d.slots = r_q.p2[31:0];
        r_d.vals = imul_p[31:0];
        r_d.state = TokAt1;
      end
      TokAt1: begin  // stride of one position: kv_heads * head_dim bytes
        r_d.stride = imul_p[31:0];
        r_d.fa = i2f_y;
        r_d.state = TokAt2;
      end
      TokAt2: begin  // attn_scale = rsqrt(head_dim)
        if (dv_valid && dv_ready) r_d.pend = 1'b1;
        if (dv_res_valid) begin
          r_d.pend = 1'b0;
          r_d.attn = dv_y;
          r_d.a1 = f2;  // the query head
          r_d.a3 = f1;  // its output
          r_d.state = TokAtHead;
        end
      end
      TokAtHead: begin  // quantize the query head
        r_d.a0 = r_q.a1;
        r_d.n = f5;
        r_d.i = '0;
        r_d.m = FZero;
        r_d.qmax = FQmax;
        r_d.sm = 1'b0;
        r_d.state = TokMaxRd;
      end
      TokAtC: begin  // c = sq * attn_scale; scores from position 0
        r_d.c = mul_y;
        r_d.j = '0;
        r_d.mx = FNegInf;
        r_d.a4 = f6 + imul_p[31:0];                                   // key bytes, j = 0
        r_d.a5 = f6 + {r_q.vals[30:0], 1'b0} + {r_q.g[29:0], 2'b00};   // key scale, j = 0
        r_d.state = TokAtS0;
      end
      TokAtS0: begin
        r_d.acc = '0;
        r_d.d = '0;
        r_d.state = TokAtSRd;
      end
      TokAtSRd: begin
        r_d.bsel = 2'(r_q.a4 + r_q.d);
        r_d.state = TokAtSAcc;
      end
      TokAtSAcc: begin  // int8 q . k, wrapping in 32 bits
        r_d.acc[31:0] = r_q.acc[31:0] + {{24{qm_rdata[7]}}, qm_rdata} * {{24{dm_byte[7]}}, dm_byte};
        r_d.d = r_q.d + 32'd1;
        r_d.state = (r_q.d + 32'd1 == f5) ? TokAtSKs : TokAtSRd;
      end
      TokAtSKs: begin
        r_d.state = TokAtS1;
      end
      TokAtS1: begin  // c * ks
        r_d.fc = mul_y;
        r_d.state = TokAtS2;
      end
      TokAtS2: begin
        r_d.fd = i2f_y;
        r_d.state = TokAtS3;
      end
      TokAtS3: begin  // score = f32(acc) * (c * ks); running maximum
        sm_we = 1'b1;
        sm_waddr = SmAw'(r_q.j);
        sm_wdata = mul_y;
        r_d.mx = cmpw_max;
        r_d.j = r_q.j + 32'd1;
        r_d.a4 = r_q.a4 + r_q.stride;
        r_d.a5 = r_q.a5 + {f4[29:0], 2'b00};
        r_d.state = (r_q.j == r_q.pos) ? TokAtM : TokAtS0;
      end
      TokAtM: begin  // m = max + 0; e and the weights from position 0
        r_d.mx = add_y;
        r_d.acc = '0;
        r_d.m = FZero;
        r_d.j = '0;
        r_d.a5 = f6 + {r_q.vals[30:0], 1'b0} + {r_q.slots[29:0], 2'b00} +
                 {r_q.g[29:0], 2'b00};                                // value scale, j = 0
        r_d.state = TokAtERd;
      end
      TokAtERd: begin
        r_d.state = TokAtE1;
      end
      TokAtE1: begin  // score - m; vs kept
        r_d.fa = add_y;
        r_d.fb = dm_rdata;
        r_d.state = TokAtE2;
      end
      TokAtE2: begin  // e = exp(score - m)
        if (fn_valid && fn_ready) r_d.pend = 1'b1;
        if (fn_res_valid) begin
          r_d.pend = 1'b0;
          r_d.fc = fn_y;
          r_d.state = TokAtE3;
        end
      end
      TokAtE3: begin  // the Q1.31 sum: rint(e * 2^31) clamped to [0, 2^31]
        r_d.acc = r_q.acc + 64'(q31);
        r_d.state = TokAtE4;
      end
      TokAtE4: begin  // u = e * vs; max |u|
        sm_we = 1'b1;
        sm_waddr = SmAw'(r_q.j);
        sm_wdata = mul_y;
        r_d.m = cmpw_max;
        r_d.j = r_q.j + 32'd1;
        r_d.a5 = r_q.a5 + {f4[29:0], 2'b00};
        r_d.state = (r_q.j == r_q.pos) ? TokAtSum : TokAtERd;
      end
      TokAtSum: begin  // sum = f32(S) * 2^-31; then the 14-bit weights' scale
        r_d.sum = ldxw_y;
        r_d.qmax = FPmax;
        r_d.sm = 1'b1;
        r_d.state = TokQs1;
      end
      TokAtSc: begin  // scale = su / sum
        if (dv_valid && dv_ready) r_d.pend = 1'b1;
        if (dv_res_valid) begin
          r_d.pend = 1'b0;
          r_d.scale = dv_y;
          r_d.j = '0;
          r_d.state = TokAtPRd;
        end
      end
      TokAtPRd: begin
        r_d.state = TokAtPMul;
      end
      TokAtPMul: begin
        r_d.fa = mul_y;
        r_d.state = TokAtPCvt;
      end
      TokAtPCvt: begin  // p = min(rint(u * inv), 16383), over u in the scratch
        sm_we = 1'b1;
        sm_waddr = SmAw'(r_q.j);
        sm_wdata = clamp(f2i_y, 32'sd0, 32'sd16383);
        r_d.j = r_q.j + 32'd1;
        r_d.d = '0;
        r_d.state = (r_q.j == r_q.pos) ? TokAtV0 : TokAtPRd;
      end
      TokAtV0: begin  // element d of the output: two int8 passes, high and low 7 bits of p
        r_d.hi = '0;
        r_d.lo = '0;
        r_d.j = '0;
        r_d.a4 = f6 + r_q.vals + imul_p[31:0] + r_q.d;  // value byte d, j = 0
        r_d.state = TokAtVRd;
      end
      TokAtVRd: begin
        r_d.bsel = r_q.a4[1:0];
        r_d.state = TokAtVAcc;
      end
      TokAtVAcc: begin
        r_d.hi = r_q.hi + {25'd0, sm_rdata[13:7]} * {{24{dm_byte[7]}}, dm_byte};
        r_d.lo = r_q.lo + {25'd0, sm_rdata[6:0]} * {{24{dm_byte[7]}}, dm_byte};
        r_d.j = r_q.j + 32'd1;
        r_d.a4 = r_q.a4 + r_q.stride;
        r_d.state = (r_q.j == r_q.pos) ? TokAtV1 : TokAtVRd;
      end
      TokAtV1: begin
        r_d.fa = l2f_y;
        r_d.state = TokAtV2;
      end
      TokAtV2: begin
        vm_we = 1'b1;
        vm_waddr = VmAw'(r_q.a3 + r_q.d);
        vm_wdata = mul_y;
        r_d.d = r_q.d + 32'd1;
        r_d.state = TokAtV0;
        if (r_q.d + 32'd1 == f5) begin  // next head
          r_d.h = r_q.h + 32'd1;
          r_d.a1 = r_q.a1 + f5;
          r_d.a3 = r_q.a3 + f5;
          r_d.gc = r_q.gc + 32'd1;
          if (r_q.gc + 32'd1 == r_q.quo) begin
            r_d.gc = '0;
            r_d.g = r_q.g + 32'd1;
          end
          r_d.state = (r_q.h + 32'd1 == f3) ? TokNext : TokAtHead;
        end
      end

      //////////////
      // SILU_MUL //
      //////////////
      TokSiRd: begin
        r_d.state = TokSi1;
      end
      TokSi1: begin
        r_d.fa = vm_rdata;
        r_d.state = TokSi2;
      end
      TokSi2: begin
        if (!r_q.pend) r_d.fb = vm_rdata;
        if (fn_valid && fn_ready) r_d.pend = 1'b1;
        if (fn_res_valid) begin
          r_d.pend = 1'b0;
          r_d.fc = fn_y;
          r_d.state = TokSi3;
        end
      end
      TokSi3: begin
        vm_we = 1'b1;
        vm_waddr = VmAw'(f1 + r_q.i);
        vm_wdata = mul_y;
        r_d.i = r_q.i + 32'd1;
        r_d.state = (r_q.i + 32'd1 == f4) ? TokNext : TokSiRd;
      end

      /////////
      // ADD //
      /////////
      TokAdRd: begin
        r_d.state = TokAd1;
      end
      TokAd1: begin
        r_d.fa = vm_rdata;
        r_d.state = TokAd2;
      end
      TokAd2: begin
        vm_we = 1'b1;
        vm_waddr = VmAw'(f1 + r_q.i);
        vm_wdata = add_y;
        r_d.i = r_q.i + 32'd1;
        r_d.state = (r_q.i + 32'd1 == f4) ? TokNext : TokAdRd;
      end

      ////////////
      // ARGMAX //
      ////////////
      TokAmRd: begin
        r_d.state = TokAm1;
      end
      TokAm1: begin  // strict >: ties to the lowest index
        if (r_q.i == 32'd0 || cmp_gt) begin
          r_d.best = vm_rdata;
          r_d.next = r_q.i;
        end
        r_d.i = r_q.i + 32'd1;
        r_d.state = (r_q.i + 32'd1 == f2) ? TokNext : TokAmRd;
      end

      ////////////
      // LOGITS //
      ////////////
      TokLgRd: begin
        r_d.state = TokLg1;
      end
      TokLg1: begin
        r_d.obuf[32*r_q.ocnt[$clog2(BeatWords+1)-1:0] +: 32] = vm_rdata;
        r_d.ocnt = r_q.ocnt + 8'd1;
        r_d.i = r_q.i + 32'd1;
        if (r_q.ocnt + 8'd1 == 8'(BeatWords) || r_q.i + 32'd1 == f2) begin
          r_d.state = TokLgSend;
        end else begin
          r_d.state = TokLgRd;
        end
      end
      TokLgSend: begin
        if (m_ready_i) begin
          r_d.obuf = '0;
          r_d.ocnt = '0;
          r_d.state = (r_q.i == f2) ? TokNext : TokLgRd;
        end
      end

      /////////
      // END //
      /////////
      TokEndSend: begin
        if (m_ready_i) begin
          r_d.ocnt = r_q.ocnt + 8'd1;
          if (m_last_o) begin
            done_o = 1'b1;
            r_d.state = TokIdle;
          end
        end
      end

      default: r_d.state = TokIdle;
    endcase

    // The first cycle of a state that waits for the units' registers: everything holds.
    if (fp_stall) begin
      r_d       = r_q;
      r_d.icyc  = r_q.icyc + 32'd1;
      dm_we     = 1'b0;
      vm_we     = 1'b0;
      sm_we     = 1'b0;
      qm_we     = 1'b0;
      abuf_we_o = 1'b0;
      done_o    = 1'b0;
      err_o     = 1'b0;
    end

    // A double-bit ECC error in the word just read: the instruction fails.
    if ((dm_rv_q && dm_double) || (pm_rv_q && pm_double)) begin
      r_d.ecode = ErrEccData;
      r_d.state = TokFault;
    end

    // The processor stopped (an error elsewhere): the engine stops too, after a beat it offers.
    if (stop_i && !m_valid_o) begin
      r_d.state = TokIdle;
      r_d.pend  = 1'b0;
    end
  end

  assign err_code_o  = r_q.ecode;
  assign pc_o        = r_q.pc[23:0];
  assign mv_fields_o = r_q.ir[32 +: 6*32];

  ////////////////
  // Assertions //
  ////////////////

  `ASSERT_KNOWN(StateKnown_A, r_q.state)
  `ASSERT_STREAM(MOut_A, m_valid_o, m_ready_i, {m_data_o, m_last_o})
  `ASSERT_NEVER(LoadWhileRunning_A, ld_valid_i && r_q.state != TokIdle)
  `ASSERT_NEVER(StartWhileRunning_A, start_i && r_q.state != TokIdle)
  `ASSERT(VmemWrite_A, !vm_we || 32'(vm_waddr) < 32'(VmemWords))
  // A state that waits for the units offers nothing on a handshake it could not take back.
  `ASSERT_NEVER(StallHandshake_A, fp_stall && (m_valid_o || mv_valid_o))

endmodule
