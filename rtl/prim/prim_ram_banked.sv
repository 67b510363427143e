// SPDX-License-Identifier: Apache-2.0
// Banked RAM of 32-bit words: a whole row of Banks words written at once, or one word with
// byte enables, and one word read per cycle (registered read).
//
// Word address a lives in bank a % Banks, row a / Banks. A row write (wide_we_i) writes every
// bank of one row; a word write (we_i) writes the enabled bytes of one word. The two never
// happen in the same cycle (the users assert it). A read issued with re_i returns the word in
// the next cycle; rdata_o holds it while re_i is low. Reading a word in the cycle it is written
// returns the old word. An ASIC macro or an FPGA block RAM with byte enables replaces each bank
// behind the same ports.

`include "prim_assert.svh"

module prim_ram_banked #(
  parameter int unsigned Banks = 2,     // words per row, a power of two
  parameter int unsigned Words = 1024,  // words in all, a multiple of Banks
  localparam int unsigned Rows = Words / Banks,
  localparam int unsigned Aw   = (Words > 1) ? $clog2(Words) : 1,
  localparam int unsigned Rw   = (Rows > 1) ? $clog2(Rows) : 1,
  localparam int unsigned Bw   = (Banks > 1) ? $clog2(Banks) : 1
) (
  input  logic                  clk_i,
  // Row write
  input  logic                  wide_we_i,
  input  logic [Rw-1:0]         wide_row_i,
  input  logic [32*Banks-1:0]   wide_data_i,
  // Word write with byte enables
  input  logic                  we_i,
  input  logic [Aw-1:0]         waddr_i,
  input  logic [3:0]            wbe_i,
  input  logic [31:0]           wdata_i,
  // Word read
  input  logic                  re_i,
  input  logic [Aw-1:0]         raddr_i,
  output logic [31:0]           rdata_o
);

  `ASSERT_STATIC(gen_banks_A, Banks >= 1 && (Banks & (Banks - 1)) == 0,
                 "prim_ram_banked: Banks must be a power of two")
  `ASSERT_STATIC(gen_words_A, Words >= 2 * Banks && Words % Banks == 0,
                 "prim_ram_banked: Words must be a multiple of Banks, at least two rows")

  logic [Bw-1:0] wbank, rbank, rbank_q;
  logic [Rw-1:0] wrow, rrow;

  assign wbank = (Banks > 1) ? Bw'(waddr_i % Aw'(Banks)) : '0;
  assign rbank = (Banks > 1) ? Bw'(raddr_i % Aw'(Banks)) : '0;
  assign wrow  = Rw'(waddr_i / Aw'(Banks));
  assign rrow  = Rw'(raddr_i / Aw'(Banks));

  logic [31:0] bank_rdata [Banks];

  for (genvar b = 0; b < Banks; b++) begin : gen_bank
    logic [31:0] mem [Rows];
    logic [31:0] rdata_q;
    logic        we;
    logic [3:0]  be;
    logic [Rw-1:0] row;
    logic [31:0] wdata;

    assign we    = wide_we_i || (we_i && wbank == Bw'(b));
    assign be    = wide_we_i ? 4'hf : wbe_i;
    assign row   = wide_we_i ? wide_row_i : wrow;
    assign wdata = wide_we_i ? wide_data_i[32*b +: 32] : wdata_i;

    always_ff @(posedge clk_i) begin
      if (we) begin
        for (int unsigned k = 0; k < 4; k++) begin
          if (be[k]) begin
            mem[row][8*k +: 8] <= wdata[8*k +: 8];
          end
        end
      end
    end

    always_ff @(posedge clk_i) begin
      if (re_i && rbank == Bw'(b)) begin
        rdata_q <= mem[rrow];
      end
    end

    assign bank_rdata[b] = rdata_q;
  end

  always_ff @(posedge clk_i) begin
    if (re_i) begin
      rbank_q <= rbank;
    end
  end

  assign rdata_o = bank_rdata[rbank_q];

  `ASSERT_NEVER(TwoWrites_A, wide_we_i && we_i, clk_i, 1'b1)

endmodule
