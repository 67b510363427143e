// SPDX-License-Identifier: Apache-2.0
// Harness self-test module: fails an immediate assertion or calls $fatal on demand.

module assert_probe (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        fire_assert_i,
  input  logic        fire_fatal_i,
  output logic [31:0] count_o
);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      count_o <= '0;
    end else begin
      count_o <= count_o + 32'd1;
    end
  end

`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    if (rst_ni) begin
      ProbeFireA: assert (!fire_assert_i)
        else $error("probe assertion fired at count %0d", count_o);
      if (fire_fatal_i) begin
        $fatal(1, "probe fatal at count %0d", count_o);
      end
    end
  end
`endif

endmodule
