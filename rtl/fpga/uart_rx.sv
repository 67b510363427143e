// SPDX-License-Identifier: Apache-2.0
// UART receiver, 8N1, least significant bit first: a 2-flop synchronizer, start-bit check and
// mid-bit sampling every ClksPerBit cycles, and framing-error detection (stop bit low).
//
// valid_o pulses for one cycle with data_o when a byte ends with a good stop bit; ferr_o pulses
// instead when the stop bit is low, and the receiver then waits for the line to return high
// (a break) before it hunts for the next start bit.

`include "prim_assert.svh"

module uart_rx #(
  parameter int unsigned ClksPerBit = 25   // clock cycles per bit
) (
  input  logic       clk_i,
  input  logic       rst_ni,
  // Serial line (asynchronous)
  input  logic       rx_i,
  // Received bytes
  output logic       valid_o,
  output logic [7:0] data_o,
  output logic       ferr_o
);

  `ASSERT_STATIC(gen_clks_per_bit_A, ClksPerBit >= 4 && ClksPerBit < 65536,
                 "uart_rx: ClksPerBit must be in 4 .. 65535")

  localparam int unsigned CntWidth = $clog2(ClksPerBit);
  localparam int unsigned HalfBit  = ClksPerBit / 2;

  typedef enum logic [2:0] {
    StIdle,
    StStart,
    StData,
    StStop,
    StBreak
  } state_e;

  // Synchronizer: the line idles high, so it resets high.
  logic [1:0] sync_q;
  logic       rx;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      sync_q <= 2'b11;
    end else begin
      sync_q <= {sync_q[0], rx_i};
    end
  end

  assign rx = sync_q[1];

  state_e              state_d, state_q;
  logic [CntWidth-1:0] cnt_d, cnt_q;
  logic [2:0]          bit_d, bit_q;
  logic [7:0]          shift_d, shift_q;
  logic                valid_d, valid_q, ferr_d, ferr_q;

  always_comb begin
    state_d = state_q;
    cnt_d   = cnt_q;
    bit_d   = bit_q;
    shift_d = shift_q;
    valid_d = 1'b0;
    ferr_d  = 1'b0;
    unique case (state_q)
      StIdle: begin
        cnt_d = '0;
        if (!rx) begin
          state_d = StStart;
        end
      end
      // The middle of the start bit: still low, or it was a glitch.
      StStart: begin
        cnt_d = cnt_q + 1'b1;
        if (cnt_q == CntWidth'(HalfBit - 1)) begin
          cnt_d   = '0;
          bit_d   = '0;
          state_d = rx ? StIdle : StData;
        end
      end
      StData: begin
        cnt_d = cnt_q + 1'b1;
        if (cnt_q == CntWidth'(ClksPerBit - 1)) begin
          cnt_d   = '0;
          shift_d = {rx, shift_q[7:1]};
          bit_d   = bit_q + 1'b1;
          if (bit_q == 3'd7) begin
            state_d = StStop;
          end
        end
      end
      // Sampled in its middle; the receiver is ready for the next start bit right after.
      StStop: begin
        cnt_d = cnt_q + 1'b1;
        if (cnt_q == CntWidth'(ClksPerBit - 1)) begin
          cnt_d = '0;
          if (rx) begin
            valid_d = 1'b1;
            state_d = StIdle;
          end else begin
            ferr_d  = 1'b1;
            state_d = StBreak;
          end
        end
      end
      StBreak: begin
        if (rx) begin
          state_d = StIdle;
        end
      end
      default: state_d = StIdle;
    endcase
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q <= StIdle;
      cnt_q   <= '0;
      bit_q   <= '0;
      shift_q <= '0;
      valid_q <= 1'b0;
      ferr_q  <= 1'b0;
    end else begin
      state_q <= state_d;
      cnt_q   <= cnt_d;
      bit_q   <= bit_d;
      shift_q <= shift_d;
      valid_q <= valid_d;
      ferr_q  <= ferr_d;
    end
  end

  assign valid_o = valid_q;
  assign data_o  = shift_q;
  assign ferr_o  = ferr_q;

  `ASSERT_NEVER(ValidAndFerr_A, valid_o && ferr_o)
  `ASSERT_KNOWN(ValidKnown_A, valid_o)

endmodule
