// SPDX-License-Identifier: Apache-2.0
// Tessera package: types and constants shared by the blocks of the chip.

package tessera_pkg;

  // Largest reduction length for which an int32 accumulator of int8 x int8 products cannot
  // overflow: 131072 * 127 * 128 < 2^31.
  localparam int unsigned MaxK = 131072;

  // Width of an accumulator and of a result element.
  localparam int unsigned AccWidth = 32;

  // Matrix-vector operation set-up of a tile. Packed: base = [95:64], rows = [63:32],
  // k = [31:0].
  typedef struct packed {
    logic [31:0] base;  // word address of the first weight word of the operation
    logic [31:0] rows;  // output rows
    logic [31:0] k;     // reduction length (elements of the input vector)
  } tile_cfg_t;

  // Tile operation state.
  typedef enum logic [0:0] {
    TileIdle = 1'b0,  // waiting for a set-up
    TileRun  = 1'b1   // streaming activations, stepping the MAC array, handing over results
  } tile_state_e;

endpackage
