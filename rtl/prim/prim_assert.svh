// SPDX-License-Identifier: Apache-2.0
// Assertion macros: concurrent checks compiled in for simulation, out when SYNTHESIS is set.
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
//                                      wide $stable in every instance would cost simulation time
// ASSERT_STATIC(name, cond, msg)       elaboration-time check of parameters; stays on in
//                                      synthesis so an illegal configuration never elaborates

`ifndef PRIM_ASSERT_SVH
`define PRIM_ASSERT_SVH

`define ASSERT_STATIC(__name, __cond, __msg) \
  if (!(__cond)) begin : __name \
    $fatal(1, "%s", __msg); \
  end

`ifndef SYNTHESIS

`define ASSERT(__name, __prop, __clk = clk_i, __rst_n = rst_ni) \
  __name: assert property (@(posedge __clk) disable iff (!__rst_n) (__prop)) \
    else $error("assertion %s failed", `"__name`");

`define ASSERT_NEVER(__name, __prop, __clk = clk_i, __rst_n = rst_ni) \
  __name: assert property (@(posedge __clk) disable iff (!__rst_n) !(__prop)) \
    else $error("assertion %s failed", `"__name`");

`define ASSERT_KNOWN(__name, __sig, __clk = clk_i, __rst_n = rst_ni) \
  __name: assert property (@(posedge __clk) disable iff (!__rst_n) !$isunknown(__sig)) \
    else $error("assertion %s failed", `"__name`");

`define ASSERT_STREAM(__name, __valid, __ready, __payload, __clk = clk_i, __rst_n = rst_ni) \
  __name``_valid_A: assert property (@(posedge __clk) disable iff (!__rst_n) \
      ($past(__valid) && !$past(__ready)) |-> __valid) \
    else $error("assertion %s failed: valid dropped without handshake", `"__name`"); \
  __name``_stable_A: assert property (@(posedge __clk) disable iff (!__rst_n) \
      ($past(__valid) && !$past(__ready)) |-> $stable(__payload)) \
    else $error("assertion %s failed: payload changed while valid waited", `"__name`");

`define ASSERT_VALID_HOLD(__name, __valid, __ready, __clk = clk_i, __rst_n = rst_ni) \
  __name: assert property (@(posedge __clk) disable iff (!__rst_n) \
      ($past(__valid) && !$past(__ready)) |-> __valid) \
    else $error("assertion %s failed: valid dropped without handshake", `"__name`");

`else

`define ASSERT(__name, __prop, __clk = clk_i, __rst_n = rst_ni)
`define ASSERT_NEVER(__name, __prop, __clk = clk_i, __rst_n = rst_ni)
`define ASSERT_KNOWN(__name, __sig, __clk = clk_i, __rst_n = rst_ni)
`define ASSERT_STREAM(__name, __valid, __ready, __payload, __clk = clk_i, __rst_n = rst_ni)
`define ASSERT_VALID_HOLD(__name, __valid, __ready, __clk = clk_i, __rst_n = rst_ni)

`endif

`endif  // PRIM_ASSERT_SVH
