// SPDX-License-Identifier: Apache-2.0
// Global buffer: a signal of high fanout on a global network of the FPGA instead of the general
// routing. Built for the ECP5 (TESSERA_ECP5 defined, as scripts/fpga/build does) it is the DCCA
// clock buffer; everywhere else (simulation, lint, generic synthesis) it is a wire. The chip's
// core reset and the board's reset run here: together they reach about 3,700 flip-flops all
// over the die, and on the general routing they took wires from the region where the design is
// most congested (docs/fpga.md).

`ifdef TESSERA_ECP5
// The ECP5 primitive (Lattice FPGA Libraries Reference Guide): CLKO follows CLKI while CE is 1.
// Yosys keeps it as a cell and nextpnr-ecp5 routes its output on a global network.
(* blackbox *)
module DCCA (
  input  logic CLKI,
  input  logic CE,
  output logic CLKO
);
endmodule
`endif

module prim_global_buf (
  input  logic in_i,
  output logic out_o
);
`ifdef TESSERA_ECP5
  DCCA u_dcca (
    .CLKI (in_i),
    .CE   (1'b1),
    .CLKO (out_o)
  );
`else
  assign out_o = in_i;
`endif
endmodule
