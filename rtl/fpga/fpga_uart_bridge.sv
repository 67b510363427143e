// SPDX-License-Identifier: Apache-2.0
// UART bridge of the board build: the framed protocol of docs/fpga.md (CRC-16/CCITT-FALSE,
// sequence numbers, the kept last response, timeouts) carried to an AXI4-Lite manager and an
// AXI4-Stream source and sink toward tessera_top.
//
// Three parts share two byte RAMs (inferred block RAM):
// - the receiver hunts for the start byte, checks length and CRC, stores the payload in the
//   request RAM (its first six bytes also in registers) and holds the finished frame until the
//   executor takes it; a gap of more than IdleBytes byte times or a framing error abandons a
//   partial frame. It starts no frame while the executor runs a command (which may read the
//   request RAM); bytes arriving then are dropped like any byte outside a frame.
// - the executor answers BAD_CRC, replays the kept response for a repeated sequence number, or
//   runs the command (every wait bounded by a cycle timeout) and writes the response payload
//   into the response RAM, which then holds the kept response;
// - the transmitter sends the response header, the payload from the response RAM and the CRC.
//
// Stream beats are little-endian: byte i of a beat is tdata[8*i +: 8]. A beat offered to the
// chip stays offered until taken (AXI4-Stream never withdraws one), also after STREAM_SEND
// answered TIMEOUT; it is not counted as taken by that command.

`include "prim_assert.svh"

module fpga_uart_bridge #(
  parameter int unsigned StreamWidth = 64,        // AXI4-Stream tdata bits
  parameter int unsigned ClksPerBit  = 25,        // clock cycles per UART bit
  parameter int unsigned ClkHz       = 25000000,  // clock frequency reported by HELLO
  parameter int unsigned IdleBytes   = 64,        // byte times of silence that abandon a frame
  parameter int unsigned MaxPayload  = 1024       // request and response payload bytes
) (
  input  logic                   clk_i,
  input  logic                   rst_ni,
  // Serial link
  input  logic                   uart_rx_i,
  output logic                   uart_tx_o,
  // AXI4-Lite manager (to tessera_top's s_axil_*)
  input  logic                   m_axil_awready_i,
  output logic                   m_axil_awvalid_o,
  output logic [8:0]             m_axil_awaddr_o,
  output logic [2:0]             m_axil_awprot_o,
  input  logic                   m_axil_wready_i,
  output logic                   m_axil_wvalid_o,
  output logic [31:0]            m_axil_wdata_o,
  output logic [3:0]             m_axil_wstrb_o,
  output logic                   m_axil_bready_o,
  input  logic                   m_axil_bvalid_i,
  input  logic [1:0]             m_axil_bresp_i,
  input  logic                   m_axil_arready_i,
  output logic                   m_axil_arvalid_o,
  output logic [8:0]             m_axil_araddr_o,
  output logic [2:0]             m_axil_arprot_o,
  output logic                   m_axil_rready_o,
  input  logic                   m_axil_rvalid_i,
  input  logic [31:0]            m_axil_rdata_i,
  input  logic [1:0]             m_axil_rresp_i,
  // AXI4-Stream source (to tessera_top's s_axis_*)
  output logic                   m_axis_tvalid_o,
  input  logic                   m_axis_tready_i,
  output logic [StreamWidth-1:0] m_axis_tdata_o,
  output logic                   m_axis_tlast_o,
  // AXI4-Stream sink (from tessera_top's m_axis_*)
  input  logic                   s_axis_tvalid_i,
  output logic                   s_axis_tready_o,
  input  logic [StreamWidth-1:0] s_axis_tdata_i,
  input  logic                   s_axis_tlast_i,
  // Interrupt of the chip
  input  logic                   irq_i,
  // Status
  output logic                   active_o,    // a frame is received, executed or answered
  output logic                   crc_err_o,   // sticky: a request's CRC did not match
  output logic                   frame_err_o  // sticky: a byte had a framing error
);

  ////////////////
  // Parameters //
  ////////////////

  localparam int unsigned W          = StreamWidth / 8;          // bytes per beat
  localparam int unsigned BeatIdxW   = $clog2(W + 1);
  localparam int unsigned RamAw      = $clog2(MaxPayload);
  localparam int unsigned IdleCycles = IdleBytes * 10 * ClksPerBit;
  localparam int unsigned IdleW      = $clog2(IdleCycles + 1);
  // Register accesses answer within a few cycles; this bound only keeps a hung bus from
  // hanging the bridge.
  localparam int unsigned RegTimeout = 65536;

  localparam logic [7:0] StartReq  = 8'hA5;
  localparam logic [7:0] StartResp = 8'h5A;
  localparam logic [7:0] Version   = 8'd1;

  localparam logic [7:0] CmdHello      = 8'h00;
  localparam logic [7:0] CmdRegRead    = 8'h01;
  localparam logic [7:0] CmdRegWrite   = 8'h02;
  localparam logic [7:0] CmdStreamSend = 8'h03;
  localparam logic [7:0] CmdStreamRecv = 8'h04;
  localparam logic [7:0] CmdWaitIrq    = 8'h05;

  localparam logic [7:0] StOk      = 8'd0;
  localparam logic [7:0] StSlverr  = 8'd1;
  localparam logic [7:0] StTimeout = 8'd2;
  localparam logic [7:0] StBadCmd  = 8'd3;
  localparam logic [7:0] StBadLen  = 8'd4;
  localparam logic [7:0] StBadCrc  = 8'd5;

  localparam int unsigned HelloLen = 14;

  `ASSERT_STATIC(gen_stream_width_A, StreamWidth >= 8 && StreamWidth % 8 == 0 &&
                 W + 1 <= MaxPayload,
                 "fpga_uart_bridge: StreamWidth must be whole bytes, one beat within MaxPayload")
  `ASSERT_STATIC(gen_max_payload_A, MaxPayload >= HelloLen && MaxPayload < 65536 &&
                 (MaxPayload & (MaxPayload - 1)) == 0,
                 "fpga_uart_bridge: MaxPayload must be a power of two in 16 .. 32768")
  `ASSERT_STATIC(gen_idle_A, IdleBytes >= 2 && 64'(IdleBytes) * 10 * 64'(ClksPerBit) < (64'd1 << 31),
                 "fpga_uart_bridge: IdleBytes must be at least 2 and IdleCycles fit 31 bits")
  `ASSERT_STATIC(gen_clks_A, ClksPerBit >= 4 && ClksPerBit < 65536,
                 "fpga_uart_bridge: ClksPerBit must be in 4 .. 65535")

  // CRC-16/CCITT-FALSE: polynomial 0x1021, no reflection; one byte at a time.
  function automatic logic [15:0] crc16(logic [15:0] crc, logic [7:0] data);
    logic [15:0] c;
    c = crc ^ {data, 8'h00};
    for (int i = 0; i < 8; i++) begin
      c = c[15] ? ((c << 1) ^ 16'h1021) : (c << 1);
    end
    return c;
  endfunction

  //////////
  // UART //
  //////////

  logic       rx_valid, rx_ferr;
  logic [7:0] rx_data;
  logic       tx_valid, tx_ready;
  logic [7:0] tx_data;

  uart_rx #(
    .ClksPerBit (ClksPerBit)
  ) u_rx (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .rx_i    (uart_rx_i),
    .valid_o (rx_valid),
    .data_o  (rx_data),
    .ferr_o  (rx_ferr)
  );

  uart_tx #(
    .ClksPerBit (ClksPerBit)
  ) u_tx (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .valid_i (tx_valid),
    .ready_o (tx_ready),
    .data_i  (tx_data),
    .tx_o    (uart_tx_o)
  );

  //////////
  // RAMs //
  //////////

  logic             req_we, req_re, rsp_we, rsp_re;
  logic [RamAw-1:0] req_waddr, req_raddr, rsp_waddr, rsp_raddr;
  logic [7:0]       req_wdata, req_rdata, rsp_wdata, rsp_rdata;

  prim_ram_1r1w #(
    .Width (8),
    .Depth (MaxPayload)
  ) u_req_ram (
    .clk_i   (clk_i),
    .we_i    (req_we),
    .waddr_i (req_waddr),
    .wdata_i (req_wdata),
    .re_i    (req_re),
    .raddr_i (req_raddr),
    .rdata_o (req_rdata)
  );

  prim_ram_1r1w #(
    .Width (8),
    .Depth (MaxPayload)
  ) u_rsp_ram (
    .clk_i   (clk_i),
    .we_i    (rsp_we),
    .waddr_i (rsp_waddr),
    .wdata_i (rsp_wdata),
    .re_i    (rsp_re),
    .raddr_i (rsp_raddr),
    .rdata_o (rsp_rdata)
  );

  //////////////
  // Receiver //
  //////////////

  typedef enum logic [3:0] {
    PHunt,
    PSeq,
    PCmd,
    PLen0,
    PLen1,
    PPay,
    PCrc0,
    PCrc1,
    PHeld
  } p_state_e;

  p_state_e         p_state_d, p_state_q;
  logic [7:0]       p_seq_d, p_seq_q, p_cmd_d, p_cmd_q, p_crclo_d, p_crclo_q;
  logic [15:0]      p_len_d, p_len_q, p_crc_d, p_crc_q;
  logic [15:0]      p_cnt_d, p_cnt_q;
  logic [47:0]      p_args_d, p_args_q;
  logic             p_ok_d, p_ok_q;
  logic [IdleW-1:0] p_idle_d, p_idle_q;
  logic             p_take;      // the executor takes the held frame
  logic             p_may_start; // the executor does not use the request RAM
  logic             rx_frame;    // inside a frame, waiting for its bytes

  assign rx_frame = p_state_q != PHunt && p_state_q != PHeld;

  always_comb begin
    p_state_d = p_state_q;
    p_seq_d   = p_seq_q;
    p_cmd_d   = p_cmd_q;
    p_len_d   = p_len_q;
    p_crc_d   = p_crc_q;
    p_crclo_d = p_crclo_q;
    p_cnt_d   = p_cnt_q;
    p_args_d  = p_args_q;
    p_ok_d    = p_ok_q;
    p_idle_d  = '0;
    req_we    = 1'b0;
    req_waddr = p_cnt_q[RamAw-1:0];
    req_wdata = rx_data;
    if (rx_frame) begin
      p_idle_d = p_idle_q + 1'b1;
    end
    unique case (p_state_q)
      PHunt: begin
        if (rx_valid && rx_data == StartReq && p_may_start) begin
          p_state_d = PSeq;
          p_crc_d   = 16'hFFFF;
        end
      end
      PSeq: begin
        if (rx_valid) begin
          p_seq_d   = rx_data;
          p_crc_d   = crc16(p_crc_q, rx_data);
          p_state_d = PCmd;
        end
      end
      PCmd: begin
        if (rx_valid) begin
          p_cmd_d   = rx_data;
          p_crc_d   = crc16(p_crc_q, rx_data);
          p_state_d = PLen0;
        end
      end
      PLen0: begin
        if (rx_valid) begin
          p_len_d[7:0] = rx_data;
          p_crc_d      = crc16(p_crc_q, rx_data);
          p_state_d    = PLen1;
        end
      end
      // A length above MaxPayload cannot be a frame of this board: abandon it.
      PLen1: begin
        if (rx_valid) begin
          p_len_d[15:8] = rx_data;
          p_crc_d       = crc16(p_crc_q, rx_data);
          p_cnt_d       = '0;
          p_args_d      = '0;
          if ({rx_data, p_len_q[7:0]} > 16'(MaxPayload)) begin
            p_state_d = PHunt;
          end else if ({rx_data, p_len_q[7:0]} == 16'd0) begin
            p_state_d = PCrc0;
          end else begin
            p_state_d = PPay;
          end
        end
      end
      PPay: begin
        if (rx_valid) begin
          req_we  = 1'b1;
          p_crc_d = crc16(p_crc_q, rx_data);
          p_cnt_d = p_cnt_q + 1'b1;
          if (p_cnt_q < 16'd6) begin
            p_args_d[8*p_cnt_q[2:0] +: 8] = rx_data;
          end
          if (p_cnt_q + 1'b1 == p_len_q) begin
            p_state_d = PCrc0;
          end
        end
      end
      PCrc0: begin
        if (rx_valid) begin
          p_crclo_d = rx_data;
          p_state_d = PCrc1;
        end
      end
      PCrc1: begin
        if (rx_valid) begin
          p_ok_d    = {rx_data, p_crclo_q} == p_crc_q;
          p_state_d = PHeld;
        end
      end
      PHeld: begin
        if (p_take) begin
          p_state_d = PHunt;
        end
      end
      default: p_state_d = PHunt;
    endcase
    // A framing error or a gap inside a frame abandons it.
    if (rx_frame && (rx_ferr || p_idle_q == IdleW'(IdleCycles))) begin
      p_state_d = PHunt;
    end
    if (rx_valid || !rx_frame) begin
      p_idle_d = '0;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      p_state_q <= PHunt;
      p_seq_q   <= '0;
      p_cmd_q   <= '0;
      p_len_q   <= '0;
      p_crc_q   <= '0;
      p_crclo_q <= '0;
      p_cnt_q   <= '0;
      p_args_q  <= '0;
      p_ok_q    <= 1'b0;
      p_idle_q  <= '0;
    end else begin
      p_state_q <= p_state_d;
      p_seq_q   <= p_seq_d;
      p_cmd_q   <= p_cmd_d;
      p_len_q   <= p_len_d;
      p_crc_q   <= p_crc_d;
      p_crclo_q <= p_crclo_d;
      p_cnt_q   <= p_cnt_d;
      p_args_q  <= p_args_d;
      p_ok_q    <= p_ok_d;
      p_idle_q  <= p_idle_d;
    end
  end

  //////////////////////////////
  // Executor and transmitter //
  //////////////////////////////

  typedef enum logic [4:0] {
    XIdle,
    XRegWr,      // AW and W offered
    XRegB,       // waiting for the write response
    XRegAr,      // AR offered
    XRegR,       // waiting for the read data
    XSendRd,     // read one beat byte from the request RAM
    XSendByte,   // collect it
    XSendOffer,  // hand the beat to the output stage
    XSendDrain,  // all beats handed over: wait until the last one is taken
    XRecv,       // ready for a beat
    XRecvWr,     // write the beat's bytes and flags into the response RAM
    XIrq,        // waiting for the interrupt
    XSmall,      // write a short payload into the response RAM
    XDone,       // the response is complete: keep it
    XTxHead,     // start byte, sequence, command, status, length
    XTxRd,       // read one payload byte from the response RAM
    XTxPay,      // send it
    XTxCrc0,
    XTxCrc1
  } x_state_e;

  x_state_e               x_state_d, x_state_q;
  // The response being sent
  logic [7:0]             r_seq_d, r_seq_q, r_cmd_d, r_cmd_q, r_status_d, r_status_q;
  logic [15:0]            r_len_d, r_len_q;
  // The kept response (its payload is the response RAM)
  logic                   k_valid_d, k_valid_q;
  logic [7:0]             k_seq_d, k_seq_q, k_cmd_d, k_cmd_q, k_status_d, k_status_q;
  logic [15:0]            k_len_d, k_len_q;
  logic                   k_hello_d, k_hello_q;  // the command ran was HELLO: keep nothing
  // Command state
  logic [31:0]            x_timer_d, x_timer_q, x_limit_d, x_limit_q;
  logic [15:0]            x_idx_d, x_idx_q;      // byte index (RAMs, header)
  logic [15:0]            x_beats_d, x_beats_q;  // beats of the command
  logic [15:0]            x_done_d, x_done_q;    // beats handed over or received
  logic [BeatIdxW-1:0]    x_bidx_d, x_bidx_q;    // byte within a beat
  logic [StreamWidth-1:0] x_beat_d, x_beat_q;
  logic                   x_last_d, x_last_q;
  logic                   x_flag_d, x_flag_q;    // STREAM_SEND: tlast on the final beat
  logic                   x_aw_d, x_aw_q, x_w_d, x_w_q;
  logic [8*HelloLen-1:0]  x_small_d, x_small_q;
  logic [15:0]            x_crc_d, x_crc_q;
  logic                   crc_err_d, crc_err_q, frame_err_d, frame_err_q;
  // Output stage of the stream source
  logic                   os_valid_d, os_valid_q, os_last_d, os_last_q;
  logic [StreamWidth-1:0] os_data_d, os_data_q;

  logic                   timed_out;
  logic [15:0]            send_taken;
  logic [7:0]             head_byte;
  logic [15:0]            req_len_sum;

  assign timed_out   = x_timer_q >= x_limit_q;
  assign p_may_start = x_state_q == XIdle || x_state_q >= XDone;
  // Beats handed over and taken: the one still in the output stage is not (yet) taken.
  assign send_taken  = x_done_q - 16'((os_valid_q && x_done_q != '0) ? 1 : 0);
  assign req_len_sum = p_len_q - 16'd5;

  always_comb begin
    unique case (x_idx_q[2:0])
      3'd0:    head_byte = StartResp;
      3'd1:    head_byte = r_seq_q;
      3'd2:    head_byte = r_cmd_q;
      3'd3:    head_byte = r_status_q;
      3'd4:    head_byte = r_len_q[7:0];
      default: head_byte = r_len_q[15:8];
    endcase
  end

  always_comb begin
    x_state_d   = x_state_q;
    r_seq_d     = r_seq_q;
    r_cmd_d     = r_cmd_q;
    r_status_d  = r_status_q;
    r_len_d     = r_len_q;
    k_valid_d   = k_valid_q;
    k_seq_d     = k_seq_q;
    k_cmd_d     = k_cmd_q;
    k_status_d  = k_status_q;
    k_len_d     = k_len_q;
    k_hello_d   = k_hello_q;
    x_timer_d   = (x_timer_q == '1) ? x_timer_q : x_timer_q + 1'b1;
    x_limit_d   = x_limit_q;
    x_idx_d     = x_idx_q;
    x_beats_d   = x_beats_q;
    x_done_d    = x_done_q;
    x_bidx_d    = x_bidx_q;
    x_beat_d    = x_beat_q;
    x_last_d    = x_last_q;
    x_flag_d    = x_flag_q;
    x_aw_d      = x_aw_q;
    x_w_d       = x_w_q;
    x_small_d   = x_small_q;
    x_crc_d     = x_crc_q;
    crc_err_d   = crc_err_q;
    frame_err_d = frame_err_q || rx_ferr;
    os_valid_d  = os_valid_q && !m_axis_tready_i;
    os_last_d   = os_last_q;
    os_data_d   = os_data_q;
    p_take      = 1'b0;
    req_re      = 1'b0;
    req_raddr   = x_idx_q[RamAw-1:0];
    rsp_we      = 1'b0;
    rsp_waddr   = x_idx_q[RamAw-1:0];
    rsp_wdata   = x_small_q[7:0];
    rsp_re      = 1'b0;
    rsp_raddr   = x_idx_q[RamAw-1:0];
    tx_valid    = 1'b0;
    tx_data     = head_byte;
    m_axil_awvalid_o = 1'b0;
    m_axil_wvalid_o  = 1'b0;
    m_axil_bready_o  = 1'b0;
    m_axil_arvalid_o = 1'b0;
    m_axil_rready_o  = 1'b0;
    s_axis_tready_o  = 1'b0;

    unique case (x_state_q)
      XIdle: begin
        if (p_state_q == PHeld) begin
          p_take     = 1'b1;
          r_seq_d    = p_seq_q;
          r_cmd_d    = p_cmd_q | 8'h80;
          r_status_d = StOk;
          r_len_d    = '0;
          x_timer_d  = '0;
          x_idx_d    = '0;
          x_done_d   = '0;
          x_bidx_d   = '0;
          x_aw_d     = 1'b0;
          x_w_d      = 1'b0;
          k_hello_d  = 1'b0;
          x_state_d  = XDone;
          if (!p_ok_q) begin
            // Not executed, and the kept response stays.
            r_status_d = StBadCrc;
            crc_err_d  = 1'b1;
            x_state_d  = XTxHead;
          end else if (p_cmd_q != CmdHello && k_valid_q && p_seq_q == k_seq_q) begin
            r_cmd_d    = k_cmd_q;
            r_status_d = k_status_q;
            r_len_d    = k_len_q;
            x_state_d  = XTxHead;
          end else begin
            // The response RAM is rewritten from here on.
            k_valid_d = 1'b0;
            unique case (p_cmd_q)
              CmdHello: begin
                k_hello_d = 1'b1;
                if (p_len_q != 16'd0) begin
                  r_status_d = StBadLen;
                end else begin
                  x_small_d = {16'(ClksPerBit), 16'(MaxPayload), 32'(ClkHz), 8'(W), Version,
                               8'h41, 8'h52, 8'h53, 8'h54};
                  r_len_d   = 16'(HelloLen);
                  x_state_d = XSmall;
                end
              end
              CmdRegRead: begin
                x_limit_d = 32'(RegTimeout);
                if (p_len_q != 16'd2) begin
                  r_status_d = StBadLen;
                end else begin
                  r_len_d   = 16'd4;
                  x_small_d = '0;
                  if (p_args_q[15:9] != '0) begin
                    // Outside the 9-bit register space: no bus access.
                    r_status_d = StSlverr;
                    x_state_d  = XSmall;
                  end else begin
                    x_state_d = XRegAr;
                  end
                end
              end
              CmdRegWrite: begin
                x_limit_d = 32'(RegTimeout);
                if (p_len_q != 16'd6) begin
                  r_status_d = StBadLen;
                end else if (p_args_q[15:9] != '0) begin
                  r_status_d = StSlverr;
                end else begin
                  x_state_d = XRegWr;
                end
              end
              CmdStreamSend: begin
                x_flag_d  = p_args_q[0];
                x_limit_d = p_args_q[39:8];
                x_idx_d   = 16'd5;
                x_beats_d = 16'(req_len_sum / 16'(W));
                if (p_len_q < 16'(5 + W) || req_len_sum % 16'(W) != '0) begin
                  r_status_d = StBadLen;
                end else begin
                  x_state_d = XSendRd;
                end
              end
              CmdStreamRecv: begin
                x_limit_d = p_args_q[47:16];
                x_beats_d = p_args_q[15:0];
                if (p_len_q != 16'd6 || p_args_q[15:0] == '0 ||
                    p_args_q[15:0] > 16'(MaxPayload / (W + 1))) begin
                  r_status_d = StBadLen;
                end else begin
                  x_state_d = XRecv;
                end
              end
              CmdWaitIrq: begin
                x_limit_d = p_args_q[31:0];
                if (p_len_q != 16'd4) begin
                  r_status_d = StBadLen;
                end else begin
                  r_len_d   = 16'd1;
                  x_state_d = XIrq;
                end
              end
              default: r_status_d = StBadCmd;
            endcase
          end
        end
      end

      // Register write: AW and W together, each held until taken.
      XRegWr: begin
        m_axil_awvalid_o = !x_aw_q;
        m_axil_wvalid_o  = !x_w_q;
        x_aw_d = x_aw_q || m_axil_awready_i;
        x_w_d  = x_w_q || m_axil_wready_i;
        if (x_aw_d && x_w_d) begin
          x_state_d = XRegB;
        end else if (timed_out) begin
          r_status_d = StTimeout;
          x_state_d  = XDone;
        end
      end
      XRegB: begin
        m_axil_bready_o = 1'b1;
        if (m_axil_bvalid_i) begin
          r_status_d = m_axil_bresp_i[1] ? StSlverr : StOk;
          x_state_d  = XDone;
        end else if (timed_out) begin
          r_status_d = StTimeout;
          x_state_d  = XDone;
        end
      end

      XRegAr: begin
        m_axil_arvalid_o = 1'b1;
        if (m_axil_arready_i) begin
          x_state_d = XRegR;
        end else if (timed_out) begin
          r_status_d = StTimeout;
          x_state_d  = XSmall;
        end
      end
      XRegR: begin
        m_axil_rready_o = 1'b1;
        if (m_axil_rvalid_i) begin
          r_status_d = m_axil_rresp_i[1] ? StSlverr : StOk;
          x_small_d  = (8*HelloLen)'(m_axil_rdata_i);
          x_state_d  = XSmall;
        end else if (timed_out) begin
          r_status_d = StTimeout;
          x_state_d  = XSmall;
        end
      end

      // STREAM_SEND: beat bytes from the request RAM (offset 5 on), one beat at a time into
      // the output stage.
      XSendRd: begin
        req_re    = 1'b1;
        x_state_d = XSendByte;
      end
      XSendByte: begin
        x_beat_d = {req_rdata, x_beat_q[StreamWidth-1:8]};
        x_idx_d  = x_idx_q + 1'b1;
        if (x_bidx_q == BeatIdxW'(W - 1)) begin
          x_bidx_d  = '0;
          x_state_d = XSendOffer;
        end else begin
          x_bidx_d  = x_bidx_q + 1'b1;
          x_state_d = XSendRd;
        end
      end
      XSendOffer: begin
        if (!os_valid_d) begin
          os_valid_d = 1'b1;
          os_data_d  = x_beat_q;
          os_last_d  = x_flag_q && x_done_q + 1'b1 == x_beats_q;
          x_done_d   = x_done_q + 1'b1;
          x_state_d  = (x_done_q + 1'b1 == x_beats_q) ? XSendDrain : XSendRd;
        end else if (timed_out) begin
          r_status_d = StTimeout;
          x_idx_d    = '0;
          x_state_d  = XSmall;
        end
        x_small_d = (8*HelloLen)'(send_taken);
        r_len_d   = 16'd2;
      end
      XSendDrain: begin
        x_small_d = (8*HelloLen)'(send_taken);
        r_len_d   = 16'd2;
        x_idx_d   = '0;
        if (!os_valid_q) begin
          x_state_d = XSmall;
        end else if (timed_out) begin
          r_status_d = StTimeout;
          x_state_d  = XSmall;
        end
      end

      // STREAM_RECV: each beat into the response RAM as W data bytes and one flags byte.
      XRecv: begin
        s_axis_tready_o = !timed_out;
        if (s_axis_tvalid_i && !timed_out) begin
          x_beat_d  = s_axis_tdata_i;
          x_last_d  = s_axis_tlast_i;
          x_bidx_d  = '0;
          x_state_d = XRecvWr;
        end else if (timed_out) begin
          r_status_d = StTimeout;
          x_state_d  = XDone;
        end
      end
      XRecvWr: begin
        rsp_we    = 1'b1;
        rsp_wdata = (x_bidx_q == BeatIdxW'(W)) ? {7'd0, x_last_q} : x_beat_q[7:0];
        x_beat_d  = x_beat_q >> 8;
        x_idx_d   = x_idx_q + 1'b1;
        x_bidx_d  = x_bidx_q + 1'b1;
        if (x_bidx_q == BeatIdxW'(W)) begin
          x_done_d  = x_done_q + 1'b1;
          r_len_d   = r_len_q + 16'(W + 1);
          x_state_d = (x_done_q + 1'b1 == x_beats_q) ? XDone : XRecv;
        end
      end

      XIrq: begin
        if (irq_i) begin
          x_small_d = (8*HelloLen)'(1);
          x_state_d = XSmall;
        end else if (timed_out) begin
          x_small_d  = '0;
          r_status_d = StTimeout;
          x_state_d  = XSmall;
        end
      end

      // r_len_q bytes of x_small_q into the response RAM.
      XSmall: begin
        if (x_idx_q == r_len_q) begin
          x_state_d = XDone;
        end else begin
          rsp_we    = 1'b1;
          x_small_d = x_small_q >> 8;
          x_idx_d   = x_idx_q + 1'b1;
        end
      end

      // Every executed command's response is kept, but HELLO's.
      XDone: begin
        k_valid_d  = !k_hello_q;
        k_seq_d    = r_seq_q;
        k_cmd_d    = r_cmd_q;
        k_status_d = r_status_q;
        k_len_d    = r_len_q;
        x_idx_d    = '0;
        x_state_d  = XTxHead;
      end

      XTxHead: begin
        tx_valid = 1'b1;
        tx_data  = head_byte;
        if (tx_ready) begin
          if (x_idx_q != '0) begin
            x_crc_d = crc16(x_crc_q, head_byte);
          end else begin
            x_crc_d = 16'hFFFF;
          end
          x_idx_d = x_idx_q + 1'b1;
          if (x_idx_q == 16'd5) begin
            x_idx_d   = '0;
            x_state_d = (r_len_q == '0) ? XTxCrc0 : XTxRd;
          end
        end
      end
      XTxRd: begin
        rsp_re    = 1'b1;
        x_state_d = XTxPay;
      end
      XTxPay: begin
        tx_valid = 1'b1;
        tx_data  = rsp_rdata;
        if (tx_ready) begin
          x_crc_d   = crc16(x_crc_q, rsp_rdata);
          x_idx_d   = x_idx_q + 1'b1;
          x_state_d = (x_idx_q + 1'b1 == r_len_q) ? XTxCrc0 : XTxRd;
        end
      end
      XTxCrc0: begin
        tx_valid = 1'b1;
        tx_data  = x_crc_q[7:0];
        if (tx_ready) begin
          x_state_d = XTxCrc1;
        end
      end
      XTxCrc1: begin
        tx_valid = 1'b1;
        tx_data  = x_crc_q[15:8];
        if (tx_ready) begin
          x_state_d = XIdle;
        end
      end
      default: x_state_d = XIdle;
    endcase
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      x_state_q   <= XIdle;
      r_seq_q     <= '0;
      r_cmd_q     <= '0;
      r_status_q  <= '0;
      r_len_q     <= '0;
      k_valid_q   <= 1'b0;
      k_seq_q     <= '0;
      k_cmd_q     <= '0;
      k_status_q  <= '0;
      k_len_q     <= '0;
      k_hello_q   <= 1'b0;
      x_timer_q   <= '0;
      x_limit_q   <= '0;
      x_idx_q     <= '0;
      x_beats_q   <= '0;
      x_done_q    <= '0;
      x_bidx_q    <= '0;
      x_beat_q    <= '0;
      x_last_q    <= 1'b0;
      x_flag_q    <= 1'b0;
      x_aw_q      <= 1'b0;
      x_w_q       <= 1'b0;
      x_small_q   <= '0;
      x_crc_q     <= '0;
      crc_err_q   <= 1'b0;
      frame_err_q <= 1'b0;
      os_valid_q  <= 1'b0;
      os_last_q   <= 1'b0;
      os_data_q   <= '0;
    end else begin
      x_state_q   <= x_state_d;
      r_seq_q     <= r_seq_d;
      r_cmd_q     <= r_cmd_d;
      r_status_q  <= r_status_d;
      r_len_q     <= r_len_d;
      k_valid_q   <= k_valid_d;
      k_seq_q     <= k_seq_d;
      k_cmd_q     <= k_cmd_d;
      k_status_q  <= k_status_d;
      k_len_q     <= k_len_d;
      k_hello_q   <= k_hello_d;
      x_timer_q   <= x_timer_d;
      x_limit_q   <= x_limit_d;
      x_idx_q     <= x_idx_d;
      x_beats_q   <= x_beats_d;
      x_done_q    <= x_done_d;
      x_bidx_q    <= x_bidx_d;
      x_beat_q    <= x_beat_d;
      x_last_q    <= x_last_d;
      x_flag_q    <= x_flag_d;
      x_aw_q      <= x_aw_d;
      x_w_q       <= x_w_d;
      x_small_q   <= x_small_d;
      x_crc_q     <= x_crc_d;
      crc_err_q   <= crc_err_d;
      frame_err_q <= frame_err_d;
      os_valid_q  <= os_valid_d;
      os_last_q   <= os_last_d;
      os_data_q   <= os_data_d;
    end
  end

  /////////////
  // Outputs //
  /////////////

  // Register accesses: the address of the request, all byte strobes, prot 0.
  assign m_axil_awaddr_o = p_args_q[8:0];
  assign m_axil_awprot_o = 3'b000;
  assign m_axil_wdata_o  = p_args_q[47:16];
  assign m_axil_wstrb_o  = 4'hF;
  assign m_axil_araddr_o = p_args_q[8:0];
  assign m_axil_arprot_o = 3'b000;

  assign m_axis_tvalid_o = os_valid_q;
  assign m_axis_tdata_o  = os_data_q;
  assign m_axis_tlast_o  = os_last_q;

  // rx_frame (waiting for the bytes of a frame) and ex_busy (executing or answering) are read
  // by the simulated board (verif/sim/csrc/uart_sim.cpp) to pace its clock.
  logic ex_busy;
  assign ex_busy = x_state_q != XIdle || p_state_q == PHeld;

  // Only bit 1 of a response tells OKAY/EXOKAY from SLVERR/DECERR.
  logic unused_resp;
  assign unused_resp = ^{m_axil_bresp_i[0], m_axil_rresp_i[0]};

  assign active_o    = rx_frame || ex_busy;
  assign crc_err_o   = crc_err_q;
  assign frame_err_o = frame_err_q;

  ////////////////
  // Assertions //
  ////////////////

  `ASSERT_STREAM(MAxis_A, m_axis_tvalid_o, m_axis_tready_i, {m_axis_tdata_o, m_axis_tlast_o})
  `ASSERT_NEVER(ReqRamRace_A, req_we && !p_may_start && p_state_q == PPay)
  `ASSERT_NEVER(TxOverrun_A, tx_valid && x_state_q == XIdle)
  `ASSERT(RespLen_A, r_len_q <= 16'(MaxPayload))
  `ASSERT_KNOWN(ActiveKnown_A, active_o)

endmodule
