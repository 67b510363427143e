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

  // Stored bits of a `width`-bit word of prim_ram_1r1w_ecc (a multiple of 32): the data, then the
  // check bits of each 64-bit segment (32-bit when width is not a multiple of 64).
  function automatic int unsigned stored_width(int unsigned width);
    int unsigned seg;
    seg = (width % 64 == 0) ? 64 : 32;
    return width + (width / seg) * check_bits(seg);
  endfunction

  // Hamming position of data bit i: the (i+1)-th integer >= 3 that is not a power of two,
  // counted past every power of two it reaches (positions 1 and 2 come before 3).
  function automatic int unsigned data_pos(int unsigned i);
    int unsigned p;
    p = i + 3;
    for (int unsigned k = 2; k < 16; k++) begin
      if (p >= (1 << k)) p++;
    end
    return p;
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

  // Every check bit's mask for `data` data bits, check bit j in bits [MaxData*j +: MaxData]
  // (evaluated once, as a parameter).
  function automatic logic [8*MaxData-1:0] column_masks(int unsigned data);
    logic [8*MaxData-1:0] m;
    m = '0;
    for (int unsigned j = 0; j < 8; j++) begin
      m[MaxData*j +: MaxData] = column_mask(data, j);
    end
    return m;
  endfunction

  // Every data bit's position, data bit i in bits [8*i +: 8] (evaluated once, as a parameter).
  function automatic logic [8*MaxData-1:0] data_positions();
    logic [8*MaxData-1:0] p;
    for (int unsigned i = 0; i < MaxData; i++) begin
      p[8*i +: 8] = 8'(data_pos(i));
    end
    return p;
  endfunction

endpackage
