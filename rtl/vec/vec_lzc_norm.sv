// SPDX-License-Identifier: Apache-2.0
// Leading-zero normalizer: shifts x_i left until its top bit is set and counts the shift.
//
// A log-depth cascade: stage s tests the top 2^s bits of what the stages above left and, when
// they are all zero, shifts by 2^s and sets bit s of the count. The input is padded at the
// bottom to a power of two (padding below the last bit does not change the count). For a
// zero input zero_o is set and count_o / norm_o are not meaningful.

module vec_lzc_norm #(
  parameter int unsigned Width = 32,
  localparam int unsigned CntWidth = (Width > 1) ? $clog2(Width) : 1,
  localparam int unsigned PadWidth = 1 << CntWidth
) (
  input  logic [Width-1:0]    x_i,
  output logic [Width-1:0]    norm_o,
  output logic [CntWidth-1:0] count_o,
  output logic                zero_o
);

  logic [PadWidth-1:0] padded, shifted;

  assign padded = PadWidth'(x_i) << (PadWidth - Width);

  // Stages from the widest step down; stage s tests the top 2^(s-1) bits of what is left.
  always_comb begin
    shifted = padded;
    count_o = '0;
    for (int unsigned s = CntWidth; s > 0; s--) begin
      if ((shifted & ~({PadWidth{1'b1}} >> (1 << (s - 1)))) == '0) begin
        shifted        = shifted << (1 << (s - 1));
        count_o[s - 1] = 1'b1;
      end
    end
  end

  assign norm_o = shifted[PadWidth-1 -: Width];
  assign zero_o = (x_i == '0);

endmodule
