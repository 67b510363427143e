// SPDX-License-Identifier: Apache-2.0
// Tessera chip top: a GridRows x GridCols array of weight-stationary tiles joined by a multicast
// tree, a weight-write tree and a reduction tree to the vector buffer and the command processor,
// with an AXI4-Lite register slave and AXI4-Stream command/result ports. See
// docs/architecture.md.

`include "prim_assert.svh"

module tessera_top
  import tessera_pkg::*;
#(
  parameter int unsigned GridRows    = 2,
  parameter int unsigned GridCols    = 2,
  parameter int unsigned Lanes       = 4,     // output rows per tile MAC step
  parameter int unsigned KWidth      = 8,     // int8 elements per activation chunk
  parameter int unsigned WeightWords = 256,   // weight words per tile (Lanes*KWidth int8 each)
  parameter int unsigned ActWords    = 64,    // tile activation buffer depth in chunks
  parameter int unsigned AbufWords   = 256,   // vector buffer: activation chunks
  parameter int unsigned RbufWords   = 256,   // vector buffer: result words of Lanes int32
  parameter int unsigned StreamWidth = 64,    // AXI4-Stream tdata bits
  parameter int unsigned VmemWords   = 4096,     // token engine vector memory, binary32 words
  parameter int unsigned DmemWords   = 1048576,  // token engine data memory, 32-bit words
  parameter int unsigned ProgInstrs  = 1024,     // token engine program memory, instructions
  parameter int unsigned Context     = 256,      // largest KV-cache context of an instruction
  parameter int unsigned HeadDimMax  = 128,      // largest head_dim of ATTEND
  parameter int unsigned FpStages    = 0,        // token engine: 1 registers its FP units inside
  parameter bit          TokEngine   = 1'b1,     // 0: no token engine (ENG_LOAD, TOKEN: ErrOpcode)
  // Weights in ROM (docs/architecture.md, "Weights in ROM"): every tile's weight memory is a ROM
  // whose image `tessera rom-image` wrote; WEIGHT_LOAD fails with ErrWeightRom; CFG_WEIGHT_ROM
  // and WEIGHT_ROM_DIGEST report the variant and the image's digest. The image comes from one of:
  //   - the package tessera_weight_rom_pkg (DIR/tessera_weight_rom_pkg.sv, compiled ahead of the
  //     design with TESSERA_WEIGHT_ROM_PKG defined): its constants; the synthesizable form;
  //   - otherwise WeightRomDir/tile<t>.hex, read by $readmemh when simulation starts.
  parameter bit          WeightRom       = 1'b0,
  parameter string       WeightRomDir    = "",
  parameter int unsigned WeightRomDigest = 0
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  // AXI4-Lite register slave
  output logic                   s_axil_awready_o,
  input  logic                   s_axil_awvalid_i,
  input  logic [8:0]             s_axil_awaddr_i,
  input  logic [2:0]             s_axil_awprot_i,
  output logic                   s_axil_wready_o,
  input  logic                   s_axil_wvalid_i,
  input  logic [31:0]            s_axil_wdata_i,
  input  logic [3:0]             s_axil_wstrb_i,
  input  logic                   s_axil_bready_i,
  output logic                   s_axil_bvalid_o,
  output logic [1:0]             s_axil_bresp_o,
  output logic                   s_axil_arready_o,
  input  logic                   s_axil_arvalid_i,
  input  logic [8:0]             s_axil_araddr_i,
  input  logic [2:0]             s_axil_arprot_i,
  input  logic                   s_axil_rready_i,
  output logic                   s_axil_rvalid_o,
  output logic [31:0]            s_axil_rdata_o,
  output logic [1:0]             s_axil_rresp_o,
  // AXI4-Stream in: descriptors and payloads
  input  logic                   s_axis_tvalid_i,
  output logic                   s_axis_tready_o,
  input  logic [StreamWidth-1:0] s_axis_tdata_i,
  input  logic                   s_axis_tlast_i,
  // AXI4-Stream out: read-back
  output logic                   m_axis_tvalid_o,
  input  logic                   m_axis_tready_i,
  output logic [StreamWidth-1:0] m_axis_tdata_o,
  output logic                   m_axis_tlast_o,
  // Interrupt
  output logic                   irq_o
);

  ////////////////
  // Parameters //
  ////////////////

  localparam int unsigned NumTiles  = GridRows * GridCols;
  localparam int unsigned ChunkBits = KWidth * 8;
  localparam int unsigned WordBits  = Lanes * KWidth * 8;
  localparam int unsigned RWordBits = Lanes * AccWidth;
  localparam int unsigned FlitData  = (McOpBits > ChunkBits) ? McOpBits : ChunkBits;
  localparam int unsigned FlitWidth = 1 + TileIdxWidth + FlitData;
  localparam int unsigned WrWidth   = TileIdxWidth + 32 + WordBits;
  localparam int unsigned AbufAw    = $clog2(AbufWords);
  localparam int unsigned RbufAw    = $clog2(RbufWords);

  `ASSERT_STATIC(gen_grid_A, NumTiles >= 1 && (NumTiles & (NumTiles - 1)) == 0 &&
                 NumTiles <= (1 << TileIdxWidth),
                 "tessera_top: GridRows * GridCols must be a power of two, at most 65536")
  `ASSERT_STATIC(gen_rows_fit_A, 64'(WeightWords) * 64'(Lanes) < (64'd1 << 32),
                 "tessera_top: WeightWords * Lanes must fit 32 bits (tile rows)")
  `ASSERT_STATIC(gen_grid_dims_A, GridRows <= 65535 && GridCols <= 65535,
                 "tessera_top: grid dimensions must fit 16 bits")

`ifdef TESSERA_WEIGHT_ROM_PKG
  `ASSERT_STATIC(gen_rom_pkg_A, WeightRom && tessera_weight_rom_pkg::Tiles == NumTiles &&
                 tessera_weight_rom_pkg::Words == WeightWords &&
                 tessera_weight_rom_pkg::WordBits == WordBits,
                 "tessera_top: tessera_weight_rom_pkg is not an image of this configuration")
  `ASSERT_STATIC(gen_rom_digest_A, WeightRomDigest == tessera_weight_rom_pkg::Digest,
                 "tessera_top: WeightRomDigest is not the digest of tessera_weight_rom_pkg")
  `ASSERT_STATIC(gen_rom_dir_A, WeightRomDir == "",
                 "tessera_top: WeightRomDir and tessera_weight_rom_pkg exclude each other")
`elsif SYNTHESIS
  `ASSERT_STATIC(gen_rom_pkg_A, !WeightRom,
                 "tessera_top: a synthesized ROM chip needs tessera_weight_rom_pkg")
`endif

  ///////////
  // Reset //
  ///////////

  // CTRL.soft_reset holds the core (everything but the registers and the memories' contents)
  // in reset for two cycles. The reset asserts with the register pulse and releases on a clock
  // edge.
  logic       soft_reset;
  logic [1:0] srst_q;
  logic       core_rst_n;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      srst_q <= 2'b00;
    end else begin
      srst_q <= {srst_q[0], soft_reset};
    end
  end

  // The core reset reaches most of the chip's flip-flops: on an FPGA it runs on a global
  // network, active high, as the flip-flops' reset inputs take it (the inversion here and the
  // one of the active-low resets cancel in synthesis). Elsewhere the buffer is a wire.
  logic core_rst, core_rst_buf;
  assign core_rst = !rst_ni || (|srst_q);
  prim_global_buf u_core_rst_buf (
    .in_i  (core_rst),
    .out_o (core_rst_buf)
  );
  assign core_rst_n = !core_rst_buf;

  ///////////////
  // Registers //
  ///////////////

  logic        start, snapshot_reg, snapshot_cmd;
  logic        cmdq_valid, cmdq_ready, cmdq_overflow;
  logic [31:0] cmdq_data;
  logic        busy, error, intr_done, intr_error;
  logic [7:0]  err_code;
  logic [23:0] err_desc;
  logic [15:0] done_count;
  logic [63:0] perf_cycles, perf_mac_busy, perf_stall_input, perf_stall_output, perf_stall_cmd;
  logic        dmem_ecc_single, dmem_ecc_double, ecc_weight_double;
  logic        ecc_fail_valid, ecc_fail_dmem;
  logic [15:0] ecc_fail_tile;
  logic [31:0] dmem_ecc_addr, ecc_corrected, ecc_fail_addr;

  host_csr #(
    .GridRows    (GridRows),
    .GridCols    (GridCols),
    .Lanes       (Lanes),
    .KWidth      (KWidth),
    .WeightWords (WeightWords),
    .ActWords    (ActWords),
    .AbufWords   (AbufWords),
    .RbufWords   (RbufWords),
    .StreamWidth (StreamWidth),
    .WeightRom   (WeightRom),
    .WeightRomDigest (WeightRomDigest)
  ) u_csr (
    .clk_i               (clk_i),
    .rst_ni              (rst_ni),
    .core_rst_ni         (core_rst_n),
    .s_axil_awready_o    (s_axil_awready_o),
    .s_axil_awvalid_i    (s_axil_awvalid_i),
    .s_axil_awaddr_i     (s_axil_awaddr_i),
    .s_axil_awprot_i     (s_axil_awprot_i),
    .s_axil_wready_o     (s_axil_wready_o),
    .s_axil_wvalid_i     (s_axil_wvalid_i),
    .s_axil_wdata_i      (s_axil_wdata_i),
    .s_axil_wstrb_i      (s_axil_wstrb_i),
    .s_axil_bready_i     (s_axil_bready_i),
    .s_axil_bvalid_o     (s_axil_bvalid_o),
    .s_axil_bresp_o      (s_axil_bresp_o),
    .s_axil_arready_o    (s_axil_arready_o),
    .s_axil_arvalid_i    (s_axil_arvalid_i),
    .s_axil_araddr_i     (s_axil_araddr_i),
    .s_axil_arprot_i     (s_axil_arprot_i),
    .s_axil_rready_i     (s_axil_rready_i),
    .s_axil_rvalid_o     (s_axil_rvalid_o),
    .s_axil_rdata_o      (s_axil_rdata_o),
    .s_axil_rresp_o      (s_axil_rresp_o),
    .start_o             (start),
    .soft_reset_o        (soft_reset),
    .snapshot_o          (snapshot_reg),
    .cmdq_valid_o        (cmdq_valid),
    .cmdq_ready_i        (cmdq_ready),
    .cmdq_data_o         (cmdq_data),
    .cmdq_overflow_o     (cmdq_overflow),
    .busy_i              (busy),
    .error_i             (error),
    .err_code_i          (err_code),
    .err_desc_i          (err_desc),
    .done_count_i        (done_count),
    .intr_done_i         (intr_done),
    .intr_error_i        (intr_error),
    .perf_cycles_i       (perf_cycles),
    .perf_mac_busy_i     (perf_mac_busy),
    .perf_stall_input_i  (perf_stall_input),
    .perf_stall_output_i (perf_stall_output),
    .perf_stall_cmd_i    (perf_stall_cmd),
    .ecc_corrected_i     (ecc_corrected),
    .ecc_fail_valid_i    (ecc_fail_valid),
    .ecc_fail_dmem_i     (ecc_fail_dmem),
    .ecc_fail_tile_i     (ecc_fail_tile),
    .ecc_fail_addr_i     (ecc_fail_addr),
    .irq_o               (irq_o)
  );

  ///////////////////////
  // Command processor //
  ///////////////////////

  logic                 mc_valid, mc_ready;
  logic [FlitWidth-1:0] mc_data;
  logic                 wt_valid;
  logic [WrWidth-1:0]   wt_data;
  logic                 abuf_we, abuf_re, rbuf_re, rbuf_we;
  logic [AbufAw-1:0]    abuf_waddr, abuf_raddr;
  logic [RbufAw-1:0]    rbuf_raddr;
  logic [ChunkBits-1:0] abuf_wdata, abuf_rdata;
  logic [RWordBits-1:0] rbuf_rdata;
  logic                 tile_err;
  logic                 stall_input, stall_output, stall_cmd;
  logic                 cmd_m_valid, cmd_m_last;
  logic [StreamWidth-1:0] cmd_m_data;
  logic                 cmd_abuf_we;
  logic [AbufAw-1:0]    cmd_abuf_waddr;
  logic [ChunkBits-1:0] cmd_abuf_wdata;
  logic                 cmd_rbuf_re;
  logic [RbufAw-1:0]    cmd_rbuf_raddr;
  logic                 eng_ld_valid, eng_ld_space, tok_start, tok_active;
  logic [1:0]           tok_flags;
  logic [31:0]          eng_ld_addr, tok_id, tok_pos;
  logic [23:0]          tok_pc;
  logic                 tok_done, tok_err, tok_mv_valid, tok_mv_ack, results_idle;
  logic [7:0]           tok_code;
  logic [6*32-1:0]      tok_mv_fields;

  ctrl_cmdproc #(
    .NumTiles    (NumTiles),
    .Lanes       (Lanes),
    .KWidth      (KWidth),
    .WeightWords (WeightWords),
    .ActWords    (ActWords),
    .AbufWords   (AbufWords),
    .RbufWords   (RbufWords),
    .StreamWidth (StreamWidth),
    .FlitData    (FlitData),
    .ProgInstrs  (ProgInstrs),
    .DmemWords   (DmemWords),
    .TokEngine   (TokEngine),
    .WeightRom   (WeightRom)
  ) u_cmdproc (
    .clk_i           (clk_i),
    .rst_ni          (core_rst_n),
    .s_axis_tvalid_i (s_axis_tvalid_i),
    .s_axis_tready_o (s_axis_tready_o),
    .s_axis_tdata_i  (s_axis_tdata_i),
    .s_axis_tlast_i  (s_axis_tlast_i),
    .m_axis_tvalid_o (cmd_m_valid),
    .m_axis_tready_i (m_axis_tready_i),
    .m_axis_tdata_o  (cmd_m_data),
    .m_axis_tlast_o  (cmd_m_last),
    .cmdq_valid_i    (cmdq_valid),
    .cmdq_ready_o    (cmdq_ready),
    .cmdq_data_i     (cmdq_data),
    .cmdq_start_i    (start),
    .cmdq_overflow_i (cmdq_overflow),
    .mc_valid_o      (mc_valid),
    .mc_ready_i      (mc_ready),
    .mc_data_o       (mc_data),
    .wt_valid_o      (wt_valid),
    .wt_data_o       (wt_data),
    .abuf_we_o       (cmd_abuf_we),
    .abuf_waddr_o    (cmd_abuf_waddr),
    .abuf_wdata_o    (cmd_abuf_wdata),
    .abuf_re_o       (abuf_re),
    .abuf_raddr_o    (abuf_raddr),
    .abuf_rdata_i    (abuf_rdata),
    .rbuf_re_o       (cmd_rbuf_re),
    .rbuf_raddr_o    (cmd_rbuf_raddr),
    .rbuf_rdata_i    (rbuf_rdata),
    .rbuf_written_i  (rbuf_we),
    .tile_err_i      (tile_err),
    .ecc_err_i       (ecc_weight_double),
    .busy_o          (busy),
    .error_o         (error),
    .err_code_o      (err_code),
    .err_desc_o      (err_desc),
    .done_count_o    (done_count),
    .intr_done_o     (intr_done),
    .intr_error_o    (intr_error),
    .snapshot_o      (snapshot_cmd),
    .stall_input_o   (stall_input),
    .stall_output_o  (stall_output),
    .stall_cmd_o     (stall_cmd),
    .eng_ld_valid_o  (eng_ld_valid),
    .eng_ld_space_o  (eng_ld_space),
    .eng_ld_addr_o   (eng_ld_addr),
    .tok_start_o     (tok_start),
    .tok_id_o        (tok_id),
    .tok_pos_o       (tok_pos),
    .tok_flags_o     (tok_flags),
    .tok_active_o    (tok_active),
    .tok_done_i      (tok_done),
    .tok_err_i       (tok_err),
    .tok_code_i      (tok_code),
    .tok_pc_i        (tok_pc),
    .tok_mv_valid_i  (tok_mv_valid),
    .tok_mv_fields_i (tok_mv_fields),
    .tok_mv_ack_o    (tok_mv_ack),
    .results_idle_o  (results_idle)
  );

  //////////////////
  // Token engine //
  //////////////////

  logic                   eng_abuf_we, eng_rbuf_re, eng_m_valid, eng_m_last;
  logic [AbufAw-1:0]      eng_abuf_waddr;
  logic [ChunkBits-1:0]   eng_abuf_wdata;
  logic [RbufAw-1:0]      eng_rbuf_raddr;
  logic [StreamWidth-1:0] eng_m_data;

  if (TokEngine) begin : gen_tok
    tok_engine #(
      .Lanes       (Lanes),
      .KWidth      (KWidth),
      .AbufWords   (AbufWords),
      .RbufWords   (RbufWords),
      .StreamWidth (StreamWidth),
      .VmemWords   (VmemWords),
      .DmemWords   (DmemWords),
      .ProgInstrs  (ProgInstrs),
      .Context     (Context),
      .HeadDimMax  (HeadDimMax),
      .FpStages    (FpStages)
    ) u_tok (
      .clk_i        (clk_i),
      .rst_ni       (core_rst_n),
      .stop_i       (error),
      .ld_valid_i   (eng_ld_valid),
      .ld_space_i   (eng_ld_space),
      .ld_addr_i    (eng_ld_addr),
      .ld_data_i    (s_axis_tdata_i),
      .start_i      (tok_start),
      .token_i      (tok_id),
      .pos_i        (tok_pos),
      .flags_i      (tok_flags),
      .done_o       (tok_done),
      .err_o        (tok_err),
      .err_code_o   (tok_code),
      .pc_o         (tok_pc),
      .mv_valid_o   (tok_mv_valid),
      .mv_fields_o  (tok_mv_fields),
      .mv_ack_i     (tok_mv_ack),
      .mv_idle_i    (results_idle),
      .abuf_we_o    (eng_abuf_we),
      .abuf_waddr_o (eng_abuf_waddr),
      .abuf_wdata_o (eng_abuf_wdata),
      .rbuf_re_o    (eng_rbuf_re),
      .rbuf_raddr_o (eng_rbuf_raddr),
      .rbuf_rdata_i (rbuf_rdata),
      .m_valid_o    (eng_m_valid),
      .m_ready_i    (m_axis_tready_i),
      .m_data_o     (eng_m_data),
      .m_last_o     (eng_m_last),
      .ecc_single_o (dmem_ecc_single),
      .ecc_double_o (dmem_ecc_double),
      .ecc_addr_o   (dmem_ecc_addr)
    );
  end else begin : gen_no_tok
    // ENG_LOAD and TOKEN fail their decode, so the engine's side is never asked for anything.
    assign tok_done        = 1'b0;
    assign tok_err         = 1'b0;
    assign tok_code        = '0;
    assign tok_pc          = '0;
    assign tok_mv_valid    = 1'b0;
    assign tok_mv_fields   = '0;
    assign eng_abuf_we     = 1'b0;
    assign eng_abuf_waddr  = '0;
    assign eng_abuf_wdata  = '0;
    assign eng_rbuf_re     = 1'b0;
    assign eng_rbuf_raddr  = '0;
    assign eng_m_valid     = 1'b0;
    assign eng_m_data      = '0;
    assign eng_m_last      = 1'b0;
    assign dmem_ecc_single = 1'b0;
    assign dmem_ecc_double = 1'b0;
    assign dmem_ecc_addr   = '0;
    logic unused_tok;
    assign unused_tok = ^{eng_ld_valid, eng_ld_space, eng_ld_addr, tok_start, tok_id, tok_pos,
                          tok_flags, tok_mv_ack, results_idle};
  end

  // The engine writes activation chunks and reads result words only while a TOKEN is in hand,
  // when the command processor does neither; it owns the output stream then.
  assign abuf_we         = cmd_abuf_we || eng_abuf_we;
  assign abuf_waddr      = eng_abuf_we ? eng_abuf_waddr : cmd_abuf_waddr;
  assign abuf_wdata      = eng_abuf_we ? eng_abuf_wdata : cmd_abuf_wdata;
  assign rbuf_re         = cmd_rbuf_re || eng_rbuf_re;
  assign rbuf_raddr      = eng_rbuf_re ? eng_rbuf_raddr : cmd_rbuf_raddr;
  assign m_axis_tvalid_o = tok_active ? eng_m_valid : cmd_m_valid;
  assign m_axis_tdata_o  = tok_active ? eng_m_data : cmd_m_data;
  assign m_axis_tlast_o  = tok_active ? eng_m_last : cmd_m_last;

  `ASSERT_NEVER(AbufTwoWriters_A, cmd_abuf_we && eng_abuf_we, clk_i, core_rst_n)
  `ASSERT_NEVER(RbufTwoReaders_A, cmd_rbuf_re && eng_rbuf_re, clk_i, core_rst_n)

  ///////////////////
  // Vector buffer //
  ///////////////////

  logic                 red_valid;
  logic [LgPkWidth-1:0] red_lg_pk;
  logic [31:0]          red_addr;
  logic [RWordBits-1:0] red_data;

  // The reduction root writes one result word per cycle and is never held.
  assign rbuf_we = red_valid;

  ctrl_vbuf #(
    .ChunkBits (ChunkBits),
    .RWordBits (RWordBits),
    .AbufWords (AbufWords),
    .RbufWords (RbufWords)
  ) u_vbuf (
    .clk_i        (clk_i),
    .abuf_we_i    (abuf_we),
    .abuf_waddr_i (abuf_waddr),
    .abuf_wdata_i (abuf_wdata),
    .abuf_re_i    (abuf_re),
    .abuf_raddr_i (abuf_raddr),
    .abuf_rdata_o (abuf_rdata),
    .rbuf_we_i    (rbuf_we),
    .rbuf_waddr_i (red_addr[RbufAw-1:0]),
    .rbuf_wdata_i (red_data),
    .rbuf_re_i    (rbuf_re),
    .rbuf_raddr_i (rbuf_raddr),
    .rbuf_rdata_o (rbuf_rdata)
  );

  //////////////
  // Networks //
  //////////////

  logic [NumTiles-1:0]  mcl_valid, mcl_ready;
  logic [FlitWidth-1:0] mcl_data [NumTiles];
  logic [NumTiles-1:0]  wrl_valid;
  logic [WrWidth-1:0]   wrl_data [NumTiles];
  logic [NumTiles-1:0]  rdl_valid, rdl_ready;
  logic [LgPkWidth-1:0] rdl_lg_pk [NumTiles];
  logic [31:0]          rdl_addr [NumTiles];
  logic [RWordBits-1:0] rdl_data [NumTiles];

  noc_mcast_tree #(
    .NumLeaves (NumTiles),
    .Width     (FlitWidth)
  ) u_mcast (
    .clk_i       (clk_i),
    .rst_ni      (core_rst_n),
    .in_valid_i  (mc_valid),
    .in_ready_o  (mc_ready),
    .in_data_i   (mc_data),
    .out_valid_o (mcl_valid),
    .out_ready_i (mcl_ready),
    .out_data_o  (mcl_data)
  );

  noc_wr_tree #(
    .NumLeaves (NumTiles),
    .Width     (WrWidth)
  ) u_wr (
    .clk_i       (clk_i),
    .rst_ni      (core_rst_n),
    .in_valid_i  (wt_valid),
    .in_data_i   (wt_data),
    .out_valid_o (wrl_valid),
    .out_data_o  (wrl_data)
  );

  noc_reduce_tree #(
    .NumLeaves (NumTiles),
    .Lanes     (Lanes)
  ) u_reduce (
    .clk_i       (clk_i),
    .rst_ni      (core_rst_n),
    .in_valid_i  (rdl_valid),
    .in_ready_o  (rdl_ready),
    .in_lg_pk_i  (rdl_lg_pk),
    .in_addr_i   (rdl_addr),
    .in_data_i   (rdl_data),
    .out_valid_o (red_valid),
    .out_ready_i (1'b1),
    .out_lg_pk_o (red_lg_pk),
    .out_addr_o  (red_addr),
    .out_data_o  (red_data)
  );

  logic unused_red;
  assign unused_red = ^{red_lg_pk, red_addr[31:RbufAw]};

  ///////////
  // Tiles //
  ///////////

  logic [NumTiles-1:0] tile_errs, mac_busy, tile_ecc_single, tile_ecc_double;
  logic [31:0]         tile_ecc_addr [NumTiles];

  for (genvar t = 0; t < NumTiles; t++) begin : gen_tile
    tile_cfg_t             cfg;
    logic                  cfg_valid, cfg_ready, wr_valid, act_valid, act_ready;
    logic                  res_valid, res_ready, res_last, busy_unused;
    logic [31:0]           wr_addr;
    logic [WordBits-1:0]   wr_data;
    logic [ChunkBits-1:0]  act_data;
    logic [RWordBits-1:0]  res_data;

    noc_tile_port #(
      .TileIdx  (t),
      .Lanes    (Lanes),
      .KWidth   (KWidth),
      .FlitData (FlitData)
    ) u_port (
      .clk_i       (clk_i),
      .rst_ni      (core_rst_n),
      .mc_valid_i  (mcl_valid[t]),
      .mc_ready_o  (mcl_ready[t]),
      .mc_data_i   (mcl_data[t]),
      .wr_valid_i  (wrl_valid[t]),
      .wr_data_i   (wrl_data[t]),
      .red_valid_o (rdl_valid[t]),
      .red_ready_i (rdl_ready[t]),
      .red_lg_pk_o (rdl_lg_pk[t]),
      .red_addr_o  (rdl_addr[t]),
      .red_data_o  (rdl_data[t]),
      .cfg_valid_o (cfg_valid),
      .cfg_ready_i (cfg_ready),
      .cfg_o       (cfg),
      .wr_valid_o  (wr_valid),
      .wr_addr_o   (wr_addr),
      .wr_data_o   (wr_data),
      .act_valid_o (act_valid),
      .act_ready_i (act_ready),
      .act_data_o  (act_data),
      .res_valid_i (res_valid),
      .res_ready_o (res_ready),
      .res_data_i  (res_data),
      .res_last_i  (res_last)
    );

    tile #(
      .Lanes         (Lanes),
      .KWidth        (KWidth),
      .WeightWords   (WeightWords),
      .ActWords      (ActWords),
      .WeightRom     (WeightRom),
`ifdef TESSERA_WEIGHT_ROM_PKG
      .WeightRomFile (""),
      .WeightRomInit (tessera_weight_rom_pkg::Image[t])
`else
      .WeightRomFile (WeightRom ? $sformatf("%s/tile%0d.hex", WeightRomDir, t) : "")
`endif
    ) u_tile (
      .clk_i       (clk_i),
      .rst_ni      (core_rst_n),
      .cfg_valid_i (cfg_valid),
      .cfg_ready_o (cfg_ready),
      .cfg_i       (cfg),
      .wr_valid_i  (wr_valid),
      .wr_ready_o  (),
      .wr_addr_i   (wr_addr),
      .wr_data_i   (wr_data),
      .act_valid_i (act_valid),
      .act_ready_o (act_ready),
      .act_data_i  (act_data),
      .res_valid_o (res_valid),
      .res_ready_i (res_ready),
      .res_data_o  (res_data),
      .res_last_o  (res_last),
      .busy_o      (busy_unused),
      .mac_busy_o  (mac_busy[t]),
      .err_o       (tile_errs[t]),
      .err_clear_i (1'b0),
      .ecc_single_o (tile_ecc_single[t]),
      .ecc_double_o (tile_ecc_double[t]),
      .ecc_addr_o   (tile_ecc_addr[t])
    );

    logic unused_tile;
    assign unused_tile = busy_unused;
  end

  assign tile_err = |tile_errs;

  /////////
  // ECC //
  /////////

  ctrl_ecc #(
    .NumTiles (NumTiles)
  ) u_ecc (
    .clk_i           (clk_i),
    .rst_ni          (rst_ni),  // kept over a soft reset, so the driver reads them after one
    .tile_single_i   (tile_ecc_single),
    .tile_double_i   (tile_ecc_double),
    .tile_addr_i     (tile_ecc_addr),
    .dmem_single_i   (dmem_ecc_single),
    .dmem_double_i   (dmem_ecc_double),
    .dmem_addr_i     (dmem_ecc_addr),
    .corrected_o     (ecc_corrected),
    .fail_valid_o    (ecc_fail_valid),
    .fail_dmem_o     (ecc_fail_dmem),
    .fail_tile_o     (ecc_fail_tile),
    .fail_addr_o     (ecc_fail_addr),
    .weight_double_o (ecc_weight_double)
  );

  //////////////////////////
  // Performance counters //
  //////////////////////////

  ctrl_perf #(
    .NumTiles (NumTiles)
  ) u_perf (
    .clk_i          (clk_i),
    .rst_ni         (core_rst_n),
    .mac_busy_i     (mac_busy),
    .stall_input_i  (stall_input),
    .stall_output_i (stall_output),
    .stall_cmd_i    (stall_cmd),
    .snapshot_i     (snapshot_reg || snapshot_cmd),
    .cycles_o       (perf_cycles),
    .mac_busy_o     (perf_mac_busy),
    .stall_input_o  (perf_stall_input),
    .stall_output_o (perf_stall_output),
    .stall_cmd_o    (perf_stall_cmd)
  );

  ////////////////
  // Assertions //
  ////////////////

  // AXI4-Stream: the host holds tvalid and the payload until tready; so does the chip.
  `ASSERT_STREAM(SAxis_A, s_axis_tvalid_i, s_axis_tready_o, {s_axis_tdata_i, s_axis_tlast_i})
  `ASSERT_STREAM(MAxis_A, m_axis_tvalid_o, m_axis_tready_i, {m_axis_tdata_o, m_axis_tlast_o})
  // AXI4-Lite: every channel obeys the valid/ready rule in both directions.
  `ASSERT_STREAM(AxilAw_A, s_axil_awvalid_i, s_axil_awready_o, {s_axil_awaddr_i, s_axil_awprot_i})
  `ASSERT_STREAM(AxilW_A, s_axil_wvalid_i, s_axil_wready_o, {s_axil_wdata_i, s_axil_wstrb_i})
  `ASSERT_STREAM(AxilB_A, s_axil_bvalid_o, s_axil_bready_i, s_axil_bresp_o)
  `ASSERT_STREAM(AxilAr_A, s_axil_arvalid_i, s_axil_arready_o, {s_axil_araddr_i, s_axil_arprot_i})
  `ASSERT_STREAM(AxilR_A, s_axil_rvalid_o, s_axil_rready_i, {s_axil_rdata_o, s_axil_rresp_o})
  // Result words land inside the result buffer.
  `ASSERT(RbufWrite_A, !rbuf_we || red_addr < 32'(RbufWords))
  `ASSERT_KNOWN(IrqKnown_A, irq_o)

endmodule
