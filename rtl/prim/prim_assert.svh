// SPDX-License-Identifier: Apache-2.0
// Assertion macros: clocked checks compiled in for simulation, out when SYNTHESIS is set.
//
// ASSERT(name, prop, clk, rst_n)       prop holds on every clock edge outside reset
// ASSERT_NEVER(name, prop, clk, rst_n) prop never holds
// ASSERT_KNOWN(name, sig, clk, rst_n)  sig carries no X/Z
// ASSERT_STREAM(name, valid, ready, payload, clk, rst_n)
//                                      valid/ready stream: valid is not dropped without a
//                                      handshake and payload is stable while valid waits
// ASSERT_VALID_HOLD(name, valid, ready, clk, rst_n)
//                                      valid/ready stream: valid is not dropped without a
//                                      handshake; for a source whose payload is held by
//                                      construction and checked by its own assertions, where a
//                                      wide payload compare in every instance would cost
//                                      simulation time
// ASSERT_STATIC(name, cond, msg)       elaboration-time check of parameters; stays on in
//                                      synthesis so an illegal configuration never elaborates
//
// Each check is an immediate assertion in an always_ff at the rising edge, skipped while rst_n
// is low: it reads the values the edge samples, as a concurrent `assert property` with
// `disable iff (!rst_n)` would. The stream checks keep their own one-cycle history (a waiting
// flag, and the payload captured only while valid waits) instead of $past and $stable. For
// concurrent assertions the simulator (Verilator 5.006) copies every signal they read into a
// sampled shadow at every evaluation of the model, twice per clock cycle: about 8 % of the
// simulator instructions of a `sim` tile (docs/verification.md). A failing check prints
// "assertion <name> failed[: what]" through $error, which stops the simulation.

`ifndef PRIM_ASSERT_SVH
`define PRIM_ASSERT_SVH

`define ASSERT_STATIC(__name, __cond, __msg) \
  if (!(__cond)) begin : __name \
    $fatal(1, "%s", __msg); \
  end

`ifndef SYNTHESIS

`define ASSERT(__name, __prop, __clk = clk_i, __rst_n = rst_ni) \
  always_ff @(posedge __clk) begin \
    if (__rst_n) begin \
      __name: assert (__prop) else $error("assertion %s failed", `"__name`"); \
    end \
  end

`define ASSERT_NEVER(__name, __prop, __clk = clk_i, __rst_n = rst_ni) \
  `ASSERT(__name, !(__prop), __clk, __rst_n)

`define ASSERT_KNOWN(__name, __sig, __clk = clk_i, __rst_n = rst_ni) \
  `ASSERT(__name, !$isunknown(__sig), __clk, __rst_n)

`define ASSERT_VALID_HOLD(__name, __valid, __ready, __clk = clk_i, __rst_n = rst_ni) \
  logic __name``_wait_q; \
  always_ff @(posedge __clk) begin \
    __name``_wait_q <= (__valid) && !(__ready); \
    if (__rst_n && __name``_wait_q) begin \
      __name: assert (__valid) \
        else $error("assertion %s failed: valid dropped without handshake", `"__name`"); \
    end \
  end

`define ASSERT_STREAM(__name, __valid, __ready, __payload, __clk = clk_i, __rst_n = rst_ni) \
  logic __name``_wait_q; \
  logic [$bits(__payload)-1:0] __name``_held_q; \
  always_ff @(posedge __clk) begin \
    __name``_wait_q <= (__valid) && !(__ready); \
    if ((__valid) && !(__ready)) begin \
      __name``_held_q <= __payload; \
    end \
    if (__rst_n && __name``_wait_q) begin \
      __name``_valid_A: assert (__valid) \
        else $error("assertion %s failed: valid dropped without handshake", `"__name`"); \
      __name``_stable_A: assert ((__payload) == __name``_held_q) \
        else $error("assertion %s failed: payload changed while valid waited", `"__name`"); \
    end \
  end

`else

`define ASSERT(__name, __prop, __clk = clk_i, __rst_n = rst_ni)
`define ASSERT_NEVER(__name, __prop, __clk = clk_i, __rst_n = rst_ni)
`define ASSERT_KNOWN(__name, __sig, __clk = clk_i, __rst_n = rst_ni)
`define ASSERT_STREAM(__name, __valid, __ready, __payload, __clk = clk_i, __rst_n = rst_ni)
`define ASSERT_VALID_HOLD(__name, __valid, __ready, __clk = clk_i, __rst_n = rst_ni)

`endif

`endif  // PRIM_ASSERT_SVH
