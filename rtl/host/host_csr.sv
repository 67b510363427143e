// SPDX-License-Identifier: Apache-2.0
// Register glue: the generated register block (AXI4-Lite slave) wired to the chip, the CMD_FIFO
// word queue, and the interrupt line.
//
// The register block answers SLVERR on unmapped addresses and on writes to read-only registers
// (PeakRDL-regblock --err-if-bad-addr --err-if-bad-rw). A CMD_FIFO write is pushed into the
// queue one cycle after its strobe, when the field holds the new word; a write that finds the
// queue full is dropped and reported (ErrCmdOverflow). irq_o = |(INTR_STATUS & INTR_ENABLE).

`include "prim_assert.svh"

module host_csr #(
  parameter int unsigned GridRows     = 2,
  parameter int unsigned GridCols     = 2,
  parameter int unsigned Lanes        = 4,
  parameter int unsigned KWidth       = 8,
  parameter int unsigned WeightWords  = 256,
  parameter int unsigned ActWords     = 64,
  parameter int unsigned AbufWords    = 256,
  parameter int unsigned RbufWords    = 256,
  parameter int unsigned StreamWidth  = 64,
  parameter int unsigned CmdFifoDepth = 16,
  parameter bit          WeightRom       = 1'b0,  // weights in ROM (CFG_WEIGHT_ROM)
  parameter int unsigned WeightRomDigest = 0      // digest of the ROM image (WEIGHT_ROM_DIGEST)
) (
  input  logic        clk_i,
  input  logic        rst_ni,         // power-on reset: registers
  input  logic        core_rst_ni,    // power-on or soft reset: the command queue
  // AXI4-Lite slave
  output logic        s_axil_awready_o,
  input  logic        s_axil_awvalid_i,
  input  logic [8:0]  s_axil_awaddr_i,
  input  logic [2:0]  s_axil_awprot_i,
  output logic        s_axil_wready_o,
  input  logic        s_axil_wvalid_i,
  input  logic [31:0] s_axil_wdata_i,
  input  logic [3:0]  s_axil_wstrb_i,
  input  logic        s_axil_bready_i,
  output logic        s_axil_bvalid_o,
  output logic [1:0]  s_axil_bresp_o,
  output logic        s_axil_arready_o,
  input  logic        s_axil_arvalid_i,
  input  logic [8:0]  s_axil_araddr_i,
  input  logic [2:0]  s_axil_arprot_i,
  input  logic        s_axil_rready_i,
  output logic        s_axil_rvalid_o,
  output logic [31:0] s_axil_rdata_o,
  output logic [1:0]  s_axil_rresp_o,
  // Control pulses
  output logic        start_o,
  output logic        soft_reset_o,
  output logic        snapshot_o,
  // CMD_FIFO words
  output logic        cmdq_valid_o,
  input  logic        cmdq_ready_i,
  output logic [31:0] cmdq_data_o,
  output logic        cmdq_overflow_o,
  // Status from the command processor
  input  logic        busy_i,
  input  logic        error_i,
  input  logic [7:0]  err_code_i,
  input  logic [23:0] err_desc_i,
  input  logic [15:0] done_count_i,
  input  logic        intr_done_i,
  input  logic        intr_error_i,
  // Performance counter snapshots
  input  logic [63:0] perf_cycles_i,
  input  logic [63:0] perf_mac_busy_i,
  input  logic [63:0] perf_stall_input_i,
  input  logic [63:0] perf_stall_output_i,
  input  logic [63:0] perf_stall_cmd_i,
  // ECC (ctrl_ecc)
  input  logic [31:0] ecc_corrected_i,
  input  logic        ecc_fail_valid_i,
  input  logic        ecc_fail_dmem_i,
  input  logic [15:0] ecc_fail_tile_i,
  input  logic [31:0] ecc_fail_addr_i,
  // Interrupt
  output logic        irq_o
);

  tessera_regs_pkg::tessera_regs__in_t  hwif_in;
  tessera_regs_pkg::tessera_regs__out_t hwif_out;

  tessera_regs u_regs (
    .clk            (clk_i),
    .arst_n         (rst_ni),
    .s_axil_awready (s_axil_awready_o),
    .s_axil_awvalid (s_axil_awvalid_i),
    .s_axil_awaddr  (s_axil_awaddr_i),
    .s_axil_awprot  (s_axil_awprot_i),
    .s_axil_wready  (s_axil_wready_o),
    .s_axil_wvalid  (s_axil_wvalid_i),
    .s_axil_wdata   (s_axil_wdata_i),
    .s_axil_wstrb   (s_axil_wstrb_i),
    .s_axil_bready  (s_axil_bready_i),
    .s_axil_bvalid  (s_axil_bvalid_o),
    .s_axil_bresp   (s_axil_bresp_o),
    .s_axil_arready (s_axil_arready_o),
    .s_axil_arvalid (s_axil_arvalid_i),
    .s_axil_araddr  (s_axil_araddr_i),
    .s_axil_arprot  (s_axil_arprot_i),
    .s_axil_rready  (s_axil_rready_i),
    .s_axil_rvalid  (s_axil_rvalid_o),
    .s_axil_rdata   (s_axil_rdata_o),
    .s_axil_rresp   (s_axil_rresp_o),
    .hwif_in        (hwif_in),
    .hwif_out       (hwif_out)
  );

  // Build configuration read-back.
  assign hwif_in.CFG_GRID.rows.next          = 16'(GridRows);
  assign hwif_in.CFG_GRID.cols.next          = 16'(GridCols);
  assign hwif_in.CFG_TILE.lanes.next         = 16'(Lanes);
  assign hwif_in.CFG_TILE.k_width.next       = 16'(KWidth);
  assign hwif_in.CFG_WEIGHT_WORDS.words.next = 32'(WeightWords);
  assign hwif_in.CFG_ACT_WORDS.chunks.next   = 32'(ActWords);
  assign hwif_in.CFG_VBUF_WORDS.words.next   = 32'(AbufWords * KWidth / 4 + RbufWords * Lanes);
  assign hwif_in.CFG_ABUF_WORDS.chunks.next  = 32'(AbufWords);
  assign hwif_in.CFG_RBUF_WORDS.words.next   = 32'(RbufWords);
  assign hwif_in.CFG_STREAM.bits.next        = 32'(StreamWidth);
  assign hwif_in.CFG_WEIGHT_ROM.rom.next      = WeightRom;
  assign hwif_in.WEIGHT_ROM_DIGEST.value.next = 32'(WeightRomDigest);

  // Status.
  assign hwif_in.STATUS.busy.next        = busy_i;
  assign hwif_in.STATUS.error.next       = error_i;
  assign hwif_in.STATUS.done_count.next  = done_count_i;
  assign hwif_in.ERROR.code.next         = err_code_i;
  assign hwif_in.ERROR.descriptor.next   = err_desc_i;
  assign hwif_in.INTR_STATUS.done.hwset  = intr_done_i;
  assign hwif_in.INTR_STATUS.error.hwset = intr_error_i;

  // Performance counters.
  assign hwif_in.PERF_CYCLES_LO.value.next       = perf_cycles_i[31:0];
  assign hwif_in.PERF_CYCLES_HI.value.next       = perf_cycles_i[63:32];
  assign hwif_in.PERF_MAC_BUSY_LO.value.next     = perf_mac_busy_i[31:0];
  assign hwif_in.PERF_MAC_BUSY_HI.value.next     = perf_mac_busy_i[63:32];
  assign hwif_in.PERF_STALL_INPUT_LO.value.next  = perf_stall_input_i[31:0];
  assign hwif_in.PERF_STALL_INPUT_HI.value.next  = perf_stall_input_i[63:32];
  assign hwif_in.PERF_STALL_OUTPUT_LO.value.next = perf_stall_output_i[31:0];
  assign hwif_in.PERF_STALL_OUTPUT_HI.value.next = perf_stall_output_i[63:32];
  assign hwif_in.PERF_STALL_CMD_LO.value.next    = perf_stall_cmd_i[31:0];
  assign hwif_in.PERF_STALL_CMD_HI.value.next    = perf_stall_cmd_i[63:32];

  // ECC.
  assign hwif_in.ECC_CORRECTED.count.next = ecc_corrected_i;
  assign hwif_in.ECC_FAIL.valid.next      = ecc_fail_valid_i;
  assign hwif_in.ECC_FAIL.dmem.next       = ecc_fail_dmem_i;
  assign hwif_in.ECC_FAIL.tile.next       = ecc_fail_tile_i;
  assign hwif_in.ECC_FAIL_ADDR.addr.next  = ecc_fail_addr_i;

  // Control pulses (single-pulse fields).
  assign start_o      = hwif_out.CTRL.start.value;
  assign soft_reset_o = hwif_out.CTRL.soft_reset.value;
  assign snapshot_o   = hwif_out.CTRL.snapshot.value;

  // CMD_FIFO: push the word the cycle after its write strobe.
  logic push_q, push_ready;

  always_ff @(posedge clk_i or negedge core_rst_ni) begin
    if (!core_rst_ni) begin
      push_q <= 1'b0;
    end else begin
      push_q <= hwif_out.CMD_FIFO.word.swmod;
    end
  end

  noc_fifo #(
    .Width (32),
    .Depth (CmdFifoDepth)
  ) u_cmd_fifo (
    .clk_i       (clk_i),
    .rst_ni      (core_rst_ni),
    .in_valid_i  (push_q),
    .in_ready_o  (push_ready),
    .in_data_i   (hwif_out.CMD_FIFO.word.value),
    .out_valid_o (cmdq_valid_o),
    .out_ready_i (cmdq_ready_i),
    .out_data_o  (cmdq_data_o),
    .level_o     ()
  );

  assign cmdq_overflow_o = push_q && !push_ready;

  assign irq_o = (hwif_out.INTR_STATUS.done.value && hwif_out.INTR_ENABLE.done.value) ||
                 (hwif_out.INTR_STATUS.error.value && hwif_out.INTR_ENABLE.error.value);

  ////////////////
  // Assertions //
  ////////////////

  // AXI4-Lite protocol at the slave port (the tessera_top ports, passed straight through).
  // tessera_top checks the valid/ready rule and payload stability of all five channels in both
  // directions (AxilAw_A, AxilW_A, AxilB_A, AxilAr_A, AxilR_A) and of both AXI4-Stream ports;
  // the checks below add the response rules.

`ifndef SYNTHESIS
  // Transactions seen at the port and not yet answered: write addresses, write data (a write
  // is complete when both have been taken, in either order) and read addresses. The regblock
  // accepts at most two transactions in flight plus one held in each request register, so no
  // count exceeds AxilMaxOutstanding.
  localparam int unsigned AxilMaxOutstanding = 3;

  logic       axil_aw_hs, axil_w_hs, axil_b_hs, axil_ar_hs, axil_r_hs;
  logic [2:0] axil_aw_d, axil_aw_q, axil_w_d, axil_w_q, axil_ar_d, axil_ar_q;

  assign axil_aw_hs = s_axil_awvalid_i && s_axil_awready_o;
  assign axil_w_hs  = s_axil_wvalid_i && s_axil_wready_o;
  assign axil_b_hs  = s_axil_bvalid_o && s_axil_bready_i;
  assign axil_ar_hs = s_axil_arvalid_i && s_axil_arready_o;
  assign axil_r_hs  = s_axil_rvalid_o && s_axil_rready_i;
  assign axil_aw_d  = axil_aw_q + 3'(axil_aw_hs) - 3'(axil_b_hs);
  assign axil_w_d   = axil_w_q + 3'(axil_w_hs) - 3'(axil_b_hs);
  assign axil_ar_d  = axil_ar_q + 3'(axil_ar_hs) - 3'(axil_r_hs);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      axil_aw_q <= 3'd0;
      axil_w_q  <= 3'd0;
      axil_ar_q <= 3'd0;
    end else begin
      axil_aw_q <= axil_aw_d;
      axil_w_q  <= axil_w_d;
      axil_ar_q <= axil_ar_d;
    end
  end

  // Slave outputs are idle in reset (AXI: BVALID and RVALID low while ARESETn is low).
  AxilResetIdle_A: assert property (@(posedge clk_i)
      !rst_ni |-> !s_axil_bvalid_o && !s_axil_rvalid_o)
    else $error("assertion %s failed", "AxilResetIdle_A");
`endif

  // Handshake signals carry no X or Z.
  `ASSERT_KNOWN(AxilValidKnown_A, {s_axil_awvalid_i, s_axil_wvalid_i, s_axil_arvalid_i,
                                   s_axil_bvalid_o, s_axil_rvalid_o})
  `ASSERT_KNOWN(AxilReadyKnown_A, {s_axil_awready_o, s_axil_wready_o, s_axil_arready_o,
                                   s_axil_bready_i, s_axil_rready_i})
  `ASSERT(AxilAwKnown_A, !s_axil_awvalid_i || !$isunknown({s_axil_awaddr_i, s_axil_awprot_i}))
  `ASSERT(AxilWKnown_A, !s_axil_wvalid_i || !$isunknown({s_axil_wdata_i, s_axil_wstrb_i}))
  `ASSERT(AxilArKnown_A, !s_axil_arvalid_i || !$isunknown({s_axil_araddr_i, s_axil_arprot_i}))
  // Responses are legal AXI4-Lite responses (EXOKAY does not exist in AXI4-Lite); this slave
  // answers OKAY or SLVERR only.
  `ASSERT(AxilBresp_A, !s_axil_bvalid_o || s_axil_bresp_o == 2'b00 || s_axil_bresp_o == 2'b10)
  `ASSERT(AxilRresp_A, !s_axil_rvalid_o || s_axil_rresp_o == 2'b00 || s_axil_rresp_o == 2'b10)
  // A write response only for a write whose address and data were both taken in an earlier
  // cycle and not yet answered; a read response only for an unanswered read address. With no
  // IDs in AXI4-Lite, responses come one per request, in request order per channel.
  `ASSERT(AxilBOutstanding_A, !s_axil_bvalid_o || (axil_aw_q != 3'd0 && axil_w_q != 3'd0))
  `ASSERT(AxilROutstanding_A, !s_axil_rvalid_o || axil_ar_q != 3'd0)
  // The slave back-pressures instead of taking unbounded requests.
  `ASSERT(AxilOutstandingMax_A, axil_aw_q <= 3'(AxilMaxOutstanding) &&
          axil_w_q <= 3'(AxilMaxOutstanding) && axil_ar_q <= 3'(AxilMaxOutstanding))

endmodule
