// SPDX-License-Identifier: Apache-2.0
// Network bench: the multicast tree and the reduction tree of the chip side by side, with packed
// ports so that verif/bench/chip_noc.cpp can drive every leaf. Used by verif/tests/chip_noc.rs.

module chip_noc_bench
  import tessera_pkg::*;
#(
  parameter int unsigned NumLeaves = 8,
  parameter int unsigned Width     = 32,
  parameter int unsigned Lanes     = 2
) (
  input  logic                              clk_i,
  input  logic                              rst_ni,
  // Multicast
  input  logic                              mc_valid_i,
  output logic                              mc_ready_o,
  input  logic [Width-1:0]                  mc_data_i,
  output logic [NumLeaves-1:0]              mcl_valid_o,
  input  logic [NumLeaves-1:0]              mcl_ready_i,
  output logic [NumLeaves*Width-1:0]        mcl_data_o,
  // Reduction
  input  logic [NumLeaves-1:0]              rdl_valid_i,
  output logic [NumLeaves-1:0]              rdl_ready_o,
  input  logic [NumLeaves*LgPkWidth-1:0]    rdl_lg_pk_i,
  input  logic [NumLeaves*32-1:0]           rdl_addr_i,
  input  logic [NumLeaves*Lanes*32-1:0]     rdl_data_i,
  output logic                              rd_valid_o,
  input  logic                              rd_ready_i,
  output logic [LgPkWidth-1:0]              rd_lg_pk_o,
  output logic [31:0]                       rd_addr_o,
  output logic [Lanes*32-1:0]               rd_data_o
);

  logic [Width-1:0]       mcl_data  [NumLeaves];
  logic [LgPkWidth-1:0]   rdl_lg_pk [NumLeaves];
  logic [31:0]            rdl_addr  [NumLeaves];
  logic [Lanes*32-1:0]    rdl_data  [NumLeaves];

  for (genvar t = 0; t < NumLeaves; t++) begin : gen_leaf
    assign mcl_data_o[t*Width +: Width] = mcl_data[t];
    assign rdl_lg_pk[t] = rdl_lg_pk_i[t*LgPkWidth +: LgPkWidth];
    assign rdl_addr[t]  = rdl_addr_i[t*32 +: 32];
    assign rdl_data[t]  = rdl_data_i[t*Lanes*32 +: Lanes*32];
  end

  noc_mcast_tree #(
    .NumLeaves (NumLeaves),
    .Width     (Width)
  ) u_mcast (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (mc_valid_i),
    .in_ready_o  (mc_ready_o),
    .in_data_i   (mc_data_i),
    .out_valid_o (mcl_valid_o),
    .out_ready_i (mcl_ready_i),
    .out_data_o  (mcl_data)
  );

  noc_reduce_tree #(
    .NumLeaves (NumLeaves),
    .Lanes     (Lanes)
  ) u_reduce (
    .clk_i       (clk_i),
    .rst_ni      (rst_ni),
    .in_valid_i  (rdl_valid_i),
    .in_ready_o  (rdl_ready_o),
    .in_lg_pk_i  (rdl_lg_pk),
    .in_addr_i   (rdl_addr),
    .in_data_i   (rdl_data),
    .out_valid_o (rd_valid_o),
    .out_ready_i (rd_ready_i),
    .out_lg_pk_o (rd_lg_pk_o),
    .out_addr_o  (rd_addr_o),
    .out_data_o  (rd_data_o)
  );

endmodule
