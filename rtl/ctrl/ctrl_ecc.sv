// SPDX-License-Identifier: Apache-2.0
// ECC events of the chip's memories: counts the corrected single-bit errors of every tile's
// weight memory and of the token engine's DMEM, and records where the first double-bit
// (uncorrectable) error was found.
//
// The count saturates at 2^32 - 1. Both hold from power-on: a soft reset, which recovers from
// the error a double-bit error raises, keeps them for the driver to read. A double-bit error in a weight memory also raises
// weight_double_o, which stops the command processor with ErrEccWeight; the engine reports its
// own (ErrEccData) as an instruction fault.

module ctrl_ecc #(
  parameter int unsigned NumTiles = 4
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  // Tiles
  input  logic [NumTiles-1:0] tile_single_i,
  input  logic [NumTiles-1:0] tile_double_i,
  input  logic [31:0]         tile_addr_i [NumTiles],
  // Token engine DMEM
  input  logic                dmem_single_i,
  input  logic                dmem_double_i,
  input  logic [31:0]         dmem_addr_i,
  // Results
  output logic [31:0]         corrected_o,     // single-bit errors corrected
  output logic                fail_valid_o,    // a double-bit error was found
  output logic                fail_dmem_o,     // 1: in DMEM, 0: in a weight memory
  output logic [15:0]         fail_tile_o,     // the tile of a weight memory
  output logic [31:0]         fail_addr_o,     // the word address
  output logic                weight_double_o  // pulse: a weight memory's double-bit error
);

  localparam int unsigned CntW = $clog2(NumTiles + 2);

  logic [CntW-1:0] events;
  logic [32:0]     sum;
  logic [31:0]     count_q;
  logic            fail_q, fail_dmem_q;
  logic [15:0]     fail_tile_q, first_tile;
  logic [31:0]     fail_addr_q, first_addr;
  logic            any_tile_double;

  always_comb begin
    events = CntW'(dmem_single_i);
    for (int unsigned t = 0; t < NumTiles; t++) begin
      events = events + CntW'(tile_single_i[t]);
    end
    sum = 33'(count_q) + 33'(events);
  end

  // The lowest tile with a double-bit error this cycle.
  always_comb begin
    first_tile = '0;
    first_addr = '0;
    for (int t = NumTiles - 1; t >= 0; t--) begin
      if (tile_double_i[t]) begin
        first_tile = 16'(t);
        first_addr = tile_addr_i[t];
      end
    end
  end
  assign any_tile_double = |tile_double_i;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      count_q     <= '0;
      fail_q      <= 1'b0;
      fail_dmem_q <= 1'b0;
      fail_tile_q <= '0;
      fail_addr_q <= '0;
    end else begin
      count_q <= sum[32] ? 32'hffff_ffff : sum[31:0];
      if (!fail_q && any_tile_double) begin
        fail_q      <= 1'b1;
        fail_dmem_q <= 1'b0;
        fail_tile_q <= first_tile;
        fail_addr_q <= first_addr;
      end else if (!fail_q && dmem_double_i) begin
        fail_q      <= 1'b1;
        fail_dmem_q <= 1'b1;
        fail_tile_q <= '0;
        fail_addr_q <= dmem_addr_i;
      end
    end
  end

  assign corrected_o     = count_q;
  assign fail_valid_o    = fail_q;
  assign fail_dmem_o     = fail_dmem_q;
  assign fail_tile_o     = fail_tile_q;
  assign fail_addr_o     = fail_addr_q;
  assign weight_double_o = any_tile_double;

endmodule
