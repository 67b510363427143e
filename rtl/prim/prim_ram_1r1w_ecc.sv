// SPDX-License-Identifier: Apache-2.0
// 1-read 1-write synchronous RAM with SECDED: each 64-bit segment of a word (32-bit when Width
// is not a multiple of 64) is stored with its check bits (prim_secded_enc's code); a read
// returns the corrected word and flags a corrected single-bit error or a detected double-bit
// error in any segment.
//
// Ports and timing as prim_ram_1r1w: a read issued with re_i returns in the next cycle, and
// rdata_o, single_o and double_o hold while re_i is low. Stored word: the data in bits
// [Width-1:0], then the check bits of segment s at [Width + CheckBits*s +: CheckBits].
//
// ROM variant (Rom = 1): the contents are fixed at build time, Depth stored words (data and
// check bits, as above), from one of two sources (`tessera rom-image` writes both from a model):
//   RomInit  the words as a constant (packed: word w in RomInit[w]); used when RomFile is empty.
//            This is the synthesizable form: Yosys (read_slang) turns it into a memory with
//            initial contents. read_slang takes packed values of up to 2^24 - 1 bits.
//   RomFile  a `$readmemh` image, one hexadecimal word per line, word 0 first; simulation only
//            (a synthesis build with RomFile set fails to elaborate). RomInit then has one word,
//            so that a large simulated ROM carries no constant array.
// There is no write port: we_i, waddr_i and wdata_i are ignored, and a write attempt is an
// assertion failure in simulation (users refuse writes before they reach the memory). Reads,
// timing and ECC are those of the RAM.
//
// Simulation backdoor (not with SYNTHESIS), in the scope of each instance:
//   ram_backdoor_write(addr, piece, value): data bits [32*piece+31:32*piece] of word addr =
//                                           value, and the word's check bits re-encoded
//   ram_backdoor_read(addr, piece):         data bits [32*piece+31:32*piece] of word addr as
//                                           stored (not corrected)
//   ram_backdoor_flip(addr, bit):           flips stored bit `bit` (data or check) of word addr
// Out-of-range addresses, pieces and bits are ignored (read as 0).

`include "prim_assert.svh"

module prim_ram_1r1w_ecc #(
  parameter int unsigned Width = 64,    // data bits per word, a multiple of 32
  parameter int unsigned Depth = 256,
  parameter bit          Rom   = 1'b0,  // 1: contents from RomInit or RomFile, no write port
  parameter string       RomFile = "",  // $readmemh image of the stored words (Rom, simulation)
  localparam int unsigned AddrWidth = (Depth > 1) ? $clog2(Depth) : 1,
  localparam int unsigned SegWidth  = (Width % 64 == 0) ? 64 : 32,
  localparam int unsigned Segs      = Width / SegWidth,
  localparam int unsigned CheckBits = prim_secded_pkg::check_bits(SegWidth),
  localparam int unsigned StoredWidth = Width + Segs * CheckBits,
  localparam int unsigned RomInitDepth = (Rom && RomFile == "") ? Depth : 1,
  // The stored words of a ROM without RomFile, word w in RomInit[w].
  parameter logic [RomInitDepth-1:0][StoredWidth-1:0] RomInit = '0
) (
  input  logic                 clk_i,
  // Write port
  input  logic                 we_i,
  input  logic [AddrWidth-1:0] waddr_i,
  input  logic [Width-1:0]     wdata_i,
  // Read port
  input  logic                 re_i,
  input  logic [AddrWidth-1:0] raddr_i,
  output logic [Width-1:0]     rdata_o,
  output logic                 single_o,
  output logic                 double_o
);

  `ASSERT_STATIC(gen_width_check_A, Width >= 32 && Width % 32 == 0,
                 "prim_ram_1r1w_ecc: Width must be a multiple of 32")
  `ASSERT_STATIC(gen_depth_check_A, Depth >= 2, "prim_ram_1r1w_ecc: Depth must be at least 2")

  logic [StoredWidth-1:0] rword_q;
  logic [Segs-1:0]        seg_single, seg_double;

  // The code of prim_secded_enc, as functions: the write port encodes inside its `if (we_i)`,
  // so a simulation computes the check bits of the words written, not of the write port's
  // inputs in every cycle (the same logic in synthesis).
  localparam int unsigned MaxData = prim_secded_pkg::MaxData;
  localparam logic [8*MaxData-1:0] Masks = prim_secded_pkg::column_masks(SegWidth);

  // The check bits of one segment.
  function automatic logic [CheckBits-1:0] encode(logic [SegWidth-1:0] d);
    logic [CheckBits-1:0] c;
    for (int unsigned b = 0; b < CheckBits - 1; b++) begin
      c[b] = ^(d & Masks[MaxData*b +: SegWidth]);
    end
    c[CheckBits-1] = (^d) ^ (^c[CheckBits-2:0]);
    return c;
  endfunction

  // The stored word of a data word: the data, then each segment's check bits.
  function automatic logic [StoredWidth-1:0] code_word(logic [Width-1:0] d);
    logic [StoredWidth-1:0] w;
    w[Width-1:0] = d;
    for (int unsigned s = 0; s < Segs; s++) begin
      w[Width + CheckBits*s +: CheckBits] = encode(d[SegWidth*s +: SegWidth]);
    end
    return w;
  endfunction

`ifdef SYNTHESIS
  `ASSERT_STATIC(gen_rom_file_A, !Rom || RomFile == "",
                 "prim_ram_1r1w_ecc: a synthesized ROM takes RomInit (RomFile: simulation only)")
`endif

  logic [StoredWidth-1:0] mem [Depth];

  if (Rom) begin : gen_rom
    // ROM inference pattern: initial contents, registered read port, no write.
    initial begin
`ifndef SYNTHESIS
      if (RomFile != "") begin
        $readmemh(RomFile, mem);
      end else
`endif
      begin
        for (int unsigned i = 0; i < RomInitDepth; i++) begin
          mem[i] = RomInit[i];
        end
      end
    end
    logic unused_write;
    assign unused_write = ^{we_i, waddr_i, wdata_i};
    `ASSERT_NEVER(RomWrite_A, we_i, clk_i, 1'b1)
  end else begin : gen_ram
    // Memory inference pattern (write port and registered read port), as prim_ram_1r1w.
    always_ff @(posedge clk_i) begin
      if (we_i) begin
        mem[waddr_i] <= code_word(wdata_i);
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (re_i) begin
      rword_q <= mem[raddr_i];
    end
  end

  for (genvar s = 0; s < Segs; s++) begin : gen_dec
    prim_secded_dec #(
      .DataWidth (SegWidth)
    ) u_dec (
      .data_i   (rword_q[SegWidth*s +: SegWidth]),
      .check_i  (rword_q[Width + CheckBits*s +: CheckBits]),
      .data_o   (rdata_o[SegWidth*s +: SegWidth]),
      .single_o (seg_single[s]),
      .double_o (seg_double[s])
    );
  end

  assign single_o = |seg_single;
  assign double_o = |seg_double;

`ifndef SYNTHESIS
  localparam int unsigned NumPieces = Width / 32;

  export "DPI-C" function ram_backdoor_write;
  export "DPI-C" function ram_backdoor_read;
  export "DPI-C" function ram_backdoor_flip;

  function automatic void ram_backdoor_write(input int unsigned addr, input int unsigned piece,
                                             input int unsigned value);
    logic [StoredWidth-1:0] word;
    int unsigned seg;
    if (addr < Depth && piece < NumPieces) begin
      word = mem[AddrWidth'(addr)];
      word[32*piece +: 32] = value;
      seg  = 32 * piece / SegWidth;
      word[Width + CheckBits*seg +: CheckBits] = encode(word[SegWidth*seg +: SegWidth]);
      mem[AddrWidth'(addr)] = word;
    end
  endfunction

  function automatic int unsigned ram_backdoor_read(input int unsigned addr,
                                                    input int unsigned piece);
    int unsigned value;
    value = 32'd0;
    if (addr < Depth && piece < NumPieces) begin
      value = mem[AddrWidth'(addr)][32*piece +: 32];
    end
    return value;
  endfunction

  function automatic void ram_backdoor_flip(input int unsigned addr, input int unsigned bit_i);
    if (addr < Depth && bit_i < StoredWidth) begin
      mem[AddrWidth'(addr)][bit_i] = !mem[AddrWidth'(addr)][bit_i];
    end
  endfunction
`endif

endmodule
