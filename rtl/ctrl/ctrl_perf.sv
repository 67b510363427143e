// SPDX-License-Identifier: Apache-2.0
// Performance counters: 64-bit running counts of cycles, MAC-busy tile-cycles and stall cycles
// by cause, copied into snapshot registers (read as PERF_*) on a snapshot pulse.
//
// Counters restart from zero on reset and soft reset; they wrap after 2^64 (never in practice).

module ctrl_perf #(
  parameter int unsigned NumTiles = 4
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic [NumTiles-1:0] mac_busy_i,      // per tile: a MAC step this cycle
  input  logic                stall_input_i,
  input  logic                stall_output_i,
  input  logic                stall_cmd_i,
  input  logic                snapshot_i,
  output logic [63:0]         cycles_o,
  output logic [63:0]         mac_busy_o,
  output logic [63:0]         stall_input_o,
  output logic [63:0]         stall_output_o,
  output logic [63:0]         stall_cmd_o
);

  localparam int unsigned CntWidth = $clog2(NumTiles + 1);

  logic [CntWidth-1:0] busy_now;
  logic [63:0] cyc_q, mac_q, sin_q, sout_q, scmd_q;
  logic [63:0] cyc_s_q, mac_s_q, sin_s_q, sout_s_q, scmd_s_q;

  // Tiles with a MAC step this cycle.
  always_comb begin
    busy_now = '0;
    for (int unsigned t = 0; t < NumTiles; t++) begin
      busy_now = busy_now + CntWidth'(mac_busy_i[t]);
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      cyc_q  <= '0;
      mac_q  <= '0;
      sin_q  <= '0;
      sout_q <= '0;
      scmd_q <= '0;
    end else begin
      cyc_q  <= cyc_q + 64'd1;
      mac_q  <= mac_q + 64'(busy_now);
      sin_q  <= sin_q + 64'(stall_input_i);
      sout_q <= sout_q + 64'(stall_output_i);
      scmd_q <= scmd_q + 64'(stall_cmd_i);
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      cyc_s_q  <= '0;
      mac_s_q  <= '0;
      sin_s_q  <= '0;
      sout_s_q <= '0;
      scmd_s_q <= '0;
    end else if (snapshot_i) begin
      cyc_s_q  <= cyc_q;
      mac_s_q  <= mac_q;
      sin_s_q  <= sin_q;
      sout_s_q <= sout_q;
      scmd_s_q <= scmd_q;
    end
  end

  assign cycles_o       = cyc_s_q;
  assign mac_busy_o     = mac_s_q;
  assign stall_input_o  = sin_s_q;
  assign stall_output_o = sout_s_q;
  assign stall_cmd_o    = scmd_s_q;

endmodule
