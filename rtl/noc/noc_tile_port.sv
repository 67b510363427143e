// SPDX-License-Identifier: Apache-2.0
// Tile port: joins one tile to the leaves of the multicast, weight-write and reduction networks.
//
// Multicast beats are {is_op, kp, data}. An operation beat (is_op = 1) carries an mc_op_t: it
// becomes the tile's set-up, and the port keeps the operation's K partition (kp = TileIdx mod
// P_k), its log2 P_k and the result buffer word of its first row group. The tile takes the next
// set-up while the previous operation still drains, so the result side keeps {lg_pk, word} of up
// to two operations in order: the head names the results leaving now and is retired by the
// beat marked last. A chunk beat goes to the
// tile when its kp equals the tile's and is dropped otherwise, so each tile sees exactly its K
// slice, in order. Weight writes {tile, addr, word} are kept when tile = TileIdx. Results leave
// as reduction beats {lg_pk, addr, data}, addr counting up from the operation's first word.

`include "prim_assert.svh"

module noc_tile_port
  import tessera_pkg::*;
#(
  parameter int unsigned TileIdx  = 0,
  parameter int unsigned Lanes    = 4,
  parameter int unsigned KWidth   = 8,
  parameter int unsigned FlitData = 160,  // data bits of a multicast beat
  localparam int unsigned FlitWidth = 1 + TileIdxWidth + FlitData,
  localparam int unsigned WordBits  = Lanes * KWidth * 8,
  localparam int unsigned WrWidth   = TileIdxWidth + 32 + WordBits,
  localparam int unsigned ResBits   = Lanes * AccWidth
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  // Multicast leaf
  input  logic                    mc_valid_i,
  output logic                    mc_ready_o,
  input  logic [FlitWidth-1:0]    mc_data_i,
  // Weight-write leaf
  input  logic                    wr_valid_i,
  input  logic [WrWidth-1:0]      wr_data_i,
  // Reduction leaf
  output logic                    red_valid_o,
  input  logic                    red_ready_i,
  output logic [LgPkWidth-1:0]    red_lg_pk_o,
  output logic [31:0]             red_addr_o,
  output logic [ResBits-1:0]      red_data_o,
  // Tile
  output logic                    cfg_valid_o,
  input  logic                    cfg_ready_i,
  output tile_cfg_t               cfg_o,
  output logic                    wr_valid_o,
  output logic [31:0]             wr_addr_o,
  output logic [WordBits-1:0]     wr_data_o,
  output logic                    act_valid_o,
  input  logic                    act_ready_i,
  output logic [KWidth*8-1:0]     act_data_o,
  input  logic                    res_valid_i,
  output logic                    res_ready_o,
  input  logic [ResBits-1:0]      res_data_i,
  input  logic                    res_last_i
);

  `ASSERT_STATIC(gen_flit_A, FlitData >= McOpBits && FlitData >= KWidth * 8,
                 "noc_tile_port: FlitData must hold an operation and a chunk")

  localparam int unsigned LaneShift = $clog2(Lanes);
  localparam int unsigned KShift    = $clog2(KWidth);

  logic                    is_op, kp_match, op_hs, res_hs;
  logic [TileIdxWidth-1:0] tag;
  mc_op_t                  op;

  logic [TileIdxWidth-1:0] kp_d, kp_q;
  logic [TileIdxWidth-1:0] rp;

  assign is_op    = mc_data_i[FlitWidth-1];
  assign tag      = mc_data_i[FlitData +: TileIdxWidth];
  assign op       = mc_op_t'(mc_data_i[McOpBits-1:0]);
  assign kp_match = (tag == kp_q);

  assign cfg_valid_o = mc_valid_i && is_op;
  assign cfg_o.base  = op.base;
  assign cfg_o.rows  = op.groups << LaneShift;
  assign cfg_o.k     = op.chunks << KShift;

  assign act_valid_o = mc_valid_i && !is_op && kp_match;
  assign act_data_o  = mc_data_i[KWidth*8-1:0];

  assign mc_ready_o = is_op ? cfg_ready_i : (kp_match ? act_ready_i : 1'b1);
  assign op_hs      = mc_valid_i && is_op && cfg_ready_i;

  // Row partition of this tile for the new operation.
  assign rp = TileIdxWidth'(TileIdx) >> op.lg_pk;

  assign res_hs = res_valid_i && red_ready_i;

  always_comb begin
    kp_d = kp_q;
    if (op_hs) begin
      kp_d = TileIdxWidth'(TileIdx) & ((TileIdxWidth'(1) << op.lg_pk) - TileIdxWidth'(1));
    end
  end

  // Result-side queue: entry 0 is the head (the operation whose results leave now), entry 1 the
  // operation set up behind it. The tile never holds more than two operations.
  logic [1:0]           rq_valid_d, rq_valid_q;
  logic [LgPkWidth-1:0] rq_lg_pk_d [2];
  logic [LgPkWidth-1:0] rq_lg_pk_q [2];
  logic [31:0]          rq_addr_d [2];
  logic [31:0]          rq_addr_q [2];
  logic                 retire;

  assign retire = res_hs && res_last_i;

  always_comb begin
    rq_valid_d = rq_valid_q;
    rq_lg_pk_d = rq_lg_pk_q;
    rq_addr_d  = rq_addr_q;
    if (res_hs) begin
      rq_addr_d[0] = rq_addr_q[0] + 32'd1;
    end
    if (retire) begin
      rq_valid_d    = {1'b0, rq_valid_q[1]};
      rq_lg_pk_d[0] = rq_lg_pk_q[1];
      rq_addr_d[0]  = rq_addr_q[1];
    end
    if (op_hs) begin
      if (!rq_valid_d[0]) begin
        rq_valid_d[0] = 1'b1;
        rq_lg_pk_d[0] = op.lg_pk;
        rq_addr_d[0]  = op.out_base + 32'(rp) * op.groups;
      end else begin
        rq_valid_d[1] = 1'b1;
        rq_lg_pk_d[1] = op.lg_pk;
        rq_addr_d[1]  = op.out_base + 32'(rp) * op.groups;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      kp_q       <= '0;
      rq_valid_q <= '0;
      rq_lg_pk_q <= '{default: '0};
      rq_addr_q  <= '{default: '0};
    end else begin
      kp_q       <= kp_d;
      rq_valid_q <= rq_valid_d;
      rq_lg_pk_q <= rq_lg_pk_d;
      rq_addr_q  <= rq_addr_d;
    end
  end

  assign red_valid_o = res_valid_i;
  assign red_lg_pk_o = rq_lg_pk_q[0];
  assign red_addr_o  = rq_addr_q[0];
  assign red_data_o  = res_data_i;
  assign res_ready_o = red_ready_i;

  // Weight writes addressed to this tile.
  assign wr_valid_o = wr_valid_i && (wr_data_i[WrWidth-1 -: TileIdxWidth] == TileIdxWidth'(TileIdx));
  assign wr_addr_o  = wr_data_i[WordBits +: 32];
  assign wr_data_o  = wr_data_i[WordBits-1:0];

  // Every result belongs to an operation the port set up; a third operation never arrives.
  `ASSERT_NEVER(ResUnknown_A, res_valid_i && !rq_valid_q[0])
  `ASSERT_NEVER(QueueFull_A, op_hs && rq_valid_q[1] && !retire)
  `ASSERT_NEVER(QueueHole_A, rq_valid_q[1] && !rq_valid_q[0])
  // The multicast leaf FIFO holds its payload by construction (noc_fifo's OutHeld_A), and the
  // tile checks the activation and set-up streams it receives in full.
  `ASSERT_VALID_HOLD(McValid_A, mc_valid_i, mc_ready_o)

endmodule
