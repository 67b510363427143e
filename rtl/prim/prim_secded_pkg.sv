// SPDX-License-Identifier: Apache-2.0
// Constants of the SECDED code of prim_secded_enc / prim_secded_dec (extended Hamming).

package prim_secded_pkg;

  // Largest data width of the code (the masks are this wide).
  localparam int unsigned MaxData = 64;

  // Check bits for `data` data bits: Hamming bits r with 2^r >= data + r + 1, plus the overall
  // parity bit.
  function automatic int unsigned check_bits(int unsigned data);
    int unsigned r;
    r = 0;
    for (int unsigned t = 1; t < 16; t++) begin
      if (r == 0 && (1 << t) >= data + t + 1) r = t;
    end
    return r + 1;
  endfunction

  // Hamming position of data bit i: the (i+1)-th integer >= 3 that is not a power of two.
  function automatic int unsigned data_pos(int unsigned i);
    int unsigned n, pos;
    n = 0;
    pos = 0;
    for (int unsigned p = 3; p < 2 * MaxData + 16; p++) begin
      if ((p & (p - 1)) != 0) begin
        if (n == i) pos = p;
        n++;
      end
    end
    return pos;
  endfunction

  // Data bits that check bit j covers: bit i set when position pos(i) has bit j set.
  function automatic logic [MaxData-1:0] column_mask(int unsigned data, int unsigned j);
    logic [MaxData-1:0] m;
    m = '0;
    for (int unsigned i = 0; i < data; i++) begin
      m[i] = ((data_pos(i) >> j) & 1) != 0;
    end
    return m;
  endfunction

endpackage
