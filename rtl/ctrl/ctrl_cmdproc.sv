// SPDX-License-Identifier: Apache-2.0
// Command processor: takes descriptors from the command stream or the CMD_FIFO register, checks
// them, and runs them on the vector buffer and the tile networks.
//
// Descriptor format, error codes and ordering rules: docs/architecture.md. In short, a header is
// eight 32-bit words (word 0 bits [7:0] = opcode); on the stream it fills whole beats and a
// payload (WEIGHT_LOAD, VBUF_LOAD) starts on the next beat; tlast marks the last beat of every
// descriptor's packet. A MATVEC is finished here once its operation beat and its chunks are in
// the multicast tree; its results complete in the background (outstanding_q counts the result
// buffer writes still due), so the next MATVEC's set-up overlaps the current one's compute and
// drain. WEIGHT_LOAD, VBUF_READ, FENCE and PERF_SNAPSHOT first wait until nothing is outstanding.
// On an error the processor records the code, raises the error interrupt and stops: it then
// drops every beat and CMD_FIFO word it receives, so the host never blocks, until a soft reset.
//
// The token engine (rtl/tok/tok_engine.sv) is driven from here: ENG_LOAD's payload beats go to
// its program memory or DMEM, and a TOKEN, once every earlier product has completed, starts it
// and is in hand until the engine ends or fails. Meanwhile the engine's MATVEC instructions come
// back here as headers, checked and issued like MATVEC descriptors (their errors stop the
// processor with the instruction's index in ERROR.desc), and the engine owns the output stream.

`include "prim_assert.svh"

module ctrl_cmdproc
  import tessera_pkg::*;
#(
  parameter int unsigned NumTiles    = 4,
  parameter int unsigned Lanes       = 4,
  parameter int unsigned KWidth      = 8,
  parameter int unsigned WeightWords = 256,
  parameter int unsigned ActWords    = 64,
  parameter int unsigned AbufWords   = 256,   // activation buffer depth in chunks
  parameter int unsigned RbufWords   = 256,   // result buffer depth in words of Lanes int32
  parameter int unsigned StreamWidth = 64,
  parameter int unsigned FlitData    = 160,
  parameter int unsigned ProgInstrs  = 1024,  // token engine program memory, instructions
  parameter int unsigned DmemWords   = 1048576,  // token engine DMEM, 32-bit words
  parameter bit          TokEngine   = 1'b1,  // 0: no token engine, ENG_LOAD and TOKEN unknown
  parameter bit          WeightRom   = 1'b0,  // 1: weights in ROM, WEIGHT_LOAD is ErrWeightRom
  localparam int unsigned ChunkBits = KWidth * 8,
  localparam int unsigned WordBits  = Lanes * KWidth * 8,
  localparam int unsigned RWordBits = Lanes * AccWidth,
  localparam int unsigned FlitWidth = 1 + TileIdxWidth + FlitData,
  localparam int unsigned WrWidth   = TileIdxWidth + 32 + WordBits,
  localparam int unsigned AbufAw    = $clog2(AbufWords),
  localparam int unsigned RbufAw    = $clog2(RbufWords)
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  // Command stream in (AXI4-Stream)
  input  logic                   s_axis_tvalid_i,
  output logic                   s_axis_tready_o,
  input  logic [StreamWidth-1:0] s_axis_tdata_i,
  input  logic                   s_axis_tlast_i,
  // Result stream out (AXI4-Stream)
  output logic                   m_axis_tvalid_o,
  input  logic                   m_axis_tready_i,
  output logic [StreamWidth-1:0] m_axis_tdata_o,
  output logic                   m_axis_tlast_o,
  // CMD_FIFO words
  input  logic                   cmdq_valid_i,
  output logic                   cmdq_ready_o,
  input  logic [31:0]            cmdq_data_i,
  input  logic                   cmdq_start_i,     // CTRL.start
  input  logic                   cmdq_overflow_i,  // a CMD_FIFO write found it full
  // Multicast tree root
  output logic                   mc_valid_o,
  input  logic                   mc_ready_i,
  output logic [FlitWidth-1:0]   mc_data_o,
  // Weight-write tree root
  output logic                   wt_valid_o,
  output logic [WrWidth-1:0]     wt_data_o,
  // Activation buffer
  output logic                   abuf_we_o,
  output logic [AbufAw-1:0]      abuf_waddr_o,
  output logic [ChunkBits-1:0]   abuf_wdata_o,
  output logic                   abuf_re_o,
  output logic [AbufAw-1:0]      abuf_raddr_o,
  input  logic [ChunkBits-1:0]   abuf_rdata_i,
  // Result buffer (read side; the reduction tree writes it)
  output logic                   rbuf_re_o,
  output logic [RbufAw-1:0]      rbuf_raddr_o,
  input  logic [RWordBits-1:0]   rbuf_rdata_i,
  input  logic                   rbuf_written_i,   // the reduction tree wrote a result word
  // Tiles
  input  logic                   tile_err_i,       // OR of the tiles' error flags
  input  logic                   ecc_err_i,        // a weight memory's double-bit ECC error
  // Status
  output logic                   busy_o,
  output logic                   error_o,
  output logic [7:0]             err_code_o,
  output logic [23:0]            err_desc_o,
  output logic [15:0]            done_count_o,
  output logic                   intr_done_o,      // pulse: a FENCE completed
  output logic                   intr_error_o,     // pulse: an error stopped the processor
  output logic                   snapshot_o,       // pulse: PERF_SNAPSHOT
  output logic                   stall_input_o,    // waiting for a beat or word mid-descriptor
  output logic                   stall_output_o,   // output beat held by backpressure
  output logic                   stall_cmd_o,      // idle, no descriptor available
  // Token engine
  output logic                   eng_ld_valid_o,   // an ENG_LOAD payload beat (s_axis_tdata_i)
  output logic                   eng_ld_space_o,   // 0: program memory, 1: DMEM
  output logic [31:0]            eng_ld_addr_o,    // its first word address
  output logic                   tok_start_o,      // pulse: run the program
  output logic [31:0]            tok_id_o,
  output logic [31:0]            tok_pos_o,
  output logic [1:0]             tok_flags_o,      // TOKEN's flags: logits, trace
  output logic                   tok_active_o,     // a TOKEN is in hand
  input  logic                   tok_done_i,
  input  logic                   tok_err_i,
  input  logic [7:0]             tok_code_i,
  input  logic [23:0]            tok_pc_i,         // index of the engine's instruction
  input  logic                   tok_mv_valid_i,   // a MATVEC instruction, words 1..6
  input  logic [6*32-1:0]        tok_mv_fields_i,
  output logic                   tok_mv_ack_o,     // pulse: its chunks are all sent
  output logic                   results_idle_o    // no result buffer write still due
);

  ////////////////
  // Parameters //
  ////////////////

  localparam int unsigned LgTiles    = $clog2(NumTiles);
  localparam int unsigned HdrSlice   = (StreamWidth < DescBits) ? StreamWidth : DescBits;
  localparam int unsigned HdrBeats   = DescBits / HdrSlice;
  localparam int unsigned BeatsChunk = ChunkBits / StreamWidth;
  localparam int unsigned BeatsWord  = WordBits / StreamWidth;
  localparam int unsigned BeatsRWord = RWordBits / StreamWidth;
  localparam int unsigned BeatCntW   = $clog2(BeatsWord + 1);
  localparam int unsigned RBeatCntW  = $clog2(BeatsRWord + 1);
  localparam int unsigned HdrCntW    = $clog2(DescWords + 1);
  localparam int unsigned OutstW     = 48;
  localparam int unsigned WwW        = $clog2(WeightWords + 1);    // 0 .. WeightWords
  localparam int unsigned AwW        = $clog2(ActWords + 1);       // 0 .. ActWords
  localparam int unsigned WendW      = WwW + AwW + 1;              // base + groups x chunks
  localparam int unsigned BeatWords  = StreamWidth / 32;

  `ASSERT_STATIC(gen_tiles_A, NumTiles >= 1 && (NumTiles & (NumTiles - 1)) == 0 &&
                 NumTiles <= (1 << TileIdxWidth),
                 "ctrl_cmdproc: NumTiles must be a power of two, at most 65536")
  `ASSERT_STATIC(gen_stream_A, StreamWidth >= 32 && (StreamWidth & (StreamWidth - 1)) == 0,
                 "ctrl_cmdproc: StreamWidth must be a power of two, at least 32")
  `ASSERT_STATIC(gen_stream_chunk_A, StreamWidth <= ChunkBits && StreamWidth <= RWordBits,
                 "ctrl_cmdproc: StreamWidth must not exceed KWidth*8 nor Lanes*32")
  `ASSERT_STATIC(gen_bufs_A, AbufWords >= 2 && RbufWords >= 2,
                 "ctrl_cmdproc: buffers need at least two words")

  ///////////
  // State //
  ///////////

  cmd_state_e state_d, state_q;

  logic [DescBits-1:0]   hdr_d, hdr_q;         // header words, word i at [32i+31:32i]
  logic [HdrCntW-1:0]    hcnt_d, hcnt_q;       // header beats or words taken
  logic                  hsrc_d, hsrc_q;       // 1: header from CMD_FIFO
  logic                  hlast_d, hlast_q;     // tlast was set on the last header beat
  logic                  run_d, run_q;         // CMD_FIFO descriptors may run
  logic [7:0]            op_d, op_q;           // opcode of the descriptor in hand

  // MATVEC issue.
  mc_op_t                mvop_d, mvop_q;
  logic [31:0]           mvtot_d, mvtot_q;     // chunks to send: P_k x chunks
  logic [31:0]           mvsent_d, mvsent_q;   // chunk reads issued
  logic [31:0]           mvc_d, mvc_q;         // chunk within the K partition of the next read
  logic [TileIdxWidth-1:0] mvkp_d, mvkp_q;     // K partition of the next read
  logic [AbufAw-1:0]     mvptr_d, mvptr_q;     // activation buffer chunk of the next read
  logic                  rdv_d, rdv_q;         // a chunk read is in flight
  logic [TileIdxWidth-1:0] rdkp_d, rdkp_q;     // its K partition

  // Payload loads (weights or activation chunks).
  logic                  ldw_d, ldw_q;         // 1: weight words, 0: activation chunks
  logic                  lde_d, lde_q;         // 1: token engine words (by beats)
  logic                  lsp_d, lsp_q;         // their space: 0 program memory, 1 DMEM
  logic [BeatCntW-1:0]   lbeat_d, lbeat_q;     // beat within the word or chunk
  logic [WordBits-1:0]   lbuf_d, lbuf_q;       // gathered beats
  logic [31:0]           laddr_d, laddr_q;     // word or chunk address of the next write
  logic [31:0]           lbase_d, lbase_q;     // first address in every tile
  logic [31:0]           lcnt_d, lcnt_q;       // words left for the current tile
  logic [31:0]           lnum_d, lnum_q;       // words per tile
  logic [TileIdxWidth-1:0] ltile_d, ltile_q;   // current tile
  logic [TileIdxWidth-1:0] llast_d, llast_q;   // last tile

  // Read-back.
  logic                  rph_d, rph_q;         // 0: issue the read, 1: send the word's beats
  logic [RBeatCntW-1:0]  rbeat_d, rbeat_q;
  logic [31:0]           raddr_d, raddr_q;
  logic [31:0]           rcnt_d, rcnt_q;       // words left, including the current one

  // Bookkeeping.
  logic [OutstW-1:0]     outst_d, outst_q;     // result buffer writes still due
  logic [7:0]            ecode_d, ecode_q;
  logic [23:0]           edesc_d, edesc_q;
  logic [23:0]           didx_d, didx_q;       // index of the descriptor in hand
  logic [15:0]           dcnt_d, dcnt_q;       // descriptors completed
  logic                  intr_done_d, intr_done_q, intr_err_d, intr_err_q, snap_d, snap_q;
  logic                  tok_d, tok_q;         // a TOKEN is in hand
  logic                  tmv_d, tmv_q;         // the MATVEC in hand is the engine's

  /////////////////////
  // Header decoding //
  /////////////////////

  logic [31:0] w1, w2, w3, w4, w5, w6;
  assign w1 = hdr_q[32*1 +: 32];
  assign w2 = hdr_q[32*2 +: 32];
  assign w3 = hdr_q[32*3 +: 32];
  assign w4 = hdr_q[32*4 +: 32];
  assign w5 = hdr_q[32*5 +: 32];
  assign w6 = hdr_q[32*6 +: 32];

  logic [7:0]  dec_op;
  logic [7:0]  dec_err;      // error code of the descriptor in hand, ErrNone if legal
  logic        dec_payload;  // a payload follows on the stream
  logic [LgPkWidth-1:0] dec_lg_pk;
  logic [63:0] mv_aend, mv_rend, mv_beats, ld_end, rd_end;
  logic [63:0] el_space;      // ENG_LOAD: words of the space
  logic        mv_wover;      // base + groups x chunks exceeds the weight memory
  logic [WendW-1:0] mv_wend;  // base + groups x chunks, when base and groups fit WeightWords

  assign dec_op    = hdr_q[7:0];
  assign dec_lg_pk = w4[LgPkWidth-1:0];

  always_comb begin
    // The weight range is checked only once chunks (w3) is known to be in 1 .. ActWords, so a
    // base or a group count beyond WeightWords is out of range by itself, and otherwise the
    // product is narrow: one small multiplier, not a 32 x 32 one on the decode path.
    mv_wend  = WendW'(w1[WwW-1:0]) + WendW'(w2[WwW-1:0]) * WendW'(w3[AwW-1:0]);
    mv_wover = (w1 > 32'(WeightWords)) || (w2 > 32'(WeightWords)) ||
               (mv_wend > WendW'(WeightWords));
    mv_aend  = 64'(w5) + (64'(w3) << dec_lg_pk);
    mv_beats = (w4 <= 32'(LgTiles)) ? (64'(w2) << (LgTiles - w4)) : 64'd0;
    mv_rend  = 64'(w6) + mv_beats;
    ld_end   = 64'(w3) + 64'(w4);  // WEIGHT_LOAD: base + count
    rd_end   = 64'(w1) + 64'(w2);  // VBUF_LOAD / VBUF_READ: address + count
    el_space = w1[0] ? 64'(DmemWords) : 64'(ProgInstrs) * 64'(DescWords);

    dec_payload = 1'b0;
    dec_err     = ErrNone;
    unique case (dec_op)
      OpNop, OpFence, OpPerfSnapshot: ;
      OpMatvec: begin
        if (w2 == 32'd0 || w3 == 32'd0 || w3 > 32'(ActWords) || w4 > 32'(LgTiles)) begin
          dec_err = ErrShape;
        end else if (mv_wover) begin
          dec_err = ErrWeightRange;
        end else if (mv_aend > 64'(AbufWords)) begin
          dec_err = ErrAbufRange;
        end else if (mv_rend > 64'(RbufWords)) begin
          dec_err = ErrRbufRange;
        end
      end
      OpWeightLoad: begin
        dec_payload = 1'b1;
        if (WeightRom) begin
          dec_err = ErrWeightRom;
        end else if (w1 > w2 || w2 >= 32'(NumTiles)) begin
          dec_err = ErrTileRange;
        end else if (w4 == 32'd0) begin
          dec_err = ErrShape;
        end else if (ld_end > 64'(WeightWords)) begin
          dec_err = ErrWeightRange;
        end
      end
      OpVbufLoad: begin
        dec_payload = 1'b1;
        if (w2 == 32'd0) begin
          dec_err = ErrShape;
        end else if (rd_end > 64'(AbufWords)) begin
          dec_err = ErrAbufRange;
        end
      end
      OpVbufRead: begin
        if (w2 == 32'd0) begin
          dec_err = ErrShape;
        end else if (rd_end > 64'(RbufWords)) begin
          dec_err = ErrRbufRange;
        end
      end
      OpEngLoad: begin
        dec_payload = 1'b1;
        if (!TokEngine) begin
          dec_err = ErrOpcode;
        end else if (w1 > 32'd1 || w3 == 32'd0 || w2 % BeatWords != 0 || w3 % BeatWords != 0) begin
          dec_err = ErrShape;
        end else if (64'(w2) + 64'(w3) > el_space) begin
          dec_err = w1[0] ? ErrDmemRange : ErrProgRange;
        end
      end
      OpToken: begin
        if (!TokEngine) begin
          dec_err = ErrOpcode;
        end else if (w3[31:2] != 30'd0) begin
          dec_err = ErrShape;
        end
      end
      default: dec_err = ErrOpcode;
    endcase
    // Framing of a header that came on the stream: a payload descriptor continues after its
    // header, any other ends with it.
    if (dec_err == ErrNone && !hsrc_q) begin
      if (dec_payload && hlast_q) begin
        dec_err = ErrStreamShort;
      end else if (!dec_payload && !hlast_q) begin
        dec_err = ErrStreamLong;
      end
    end
  end

  /////////////////////
  // Chunk read path //
  /////////////////////

  // Chunks read from the activation buffer wait in a 3-entry FIFO; a read is issued only when
  // the FIFO will have room for it, which keeps one chunk per cycle flowing.
  logic                            cf_in_valid, cf_out_valid, cf_out_ready;
  logic [TileIdxWidth+ChunkBits-1:0] cf_out_data;
  logic [1:0]                      cf_level;
  logic                            rd_issue;

  assign cf_in_valid = rdv_q;

  noc_fifo #(
    .Width (TileIdxWidth + ChunkBits),
    .Depth (3)
  ) u_chunk_fifo (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (cf_in_valid),
    .in_ready_o  (),
    .in_data_i   ({rdkp_q, abuf_rdata_i}),
    .out_valid_o (cf_out_valid),
    .out_ready_i (cf_out_ready),
    .out_data_o  (cf_out_data),
    .level_o     (cf_level)
  );

  assign rd_issue = (state_q == CmdMvChunks) && (mvsent_q != mvtot_q) &&
                    ({1'b0, cf_level} + {2'b00, rdv_q} < 3'd3);
  assign abuf_re_o    = rd_issue;
  assign abuf_raddr_o = mvptr_q;

  // Multicast root: the operation beat, then the chunks.
  always_comb begin
    mc_valid_o   = 1'b0;
    mc_data_o    = '0;
    cf_out_ready = 1'b0;
    if (state_q == CmdMvOp) begin
      mc_valid_o = 1'b1;
      mc_data_o  = {1'b1, {TileIdxWidth{1'b0}}, FlitData'(mvop_q)};
    end else if (state_q == CmdMvChunks) begin
      mc_valid_o   = cf_out_valid;
      mc_data_o    = {1'b0, cf_out_data[ChunkBits +: TileIdxWidth],
                      FlitData'(cf_out_data[ChunkBits-1:0])};
      cf_out_ready = mc_ready_i;
    end
  end

  //////////////////
  // Payload path //
  //////////////////

  logic             in_hs, ld_unit_end, ld_tile_end, ld_end_beat;
  logic [WordBits-1:0] ld_word;  // the completed word or chunk (with this beat)

  assign in_hs       = s_axis_tvalid_i && s_axis_tready_o;
  assign ld_unit_end = lde_q ? 1'b1
                      : ldw_q ? (lbeat_q == BeatCntW'(BeatsWord - 1))
                              : (lbeat_q == BeatCntW'(BeatsChunk - 1));
  assign ld_tile_end = ld_unit_end && (lcnt_q == 32'd1);
  assign ld_end_beat = ld_tile_end && (ltile_q == llast_q);

  always_comb begin
    lbuf_d = lbuf_q;
    if (state_q == CmdLoad && in_hs) begin
      for (int unsigned b = 0; b < BeatsWord; b++) begin
        if (lbeat_q == BeatCntW'(b)) begin
          lbuf_d[b*StreamWidth +: StreamWidth] = s_axis_tdata_i;
        end
      end
    end
  end
  assign ld_word = lbuf_d;

  assign wt_valid_o   = (state_q == CmdLoad) && in_hs && !lde_q && ldw_q && ld_unit_end;
  assign wt_data_o    = {ltile_q, laddr_q, ld_word};
  assign abuf_we_o    = (state_q == CmdLoad) && in_hs && !lde_q && !ldw_q && ld_unit_end;
  assign abuf_waddr_o = laddr_q[AbufAw-1:0];
  assign abuf_wdata_o = ld_word[ChunkBits-1:0];

  assign eng_ld_valid_o = (state_q == CmdLoad) && in_hs && lde_q;
  assign eng_ld_space_o = lsp_q;
  assign eng_ld_addr_o  = laddr_q;

  ////////////////////
  // Read-back path //
  ////////////////////

  logic out_hs, rd_last_beat;

  assign rbuf_re_o    = (state_q == CmdRead) && !rph_q;
  assign rbuf_raddr_o = raddr_q[RbufAw-1:0];

  assign m_axis_tvalid_o = (state_q == CmdRead) && rph_q;
  assign rd_last_beat    = (rbeat_q == RBeatCntW'(BeatsRWord - 1));
  assign m_axis_tlast_o  = m_axis_tvalid_o && rd_last_beat && (rcnt_q == 32'd1);
  assign out_hs          = m_axis_tvalid_o && m_axis_tready_i;

  always_comb begin
    m_axis_tdata_o = '0;
    for (int unsigned b = 0; b < BeatsRWord; b++) begin
      if (rbeat_q == RBeatCntW'(b)) begin
        m_axis_tdata_o = rbuf_rdata_i[b*StreamWidth +: StreamWidth];
      end
    end
    if (!m_axis_tvalid_o) begin
      m_axis_tdata_o = '0;
    end
  end

  //////////////////////
  // Input handshakes //
  //////////////////////

  always_comb begin
    s_axis_tready_o = 1'b0;
    cmdq_ready_o    = 1'b0;
    unique case (state_q)
      CmdHdr:   begin
        s_axis_tready_o = !hsrc_q;
        cmdq_ready_o    = hsrc_q;
      end
      CmdLoad:  s_axis_tready_o = 1'b1;
      CmdError: begin
        s_axis_tready_o = 1'b1;
        cmdq_ready_o    = 1'b1;
      end
      default: ;
    endcase
  end

  /////////////////
  // Next state  //
  /////////////////

  logic cmdq_hs;
  assign cmdq_hs = cmdq_valid_i && cmdq_ready_o;

  always_comb begin
    state_d  = state_q;
    hdr_d    = hdr_q;
    hcnt_d   = hcnt_q;
    hsrc_d   = hsrc_q;
    hlast_d  = hlast_q;
    run_d    = run_q || cmdq_start_i;
    op_d     = op_q;
    mvop_d   = mvop_q;
    mvtot_d  = mvtot_q;
    mvsent_d = mvsent_q;
    mvc_d    = mvc_q;
    mvkp_d   = mvkp_q;
    mvptr_d  = mvptr_q;
    rdv_d    = rd_issue;
    rdkp_d   = rd_issue ? mvkp_q : rdkp_q;
    ldw_d    = ldw_q;
    lde_d    = lde_q;
    lsp_d    = lsp_q;
    tok_d    = tok_q;
    tmv_d    = tmv_q;
    lbeat_d  = lbeat_q;
    laddr_d  = laddr_q;
    lbase_d  = lbase_q;
    lcnt_d   = lcnt_q;
    lnum_d   = lnum_q;
    ltile_d  = ltile_q;
    llast_d  = llast_q;
    rph_d    = rph_q;
    rbeat_d  = rbeat_q;
    raddr_d  = raddr_q;
    rcnt_d   = rcnt_q;
    outst_d  = outst_q - OutstW'(rbuf_written_i);
    ecode_d  = ecode_q;
    edesc_d  = edesc_q;
    didx_d   = didx_q;
    dcnt_d   = dcnt_q;
    intr_done_d = 1'b0;
    intr_err_d  = 1'b0;
    snap_d      = 1'b0;

    unique case (state_q)
      CmdIdle: begin
        hcnt_d  = '0;
        hdr_d   = '0;
        hlast_d = 1'b0;
        if (s_axis_tvalid_i) begin
          state_d = CmdHdr;
          hsrc_d  = 1'b0;
        end else if (run_q && cmdq_valid_i) begin
          state_d = CmdHdr;
          hsrc_d  = 1'b1;
        end else if (!cmdq_valid_i) begin
          run_d = cmdq_start_i;
        end
      end

      CmdHdr: begin
        if (!hsrc_q && in_hs) begin
          for (int unsigned b = 0; b < HdrBeats; b++) begin
            if (hcnt_q == HdrCntW'(b)) begin
              hdr_d[b*HdrSlice +: HdrSlice] = s_axis_tdata_i[HdrSlice-1:0];
            end
          end
          hcnt_d = hcnt_q + HdrCntW'(1);
          if (hcnt_q == HdrCntW'(HdrBeats - 1)) begin
            hlast_d = s_axis_tlast_i;
            state_d = CmdDecode;
          end else if (s_axis_tlast_i) begin
            state_d = CmdError;
            ecode_d = ErrStreamShort;
          end
        end
        if (hsrc_q && cmdq_hs) begin
          for (int unsigned i = 0; i < DescWords; i++) begin
            if (hcnt_q == HdrCntW'(i)) begin
              hdr_d[32*i +: 32] = cmdq_data_i;
            end
          end
          hcnt_d = hcnt_q + HdrCntW'(1);
          if (hcnt_q == HdrCntW'(DescWords - 1)) begin
            state_d = CmdDecode;
          end
        end
      end

      CmdDecode: begin
        op_d = dec_op;
        if (dec_err != ErrNone) begin
          state_d = CmdError;
          ecode_d = dec_err;
        end else begin
          unique case (dec_op)
            OpMatvec: begin
              state_d  = CmdMvOp;
              mvop_d   = '{lg_pk: dec_lg_pk, out_base: w6, base: w1, groups: w2, chunks: w3};
              mvtot_d  = w3 << dec_lg_pk;
              mvsent_d = '0;
              mvc_d    = '0;
              mvkp_d   = '0;
              mvptr_d  = w5[AbufAw-1:0];
              outst_d  = outst_d + OutstW'(mv_beats);
            end
            OpWeightLoad: begin
              state_d = CmdWait;
              ldw_d   = 1'b1;
              lde_d   = 1'b0;
              lbeat_d = '0;
              laddr_d = w3;
              lbase_d = w3;
              lcnt_d  = w4;
              lnum_d  = w4;
              ltile_d = w1[TileIdxWidth-1:0];
              llast_d = w2[TileIdxWidth-1:0];
            end
            OpVbufLoad: begin
              state_d = CmdLoad;
              ldw_d   = 1'b0;
              lde_d   = 1'b0;
              lbeat_d = '0;
              laddr_d = w1;
              lbase_d = w1;
              lcnt_d  = w2;
              lnum_d  = w2;
              ltile_d = '0;
              llast_d = '0;
            end
            OpVbufRead: begin
              state_d = CmdWait;
              rph_d   = 1'b0;
              rbeat_d = '0;
              raddr_d = w1;
              rcnt_d  = w2;
            end
            OpEngLoad: begin  // units of one beat, BeatWords words each
              state_d = CmdLoad;
              ldw_d   = 1'b0;
              lde_d   = 1'b1;
              lsp_d   = w1[0];
              lbeat_d = '0;
              laddr_d = w2;
              lbase_d = w2;
              lcnt_d  = w3 / BeatWords;
              lnum_d  = w3 / BeatWords;
              ltile_d = '0;
              llast_d = '0;
            end
            OpFence, OpPerfSnapshot, OpToken: state_d = CmdWait;
            default: begin  // OpNop
              state_d = CmdIdle;
              didx_d  = didx_q + 24'd1;
              dcnt_d  = dcnt_q + 16'd1;
            end
          endcase
        end
      end

      CmdWait: begin
        if (outst_q == '0) begin
          unique case (op_q)
            OpWeightLoad: state_d = CmdLoad;
            OpVbufRead:   state_d = CmdRead;
            OpToken: begin  // tok_start_o starts the engine
              state_d = CmdTok;
              tok_d   = 1'b1;
            end
            OpFence: begin
              state_d     = CmdIdle;
              intr_done_d = 1'b1;
              didx_d      = didx_q + 24'd1;
              dcnt_d      = dcnt_q + 16'd1;
            end
            default: begin  // OpPerfSnapshot
              state_d = CmdIdle;
              snap_d  = 1'b1;
              didx_d  = didx_q + 24'd1;
              dcnt_d  = dcnt_q + 16'd1;
            end
          endcase
        end
      end

      CmdMvOp: begin
        if (mc_ready_i) begin
          state_d = CmdMvChunks;
        end
      end

      CmdMvChunks: begin
        if (rd_issue) begin
          mvsent_d = mvsent_q + 32'd1;
          mvptr_d  = mvptr_q + AbufAw'(1);
          if (mvc_q == mvop_q.chunks - 32'd1) begin
            mvc_d  = '0;
            mvkp_d = mvkp_q + TileIdxWidth'(1);
          end else begin
            mvc_d = mvc_q + 32'd1;
          end
        end
        if (mvsent_q == mvtot_q && !rdv_q && !cf_out_valid) begin
          if (tmv_q) begin  // tok_mv_ack_o tells the engine
            state_d = CmdTok;
            tmv_d   = 1'b0;
          end else begin
            state_d = CmdIdle;
            didx_d  = didx_q + 24'd1;
            dcnt_d  = dcnt_q + 16'd1;
          end
        end
      end

      CmdLoad: begin
        if (in_hs) begin
          lbeat_d = ld_unit_end ? '0 : lbeat_q + BeatCntW'(1);
          if (ld_unit_end) begin
            laddr_d = laddr_q + (lde_q ? 32'(BeatWords) : 32'd1);
            lcnt_d  = lcnt_q - 32'd1;
            if (ld_tile_end) begin
              ltile_d = ltile_q + TileIdxWidth'(1);
              laddr_d = lbase_q;
              lcnt_d  = lnum_q;
            end
          end
          if (ld_end_beat) begin
            if (s_axis_tlast_i) begin
              state_d = CmdIdle;
              didx_d  = didx_q + 24'd1;
              dcnt_d  = dcnt_q + 16'd1;
            end else begin
              state_d = CmdError;
              ecode_d = ErrStreamLong;
            end
          end else if (s_axis_tlast_i) begin
            state_d = CmdError;
            ecode_d = ErrStreamShort;
          end
        end
      end

      CmdRead: begin
        if (!rph_q) begin
          rph_d = 1'b1;
        end else if (out_hs) begin
          if (rd_last_beat) begin
            rbeat_d = '0;
            rph_d   = 1'b0;
            raddr_d = raddr_q + 32'd1;
            rcnt_d  = rcnt_q - 32'd1;
            if (rcnt_q == 32'd1) begin
              state_d = CmdIdle;
              didx_d  = didx_q + 24'd1;
              dcnt_d  = dcnt_q + 16'd1;
            end
          end else begin
            rbeat_d = rbeat_q + RBeatCntW'(1);
          end
        end
      end

      CmdTok: begin
        if (tok_err_i) begin
          state_d = CmdError;
          ecode_d = tok_code_i;
        end else if (tok_done_i) begin
          state_d = CmdIdle;
          tok_d   = 1'b0;
          didx_d  = didx_q + 24'd1;
          dcnt_d  = dcnt_q + 16'd1;
        end else if (tok_mv_valid_i) begin
          // The engine's MATVEC: decoded and issued as a descriptor from CMD_FIFO would be.
          state_d = CmdDecode;
          hdr_d   = {32'd0, tok_mv_fields_i, 24'd0, OpMatvec};
          hsrc_d  = 1'b1;
          tmv_d   = 1'b1;
        end
      end

      CmdError: ;

      default: state_d = CmdError;
    endcase

    // Errors found outside the descriptor in hand.
    if (state_q != CmdError && state_d != CmdError) begin
      if (cmdq_overflow_i) begin
        state_d = CmdError;
        ecode_d = ErrCmdOverflow;
      end else if (tile_err_i) begin
        state_d = CmdError;
        ecode_d = ErrTile;
      end else if (ecc_err_i) begin
        state_d = CmdError;
        ecode_d = ErrEccWeight;
      end
    end
    if (state_q != CmdError && state_d == CmdError) begin
      edesc_d    = tok_q ? tok_pc_i : didx_q;
      intr_err_d = 1'b1;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q     <= CmdIdle;
      hdr_q       <= '0;
      hcnt_q      <= '0;
      hsrc_q      <= 1'b0;
      hlast_q     <= 1'b0;
      run_q       <= 1'b0;
      op_q        <= '0;
      mvop_q      <= '0;
      mvtot_q     <= '0;
      mvsent_q    <= '0;
      mvc_q       <= '0;
      mvkp_q      <= '0;
      mvptr_q     <= '0;
      rdv_q       <= 1'b0;
      rdkp_q      <= '0;
      ldw_q       <= 1'b0;
      lde_q       <= 1'b0;
      lsp_q       <= 1'b0;
      tok_q       <= 1'b0;
      tmv_q       <= 1'b0;
      lbeat_q     <= '0;
      lbuf_q      <= '0;
      laddr_q     <= '0;
      lbase_q     <= '0;
      lcnt_q      <= '0;
      lnum_q      <= '0;
      ltile_q     <= '0;
      llast_q     <= '0;
      rph_q       <= 1'b0;
      rbeat_q     <= '0;
      raddr_q     <= '0;
      rcnt_q      <= '0;
      outst_q     <= '0;
      ecode_q     <= '0;
      edesc_q     <= '0;
      didx_q      <= '0;
      dcnt_q      <= '0;
      intr_done_q <= 1'b0;
      intr_err_q  <= 1'b0;
      snap_q      <= 1'b0;
    end else begin
      state_q     <= state_d;
      hdr_q       <= hdr_d;
      hcnt_q      <= hcnt_d;
      hsrc_q      <= hsrc_d;
      hlast_q     <= hlast_d;
      run_q       <= run_d;
      op_q        <= op_d;
      mvop_q      <= mvop_d;
      mvtot_q     <= mvtot_d;
      mvsent_q    <= mvsent_d;
      mvc_q       <= mvc_d;
      mvkp_q      <= mvkp_d;
      mvptr_q     <= mvptr_d;
      rdv_q       <= rdv_d;
      rdkp_q      <= rdkp_d;
      ldw_q       <= ldw_d;
      lde_q       <= lde_d;
      lsp_q       <= lsp_d;
      tok_q       <= tok_d;
      tmv_q       <= tmv_d;
      lbeat_q     <= lbeat_d;
      lbuf_q      <= lbuf_d;
      laddr_q     <= laddr_d;
      lbase_q     <= lbase_d;
      lcnt_q      <= lcnt_d;
      lnum_q      <= lnum_d;
      ltile_q     <= ltile_d;
      llast_q     <= llast_d;
      rph_q       <= rph_d;
      rbeat_q     <= rbeat_d;
      raddr_q     <= raddr_d;
      rcnt_q      <= rcnt_d;
      outst_q     <= outst_d;
      ecode_q     <= ecode_d;
      edesc_q     <= edesc_d;
      didx_q      <= didx_d;
      dcnt_q      <= dcnt_d;
      intr_done_q <= intr_done_d;
      intr_err_q  <= intr_err_d;
      snap_q      <= snap_d;
    end
  end

  /////////////
  // Outputs //
  /////////////

  assign busy_o         = (state_q != CmdIdle && state_q != CmdError) || (outst_q != '0);
  assign error_o        = (state_q == CmdError);
  assign err_code_o     = ecode_q;
  assign err_desc_o     = edesc_q;
  assign done_count_o   = dcnt_q;
  assign intr_done_o    = intr_done_q;
  assign intr_error_o   = intr_err_q;
  assign snapshot_o     = snap_q;
  assign stall_output_o = m_axis_tvalid_o && !m_axis_tready_i;
  assign tok_start_o    = (state_q == CmdWait) && (op_q == OpToken) && (outst_q == '0);
  assign tok_mv_ack_o   = (state_q == CmdMvChunks) && tmv_q && (mvsent_q == mvtot_q) &&
                          !rdv_q && !cf_out_valid;
  assign tok_id_o       = w1;
  assign tok_pos_o      = w2;
  assign tok_flags_o    = w3[1:0];
  assign tok_active_o   = tok_q;
  assign results_idle_o = (outst_q == '0);
  assign stall_cmd_o    = (state_q == CmdIdle) && !s_axis_tvalid_i && !(run_q && cmdq_valid_i);
  assign stall_input_o  = ((state_q == CmdHdr) && (hsrc_q ? !cmdq_valid_i : !s_axis_tvalid_i)) ||
                          ((state_q == CmdLoad) && !s_axis_tvalid_i);

  ////////////////
  // Assertions //
  ////////////////

  `ASSERT_KNOWN(StateKnown_A, state_q)
  `ASSERT_STREAM(MAxis_A, m_axis_tvalid_o, m_axis_tready_i, {m_axis_tdata_o, m_axis_tlast_o})
  `ASSERT_STREAM(McRoot_A, mc_valid_o, mc_ready_i, mc_data_o)
  // Every write stays inside its memory (ranges are checked at decode).
  `ASSERT(AbufWrite_A, !abuf_we_o || laddr_q < 32'(AbufWords))
  `ASSERT(AbufRead_A, !abuf_re_o || 32'(mvptr_q) < 32'(AbufWords))
  `ASSERT(WeightWrite_A, !wt_valid_o || (laddr_q < 32'(WeightWords) &&
                                         32'(ltile_q) < 32'(NumTiles)))
  `ASSERT(RbufRead_A, !rbuf_re_o || raddr_q < 32'(RbufWords))
  `ASSERT_NEVER(OutstUnderflow_A, rbuf_written_i && outst_q == '0)
  // The chunk FIFO never overflows: reads are issued only with room.
  `ASSERT_NEVER(ChunkFifoFull_A, cf_in_valid && cf_level == 2'd3)

endmodule
