// SPDX-License-Identifier: Apache-2.0
// Functional cover points of the design, bound into its modules from outside the RTL.
//
// Compiled only into coverage builds (TESSERA_COVERAGE, docs/verification.md "Coverage"), which
// pass --coverage-user to Verilator: each `cover property` becomes a counter in the coverage data, named
// by its label (`*_C`) and the hierarchy of the instance it is bound into. The checkers read
// only ports of the modules they are bound to, so they follow the RTL without touching it.
// A checker module per bound module, then the bind statements; a bind to a module a model does
// not elaborate (a tile model has no tessera_top) binds nothing.
//
// What is covered:
//   - backpressure (valid && !ready) on every stream link: the host AXI4-Stream ports and the
//     AXI4-Lite channels, CMD_FIFO, the multicast tree's root and leaves, the reduction tree's
//     leaves and root, each tile's set-up, activation and result streams, the token engine's
//     output stream;
//   - every error code the command processor can raise (ERROR.code, tessera_pkg::err_e), at
//     the cycle it stops;
//   - every K-partition shape (P_k = 2^lg_pk) of the result beats leaving the reduction tree;
//   - the token engine's KV-cache-full fault;
//   - ECC events: corrected and uncorrectable reads of each weight memory, of DMEM and of the
//     engine's program memory.

// Several small checkers share this file, which is named after what it holds.
/* verilator lint_off DECLFILENAME */

`define TESSERA_COVER(__name, __prop) \
  __name: cover property (@(posedge clk_i) disable iff (!rst_ni) (__prop));

// The chip's host ports.
module cover_tessera_top (
  input logic clk_i,
  input logic rst_ni,
  input logic s_axis_tvalid_i,
  input logic s_axis_tready_o,
  input logic m_axis_tvalid_o,
  input logic m_axis_tready_i,
  input logic s_axil_awvalid_i,
  input logic s_axil_awready_o,
  input logic s_axil_wvalid_i,
  input logic s_axil_wready_o,
  input logic s_axil_bvalid_o,
  input logic s_axil_bready_i,
  input logic s_axil_arvalid_i,
  input logic s_axil_arready_o,
  input logic s_axil_rvalid_o,
  input logic s_axil_rready_i
);
  `TESSERA_COVER(SAxisStall_C, s_axis_tvalid_i && !s_axis_tready_o)
  `TESSERA_COVER(MAxisStall_C, m_axis_tvalid_o && !m_axis_tready_i)
  `TESSERA_COVER(AxilAwStall_C, s_axil_awvalid_i && !s_axil_awready_o)
  `TESSERA_COVER(AxilWStall_C, s_axil_wvalid_i && !s_axil_wready_o)
  `TESSERA_COVER(AxilBStall_C, s_axil_bvalid_o && !s_axil_bready_i)
  `TESSERA_COVER(AxilArStall_C, s_axil_arvalid_i && !s_axil_arready_o)
  `TESSERA_COVER(AxilRStall_C, s_axil_rvalid_o && !s_axil_rready_i)
endmodule

// The command processor: its error codes and its own links.
module cover_ctrl_cmdproc
  import tessera_pkg::*;
(
  input logic       clk_i,
  input logic       rst_ni,
  input logic       intr_error_o,
  input logic [7:0] err_code_o,
  input logic       cmdq_valid_i,
  input logic       cmdq_ready_o,
  input logic       m_axis_tvalid_o,
  input logic       m_axis_tready_i
);
  logic stop;
  assign stop = intr_error_o;  // pulse: the cycle after the processor stopped, code valid

  `TESSERA_COVER(ErrOpcode_C, stop && err_code_o == ErrOpcode)
  `TESSERA_COVER(ErrShape_C, stop && err_code_o == ErrShape)
  `TESSERA_COVER(ErrWeightRange_C, stop && err_code_o == ErrWeightRange)
  `TESSERA_COVER(ErrAbufRange_C, stop && err_code_o == ErrAbufRange)
  `TESSERA_COVER(ErrRbufRange_C, stop && err_code_o == ErrRbufRange)
  `TESSERA_COVER(ErrTileRange_C, stop && err_code_o == ErrTileRange)
  `TESSERA_COVER(ErrStreamShort_C, stop && err_code_o == ErrStreamShort)
  `TESSERA_COVER(ErrStreamLong_C, stop && err_code_o == ErrStreamLong)
  `TESSERA_COVER(ErrCmdOverflow_C, stop && err_code_o == ErrCmdOverflow)
  `TESSERA_COVER(ErrTile_C, stop && err_code_o == ErrTile)
  `TESSERA_COVER(ErrInstr_C, stop && err_code_o == ErrInstr)
  `TESSERA_COVER(ErrVmemRange_C, stop && err_code_o == ErrVmemRange)
  `TESSERA_COVER(ErrDmemRange_C, stop && err_code_o == ErrDmemRange)
  `TESSERA_COVER(ErrKvFull_C, stop && err_code_o == ErrKvFull)
  `TESSERA_COVER(ErrToken_C, stop && err_code_o == ErrToken)
  `TESSERA_COVER(ErrProgRange_C, stop && err_code_o == ErrProgRange)
  `TESSERA_COVER(ErrEccWeight_C, stop && err_code_o == ErrEccWeight)
  `TESSERA_COVER(ErrEccData_C, stop && err_code_o == ErrEccData)
  `TESSERA_COVER(CmdFifoStall_C, cmdq_valid_i && !cmdq_ready_o)
  `TESSERA_COVER(OutStall_C, m_axis_tvalid_o && !m_axis_tready_i)
endmodule

// The multicast tree: its root and every leaf link.
module cover_noc_mcast_tree #(
  parameter int unsigned NumLeaves = 4
) (
  input logic                 clk_i,
  input logic                 rst_ni,
  input logic                 in_valid_i,
  input logic                 in_ready_o,
  input logic [NumLeaves-1:0] out_valid_o,
  input logic [NumLeaves-1:0] out_ready_i
);
  `TESSERA_COVER(RootStall_C, in_valid_i && !in_ready_o)
  for (genvar j = 0; j < NumLeaves; j++) begin : gen_leaf
    `TESSERA_COVER(LeafStall_C, out_valid_o[j] && !out_ready_i[j])
  end
endmodule

// The reduction tree: every leaf link, its root, and the K-partition shapes leaving it.
module cover_noc_reduce_tree
  import tessera_pkg::*;
#(
  parameter int unsigned NumLeaves = 4
) (
  input logic                 clk_i,
  input logic                 rst_ni,
  input logic [NumLeaves-1:0] in_valid_i,
  input logic [NumLeaves-1:0] in_ready_o,
  input logic                 out_valid_o,
  input logic                 out_ready_i,
  input logic [LgPkWidth-1:0] out_lg_pk_o
);
  localparam int unsigned LgLeaves = (NumLeaves > 1) ? $clog2(NumLeaves) : 0;

  for (genvar j = 0; j < NumLeaves; j++) begin : gen_leaf
    `TESSERA_COVER(LeafStall_C, in_valid_i[j] && !in_ready_o[j])
  end
  `TESSERA_COVER(RootStall_C, out_valid_o && !out_ready_i)
  // P_k = 2^k tiles share each row group's K.
  for (genvar k = 0; k <= LgLeaves; k++) begin : gen_pk
    `TESSERA_COVER(Partition_C, out_valid_o && out_ready_i && out_lg_pk_o == LgPkWidth'(k))
  end
endmodule

// A tile: its three flow-controlled streams and its weight memory's ECC.
module cover_tile (
  input logic clk_i,
  input logic rst_ni,
  input logic cfg_valid_i,
  input logic cfg_ready_o,
  input logic act_valid_i,
  input logic act_ready_o,
  input logic res_valid_o,
  input logic res_ready_i,
  input logic ecc_single_o,
  input logic ecc_double_o
);
  `TESSERA_COVER(CfgStall_C, cfg_valid_i && !cfg_ready_o)
  `TESSERA_COVER(ActStall_C, act_valid_i && !act_ready_o)
  `TESSERA_COVER(ResStall_C, res_valid_o && !res_ready_i)
  `TESSERA_COVER(WeightEccCorrected_C, ecc_single_o)
  `TESSERA_COVER(WeightEccDouble_C, ecc_double_o)
endmodule

// The token engine: its output stream, the KV cache full, DMEM's ECC.
module cover_tok_engine
  import tessera_pkg::*;
(
  input logic       clk_i,
  input logic       rst_ni,
  input logic       m_valid_o,
  input logic       m_ready_i,
  input logic       err_o,
  input logic [7:0] err_code_o,
  input logic       ecc_single_o,
  input logic       ecc_double_o
);
  `TESSERA_COVER(OutStall_C, m_valid_o && !m_ready_i)
  `TESSERA_COVER(KvFull_C, err_o && err_code_o == ErrKvFull)
  `TESSERA_COVER(DmemEccCorrected_C, ecc_single_o)
  `TESSERA_COVER(DmemEccDouble_C, ecc_double_o)
endmodule

// A banked ECC memory (the engine's program memory and DMEM): a read's flags belong to it in
// the cycle after it.
module cover_prim_ram_banked (
  input logic clk_i,
  input logic re_i,
  input logic single_o,
  input logic double_o
);
  logic rv_q = 1'b0;
  always_ff @(posedge clk_i) rv_q <= re_i;

  EccCorrected_C: cover property (@(posedge clk_i) rv_q && single_o);
  EccDouble_C: cover property (@(posedge clk_i) rv_q && double_o);
endmodule

`undef TESSERA_COVER

bind tessera_top cover_tessera_top u_cover (.*);
bind ctrl_cmdproc cover_ctrl_cmdproc u_cover (.*);
bind noc_mcast_tree cover_noc_mcast_tree #(.NumLeaves(NumLeaves)) u_cover (.*);
bind noc_reduce_tree cover_noc_reduce_tree #(.NumLeaves(NumLeaves)) u_cover (.*);
bind tile cover_tile u_cover (.*);
bind tok_engine cover_tok_engine u_cover (.*);
bind prim_ram_banked cover_prim_ram_banked u_cover (.*);
