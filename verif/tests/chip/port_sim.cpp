// SPDX-License-Identifier: Apache-2.0
// Per-cycle port driver of the tessera_top Verilator model, for tests that must drive the AXI
// ports outside the protocol (verif/tests/chip/axi.rs). Unlike verif/sim/csrc/tessera_sim.cpp
// it has no transactors: the test sets every input itself and clocks the model.
//
// Built by verif/tests/chip/env.rs (port_model, through tessera_sim::build_model) with
// -DSTREAM_WIDTH=<bits> -DVL_USER_STOP.
// Every request is one line on stdin; every reply is one line on stdout. The model is held in
// reset until the first "step" after "reset".
//
//   set <port> <hex>         set an input port (not s_axis_tdata_i)   -> "ok"
//   data <w0> .. <wn-1>      set s_axis_tdata_i (n = STREAM_WIDTH/32 hex words) -> "ok"
//   get <port>               evaluate, read any scalar port           -> "ok <hex>"
//   step <n>                 n clock cycles                           -> "ok <cycle>"
//   reset <n>                n cycles with rst_ni low, then release   -> "ok <cycle>"
//   quit
//
// A failing SV assertion ($error) prints its message (a line holding "%Error") and stops the
// clock: the reply to the request that ran the failing cycle is "sverror <cycle>" and the
// process exits with status 3.

#include "Vtessera_top.h"
#include "verilated.h"
#include "coverage.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <type_traits>

#ifndef STREAM_WIDTH
#error "STREAM_WIDTH must be defined"
#endif

static constexpr int kWords = STREAM_WIDTH / 32;

static Vtessera_top* m;
static uint64_t cycles = 0;
static bool sv_error = false;

// Replaces Verilator's $stop (reached by a failing assertion's $error): record and keep going
// until the end of the cycle, then report.
void vl_stop(const char* filename, int linenum, const char* hier) {
  (void)hier;
  sv_error = true;
  std::printf("%%Error: %s:%d: Verilog $stop\n", filename, linenum);
  std::fflush(stdout);
}

static bool set_port(const std::string& name, uint64_t v) {
#define IN(p)                               \
  if (name == #p) {                         \
    m->p = static_cast<std::remove_reference_t<decltype(m->p)>>(v);  \
    return true;                            \
  }
  IN(rst_ni)
  IN(s_axil_awvalid_i)
  IN(s_axil_awaddr_i)
  IN(s_axil_awprot_i)
  IN(s_axil_wvalid_i)
  IN(s_axil_wdata_i)
  IN(s_axil_wstrb_i)
  IN(s_axil_bready_i)
  IN(s_axil_arvalid_i)
  IN(s_axil_araddr_i)
  IN(s_axil_arprot_i)
  IN(s_axil_rready_i)
  IN(s_axis_tvalid_i)
  IN(s_axis_tlast_i)
  IN(m_axis_tready_i)
#undef IN
  return false;
}

static bool get_port(const std::string& name, uint64_t* v) {
#define OUT(p)                             \
  if (name == #p) {                        \
    *v = static_cast<uint64_t>(m->p);      \
    return true;                           \
  }
  OUT(s_axil_awready_o)
  OUT(s_axil_wready_o)
  OUT(s_axil_bvalid_o)
  OUT(s_axil_bresp_o)
  OUT(s_axil_arready_o)
  OUT(s_axil_rvalid_o)
  OUT(s_axil_rdata_o)
  OUT(s_axil_rresp_o)
  OUT(s_axis_tready_o)
  OUT(m_axis_tvalid_o)
  OUT(m_axis_tlast_o)
  OUT(irq_o)
#undef OUT
  return false;
}

static void set_data(const uint32_t* w) {
#if STREAM_WIDTH <= 32
  m->s_axis_tdata_i = w[0];
#elif STREAM_WIDTH <= 64
  m->s_axis_tdata_i = static_cast<uint64_t>(w[0]) | (static_cast<uint64_t>(w[1]) << 32);
#else
  for (int i = 0; i < kWords; i++) m->s_axis_tdata_i[i] = w[i];
#endif
}

// One clock cycle; false if an assertion failed in it.
static bool step() {
  m->eval();
  m->clk_i = 1;
  m->eval();
  m->clk_i = 0;
  m->eval();
  cycles++;
  return !sv_error;
}

int main(int argc, char** argv) {
  Verilated::commandArgs(argc, argv);
  m = new Vtessera_top;
  m->clk_i = 0;
  m->rst_ni = 0;
  m->eval();

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream is(line);
    std::string cmd;
    is >> cmd;
    std::ostringstream os;
    bool ok = true;
    if (cmd == "set") {
      std::string p;
      uint64_t v = 0;
      is >> p >> std::hex >> v;
      if (set_port(p, v)) os << "ok";
      else os << "error unknown input " << p;
    } else if (cmd == "data") {
      uint32_t w[kWords] = {};
      for (int i = 0; i < kWords; i++) is >> std::hex >> w[i];
      set_data(w);
      os << "ok";
    } else if (cmd == "get") {
      std::string p;
      uint64_t v = 0;
      is >> p;
      m->eval();
      if (get_port(p, &v)) os << "ok " << std::hex << v;
      else os << "error unknown output " << p;
    } else if (cmd == "step" || cmd == "reset") {
      uint64_t n = 0;
      is >> n;
      if (cmd == "reset") m->rst_ni = 0;
      for (uint64_t i = 0; i < n && ok; i++) ok = step();
      if (cmd == "reset") m->rst_ni = 1;
      if (ok) os << "ok " << cycles;
    } else if (cmd == "quit") {
      break;
    } else {
      os << "error unknown command";
    }
    if (!ok) {
      std::cout << "sverror " << cycles << std::endl;
      m->final();
      tessera::write_coverage(m->contextp(), "tessera_top_ports");
      delete m;
      return 3;
    }
    std::cout << os.str() << std::endl;
  }
  m->final();
  tessera::write_coverage(m->contextp(), "tessera_top_ports");
  delete m;
  return 0;
}
