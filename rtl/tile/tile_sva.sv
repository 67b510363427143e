// SPDX-License-Identifier: Apache-2.0
// Assertions of the tile, in their own module: tile.sv instantiates it outside synthesis and
// connects the signals the checks read.
//
// A module of its own keeps the checks out of the simulator's evaluation of the tile's datapath.
// The simulator evaluates every clocked process of a module instance in one function per clock
// edge; with the checks among them that function holds the new value of each operand and
// product register across the checks' message calls, and a sim-configuration layer token took
// about 1.6 times as long as without them (docs/tile.md). The pragma below keeps this module
// from being inlined back into the tile. Outside synthesis only: tile.sv leaves the instance out
// there, and the assertion macros are empty.

`include "prim_assert.svh"

module tile_sva
  import tessera_pkg::*;
#(
  parameter int unsigned Lanes       = 4,
  parameter int unsigned WeightWords = 256,
  parameter int unsigned ActWords    = 64,
  parameter int unsigned ChunkWidth  = 64,   // activation chunk bits
  parameter int unsigned ResWidth    = 128,  // result beat bits
  parameter int unsigned ChunkCntW   = 7,
  parameter int unsigned GroupCntW   = 9,
  parameter int unsigned WAddrWidth  = 8
) (
  input logic                       clk_i,
  input logic                       rst_ni,
  // Ports of the tile
  input logic                       cfg_valid_i,
  input logic                       cfg_ready_o,
  input tile_cfg_t                  cfg_i,
  input logic                       act_valid_i,
  input logic                       act_ready_o,
  input logic [ChunkWidth-1:0]      act_data_i,
  input logic                       res_valid_o,
  input logic                       res_ready_i,
  input logic [ResWidth-1:0]        res_data_o,
  input logic                       res_last_o,
  input logic                       busy_o,
  input logic                       mac_busy_o,
  // Control state
  input tile_state_e                state_q,
  input logic [ChunkCntW-1:0]       recv_q,
  input logic [ChunkCntW-1:0]       ichunk_q,
  input logic [ChunkCntW-1:0]       chunk_last_q,
  input logic [GroupCntW-1:0]       igroup_q,
  input logic [GroupCntW-1:0]       group_last_q,
  input logic [WAddrWidth-1:0]      waddr_q,
  input logic                       idone_q,
  input logic [1:0]                 pend_q,
  input logic                       issue,
  // Accumulators: a step is added, and per lane whether the addition overflows int32
  input logic                       en_acc,
  input logic [Lanes-1:0]           acc_ovf,
  // Result buffer
  input logic                       res_load,
  input logic                       res_valid_q,
  input logic                       skid_valid_q
);
  /* verilator no_inline_module */

  // Legal shapes never overflow the int32 accumulator (K <= 131072, int8 symmetric).
  for (genvar l = 0; l < Lanes; l++) begin : gen_lane
    `ASSERT_NEVER(AccOverflow_A, en_acc && acc_ovf[l])
  end

  // Stream protocol at every boundary: the tile's own output, and what it expects of its
  // environment on the inputs (a source keeps valid and payload until the handshake).
  `ASSERT_STREAM(ResStream_A, res_valid_o, res_ready_i, {res_data_o, res_last_o})
  `ASSERT_STREAM(CfgStream_A, cfg_valid_i, cfg_ready_o, cfg_i)
  `ASSERT_STREAM(ActStream_A, act_valid_i, act_ready_o, act_data_i)
  `ASSERT_KNOWN(StateKnown_A, state_q)
  `ASSERT(StateLegal_A, state_q inside {TileIdle, TileRun})
  `ASSERT(RecvBound_A, recv_q <= chunk_last_q + ChunkCntW'(1) || state_q == TileIdle)
  `ASSERT(IssueBound_A, !issue || (ichunk_q <= chunk_last_q && igroup_q <= group_last_q))
  `ASSERT(IssueAddr_A, !issue || (32'(waddr_q) < 32'(WeightWords)))
  `ASSERT(ChunkBound_A, state_q == TileIdle || chunk_last_q < ChunkCntW'(ActWords))
  `ASSERT_NEVER(ResLoadFull_A, res_load && skid_valid_q)
  `ASSERT_NEVER(SkidAlone_A, skid_valid_q && !res_valid_q)
  `ASSERT_NEVER(ActIdle_A, act_ready_o && state_q != TileRun)
  `ASSERT_NEVER(ResIdle_A, res_valid_o && !busy_o)
  `ASSERT_NEVER(MacIdle_A, mac_busy_o && !busy_o)
  `ASSERT_NEVER(CfgIssuing_A, cfg_ready_o && !idone_q)
  `ASSERT(PendLegal_A, pend_q != 2'd3)
  `ASSERT(PendRun_A, state_q == TileIdle || pend_q != 2'd0)

endmodule
