// SPDX-License-Identifier: Apache-2.0
// Generic 1-read 1-write synchronous RAM: registered read, one write port, no reset of content.
//
// A read issued with re_i returns mem[raddr_i] on rdata_o in the next cycle; rdata_o holds its
// value while re_i is low. A read and a write of the same word in one cycle return an undefined
// value (the model returns the old word): users never do it. An ASIC macro, an FPGA block RAM or
// a ROM image replaces this model behind the same ports.
//
// Simulation backdoor (not with SYNTHESIS), in the scope of each instance:
//   ram_backdoor_write(addr, piece, value): bits [32*piece+31:32*piece] of word addr = value
//   ram_backdoor_read(addr, piece):         bits [32*piece+31:32*piece] of word addr
// Out-of-range addresses and pieces are ignored (read as 0); bits above Width read as 0.

`include "prim_assert.svh"

module prim_ram_1r1w #(
  parameter int unsigned Width = 32,    // bits per word
  parameter int unsigned Depth = 256,   // words
  localparam int unsigned AddrWidth = (Depth > 1) ? $clog2(Depth) : 1
) (
  input  logic                 clk_i,
  // Write port
  input  logic                 we_i,
  input  logic [AddrWidth-1:0] waddr_i,
  input  logic [Width-1:0]     wdata_i,
  // Read port
  input  logic                 re_i,
  input  logic [AddrWidth-1:0] raddr_i,
  output logic [Width-1:0]     rdata_o
);

  `ASSERT_STATIC(gen_width_check_A, Width >= 1, "prim_ram_1r1w: Width must be at least 1")
  `ASSERT_STATIC(gen_depth_check_A, Depth >= 2, "prim_ram_1r1w: Depth must be at least 2")

  logic [Width-1:0] mem [Depth];
  logic [Width-1:0] rdata_q;

  // Memory inference pattern (write port and registered read port), kept in this form so that
  // synthesis maps it to a RAM macro or block RAM.
  always_ff @(posedge clk_i) begin
    if (we_i) begin
      mem[waddr_i] <= wdata_i;
    end
  end

  always_ff @(posedge clk_i) begin
    if (re_i) begin
      rdata_q <= mem[raddr_i];
    end
  end

  assign rdata_o = rdata_q;

`ifndef SYNTHESIS
  localparam int unsigned NumPieces = (Width + 31) / 32;
  localparam int unsigned PadWidth = NumPieces * 32;

  export "DPI-C" function ram_backdoor_write;
  export "DPI-C" function ram_backdoor_read;

  function automatic void ram_backdoor_write(input int unsigned addr, input int unsigned piece,
                                             input int unsigned value);
    logic [PadWidth-1:0] word;
    if (addr < Depth && piece < NumPieces) begin
      word = PadWidth'(mem[AddrWidth'(addr)]);
      word[32*piece +: 32] = value;
      mem[AddrWidth'(addr)] = word[Width-1:0];
    end
  endfunction

  function automatic int unsigned ram_backdoor_read(input int unsigned addr,
                                                    input int unsigned piece);
    logic [PadWidth-1:0] word;
    int unsigned value;
    value = 32'd0;
    if (addr < Depth && piece < NumPieces) begin
      word  = PadWidth'(mem[AddrWidth'(addr)]);
      value = word[32*piece +: 32];
    end
    return value;
  endfunction
`endif

endmodule
