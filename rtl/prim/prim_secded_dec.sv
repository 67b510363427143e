// SPDX-License-Identifier: Apache-2.0
// SECDED decoder of prim_secded_enc's code: corrects one flipped bit (data or check) and
// detects two.
//
// The syndrome is the stored check bits XOR those recomputed from the data; the overall parity
// is the XOR of every stored bit. Parity odd: one error, at the Hamming position the syndrome
// names (0: the parity bit itself, a power of two: a check bit, otherwise a data bit, which is
// flipped back). Parity even and syndrome non-zero: two errors, detected, not corrected.
//
// The data bit to flip is looked up from the syndrome (a table of the code's positions) and
// flipped with one shifted mask, rather than by comparing the syndrome with every data bit's
// position: the same logic (a decoder of the syndrome), and in simulation a few word
// operations per read instead of one per data bit.

module prim_secded_dec #(
  parameter int unsigned DataWidth = 64,
  localparam int unsigned CheckBits = prim_secded_pkg::check_bits(DataWidth)
) (
  input  logic [DataWidth-1:0] data_i,
  input  logic [CheckBits-1:0] check_i,
  output logic [DataWidth-1:0] data_o,     // corrected data
  output logic                 single_o,   // one bit was wrong (corrected)
  output logic                 double_o    // two bits are wrong (not corrected)
);

  localparam int unsigned R = CheckBits - 1;

  localparam int unsigned MaxData = prim_secded_pkg::MaxData;
  localparam logic [8*MaxData-1:0] Masks = prim_secded_pkg::column_masks(DataWidth);
  localparam int unsigned Positions = 1 << (prim_secded_pkg::check_bits(MaxData) - 1);
  localparam logic [8*Positions-1:0] Index = prim_secded_pkg::data_indices(DataWidth);

  logic [R-1:0] syndrome;
  logic         parity;
  logic [7:0]   index;  // the data bit the syndrome names, 8'hff for none

  always_comb begin
    for (int unsigned j = 0; j < R; j++) begin
      syndrome[j] = check_i[j] ^ (^(data_i & Masks[MaxData*j +: DataWidth]));
    end
    parity = (^data_i) ^ (^check_i);
    index  = Index[8*syndrome +: 8];
    data_o = data_i;
    if (parity && index != 8'hff) begin
      data_o = data_i ^ (DataWidth'(1) << index);
    end
  end

  assign single_o = parity;
  assign double_o = !parity && (syndrome != '0);

endmodule
