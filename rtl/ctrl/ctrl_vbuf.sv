// SPDX-License-Identifier: Apache-2.0
// Vector buffer: the activation buffer (int8 input vectors, one chunk of KWidth elements per
// word) and the result buffer (int32 results, one word of Lanes results per row group).
//
// Each part is a 1-read 1-write memory behind the generic prim_ram_1r1w wrapper. The command
// processor writes activation chunks (VBUF_LOAD) and reads them (MATVEC); the reduction tree
// writes result words (one per cycle) and the command processor reads them (VBUF_READ).

module ctrl_vbuf #(
  parameter int unsigned ChunkBits = 64,
  parameter int unsigned RWordBits = 128,
  parameter int unsigned AbufWords = 256,
  parameter int unsigned RbufWords = 256,
  localparam int unsigned AbufAw = $clog2(AbufWords),
  localparam int unsigned RbufAw = $clog2(RbufWords)
) (
  input  logic                 clk_i,
  // Activation buffer
  input  logic                 abuf_we_i,
  input  logic [AbufAw-1:0]    abuf_waddr_i,
  input  logic [ChunkBits-1:0] abuf_wdata_i,
  input  logic                 abuf_re_i,
  input  logic [AbufAw-1:0]    abuf_raddr_i,
  output logic [ChunkBits-1:0] abuf_rdata_o,
  // Result buffer
  input  logic                 rbuf_we_i,
  input  logic [RbufAw-1:0]    rbuf_waddr_i,
  input  logic [RWordBits-1:0] rbuf_wdata_i,
  input  logic                 rbuf_re_i,
  input  logic [RbufAw-1:0]    rbuf_raddr_i,
  output logic [RWordBits-1:0] rbuf_rdata_o
);

  prim_ram_1r1w #(
    .Width (ChunkBits),
    .Depth (AbufWords)
  ) u_abuf (
    .clk_i   (clk_i),
    .we_i    (abuf_we_i),
    .waddr_i (abuf_waddr_i),
    .wdata_i (abuf_wdata_i),
    .re_i    (abuf_re_i),
    .raddr_i (abuf_raddr_i),
    .rdata_o (abuf_rdata_o)
  );

  prim_ram_1r1w #(
    .Width (RWordBits),
    .Depth (RbufWords)
  ) u_rbuf (
    .clk_i   (clk_i),
    .we_i    (rbuf_we_i),
    .waddr_i (rbuf_waddr_i),
    .wdata_i (rbuf_wdata_i),
    .re_i    (rbuf_re_i),
    .raddr_i (rbuf_raddr_i),
    .rdata_o (rbuf_rdata_o)
  );

endmodule
