// SPDX-License-Identifier: Apache-2.0
// Reduction / gather tree: result beats of every leaf reach the root, summed where a node joins
// K-partition siblings and merged elsewhere.
//
// A beat is {lg_pk, addr, data}. Nodes are numbered heap-style (node 1 is the root, node n takes
// the beats of nodes 2n and 2n+1, leaf j enters at node NumLeaves + j) and every node holds a
// 2-entry noc_fifo. A node of height h (h = 1 just above the leaves) treats a beat with
// h <= lg_pk as an ADD beat: it waits for the head beats of both children, which belong to the
// same row group of the same operation, and forwards their lane-wise int32 sum. Any other beat
// is a MERGE beat: it is forwarded unchanged, the two children taking turns when both have one.
// Merge beats never wait for the other child, so the tree always drains. Per leaf, beats leave
// in the order they entered; beats of different leaves have no order (docs/architecture.md).

`include "prim_assert.svh"

module noc_reduce_tree
  import tessera_pkg::*;
#(
  parameter int unsigned NumLeaves = 4,   // power of two
  parameter int unsigned Lanes     = 4    // int32 elements per beat
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  // Leaves
  input  logic [NumLeaves-1:0]        in_valid_i,
  output logic [NumLeaves-1:0]        in_ready_o,
  input  logic [LgPkWidth-1:0]        in_lg_pk_i [NumLeaves],
  input  logic [31:0]                 in_addr_i  [NumLeaves],
  input  logic [Lanes*AccWidth-1:0]   in_data_i  [NumLeaves],
  // Root
  output logic                        out_valid_o,
  input  logic                        out_ready_i,
  output logic [LgPkWidth-1:0]        out_lg_pk_o,
  output logic [31:0]                 out_addr_o,
  output logic [Lanes*AccWidth-1:0]   out_data_o
);

  `ASSERT_STATIC(gen_leaves_pow2_A, NumLeaves >= 1 && (NumLeaves & (NumLeaves - 1)) == 0,
                 "noc_reduce_tree: NumLeaves must be a power of two")

  localparam int unsigned NumNodes  = 2 * NumLeaves;
  localparam int unsigned LgLeaves  = $clog2(NumLeaves);
  localparam int unsigned DataWidth = Lanes * AccWidth;
  localparam int unsigned BeatWidth = LgPkWidth + 32 + DataWidth;

  logic [NumNodes-1:0]  in_valid, in_ready, out_valid, out_ready;
  logic [BeatWidth-1:0] in_beat  [NumNodes];
  logic [BeatWidth-1:0] out_beat [NumNodes];

  assign in_valid[0]  = 1'b0;
  assign in_ready[0]  = 1'b0;
  assign out_valid[0] = 1'b0;
  assign out_ready[0] = 1'b0;
  assign in_beat[0]   = '0;
  assign out_beat[0]  = '0;
  logic unused_node0;
  assign unused_node0 = ^{in_valid[0], in_ready[0], out_valid[0], out_ready[0]};

  for (genvar n = 1; n < NumNodes; n++) begin : gen_node
    noc_fifo #(
      .Width (BeatWidth),
      .Depth (2)
    ) u_fifo (
      .clk_i       (clk_i),
      .rst_ni      (rst_ni),
      .in_valid_i  (in_valid[n]),
      .in_ready_o  (in_ready[n]),
      .in_data_i   (in_beat[n]),
      .out_valid_o (out_valid[n]),
      .out_ready_i (out_ready[n]),
      .out_data_o  (out_beat[n]),
      .level_o     ()
    );

    if (n < NumLeaves) begin : gen_join
      // Height of this node above the leaves: LgLeaves - floor(log2 n).
      localparam int unsigned Height = LgLeaves - $clog2(n + 1) + 1;

      logic                 v0, v1, add0, add1, m0, m1, pick0, pick1, do_add;
      logic [BeatWidth-1:0] b0, b1;
      logic [DataWidth-1:0] sum;
      logic                 rr_d, rr_q;  // 1: child 1 goes first on a merge tie

      assign v0   = out_valid[2*n];
      assign v1   = out_valid[2*n+1];
      assign b0   = out_beat[2*n];
      assign b1   = out_beat[2*n+1];
      assign add0 = (32'(b0[BeatWidth-1 -: LgPkWidth]) >= Height);
      assign add1 = (32'(b1[BeatWidth-1 -: LgPkWidth]) >= Height);
      assign m0   = v0 && !add0;
      assign m1   = v1 && !add1;

      assign pick0  = m0 && (!m1 || !rr_q);
      assign pick1  = m1 && !pick0;
      assign do_add = !m0 && !m1 && v0 && v1;

      for (genvar l = 0; l < Lanes; l++) begin : gen_lane
        assign sum[AccWidth*l +: AccWidth] = b0[AccWidth*l +: AccWidth] +
                                             b1[AccWidth*l +: AccWidth];
      end

      assign in_valid[n]      = pick0 || pick1 || do_add;
      assign in_beat[n]       = do_add ? {b0[BeatWidth-1:DataWidth], sum} : (pick1 ? b1 : b0);
      assign out_ready[2*n]   = in_ready[n] && (pick0 || do_add);
      assign out_ready[2*n+1] = in_ready[n] && (pick1 || do_add);
      assign rr_d             = (in_ready[n] && (pick0 || pick1)) ? pick0 : rr_q;

      always_ff @(posedge clk_i or negedge rst_ni) begin
        if (!rst_ni) begin
          rr_q <= 1'b0;
        end else begin
          rr_q <= rr_d;
        end
      end

      // Add partners are the same row group of the same operation.
      `ASSERT(AddSameAddr_A, !(do_add && in_ready[n]) ||
              b0[DataWidth +: 32 + LgPkWidth] == b1[DataWidth +: 32 + LgPkWidth])
    end else begin : gen_leaf
      assign in_valid[n]              = in_valid_i[n-NumLeaves];
      assign in_ready_o[n-NumLeaves]  = in_ready[n];
      assign in_beat[n]               = {in_lg_pk_i[n-NumLeaves], in_addr_i[n-NumLeaves],
                                         in_data_i[n-NumLeaves]};
    end
  end

  assign out_valid_o = out_valid[1];
  assign out_ready[1] = out_ready_i;
  assign {out_lg_pk_o, out_addr_o, out_data_o} = out_beat[1];

  `ASSERT_STREAM(OutStream_A, out_valid_o, out_ready_i, {out_lg_pk_o, out_addr_o, out_data_o})

endmodule
