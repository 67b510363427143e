// SPDX-License-Identifier: Apache-2.0
// Synchronous valid/ready FIFO with registered ready and valid: the link register of the networks.
//
// in_ready_o is !full and out_valid_o is !empty, both straight from flip-flops, so a chain of
// these FIFOs has no combinational path between its stages. Depth 2 sustains one beat per cycle
// through any number of stages. level_o is the number of entries held.

`include "prim_assert.svh"

module noc_fifo #(
  parameter int unsigned Width = 32,  // payload bits
  parameter int unsigned Depth = 2,   // entries, at least 2
  localparam int unsigned LevelWidth = $clog2(Depth + 1)
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  // Sink
  input  logic                  in_valid_i,
  output logic                  in_ready_o,
  input  logic [Width-1:0]      in_data_i,
  // Source
  output logic                  out_valid_o,
  input  logic                  out_ready_i,
  output logic [Width-1:0]      out_data_o,
  // Occupancy
  output logic [LevelWidth-1:0] level_o
);

  `ASSERT_STATIC(gen_depth_A, Depth >= 2, "noc_fifo: Depth must be at least 2")

  localparam int unsigned PtrWidth = $clog2(Depth);

  logic [PtrWidth-1:0]   wptr_d, wptr_q, rptr_d, rptr_q;
  logic [LevelWidth-1:0] level_d, level_q;
  logic                  push, pop;

  assign in_ready_o  = (level_q != LevelWidth'(Depth));
  assign out_valid_o = (level_q != '0);
  assign level_o     = level_q;
  assign push        = in_valid_i && in_ready_o;
  assign pop         = out_valid_o && out_ready_i;

  always_comb begin
    wptr_d  = wptr_q;
    rptr_d  = rptr_q;
    level_d = level_q;
    if (push) begin
      wptr_d = (wptr_q == PtrWidth'(Depth - 1)) ? '0 : wptr_q + PtrWidth'(1);
    end
    if (pop) begin
      rptr_d = (rptr_q == PtrWidth'(Depth - 1)) ? '0 : rptr_q + PtrWidth'(1);
    end
    if (push && !pop) begin
      level_d = level_q + LevelWidth'(1);
    end else if (pop && !push) begin
      level_d = level_q - LevelWidth'(1);
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      wptr_q  <= '0;
      rptr_q  <= '0;
      level_q <= '0;
    end else begin
      wptr_q  <= wptr_d;
      rptr_q  <= rptr_d;
      level_q <= level_d;
    end
  end

  // Storage: written only on a push, no reset needed. Shallow FIFOs (the networks' 2- and 3-entry
  // link registers) keep their entries in flip-flops: as ECP5 distributed RAM every 4 bits of
  // width take a 16-word RAM (three of the four slices of a logic block, placed as one unit) to
  // hold 2 or 3 words, while flip-flops are plentiful and place freely (docs/fpga.md). Deeper
  // FIFOs (the 16-word command queue) use the RAM that synthesis infers.
  if (Depth <= 4) begin : gen_regs
    (* ram_style = "logic" *) logic [Width-1:0] mem_q [Depth];
    always_ff @(posedge clk_i) begin
      if (push) begin
        mem_q[wptr_q] <= in_data_i;
      end
    end
    assign out_data_o = mem_q[rptr_q];
  end else begin : gen_ram
    logic [Width-1:0] mem_q [Depth];
    always_ff @(posedge clk_i) begin
      if (push) begin
        mem_q[wptr_q] <= in_data_i;
      end
    end
    assign out_data_o = mem_q[rptr_q];
  end

  // Output stream: valid holds until the handshake, and so does the payload, because the head
  // entry neither moves nor is written while it waits. Checked on the pointers rather than on a
  // copy of the payload, which in each of the networks' many FIFOs would cost simulation time.
  `ASSERT_VALID_HOLD(OutValid_A, out_valid_o, out_ready_i)
  `ASSERT_NEVER(OutHeld_A, out_valid_o && !out_ready_i &&
                (rptr_d != rptr_q || (push && wptr_q == rptr_q)))
  // The level never exceeds the depth (checked where its register could hold more).
  if ((1 << LevelWidth) - 1 > Depth) begin : gen_level_bound
    `ASSERT(LevelBound_A, level_q <= LevelWidth'(Depth))
  end

endmodule
