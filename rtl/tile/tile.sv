// SPDX-License-Identifier: Apache-2.0
// Tessera tile: weight memory beside a Lanes x KWidth int8 MAC array with int32 accumulators.
//
// One operation computes out[r] = sum_{k<K} W[r,k] * x[k] for r < rows. Activation chunks are
// written to a local buffer as they arrive and every row group reads them back from it, so the
// MAC array performs one step (Lanes x KWidth MACs) per cycle while input streams and while later
// row groups run. Pipeline: issue (memory addresses) -> memory read -> operand registers ->
// multiply -> adder tree -> accumulate -> two-entry result buffer. See docs/tile.md.

`include "prim_assert.svh"

module tile
  import tessera_pkg::*;
#(
  parameter int unsigned Lanes       = 4,    // output rows per MAC step
  parameter int unsigned KWidth      = 8,    // int8 elements per activation chunk / lane / step
  parameter int unsigned WeightWords = 256,  // weight memory depth; one word = Lanes*KWidth int8
  parameter int unsigned ActWords    = 64,   // activation buffer depth in chunks
  parameter bit          WeightRom   = 1'b0, // 1: weight memory is a ROM (docs/architecture.md)
  parameter string       WeightRomFile = "", // its $readmemh image (WeightRom, simulation only)
  // The ROM's stored words (data and ECC check bits, as prim_ram_1r1w_ecc stores them; word w in
  // WeightRomInit[w]) when there is no WeightRomFile: the synthesizable form of the image.
  localparam int unsigned WeightStoredWidth = prim_secded_pkg::stored_width(Lanes * KWidth * 8),
  localparam int unsigned WeightRomDepth = (WeightRom && WeightRomFile == "") ? WeightWords : 1,
  parameter logic [WeightRomDepth-1:0][WeightStoredWidth-1:0] WeightRomInit = '0
) (
  input  logic                      clk_i,
  input  logic                      rst_ni,       // async, active low
  // Operation set-up (accepted once every step of the previous operation has issued)
  input  logic                      cfg_valid_i,
  output logic                      cfg_ready_o,
  input  tile_cfg_t                 cfg_i,
  // Front-door weight writes
  input  logic                      wr_valid_i,
  output logic                      wr_ready_o,
  input  logic [31:0]               wr_addr_i,    // word address
  input  logic [Lanes*KWidth*8-1:0] wr_data_i,    // byte (j*Lanes + l): lane l, element j
  // Activation chunks
  input  logic                      act_valid_i,
  output logic                      act_ready_o,
  input  logic [KWidth*8-1:0]       act_data_i,   // int8 element j at bits [8j+7:8j]
  // Results: one row group per beat
  output logic                      res_valid_o,
  input  logic                      res_ready_i,
  output logic [Lanes*32-1:0]       res_data_o,   // int32 of lane l at bits [32l+31:32l]
  output logic                      res_last_o,   // last row group of the operation
  // Status
  output logic                      busy_o,       // an operation's last result not handed over
  output logic                      mac_busy_o,   // the MAC array performs a step this cycle
  output logic                      err_o,        // sticky error flag
  input  logic                      err_clear_i,  // clears err_o
  // Weight memory ECC (prim_ram_1r1w_ecc): pulses for the word read in the previous cycle
  output logic                      ecc_single_o, // a single-bit error, corrected
  output logic                      ecc_double_o, // a double-bit error, detected
  output logic [31:0]               ecc_addr_o    // its word address
);

  ////////////////
  // Parameters //
  ////////////////

  localparam int unsigned MaxKTile   = ActWords * KWidth;          // largest legal K
  localparam int unsigned WordWidth  = Lanes * KWidth * 8;         // weight word
  localparam int unsigned ChunkWidth = KWidth * 8;                 // activation chunk
  localparam int unsigned ResWidth   = Lanes * AccWidth;           // result beat
  localparam int unsigned LaneShift  = $clog2(Lanes);
  localparam int unsigned KShift     = $clog2(KWidth);
  localparam int unsigned WAddrWidth = $clog2(WeightWords);        // weight word address
  localparam int unsigned AAddrWidth = $clog2(ActWords);           // activation chunk address
  localparam int unsigned ChunkCntW  = $clog2(ActWords + 1);       // counts 0..ActWords chunks
  localparam int unsigned GroupCntW  = $clog2(WeightWords + 1);    // counts 0..WeightWords groups
  localparam int unsigned NumMul     = Lanes * KWidth;             // multipliers
  localparam int unsigned ProdWidth  = 16;                         // int8 x int8
  localparam int unsigned SumWidth   = ProdWidth + KShift;         // sum of KWidth products
  localparam logic [ProdWidth-1:0] ProdBias = ProdWidth'(1) << (ProdWidth - 1);  // adder tree
  localparam logic [SumWidth-1:0]  SumBias  = SumWidth'(1) << (SumWidth - 1);    //   offsets
  localparam int unsigned SpanWidth  = GroupCntW + ChunkCntW + 1;  // base + groups * chunks

  `ASSERT_STATIC(gen_lanes_pow2_A, Lanes >= 1 && (Lanes & (Lanes - 1)) == 0,
                 "tile: Lanes must be a power of two")
  `ASSERT_STATIC(gen_kwidth_pow2_A, KWidth >= 1 && (KWidth & (KWidth - 1)) == 0,
                 "tile: KWidth must be a power of two")
  `ASSERT_STATIC(gen_lanes_max_A, Lanes <= 1024, "tile: Lanes must be at most 1024")
  `ASSERT_STATIC(gen_kwidth_max_A, KWidth <= 1024, "tile: KWidth must be at most 1024")
  `ASSERT_STATIC(gen_weight_words_A, WeightWords >= 2 && WeightWords <= (1 << 30),
                 "tile: WeightWords must be in [2, 2^30]")
  `ASSERT_STATIC(gen_act_words_A, ActWords >= 2 && ActWords <= MaxK,
                 "tile: ActWords must be in [2, 131072]")
  `ASSERT_STATIC(gen_max_k_A, ActWords * KWidth <= MaxK,
                 "tile: ActWords * KWidth must not exceed 131072 (int32 accumulator bound)")

  ////////////////////////
  // Set-up and control //
  ////////////////////////

  tile_state_e state_d, state_q;

  // Operation registers, loaded by a legal set-up.
  logic [WAddrWidth-1:0] base_d, base_q;           // first weight word
  logic [ChunkCntW-1:0]  chunk_last_d, chunk_last_q;  // C - 1
  logic [GroupCntW-1:0]  group_last_d, group_last_q;  // G - 1
  logic [ChunkWidth-1:0] kmask_d, kmask_q;         // bytes of the last chunk within K
  logic [Lanes-1:0]      lmask_d, lmask_q;         // lanes of the last group within rows

  // Progress counters.
  logic [ChunkCntW-1:0]  recv_d, recv_q;           // activation chunks received
  logic [ChunkCntW-1:0]  ichunk_d, ichunk_q;       // chunk of the next step to issue
  logic [GroupCntW-1:0]  igroup_d, igroup_q;       // row group of the next step to issue
  logic [WAddrWidth-1:0] waddr_d, waddr_q;         // weight word of the next step
  logic                  idone_d, idone_q;         // every step of the operation issued
  logic [1:0]            pend_d, pend_q;           // operations whose last result is not out

  logic err_d, err_q;

  // Set-up decode: legality and derived sizes, all without overflow.
  logic                  cfg_hs, cfg_legal;
  logic [32:0]           cfg_chunks, cfg_groups;   // C and G, 33 bits wide
  logic [SpanWidth-1:0]  cfg_span;                 // base + G * C, valid when the parts fit
  logic                  cfg_fits;                 // G, C and base fit their registers
  logic [31:0]           cfg_krem, cfg_rrem;       // K mod KWidth, rows mod Lanes

  // A new set-up is taken as soon as the previous operation has issued its last step, while that
  // operation drains through the pipeline: at most two operations are in flight, one issuing and
  // one draining. Results leave in operation order.
  assign cfg_ready_o = (state_q == TileIdle) && (pend_q != 2'd2);
  assign cfg_hs      = cfg_valid_i && cfg_ready_o;

  always_comb begin
    cfg_chunks = ({1'b0, cfg_i.k} + 33'(KWidth - 1)) >> KShift;
    cfg_groups = ({1'b0, cfg_i.rows} + 33'(Lanes - 1)) >> LaneShift;
    cfg_fits   = (cfg_i.k <= 32'(MaxKTile)) &&
                 (cfg_groups <= 33'(WeightWords)) &&
                 (cfg_i.base <= 32'(WeightWords));
    cfg_span   = SpanWidth'(cfg_i.base[GroupCntW-1:0]) +
                 SpanWidth'(cfg_groups[GroupCntW-1:0]) * SpanWidth'(cfg_chunks[ChunkCntW-1:0]);
    cfg_legal  = (cfg_i.rows != 32'd0) && (cfg_i.k != 32'd0) && cfg_fits &&
                 (cfg_span <= SpanWidth'(WeightWords));
    cfg_krem   = cfg_i.k & 32'(KWidth - 1);
    cfg_rrem   = cfg_i.rows & 32'(Lanes - 1);
  end

  // Upper bits of C are zero whenever K is legal (checked on K itself).
  logic unused_cfg_chunks;
  assign unused_cfg_chunks = ^cfg_chunks[32:ChunkCntW];

  // Byte mask of the last activation chunk and lane mask of the last result beat.
  always_comb begin
    kmask_d = kmask_q;
    lmask_d = lmask_q;
    if (cfg_hs && cfg_legal) begin
      for (int unsigned j = 0; j < KWidth; j++) begin
        kmask_d[8*j +: 8] = (cfg_krem == 32'd0 || 32'(j) < cfg_krem) ? 8'hff : 8'h00;
      end
      for (int unsigned l = 0; l < Lanes; l++) begin
        lmask_d[l] = (cfg_rrem == 32'd0 || 32'(l) < cfg_rrem);
      end
    end
  end

  // Pipeline handshakes (defined with the datapath below).
  logic issue, stall;
  logic v1_q, v3_q, last3_q;
  logic res_valid_q, res_last_q;
  logic res_hs;

  logic act_hs;
  logic act_last_chunk;
  logic issue_first, issue_last, issue_final;

  assign act_ready_o    = (state_q == TileRun) && (recv_q <= chunk_last_q);
  assign act_hs         = act_valid_i && act_ready_o;
  assign act_last_chunk = (recv_q == chunk_last_q);

  assign issue_first = (ichunk_q == '0);
  assign issue_last  = (ichunk_q == chunk_last_q);
  assign issue_final = issue_last && (igroup_q == group_last_q);
  // A step reads an activation chunk only after the cycle that wrote it to the buffer.
  assign issue = (state_q == TileRun) && !idone_q && (ichunk_q < recv_q) && !stall;

  assign res_hs = res_valid_q && res_ready_i;

  always_comb begin
    state_d      = state_q;
    base_d       = base_q;
    chunk_last_d = chunk_last_q;
    group_last_d = group_last_q;
    recv_d       = recv_q;
    ichunk_d     = ichunk_q;
    igroup_d     = igroup_q;
    waddr_d      = waddr_q;
    idone_d      = idone_q;
    pend_d       = pend_q;
    err_d        = err_q;

    unique case (state_q)
      TileIdle: begin
        if (cfg_hs && cfg_legal) begin
          state_d      = TileRun;
          base_d       = cfg_i.base[WAddrWidth-1:0];
          chunk_last_d = cfg_chunks[ChunkCntW-1:0] - ChunkCntW'(1);
          group_last_d = cfg_groups[GroupCntW-1:0] - GroupCntW'(1);
          recv_d       = '0;
          ichunk_d     = '0;
          igroup_d     = '0;
          waddr_d      = cfg_i.base[WAddrWidth-1:0];
          idone_d      = 1'b0;
          pend_d       = pend_d + 2'd1;
        end
      end
      TileRun: begin
        if (act_hs) begin
          recv_d = recv_q + ChunkCntW'(1);
        end
        if (issue) begin
          waddr_d = waddr_q + WAddrWidth'(1);
          if (issue_last) begin
            ichunk_d = '0;
            igroup_d = igroup_q + GroupCntW'(1);
            idone_d  = issue_final;
            if (issue_final) begin
              state_d = TileIdle;
            end
          end else begin
            ichunk_d = ichunk_q + ChunkCntW'(1);
          end
        end
      end
      default: state_d = TileIdle;
    endcase

    if (res_hs && res_last_q) begin
      pend_d = pend_d - 2'd1;
    end

    // Errors: set wins over clear in the same cycle so that no error is lost.
    if (err_clear_i) begin
      err_d = 1'b0;
    end
    if ((cfg_hs && !cfg_legal) || (wr_valid_i && wr_addr_i >= 32'(WeightWords))) begin
      err_d = 1'b1;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q      <= TileIdle;
      base_q       <= '0;
      chunk_last_q <= '0;
      group_last_q <= '0;
      kmask_q      <= '0;
      lmask_q      <= '0;
      recv_q       <= '0;
      ichunk_q     <= '0;
      igroup_q     <= '0;
      waddr_q      <= '0;
      idone_q      <= 1'b1;
      pend_q       <= 2'd0;
      err_q        <= 1'b0;
    end else begin
      state_q      <= state_d;
      base_q       <= base_d;
      chunk_last_q <= chunk_last_d;
      group_last_q <= group_last_d;
      kmask_q      <= kmask_d;
      lmask_q      <= lmask_d;
      recv_q       <= recv_d;
      ichunk_q     <= ichunk_d;
      igroup_q     <= igroup_d;
      waddr_q      <= waddr_d;
      idone_q      <= idone_d;
      pend_q       <= pend_d;
      err_q        <= err_d;
    end
  end

  assign busy_o = (pend_q != 2'd0);
  assign err_o  = err_q;

  //////////////
  // Memories //
  //////////////

  logic                  wr_in_range;
  logic [WordWidth-1:0]  w_word;      // stage 1: weight word of the step (memory output)
  logic [ChunkWidth-1:0] x_chunk;     // stage 1: activation chunk of the step (memory output)
  logic [ChunkWidth-1:0] act_wdata;

  assign wr_ready_o  = 1'b1;
  assign wr_in_range = (wr_addr_i < 32'(WeightWords));

  logic ram_single, ram_double, wrd_q;
  logic [WAddrWidth-1:0] wrd_addr_q;

  prim_ram_1r1w_ecc #(
    .Width   (WordWidth),
    .Depth   (WeightWords),
    .Rom     (WeightRom),
    .RomFile (WeightRomFile),
    .RomInit (WeightRomInit)
  ) u_weight_ram (
    .clk_i    (clk_i),
    .we_i     (wr_valid_i && wr_in_range),
    .waddr_i  (wr_addr_i[WAddrWidth-1:0]),
    .wdata_i  (wr_data_i),
    .re_i     (issue),
    .raddr_i  (waddr_q),
    .rdata_o  (w_word),
    .single_o (ram_single),
    .double_o (ram_double)
  );

  // The ECC flags belong to a read only in the cycle after it.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      wrd_q      <= 1'b0;
      wrd_addr_q <= '0;
    end else begin
      wrd_q      <= issue;
      wrd_addr_q <= issue ? waddr_q : wrd_addr_q;
    end
  end

  assign ecc_single_o = wrd_q && ram_single;
  assign ecc_double_o = wrd_q && ram_double;
  assign ecc_addr_o   = 32'(wrd_addr_q);

  // Elements beyond K in the last chunk are stored as zero, so they add nothing whatever the
  // weights hold.
  assign act_wdata = act_last_chunk ? (act_data_i & kmask_q) : act_data_i;

  prim_ram_1r1w #(
    .Width (ChunkWidth),
    .Depth (ActWords)
  ) u_act_ram (
    .clk_i   (clk_i),
    .we_i    (act_hs),
    .waddr_i (recv_q[AAddrWidth-1:0]),
    .wdata_i (act_wdata),
    .re_i    (issue),
    .raddr_i (ichunk_q[AAddrWidth-1:0]),
    .rdata_o (x_chunk)
  );

  //////////////
  // Pipeline //
  //////////////

  // Stages: 1 memory outputs, o operand registers, 2 products, 3 lane sums, then the
  // accumulator. Valids and tags: first (chunk 0), last (chunk C-1), final (last step of the
  // last group) and the lane mask of the operation's last group, which travels with its steps
  // because the next operation's set-up may already have replaced lmask_q. Every stage holds
  // while stall is high.
  logic [Lanes-1:0] lm1_d, lm1_q, lmo_d, lmo_q, lm2_d, lm2_q, lm3_d, lm3_q;
  logic first1_q, last1_q, final1_q;
  logic vo_q, firsto_q, lasto_q, finalo_q;
  logic vo_d, firsto_d, lasto_d, finalo_d;
  logic v2_q, first2_q, last2_q, final2_q;
  logic first3_q, final3_q;
  logic v1_d, first1_d, last1_d, final1_d;
  logic v2_d, first2_d, last2_d, final2_d;
  logic v3_d, first3_d, last3_d, final3_d;

  // The only stall: a finished row group meets a full result buffer (both the output and the
  // spare register hold results). Registered state only: no combinational path from
  // res_ready_i into the pipeline.
  logic skid_valid_q;
  assign stall = v3_q && last3_q && skid_valid_q;

  always_comb begin
    v1_d = v1_q;  first1_d = first1_q;  last1_d = last1_q;  final1_d = final1_q;
    vo_d = vo_q;  firsto_d = firsto_q;  lasto_d = lasto_q;  finalo_d = finalo_q;
    v2_d = v2_q;  first2_d = first2_q;  last2_d = last2_q;  final2_d = final2_q;
    v3_d = v3_q;  first3_d = first3_q;  last3_d = last3_q;  final3_d = final3_q;
    lm1_d = lm1_q;  lmo_d = lmo_q;  lm2_d = lm2_q;  lm3_d = lm3_q;
    if (!stall) begin
      lm1_d = lmask_q;  lmo_d = lm1_q;  lm2_d = lmo_q;  lm3_d = lm2_q;
      v1_d = issue;  first1_d = issue_first;  last1_d = issue_last;  final1_d = issue_final;
      vo_d = v1_q;   firsto_d = first1_q;     lasto_d = last1_q;     finalo_d = final1_q;
      v2_d = vo_q;   first2_d = firsto_q;     last2_d = lasto_q;     final2_d = finalo_q;
      v3_d = v2_q;   first3_d = first2_q;     last3_d = last2_q;     final3_d = final2_q;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      v1_q <= 1'b0;  first1_q <= 1'b0;  last1_q <= 1'b0;  final1_q <= 1'b0;
      vo_q <= 1'b0;  firsto_q <= 1'b0;  lasto_q <= 1'b0;  finalo_q <= 1'b0;
      v2_q <= 1'b0;  first2_q <= 1'b0;  last2_q <= 1'b0;  final2_q <= 1'b0;
      v3_q <= 1'b0;  first3_q <= 1'b0;  last3_q <= 1'b0;  final3_q <= 1'b0;
      lm1_q <= '0;  lmo_q <= '0;  lm2_q <= '0;  lm3_q <= '0;
    end else begin
      v1_q <= v1_d;  first1_q <= first1_d;  last1_q <= last1_d;  final1_q <= final1_d;
      vo_q <= vo_d;  firsto_q <= firsto_d;  lasto_q <= lasto_d;  finalo_q <= finalo_d;
      v2_q <= v2_d;  first2_q <= first2_d;  last2_q <= last2_d;  final2_q <= final2_d;
      v3_q <= v3_d;  first3_q <= first3_d;  last3_q <= last3_d;  final3_q <= final3_d;
      lm1_q <= lm1_d;  lmo_q <= lmo_d;  lm2_q <= lm2_d;  lm3_q <= lm3_d;
    end
  end

  logic eno, en2, en3, en_acc;
  assign eno    = v1_q && !stall;  // stage 1 -> o: operands off the memory outputs
  assign en2    = vo_q && !stall;  // stage o -> 2: multiply
  assign en3    = v2_q && !stall;  // stage 2 -> 3: adder tree
  assign en_acc = v3_q && !stall;  // stage 3: accumulate

  assign mac_busy_o = en2;  // stage o -> 2 advances: the multipliers take a step

  // The datapath works on unpacked arrays of int8 operands, int16 products and tree nodes, with
  // whole-array loops over contiguous elements: the simulator turns them into plain C arrays of
  // bytes, half-words and words that a C++ compiler vectorizes, while synthesis still sees one
  // multiplier per element and a balanced adder tree per lane. Elements are ordered element-major,
  // multiplier i = j*Lanes + l for lane l, element j, so that every level of the adder trees of
  // all lanes is one contiguous range.

  // Stage o: operand registers. The memories' outputs go straight into flip-flops, so the
  // multipliers never sit behind a RAM's clock-to-output delay. Weight words are stored
  // element-major, so byte i of the word is the weight of multiplier i (lane l, element j is
  // byte j*Lanes + l), and the activation chunk is fanned out to the lanes (element j to
  // multipliers j*Lanes ... j*Lanes + Lanes-1).
  logic signed [7:0] w_elem [NumMul];
  logic signed [7:0] x_elem [NumMul];
  for (genvar i = 0; i < NumMul; i++) begin : gen_elem
    assign w_elem[i] = w_word[8*i +: 8];
    assign x_elem[i] = x_chunk[8*(i / Lanes) +: 8];
  end

  logic signed [7:0] w_op_q [NumMul];
  logic signed [7:0] x_op_q [NumMul];
  // Data registers without reset: their valid bits (v*_q) are reset. The datapath registers are
  // written under their enables rather than from a hold-or-load value in an always_comb, which
  // in the simulator copies every element twice more per cycle (docs/tile.md).
  always_ff @(posedge clk_i) begin
    if (eno) begin
      w_op_q <= w_elem;
      x_op_q <= x_elem;
    end
  end

  // Stage o -> 2: Lanes*KWidth int8 x int8 products, registered.
  logic signed [ProdWidth-1:0] prod [NumMul];    // this cycle's products
  logic signed [ProdWidth-1:0] prod_q [NumMul];
  always_comb begin
    for (int unsigned i = 0; i < NumMul; i++) begin
      prod[i] = ProdWidth'(w_op_q[i]) * ProdWidth'(x_op_q[i]);
    end
  end
  always_ff @(posedge clk_i) begin
    if (en2) begin
      prod_q <= prod;
    end
  end

  // Stage 2 -> 3: per lane a balanced binary adder tree over its KWidth products, registered.
  // Level h adds node i + h into node i for i < h, all lanes at once; lane l's sum ends in node l.
  // The trees add the products offset by 2^15 (bit 15 inverted), which makes every leaf a
  // non-negative 16-bit number: the trees are unsigned, with no sign extension at any level. The
  // KWidth offsets of a lane add up to 2^(SumWidth-1), which inverting the top bit of its sum
  // removes (modulo 2^SumWidth, where the signed lane sum always fits).
  logic [SumWidth-1:0]        node [NumMul];
  logic signed [SumWidth-1:0] lsum_new [Lanes];
  logic signed [SumWidth-1:0] lsum_q [Lanes];
  logic [ProdWidth-1:0]       leaf [NumMul];
  always_comb begin
    for (int unsigned i = 0; i < NumMul; i++) begin
      leaf[i] = prod_q[i] ^ ProdBias;
      node[i] = SumWidth'(leaf[i]);
    end
    for (int unsigned h = NumMul / 2; h >= Lanes; h = h / 2) begin
      for (int unsigned i = 0; i < h; i++) begin
        node[i] = node[i] + node[i + h];
      end
    end
    for (int unsigned l = 0; l < Lanes; l++) begin
      lsum_new[l] = node[l] ^ SumBias;
    end
  end
  always_ff @(posedge clk_i) begin
    if (en3) begin
      lsum_q <= lsum_new;
    end
  end

  // Stage 3: accumulate. The first step of a group starts from zero.
  logic [ResWidth-1:0] acc_sum;    // accumulator plus this step's lane sums, all lanes
`ifndef SYNTHESIS
  logic [Lanes-1:0]    acc_ovf;    // per lane, for the assertions (set below)
`endif

  for (genvar l = 0; l < Lanes; l++) begin : gen_lane
    logic signed [SumWidth-1:0] lsum;
    logic signed [AccWidth-1:0] acc_d, acc_q, acc_in, acc_new;
    assign lsum    = lsum_q[l];
    assign acc_in  = first3_q ? '0 : acc_q;
    assign acc_new = acc_in + AccWidth'(lsum);
    assign acc_sum[AccWidth*l +: AccWidth] = acc_new;
    assign acc_d   = en_acc ? acc_new : acc_q;
`ifndef SYNTHESIS
    // For the assertions: adding the lane sum overflows the int32 accumulator.
    assign acc_ovf[l] = (acc_in[AccWidth-1] == lsum[SumWidth-1]) &&
                        (acc_new[AccWidth-1] != acc_in[AccWidth-1]);
`endif
    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        acc_q <= '0;
      end else begin
        acc_q <= acc_d;
      end
    end
  end

  ////////////////////
  // Result buffer  //
  ////////////////////

  // Two entries: the output register (res_*_q) and a spare (skid_*_q). A finished row group
  // goes to the output register when it is free after this cycle's handshake, otherwise to the
  // spare, so the next group runs while a result waits.
  logic                res_load;
  logic [ResWidth-1:0] res_new;
  logic [ResWidth-1:0] rmask;      // lm3_q widened to the lanes' words
  logic                res_valid_d, res_last_d;
  logic [ResWidth-1:0] res_data_d, res_data_q;
  logic                skid_valid_d, skid_last_d, skid_last_q;
  logic [ResWidth-1:0] skid_data_d, skid_data_q;

  assign res_load = en_acc && last3_q;
  // Lanes beyond rows in the last group read as zero.
  for (genvar l = 0; l < Lanes; l++) begin : gen_rmask
    assign rmask[AccWidth*l +: AccWidth] = {AccWidth{lm3_q[l]}};
  end
  assign res_new  = final3_q ? (acc_sum & rmask) : acc_sum;

  always_comb begin
    res_valid_d  = res_valid_q;
    res_last_d   = res_last_q;
    res_data_d   = res_data_q;
    skid_valid_d = skid_valid_q;
    skid_last_d  = skid_last_q;
    skid_data_d  = skid_data_q;
    if (res_hs) begin
      res_valid_d  = skid_valid_q;
      res_last_d   = skid_last_q;
      res_data_d   = skid_data_q;
      skid_valid_d = 1'b0;
    end
    if (res_load) begin
      if (!res_valid_d) begin
        res_valid_d = 1'b1;
        res_last_d  = final3_q;
        res_data_d  = res_new;
      end else begin
        skid_valid_d = 1'b1;
        skid_last_d  = final3_q;
        skid_data_d  = res_new;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      res_valid_q  <= 1'b0;
      res_last_q   <= 1'b0;
      res_data_q   <= '0;
      skid_valid_q <= 1'b0;
      skid_last_q  <= 1'b0;
      skid_data_q  <= '0;
    end else begin
      res_valid_q  <= res_valid_d;
      res_last_q   <= res_last_d;
      res_data_q   <= res_data_d;
      skid_valid_q <= skid_valid_d;
      skid_last_q  <= skid_last_d;
      skid_data_q  <= skid_data_d;
    end
  end

  assign res_valid_o = res_valid_q;
  assign res_data_o  = res_data_q;
  assign res_last_o  = res_last_q;

  ////////////////
  // Assertions //
  ////////////////

  // In tile_sva.sv (which says why they live in a module of their own).
`ifndef SYNTHESIS
  tile_sva #(
    .Lanes       (Lanes),
    .WeightWords (WeightWords),
    .ActWords    (ActWords),
    .ChunkWidth  (ChunkWidth),
    .ResWidth    (ResWidth),
    .ChunkCntW   (ChunkCntW),
    .GroupCntW   (GroupCntW),
    .WAddrWidth  (WAddrWidth)
  ) u_sva (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .cfg_valid_i  (cfg_valid_i),
    .cfg_ready_o  (cfg_ready_o),
    .cfg_i        (cfg_i),
    .act_valid_i  (act_valid_i),
    .act_ready_o  (act_ready_o),
    .act_data_i   (act_data_i),
    .res_valid_o  (res_valid_o),
    .res_ready_i  (res_ready_i),
    .res_data_o   (res_data_o),
    .res_last_o   (res_last_o),
    .busy_o       (busy_o),
    .mac_busy_o   (mac_busy_o),
    .state_q      (state_q),
    .recv_q       (recv_q),
    .ichunk_q     (ichunk_q),
    .chunk_last_q (chunk_last_q),
    .igroup_q     (igroup_q),
    .group_last_q (group_last_q),
    .waddr_q      (waddr_q),
    .idone_q      (idone_q),
    .pend_q       (pend_q),
    .issue        (issue),
    .en_acc       (en_acc),
    .acc_ovf      (acc_ovf),
    .res_load     (res_load),
    .res_valid_q  (res_valid_q),
    .skid_valid_q (skid_valid_q)
  );
`endif

endmodule
