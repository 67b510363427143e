// SPDX-License-Identifier: Apache-2.0
// UART transmitter, 8N1, least significant bit first, ClksPerBit clock cycles per bit.
//
// A byte is taken when valid_i and ready_o are both high; ready_o is high while the line is
// idle, so bytes presented back to back leave with no gap between stop and start bit.

`include "prim_assert.svh"

module uart_tx #(
  parameter int unsigned ClksPerBit = 25   // clock cycles per bit
) (
  input  logic       clk_i,
  input  logic       rst_ni,
  // Bytes to send
  input  logic       valid_i,
  output logic       ready_o,
  input  logic [7:0] data_i,
  // Serial line
  output logic       tx_o
);

  `ASSERT_STATIC(gen_clks_per_bit_A, ClksPerBit >= 1 && ClksPerBit < 65536,
                 "uart_tx: ClksPerBit must be in 1 .. 65535")

  localparam int unsigned CntWidth = (ClksPerBit > 1) ? $clog2(ClksPerBit) : 1;

  logic                busy_d, busy_q;
  logic [CntWidth-1:0] cnt_d, cnt_q;
  logic [3:0]          bits_d, bits_q;    // bits left to send, start bit included
  logic [9:0]          shift_d, shift_q;  // {stop, data, start}, sent from bit 0
  logic                tx_d, tx_q;

  // The last cycle of the stop bit: the next byte may start in the following cycle.
  logic last;
  assign last = busy_q && bits_q == 4'd1 && cnt_q == CntWidth'(ClksPerBit - 1);

  always_comb begin
    busy_d  = busy_q;
    cnt_d   = cnt_q;
    bits_d  = bits_q;
    shift_d = shift_q;
    tx_d    = tx_q;
    if (!busy_q || last) begin
      busy_d = 1'b0;
      tx_d   = 1'b1;
      if (valid_i) begin
        busy_d  = 1'b1;
        cnt_d   = '0;
        bits_d  = 4'd10;
        shift_d = {1'b1, data_i, 1'b0};
        tx_d    = 1'b0;
      end
    end else begin
      cnt_d = cnt_q + 1'b1;
      if (cnt_q == CntWidth'(ClksPerBit - 1)) begin
        cnt_d   = '0;
        bits_d  = bits_q - 1'b1;
        shift_d = {1'b1, shift_q[9:1]};
        tx_d    = shift_q[1];
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      busy_q  <= 1'b0;
      cnt_q   <= '0;
      bits_q  <= '0;
      shift_q <= '1;
      tx_q    <= 1'b1;
    end else begin
      busy_q  <= busy_d;
      cnt_q   <= cnt_d;
      bits_q  <= bits_d;
      shift_q <= shift_d;
      tx_q    <= tx_d;
    end
  end

  assign ready_o = !busy_q || last;
  assign tx_o    = tx_q;

  `ASSERT_KNOWN(TxKnown_A, tx_o)

endmodule
