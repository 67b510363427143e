// SPDX-License-Identifier: Apache-2.0
// SECDED decoder of prim_secded_enc's code: corrects one flipped bit (data or check) and
// detects two.
//
// The syndrome is the stored check bits XOR those recomputed from the data; the overall parity
// is the XOR of every stored bit. Parity odd: one error, at the Hamming position the syndrome
// names (0: the parity bit itself, a power of two: a check bit, otherwise a data bit, which is
// flipped back). Parity even and syndrome non-zero: two errors, detected, not corrected.
//
// The comparison of the syndrome with every data bit's position sits under `if (parity)`: the
// same logic in synthesis, and a simulation runs it only for a word with an odd parity, not
// for every word in every cycle.

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
  localparam logic [8*MaxData-1:0] Pos   = prim_secded_pkg::data_positions();

  logic [R-1:0] syndrome;
  logic         parity;

  always_comb begin
    for (int unsigned j = 0; j < R; j++) begin
      syndrome[j] = check_i[j] ^ (^(data_i & Masks[MaxData*j +: DataWidth]));
    end
    parity = (^data_i) ^ (^check_i);
    data_o = data_i;
    if (parity) begin
      for (int unsigned i = 0; i < DataWidth; i++) begin
        data_o[i] = data_i[i] ^ (8'(syndrome) == Pos[8*i +: 8]);
      end
    end
  end

  assign single_o = parity;
  assign double_o = !parity && (syndrome != '0);

endmodule
