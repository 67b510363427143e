// SPDX-License-Identifier: Apache-2.0
// Banked RAM of 32-bit words with SECDED: a whole row of Banks words written at once, or one
// word, and one word read per cycle (registered read), corrected.
//
// Word address a lives in bank a % Banks, row a / Banks. A row write (wide_we_i) writes every
// bank of one row; a word write (we_i) one word. The two never happen in the same cycle (the
// users assert it). Each word is stored with its 7 check bits (prim_secded_enc over 32 bits):
// a byte cannot be written alone, so users merge bytes into the word they read (read, modify,
// write). A read issued with re_i returns the corrected word in the next cycle with the flags
// of a corrected single-bit error or a detected double-bit error; rdata_o and the flags hold
// while re_i is low. Reading a word in the cycle it is written returns the old word. An ASIC
// macro or an FPGA block RAM replaces each bank behind the same ports.
//
// The banks' arrays (`gen_bank[b].mem`, 39 bits per word: data in bits [31:0], check bits
// above) are what the simulation bench reads and writes directly for fault injection.

`include "prim_assert.svh"

module prim_ram_banked #(
  parameter int unsigned Banks = 2,     // words per row, a power of two
  parameter int unsigned Words = 1024,  // words in all, a multiple of Banks
  localparam int unsigned Rows = Words / Banks,
  localparam int unsigned Aw   = (Words > 1) ? $clog2(Words) : 1,
  localparam int unsigned Rw   = (Rows > 1) ? $clog2(Rows) : 1,
  localparam int unsigned Bw   = (Banks > 1) ? $clog2(Banks) : 1,
  localparam int unsigned CheckBits = prim_secded_pkg::check_bits(32),
  localparam int unsigned StoredWidth = 32 + CheckBits
) (
  input  logic                  clk_i,
  // Row write
  input  logic                  wide_we_i,
  input  logic [Rw-1:0]         wide_row_i,
  input  logic [32*Banks-1:0]   wide_data_i,
  // Word write
  input  logic                  we_i,
  input  logic [Aw-1:0]         waddr_i,
  input  logic [31:0]           wdata_i,
  // Word read
  input  logic                  re_i,
  input  logic [Aw-1:0]         raddr_i,
  output logic [31:0]           rdata_o,
  output logic                  single_o,
  output logic                  double_o
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

  logic [StoredWidth-1:0] bank_rdata [Banks];

  for (genvar b = 0; b < Banks; b++) begin : gen_bank
    logic [StoredWidth-1:0] mem [Rows];
    logic [StoredWidth-1:0] rdata_q, wword;
    logic                   we;
    logic [Rw-1:0]          row;

    assign we               = wide_we_i || (we_i && wbank == Bw'(b));
    assign row              = wide_we_i ? wide_row_i : wrow;
    assign wword[31:0]      = wide_we_i ? wide_data_i[32*b +: 32] : wdata_i;

    prim_secded_enc #(
      .DataWidth (32)
    ) u_enc (
      .data_i  (wword[31:0]),
      .check_o (wword[StoredWidth-1:32])
    );

    always_ff @(posedge clk_i) begin
      if (we) begin
        mem[row] <= wword;
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

  logic [StoredWidth-1:0] rword;
  assign rword = bank_rdata[rbank_q];

  prim_secded_dec #(
    .DataWidth (32)
  ) u_dec (
    .data_i   (rword[31:0]),
    .check_i  (rword[StoredWidth-1:32]),
    .data_o   (rdata_o),
    .single_o (single_o),
    .double_o (double_o)
  );

  `ASSERT_NEVER(TwoWrites_A, wide_we_i && we_i, clk_i, 1'b1)

endmodule
