// SPDX-License-Identifier: Apache-2.0
// Weight-write broadcast tree: a binary tree of registers without backpressure.
//
// Weight writes are accepted by every tile in every cycle (the tile's write port is always
// ready), so this tree needs no ready signal: each node register copies its parent's every cycle
// and a write reaches every leaf log2(NumLeaves) + 1 cycles after it enters. Each leaf's tile
// port keeps only the writes addressed to its tile. Nodes are numbered heap-style as in
// noc_mcast_tree.

module noc_wr_tree #(
  parameter int unsigned NumLeaves = 4,   // power of two
  parameter int unsigned Width     = 32   // payload bits
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  input  logic                 in_valid_i,
  input  logic [Width-1:0]     in_data_i,
  output logic [NumLeaves-1:0] out_valid_o,
  output logic [Width-1:0]     out_data_o [NumLeaves]
);

  localparam int unsigned NumNodes = 2 * NumLeaves;

  for (genvar n = 1; n < NumNodes; n++) begin : gen_node
    logic             valid_in, valid_q;
    logic [Width-1:0] data_in, data_q;
    if (n == 1) begin : gen_root
      assign valid_in = in_valid_i;
      assign data_in  = in_data_i;
    end else begin : gen_inner
      assign valid_in = gen_node[n/2].valid_q;
      assign data_in  = gen_node[n/2].data_q;
    end

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        valid_q <= 1'b0;
      end else begin
        valid_q <= valid_in;
      end
    end

    // Payload registers load only with a write: no reset needed.
    always_ff @(posedge clk_i) begin
      if (valid_in) begin
        data_q <= data_in;
      end
    end

    if (n >= NumLeaves) begin : gen_leaf
      assign out_valid_o[n-NumLeaves] = valid_q;
      assign out_data_o[n-NumLeaves]  = data_q;
    end
  end

endmodule
