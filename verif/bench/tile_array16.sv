// SPDX-License-Identifier: Apache-2.0
// Benchmark wrapper: sixteen tiles with broadcast inputs and the tile's own port contract.
// Handshakes come from tile 0 (all tiles run in lock step); each result lane is the sum of
// that lane over all tiles, so every tile's datapath is live.

module tile_array16 #(
  parameter int unsigned Lanes       = 4,
  parameter int unsigned KWidth      = 8,
  parameter int unsigned WeightWords = 256,
  parameter int unsigned ActWords    = 64
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  input  logic                        cfg_valid_i,
  output logic                        cfg_ready_o,
  input  tessera_pkg::tile_cfg_t      cfg_i,
  input  logic                        wr_valid_i,
  output logic                        wr_ready_o,
  input  logic [31:0]                 wr_addr_i,
  input  logic [Lanes*KWidth*8-1:0]   wr_data_i,
  input  logic                        act_valid_i,
  output logic                        act_ready_o,
  input  logic [KWidth*8-1:0]         act_data_i,
  output logic                        res_valid_o,
  input  logic                        res_ready_i,
  output logic [Lanes*32-1:0]         res_data_o,
  output logic                        res_last_o,
  output logic                        busy_o,
  output logic                        mac_busy_o,
  output logic                        err_o,
  input  logic                        err_clear_i
);

  localparam int unsigned NumTiles = 16;

  logic [NumTiles-1:0]         cfg_ready, wr_ready, act_ready, res_valid, res_last;
  logic [NumTiles-1:0]         busy, mac_busy, err;
  logic [Lanes*32-1:0]         res_data [NumTiles];

  for (genvar t = 0; t < NumTiles; t++) begin : gen_tiles
    tile #(
      .Lanes      (Lanes),
      .KWidth     (KWidth),
      .WeightWords(WeightWords),
      .ActWords   (ActWords)
    ) u_tile (
      .clk_i,
      .rst_ni,
      .cfg_valid_i,
      .cfg_ready_o (cfg_ready[t]),
      .cfg_i,
      .wr_valid_i,
      .wr_ready_o  (wr_ready[t]),
      .wr_addr_i,
      .wr_data_i,
      .act_valid_i,
      .act_ready_o (act_ready[t]),
      .act_data_i,
      .res_valid_o (res_valid[t]),
      .res_ready_i,
      .res_data_o  (res_data[t]),
      .res_last_o  (res_last[t]),
      .busy_o      (busy[t]),
      .mac_busy_o  (mac_busy[t]),
      .err_o       (err[t]),
      .err_clear_i
    );
  end

  always_comb begin
    res_data_o = '0;
    for (int unsigned t = 0; t < NumTiles; t++) begin
      for (int unsigned l = 0; l < Lanes; l++) begin
        res_data_o[l*32 +: 32] = res_data_o[l*32 +: 32] + res_data[t][l*32 +: 32];
      end
    end
  end

  assign cfg_ready_o = cfg_ready[0];
  assign wr_ready_o  = wr_ready[0];
  assign act_ready_o = act_ready[0];
  assign res_valid_o = res_valid[0];
  assign res_last_o  = res_last[0];
  assign busy_o      = busy[0];
  assign mac_busy_o  = mac_busy[0];
  assign err_o       = |err;

endmodule
