// SPDX-License-Identifier: Apache-2.0
// SECDED encoder: the check bits of an extended Hamming code over DataWidth data bits.
//
// Code (docs/verification.md, "ECC"): data bit i sits at Hamming position pos(i), the
// (i+1)-th integer >= 3 that is not a power of two. Check bit j (j < CheckBits-1) is the XOR of
// the data bits whose position has bit j set; the top check bit is the XOR of every data and
// check bit (overall parity). 64 data bits take 8 check bits, 32 take 7. The Rust mirror is
// tessera_abi::ecc, which the simulation backdoor uses to write whole code words.

module prim_secded_enc #(
  parameter int unsigned DataWidth = 64,
  localparam int unsigned CheckBits = prim_secded_pkg::check_bits(DataWidth)
) (
  input  logic [DataWidth-1:0] data_i,
  output logic [CheckBits-1:0] check_o
);

  localparam int unsigned R = CheckBits - 1;

  localparam int unsigned MaxData = prim_secded_pkg::MaxData;
  localparam logic [8*MaxData-1:0] Masks = prim_secded_pkg::column_masks(DataWidth);

  always_comb begin
    for (int unsigned j = 0; j < R; j++) begin
      check_o[j] = ^(data_i & Masks[MaxData*j +: DataWidth]);
    end
    check_o[R] = (^data_i) ^ (^check_o[R-1:0]);
  end

endmodule
