// SPDX-License-Identifier: Apache-2.0
// Multicast tree: every beat entering the root reaches every leaf, in order, through a binary
// tree of registered valid/ready links.
//
// Nodes are numbered heap-style: node 1 is the root, node n feeds nodes 2n and 2n+1, and nodes
// NumLeaves .. 2*NumLeaves-1 are the leaves (leaf j is node NumLeaves + j). Every node holds a
// 2-entry noc_fifo, so the tree has log2(NumLeaves) + 1 register stages and no combinational
// path longer than one node. An inner node forks its head beat to both children and pops it once
// both have taken it; a child that takes it early is remembered (sent_q), so no beat is
// duplicated. One beat per cycle flows when no leaf backpressures.

`include "prim_assert.svh"

module noc_mcast_tree #(
  parameter int unsigned NumLeaves = 4,   // power of two
  parameter int unsigned Width     = 32   // beat payload bits
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  // Root
  input  logic                 in_valid_i,
  output logic                 in_ready_o,
  input  logic [Width-1:0]     in_data_i,
  // Leaves
  output logic [NumLeaves-1:0] out_valid_o,
  input  logic [NumLeaves-1:0] out_ready_i,
  output logic [Width-1:0]     out_data_o [NumLeaves]
);

  `ASSERT_STATIC(gen_leaves_pow2_A, NumLeaves >= 1 && (NumLeaves & (NumLeaves - 1)) == 0,
                 "noc_mcast_tree: NumLeaves must be a power of two")

  localparam int unsigned NumNodes = 2 * NumLeaves;  // nodes 1 .. 2*NumLeaves-1 are used

  // Per node: input side (from the parent's fork) and output side (the FIFO head).
  logic [NumNodes-1:0] in_valid, in_ready, out_valid, out_ready;
  logic [Width-1:0]    in_data  [NumNodes];
  logic [Width-1:0]    out_data [NumNodes];

  // Node 0 does not exist.
  assign in_valid[0]  = 1'b0;
  assign in_ready[0]  = 1'b0;
  assign out_valid[0] = 1'b0;
  assign out_ready[0] = 1'b0;
  assign in_data[0]   = '0;
  assign out_data[0]  = '0;
  logic unused_node0;
  assign unused_node0 = ^{in_valid[0], in_ready[0], out_valid[0], out_ready[0]};

  assign in_valid[1] = in_valid_i;
  assign in_data[1]  = in_data_i;
  assign in_ready_o  = in_ready[1];

  for (genvar n = 1; n < NumNodes; n++) begin : gen_node
    noc_fifo #(
      .Width (Width),
      .Depth (2)
    ) u_fifo (
      .clk_i       (clk_i),
      .rst_ni      (rst_ni),
      .in_valid_i  (in_valid[n]),
      .in_ready_o  (in_ready[n]),
      .in_data_i   (in_data[n]),
      .out_valid_o (out_valid[n]),
      .out_ready_i (out_ready[n]),
      .out_data_o  (out_data[n]),
      .level_o     ()
    );

    if (n < NumLeaves) begin : gen_fork
      // Children 2n and 2n+1: sent_q[c] = child c already took the head beat.
      logic [1:0] sent_d, sent_q, took, done;
      for (genvar c = 0; c < 2; c++) begin : gen_child
        assign in_valid[2*n+c] = out_valid[n] && !sent_q[c];
        assign in_data[2*n+c]  = out_data[n];
        assign took[c]         = out_valid[n] && !sent_q[c] && in_ready[2*n+c];
        assign done[c]         = sent_q[c] || took[c];
      end
      assign out_ready[n] = &done;
      assign sent_d       = (out_valid[n] && (&done)) ? 2'b00 : (sent_q | took);
      always_ff @(posedge clk_i or negedge rst_ni) begin
        if (!rst_ni) begin
          sent_q <= 2'b00;
        end else begin
          sent_q <= sent_d;
        end
      end
    end else begin : gen_leaf
      assign out_valid_o[n-NumLeaves] = out_valid[n];
      assign out_data_o[n-NumLeaves]  = out_data[n];
      assign out_ready[n]             = out_ready_i[n-NumLeaves];
    end
  end

  `ASSERT_STREAM(InStream_A, in_valid_i, in_ready_o, in_data_i)

endmodule
