// SPDX-License-Identifier: Apache-2.0
// ULX3S (ECP5-85F) board top: tessera_top behind the UART bridge of docs/fpga.md on the FTDI
// serial port, a power-on reset and the reset button, and status LEDs. Port names follow the
// ULX3S constraint file.
//
// Reset: a power-on reset of PorCycles cycles, and reset while btn[0] (active low) is pressed.
// LEDs: see docs/fpga.md (board top).

`include "prim_assert.svh"

module tessera_fpga_ulx3s #(
  // Chip parameters (tessera_top)
  parameter int unsigned GridRows    = 2,
  parameter int unsigned GridCols    = 2,
  parameter int unsigned Lanes       = 4,
  parameter int unsigned KWidth      = 8,
  parameter int unsigned WeightWords = 256,
  parameter int unsigned ActWords    = 64,
  parameter int unsigned AbufWords   = 256,
  parameter int unsigned RbufWords   = 256,
  parameter int unsigned StreamWidth = 64,
  parameter int unsigned VmemWords   = 4096,
  parameter int unsigned DmemWords   = 1048576,
  parameter int unsigned ProgInstrs  = 1024,
  parameter int unsigned Context     = 256,
  parameter int unsigned HeadDimMax  = 128,
  parameter int unsigned FpStages    = 0,
  // Board and link
  parameter int unsigned ClksPerBit  = 25,        // 1 Mbaud at 25 MHz
  parameter int unsigned ClkHz       = 25000000,  // clk_25mhz
  parameter int unsigned IdleBytes   = 64         // byte times of silence that abandon a frame
) (
  input  logic       clk_25mhz,
  input  logic [6:0] btn,         // btn[0] active low (reset), btn[6:1] active high (unused)
  output logic [7:0] led,
  input  logic       ftdi_txd,    // FTDI TX: into the FPGA
  output logic       ftdi_rxd,    // FTDI RX: out of the FPGA
  output logic       wifi_gpio0   // held high: keeps the ESP32 from resetting the board
);

  // The token engine with its arithmetic units registered inside (FpStages 1) routes at 24.92
  // MHz on the ECP5 (docs/fpga.md), just short of the board's 25 MHz: the bitstream leaves it
  // out until it closes. Simulations of this top keep it.
`ifdef TESSERA_ECP5
  localparam bit BoardEngine = 1'b0;
`else
  localparam bit BoardEngine = 1'b1;
`endif

  localparam int unsigned PorCycles   = 1024;
  localparam int unsigned PorW        = $clog2(PorCycles + 1);
  // LED pulse stretch: 2^21 cycles, 84 ms at 25 MHz.
  localparam int unsigned StretchW    = 21;
  // Heartbeat: bit 24 of a free-running counter, 0.67 s on and off at 25 MHz.
  localparam int unsigned HeartbeatW  = 25;

  logic clk;
  assign clk = clk_25mhz;

  ///////////
  // Reset //
  ///////////

  // The power-on counter and the button synchronizer start from their initial values
  // (configuration of the FPGA); they have no reset of their own.
  logic [PorW-1:0] por_q = '0;
  logic [1:0]      btn_sync_q = 2'b00;
  logic            rst_q = 1'b1;
  logic            por_done;

  assign por_done = por_q == PorW'(PorCycles);

  always_ff @(posedge clk) begin
    por_q      <= por_done ? por_q : por_q + 1'b1;
    btn_sync_q <= {btn_sync_q[0], btn[0]};
    rst_q      <= !(por_done && btn_sync_q[1]);
  end

  // The reset reaches every flip-flop of the chip and the bridge: it runs on a global network,
  // active high, as the flip-flops' reset inputs take it (the inversion below and the one of the
  // active-low resets cancel in synthesis).
  logic rst_glb, rst_n;
  prim_global_buf u_rst_buf (
    .in_i  (rst_q),
    .out_o (rst_glb)
  );
  assign rst_n = !rst_glb;

  //////////
  // Chip //
  //////////

  logic                   awready, awvalid, wready, wvalid, bready, bvalid;
  logic                   arready, arvalid, rready, rvalid;
  logic [8:0]             awaddr, araddr;
  logic [2:0]             awprot, arprot;
  logic [31:0]            wdata, rdata;
  logic [3:0]             wstrb;
  logic [1:0]             bresp, rresp;
  logic                   in_valid, in_ready, in_last, out_valid, out_ready, out_last;
  logic [StreamWidth-1:0] in_data, out_data;
  logic                   irq;

  tessera_top #(
    .GridRows    (GridRows),
    .GridCols    (GridCols),
    .Lanes       (Lanes),
    .KWidth      (KWidth),
    .WeightWords (WeightWords),
    .ActWords    (ActWords),
    .AbufWords   (AbufWords),
    .RbufWords   (RbufWords),
    .StreamWidth (StreamWidth),
    .VmemWords   (VmemWords),
    .DmemWords   (DmemWords),
    .ProgInstrs  (ProgInstrs),
    .Context     (Context),
    .HeadDimMax  (HeadDimMax),
    .FpStages    (FpStages),
    .TokEngine   (BoardEngine)
  ) u_chip (
    .clk_i            (clk),
    .rst_ni           (rst_n),
    .s_axil_awready_o (awready),
    .s_axil_awvalid_i (awvalid),
    .s_axil_awaddr_i  (awaddr),
    .s_axil_awprot_i  (awprot),
    .s_axil_wready_o  (wready),
    .s_axil_wvalid_i  (wvalid),
    .s_axil_wdata_i   (wdata),
    .s_axil_wstrb_i   (wstrb),
    .s_axil_bready_i  (bready),
    .s_axil_bvalid_o  (bvalid),
    .s_axil_bresp_o   (bresp),
    .s_axil_arready_o (arready),
    .s_axil_arvalid_i (arvalid),
    .s_axil_araddr_i  (araddr),
    .s_axil_arprot_i  (arprot),
    .s_axil_rready_i  (rready),
    .s_axil_rvalid_o  (rvalid),
    .s_axil_rdata_o   (rdata),
    .s_axil_rresp_o   (rresp),
    .s_axis_tvalid_i  (in_valid),
    .s_axis_tready_o  (in_ready),
    .s_axis_tdata_i   (in_data),
    .s_axis_tlast_i   (in_last),
    .m_axis_tvalid_o  (out_valid),
    .m_axis_tready_i  (out_ready),
    .m_axis_tdata_o   (out_data),
    .m_axis_tlast_o   (out_last),
    .irq_o            (irq)
  );

  ////////////
  // Bridge //
  ////////////

  logic active, crc_err, frame_err;

  fpga_uart_bridge #(
    .StreamWidth (StreamWidth),
    .ClksPerBit  (ClksPerBit),
    .ClkHz       (ClkHz),
    .IdleBytes   (IdleBytes),
    .MaxPayload  (1024)
  ) u_bridge (
    .clk_i            (clk),
    .rst_ni           (rst_n),
    .uart_rx_i        (ftdi_txd),
    .uart_tx_o        (ftdi_rxd),
    .m_axil_awready_i (awready),
    .m_axil_awvalid_o (awvalid),
    .m_axil_awaddr_o  (awaddr),
    .m_axil_awprot_o  (awprot),
    .m_axil_wready_i  (wready),
    .m_axil_wvalid_o  (wvalid),
    .m_axil_wdata_o   (wdata),
    .m_axil_wstrb_o   (wstrb),
    .m_axil_bready_o  (bready),
    .m_axil_bvalid_i  (bvalid),
    .m_axil_bresp_i   (bresp),
    .m_axil_arready_i (arready),
    .m_axil_arvalid_o (arvalid),
    .m_axil_araddr_o  (araddr),
    .m_axil_arprot_o  (arprot),
    .m_axil_rready_o  (rready),
    .m_axil_rvalid_i  (rvalid),
    .m_axil_rdata_i   (rdata),
    .m_axil_rresp_i   (rresp),
    .m_axis_tvalid_o  (in_valid),
    .m_axis_tready_i  (in_ready),
    .m_axis_tdata_o   (in_data),
    .m_axis_tlast_o   (in_last),
    .s_axis_tvalid_i  (out_valid),
    .s_axis_tready_o  (out_ready),
    .s_axis_tdata_i   (out_data),
    .s_axis_tlast_i   (out_last),
    .irq_i            (irq),
    .active_o         (active),
    .crc_err_o        (crc_err),
    .frame_err_o      (frame_err)
  );

  //////////
  // LEDs //
  //////////

  logic [HeartbeatW-1:0] beat_q;
  logic [StretchW-1:0]   act_q, in_q, out_q;

  always_ff @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      beat_q <= '0;
      act_q  <= '0;
      in_q   <= '0;
      out_q  <= '0;
    end else begin
      beat_q <= beat_q + 1'b1;
      act_q  <= active ? '1 : (act_q != '0 ? act_q - 1'b1 : act_q);
      in_q   <= (in_valid && in_ready) ? '1 : (in_q != '0 ? in_q - 1'b1 : in_q);
      out_q  <= (out_valid && out_ready) ? '1 : (out_q != '0 ? out_q - 1'b1 : out_q);
    end
  end

  assign led[0] = beat_q[HeartbeatW-1];  // heartbeat: the clock runs, reset is released
  assign led[1] = act_q != '0;           // a frame is received, executed or answered
  assign led[2] = irq;                   // the chip's interrupt line
  assign led[3] = crc_err;               // a request with a bad CRC was seen (sticky)
  assign led[4] = frame_err;             // a byte with a framing error was seen (sticky)
  assign led[5] = in_q != '0;            // stream beats into the chip
  assign led[6] = out_q != '0;           // stream beats out of the chip
  assign led[7] = rst_q;                 // in reset (power-on or btn[0])

  assign wifi_gpio0 = 1'b1;

  logic unused_btn;
  assign unused_btn = ^btn[6:1];

  `ASSERT_KNOWN(LedKnown_A, led, clk, rst_n)
  `ASSERT_KNOWN(TxdKnown_A, ftdi_rxd, clk, rst_n)

endmodule
