// SPDX-License-Identifier: Apache-2.0
// Line-protocol driver of the tessera_top Verilator model, used by verif/tests/chip_*.rs.
//
// Built by verif/tests/chip_common (verilator --cc --exe --build) with -DSTREAM_WIDTH=<bits>.
// Transactors: an AXI4-Lite master, an AXI4-Stream source fed from a queue of beats and an
// AXI4-Stream sink that collects beats, both with seeded random gaps / backpressure, plus the
// weight-memory backdoor of every tile. Every request is one line on stdin; every reply is one
// line on stdout.
//
//   w <addr> <data>          AXI4-Lite write          -> "ok <bresp>"
//   r <addr>                 AXI4-Lite read           -> "ok <data> <rresp>"
//   s <last> <w0> .. <wn-1>  queue one input beat (n = STREAM_WIDTH/32 hex words)  (no reply)
//   flush <max>              run until the input queue is empty -> "ok <cycles>" | "timeout"
//   run <n>                  run n cycles             -> "ok"
//   out                      collected output beats   -> "ok <n> <last> <words..> <last> ..."
//   bp <in%> <out%> <seed>   input gap and output stall probabilities in percent -> "ok"
//   bdw <tile> <addr> <piece> <value>  weight backdoor write -> "ok"
//   bdr <tile> <addr> <piece>          weight backdoor read  -> "ok <value>"
//   irq                      -> "ok <irq_o>"
//   cycles                   -> "ok <cycles>"
//   quit

#include "Vtessera_top.h"
#include "verilated.h"
#include "svdpi.h"
#include "axil_manager.h"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef STREAM_WIDTH
#error "STREAM_WIDTH must be defined"
#endif

static constexpr int kWords = STREAM_WIDTH / 32;
static constexpr uint64_t kMaxCycles = 2000000000ull;

struct Beat {
  bool last;
  uint32_t w[kWords];
};

static Vtessera_top* m;
static uint64_t cycles = 0;
static std::deque<Beat> in_q;
static std::vector<Beat> out_q;
static std::mt19937_64 rng(1);
static unsigned in_gap = 0, out_stall = 0;
static bool in_active = false;  // a beat is presented on s_axis

static void set_in(const Beat& b) {
#if STREAM_WIDTH <= 32
  m->s_axis_tdata_i = b.w[0];
#elif STREAM_WIDTH <= 64
  m->s_axis_tdata_i = static_cast<uint64_t>(b.w[0]) | (static_cast<uint64_t>(b.w[1]) << 32);
#else
  for (int i = 0; i < kWords; i++) m->s_axis_tdata_i[i] = b.w[i];
#endif
  m->s_axis_tlast_i = b.last;
}

static Beat get_out() {
  Beat b;
  b.last = m->m_axis_tlast_o;
#if STREAM_WIDTH <= 32
  b.w[0] = m->m_axis_tdata_o;
#elif STREAM_WIDTH <= 64
  b.w[0] = static_cast<uint32_t>(m->m_axis_tdata_o);
  b.w[1] = static_cast<uint32_t>(m->m_axis_tdata_o >> 32);
#else
  for (int i = 0; i < kWords; i++) b.w[i] = m->m_axis_tdata_o[i];
#endif
  return b;
}

static bool chance(unsigned pct) { return pct && (rng() % 100) < pct; }

// One clock cycle with the stream transactors active. Inputs change after the rising edge.
static void step() {
  // Source: once presented, a beat stays until taken (AXI4-Stream rule).
  if (!in_active && !in_q.empty() && !chance(in_gap)) {
    in_active = true;
    set_in(in_q.front());
  }
  m->s_axis_tvalid_i = in_active;
  m->m_axis_tready_i = !chance(out_stall);
  m->eval();
  bool in_taken = in_active && m->s_axis_tready_o;
  bool out_taken = m->m_axis_tvalid_o && m->m_axis_tready_i;
  Beat ob{};
  if (out_taken) ob = get_out();
  m->clk_i = 1;
  m->eval();
  m->clk_i = 0;
  m->eval();
  cycles++;
  if (in_taken) {
    in_q.pop_front();
    in_active = false;
    m->s_axis_tvalid_i = 0;
  }
  if (out_taken) out_q.push_back(ob);
  if (cycles > kMaxCycles) {
    std::printf("fatal cycle limit\n");
    std::exit(2);
  }
}

static bool wait_for(bool (*cond)(), uint64_t max) {
  return axil::wait_for(m, step, cond, max);
}

static svScope tile_scope(unsigned t) {
  char name[128];
  std::snprintf(name, sizeof name, "TOP.tessera_top.gen_tile[%u].u_tile.u_weight_ram", t);
  return svGetScopeFromName(name);
}

int main(int argc, char** argv) {
  Verilated::commandArgs(argc, argv);
  m = new Vtessera_top;
  m->clk_i = 0;
  m->rst_ni = 0;
  m->eval();
  for (int i = 0; i < 4; i++) step();
  m->rst_ni = 1;
  step();

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream is(line);
    std::string cmd;
    is >> cmd;
    if (cmd == "s") {
      Beat b{};
      int last = 0;
      is >> last;
      b.last = last != 0;
      for (int i = 0; i < kWords; i++) is >> std::hex >> b.w[i];
      in_q.push_back(b);
      continue;
    }
    std::ostringstream os;
    if (cmd == "w") {
      uint32_t a, d, r = 0;
      is >> std::hex >> a >> d;
      if (axil::write(m, step, a, d, &r)) os << "timeout";
      else os << "ok " << r;
    } else if (cmd == "r") {
      uint32_t a, d = 0, r = 0;
      is >> std::hex >> a;
      if (axil::read(m, step, a, &d, &r)) os << "timeout";
      else os << "ok " << std::hex << d << std::dec << " " << r;
    } else if (cmd == "flush") {
      uint64_t max, start = cycles;
      is >> max;
      bool ok = wait_for([] { return in_q.empty() && !in_active; }, max);
      if (ok) os << "ok " << (cycles - start);
      else os << "timeout";
    } else if (cmd == "run") {
      uint64_t n;
      is >> n;
      for (uint64_t i = 0; i < n; i++) step();
      os << "ok";
    } else if (cmd == "out") {
      os << "ok " << out_q.size() << std::hex;
      for (const Beat& b : out_q) {
        os << " " << (b.last ? 1 : 0);
        for (int i = 0; i < kWords; i++) os << " " << b.w[i];
      }
      out_q.clear();
    } else if (cmd == "bp") {
      uint64_t seed;
      is >> in_gap >> out_stall >> seed;
      rng.seed(seed);
      os << "ok";
    } else if (cmd == "bdw" || cmd == "bdr") {
      unsigned t, addr, piece, value = 0;
      is >> t >> addr >> piece;
      if (cmd == "bdw") is >> std::hex >> value;
      svScope s = tile_scope(t);
      if (!s) {
        os << "noscope";
      } else {
        svSetScope(s);
        if (cmd == "bdw") {
          Vtessera_top::ram_backdoor_write(addr, piece, value);
          os << "ok";
        } else {
          os << "ok " << std::hex << Vtessera_top::ram_backdoor_read(addr, piece);
        }
      }
    } else if (cmd == "irq") {
      m->eval();
      os << "ok " << static_cast<int>(m->irq_o);
    } else if (cmd == "cycles") {
      os << "ok " << cycles;
    } else if (cmd == "quit") {
      break;
    } else {
      os << "error unknown command";
    }
    std::cout << os.str() << std::endl;
  }
  m->final();
  delete m;
  return 0;
}
