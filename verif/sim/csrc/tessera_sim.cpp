// SPDX-License-Identifier: Apache-2.0
// The bench of the tessera_top Verilator model: the one set of transactors behind
// tessera_sim::SimTransport, used by the driver, the command-line tools and the chip tests.
//
// Built by tessera_sim::build_model (verilator --cc --exe --build) with
// -DSTREAM_WIDTH=<bits>. An AXI4-Lite manager (axil_manager.h), an AXI4-Stream source fed from a
// queue, an AXI4-Stream sink that collects output beats, and the weight-memory backdoor of every
// tile. The source and the sink run back to back (every beat presented at once, TREADY always
// high) until a "g" request gives them seeded random gaps and backpressure. Each request is one
// text line on stdin, sometimes followed by a binary payload; each reply is one text line on
// stdout, sometimes followed by a binary payload. Binary data is little-endian; a beat is
// STREAM_WIDTH/8 bytes.
//
//   w <addr> <data>                  AXI4-Lite write (hex)       -> "ok <bresp>" | "timeout"
//   r <addr>                         AXI4-Lite read (hex)        -> "ok <data hex> <rresp>"
//   S <n> <last> <max>  + n beats    queue n input beats (tlast on the last one when <last> is
//                                    1) and run until all are taken -> "ok <cycles>" | "timeout"
//   R <n> <max>                      run until n output beats are collected (at most <max>
//                                    cycles), then hand over up to n of them
//                                    -> "ok <m>" + m beats + m tlast bytes
//   I <max>                          run until irq_o is high     -> "ok <cycles>" | "timeout"
//   B <tile> <addr> <n> <bytes> + n*bytes   backdoor write of n weight words of <bytes> bytes
//                                    at <addr> of <tile>         -> "ok" | "noscope"
//   Q <tile> <addr> <n> <bytes>      backdoor read               -> "ok" + n*bytes
//   F <scope> <addr> <bit>           flip stored bit <bit> of word <addr> of the memory array in
//                                    the named scope (public with tessera_sim.vlt)
//                                                                -> "ok" | "noscope"
//   M <scope> <addr> <n> <bytes> + n*bytes  write n stored words of <bytes> bytes (the size of
//                                    an entry of the array) into the memory array of the named
//                                    scope from word <addr> on
//                                    -> "ok" | "noscope" | "range" (size or words past the end)
//   g <gap> <ready> <seed>           stream timing from now on: before presenting each input
//                                    beat the source idles a cycle with probability gap/1000,
//                                    and the sink raises TREADY in a cycle with probability
//                                    ready/1000; draws from a generator seeded with <seed>.
//                                    "g 0 1000 <any>" is the default (no gaps, always ready)
//                                    and draws nothing                -> "ok"
//   run <n>                          n cycles                    -> "ok"
//   cycles                           -> "ok <cycles since power-on>"
//   irq                              -> "ok <irq_o>"
//   trace <path.fst> | trace off     start (restart) or stop an FST waveform (models built with
//                                    --trace-fst -DTRACE only)  -> "ok"
//   quit
//
// With verif/sim/csrc/tessera_sim.vlt on the command line the weight memories are public and B/Q
// copy whole words directly; otherwise they go through the RAM's DPI backdoor piece by piece.

#include "Vtessera_top.h"
#include "svdpi.h"
#include "verilated.h"
#include "axil_manager.h"
#include "coverage.h"
#include "verilated_syms.h"
#ifdef TRACE
#include "verilated_fst_c.h"
#endif

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
static constexpr int kBeatBytes = STREAM_WIDTH / 8;

struct Beat {
  bool last;
  uint32_t w[kWords];
};

static Vtessera_top* m;
static uint64_t cycles = 0;
#ifdef TRACE
static VerilatedFstC* tfp = nullptr;
#endif
static std::deque<Beat> in_q;
static std::vector<Beat> out_q;
static size_t out_head = 0;
static bool in_active = false;

// Stream timing ("g"): per mille, and the generator both draw from.
static unsigned in_gap_permille = 0;
static unsigned out_ready_permille = 1000;
static std::mt19937_64 timing_rng(0);

// True with probability permille/1000; draws only when the outcome is not certain.
static bool chance(unsigned permille) {
  if (permille == 0) return false;
  if (permille >= 1000) return true;
  return timing_rng() % 1000 < permille;
}

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

// One clock cycle; inputs change after the rising edge. Two evaluations per cycle: the falling
// edge (no process uses it) settles together with the new inputs, then the rising edge.
// A presented input beat stays until taken (AXI4-Stream); a gap only delays the next one.
static void step() {
  if (!in_active && !in_q.empty() && !chance(in_gap_permille)) {
    in_active = true;
    set_in(in_q.front());
  }
  m->s_axis_tvalid_i = in_active;
  m->m_axis_tready_i = chance(out_ready_permille);
  m->clk_i = 0;
  m->eval();
#ifdef TRACE
  if (tfp) tfp->dump(2 * cycles);
#endif
  bool in_taken = in_active && m->s_axis_tready_o;
  bool out_taken = m->m_axis_tvalid_o && m->m_axis_tready_i;
  Beat ob{};
  if (out_taken) ob = get_out();
  m->clk_i = 1;
  m->eval();
#ifdef TRACE
  if (tfp) tfp->dump(2 * cycles + 1);
#endif
  cycles++;
  if (in_taken) {
    in_q.pop_front();
    in_active = false;
    m->s_axis_tvalid_i = 0;
  }
  if (out_taken) out_q.push_back(ob);
}

// Runs until cond() (which reads only bench state or registered outputs) holds, at most max
// cycles.
template <typename F>
static bool run_until(F cond, uint64_t max) {
  for (uint64_t i = 0; i < max; i++) {
    if (cond()) return true;
    step();
  }
  return cond();
}

static std::vector<svScope> scopes;
static std::vector<uint32_t*> mems;      // direct pointer to each tile's weight memory, or null
static std::vector<size_t> mem_bytes;    // bytes per memory word (entSize)
static std::vector<size_t> mem_depth;

static svScope tile_scope(unsigned t) {
  if (t < scopes.size() && scopes[t]) return scopes[t];
  char name[128];
  std::snprintf(name, sizeof name, "TOP.tessera_top.gen_tile[%u].u_tile.u_weight_ram", t);
  svScope s = svGetScopeFromName(name);
  if (t >= scopes.size()) {
    scopes.resize(t + 1, nullptr);
    mems.resize(t + 1, nullptr);
    mem_bytes.resize(t + 1, 0);
    mem_depth.resize(t + 1, 0);
  }
  scopes[t] = s;
  // With verif/sim/csrc/tessera_sim.vlt the memory array is public: find its storage.
  if (s) {
    const VerilatedScope* vs = static_cast<const VerilatedScope*>(s);
    VerilatedVar* v = vs->varFind("mem");
    if (v && v->udims() == 1) {
      mems[t] = static_cast<uint32_t*>(v->datap());
      mem_bytes[t] = v->entSize();
      mem_depth[t] = static_cast<size_t>(v->unpacked().elements());
    }
  }
  return s;
}

// Flips stored bit `bit` of word `addr` of the public memory array `mem` in the scope named
// `scope` (a tile's weight memory or a bank of the token engine's memories); false when the
// scope, the array, the word or the bit does not exist.
static bool flip_bit(const std::string& scope, unsigned addr, unsigned bit) {
  svScope s = svGetScopeFromName(scope.c_str());
  if (!s) return false;
  const VerilatedScope* vs = static_cast<const VerilatedScope*>(s);
  VerilatedVar* v = vs->varFind("mem");
  if (!v || v->udims() != 1) return false;
  size_t depth = static_cast<size_t>(v->unpacked().elements());
  size_t bytes = v->entSize();
  if (addr >= depth || bit >= 8 * bytes) return false;
  uint8_t* word = static_cast<uint8_t*>(v->datap()) + static_cast<size_t>(addr) * bytes;
  word[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return true;
}

// Writes n stored words of `bytes` bytes from `buf` into the memory array `mem` of the named
// scope from word addr on: "ok", "noscope" (no such scope or array) or "range" (another entry
// size, or words past the end).
static const char* write_words(const std::string& scope, unsigned addr, unsigned n,
                               unsigned bytes, const uint8_t* buf) {
  svScope s = svGetScopeFromName(scope.c_str());
  if (!s) return "noscope";
  const VerilatedScope* vs = static_cast<const VerilatedScope*>(s);
  VerilatedVar* v = vs->varFind("mem");
  if (!v || v->udims() != 1) return "noscope";
  size_t depth = static_cast<size_t>(v->unpacked().elements());
  if (v->entSize() != bytes || static_cast<size_t>(addr) + n > depth) return "range";
  uint8_t* base = static_cast<uint8_t*>(v->datap()) + static_cast<size_t>(addr) * bytes;
  std::memcpy(base, buf, static_cast<size_t>(n) * bytes);
  return "ok";
}

// Copies n words of `bytes` bytes between `buf` and tile t's memory at addr when the memory is
// directly reachable with that word size; false otherwise (the caller uses the DPI backdoor).
static bool direct_copy(unsigned t, unsigned addr, unsigned n, unsigned bytes, uint8_t* buf,
                        bool write) {
  if (t >= mems.size() || !mems[t] || mem_bytes[t] != bytes) return false;
  if (static_cast<size_t>(addr) + n > mem_depth[t]) return false;
  uint8_t* base = reinterpret_cast<uint8_t*>(mems[t]) + static_cast<size_t>(addr) * bytes;
  if (write) std::memcpy(base, buf, static_cast<size_t>(n) * bytes);
  else std::memcpy(buf, base, static_cast<size_t>(n) * bytes);
  return true;
}

static bool read_exact(void* buf, size_t n) {
  std::cin.read(static_cast<char*>(buf), static_cast<std::streamsize>(n));
  return static_cast<size_t>(std::cin.gcount()) == n;
}

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  Verilated::commandArgs(argc, argv);
#ifdef TRACE
  Verilated::traceEverOn(true);
#endif
  m = new Vtessera_top;
  m->clk_i = 0;
  m->rst_ni = 0;
  m->eval();
  for (int i = 0; i < 4; i++) step();
  m->rst_ni = 1;
  step();

  std::string line;
  std::vector<uint8_t> buf;
  while (std::getline(std::cin, line)) {
    std::istringstream is(line);
    std::string cmd;
    is >> cmd;
    std::ostringstream os;
    std::vector<uint8_t> tail;  // binary payload after the reply line
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
    } else if (cmd == "S") {
      uint64_t n = 0, max = 0;
      int last = 0;
      is >> n >> last >> max;
      buf.resize(n * kBeatBytes);
      if (!read_exact(buf.data(), buf.size())) break;
      for (uint64_t i = 0; i < n; i++) {
        Beat b{};
        std::memcpy(b.w, buf.data() + i * kBeatBytes, kBeatBytes);
        b.last = last && i + 1 == n;
        in_q.push_back(b);
      }
      uint64_t start = cycles;
      if (run_until([] { return in_q.empty() && !in_active; }, max)) os << "ok " << (cycles - start);
      else os << "timeout";
    } else if (cmd == "R") {
      uint64_t n = 0, max = 0;
      is >> n >> max;
      run_until([n] { return out_q.size() - out_head >= n; }, max);
      uint64_t got = std::min<uint64_t>(n, out_q.size() - out_head);
      os << "ok " << got;
      tail.resize(got * (kBeatBytes + 1));
      for (uint64_t i = 0; i < got; i++) {
        const Beat& b = out_q[out_head + i];
        std::memcpy(tail.data() + i * kBeatBytes, b.w, kBeatBytes);
        tail[got * kBeatBytes + i] = b.last ? 1 : 0;
      }
      out_head += got;
      if (out_head == out_q.size()) {
        out_q.clear();
        out_head = 0;
      }
    } else if (cmd == "I") {
      uint64_t max = 0, start = cycles;
      is >> max;
      if (run_until([] { return static_cast<bool>(m->irq_o); }, max)) os << "ok " << (cycles - start);
      else os << "timeout";
    } else if (cmd == "B" || cmd == "Q") {
      unsigned t = 0, addr = 0, n = 0, bytes = 0;
      is >> t >> addr >> n >> bytes;
      unsigned pieces = bytes / 4;
      if (cmd == "B") {
        buf.resize(static_cast<size_t>(n) * bytes);
        if (!read_exact(buf.data(), buf.size())) break;
      }
      svScope s = tile_scope(t);
      if (!s) {
        os << "noscope";
      } else {
        svSetScope(s);
        os << "ok";
        if (cmd == "B" && direct_copy(t, addr, n, bytes, buf.data(), true)) {
        } else if (cmd == "Q" && (tail.resize(static_cast<size_t>(n) * bytes),
                                  direct_copy(t, addr, n, bytes, tail.data(), false))) {
        } else if (cmd == "B") {
          const uint32_t* p = reinterpret_cast<const uint32_t*>(buf.data());
          for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < pieces; j++)
              Vtessera_top::ram_backdoor_write(addr + i, j, p[static_cast<size_t>(i) * pieces + j]);
        } else {
          tail.resize(static_cast<size_t>(n) * bytes);
          uint32_t* p = reinterpret_cast<uint32_t*>(tail.data());
          for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < pieces; j++)
              p[static_cast<size_t>(i) * pieces + j] = Vtessera_top::ram_backdoor_read(addr + i, j);
        }
      }
    } else if (cmd == "M") {
      std::string scope;
      unsigned addr = 0, n = 0, bytes = 0;
      is >> scope >> addr >> n >> bytes;
      buf.resize(static_cast<size_t>(n) * bytes);
      if (!read_exact(buf.data(), buf.size())) break;
      os << write_words(scope, addr, n, bytes, buf.data());
    } else if (cmd == "F") {
      // Fault injection: flip one stored bit (data or ECC check bit) of a public memory.
      std::string scope;
      unsigned addr = 0, bit = 0;
      is >> scope >> addr >> bit;
      os << (flip_bit(scope, addr, bit) ? "ok" : "noscope");
    } else if (cmd == "g") {
      unsigned gap = 0, ready = 1000;
      uint64_t seed = 0;
      is >> gap >> ready >> seed;
      if (is.fail() || gap >= 1000 || ready == 0 || ready > 1000) {
        os << "error g wants <gap 0..999> <ready 1..1000> <seed>";
      } else {
        in_gap_permille = gap;
        out_ready_permille = ready;
        timing_rng.seed(seed);
        os << "ok";
      }
    } else if (cmd == "run") {
      uint64_t n = 0;
      is >> n;
      for (uint64_t i = 0; i < n; i++) step();
      os << "ok";
    } else if (cmd == "cycles") {
      os << "ok " << cycles;
    } else if (cmd == "irq") {
      m->eval();
      os << "ok " << static_cast<int>(m->irq_o);
    } else if (cmd == "trace") {
      std::string path;
      is >> path;
#ifdef TRACE
      if (tfp) {
        tfp->close();
        delete tfp;
        tfp = nullptr;
      }
      if (!path.empty() && path != "off") {
        tfp = new VerilatedFstC;
        m->trace(tfp, 99);
        tfp->open(path.c_str());
      }
      os << "ok";
#else
      os << "error built without TRACE";
#endif
    } else if (cmd == "quit") {
      break;
    } else {
      os << "error unknown command " << cmd;
    }
    os << "\n";
    std::string s = os.str();
    std::cout.write(s.data(), static_cast<std::streamsize>(s.size()));
    if (!tail.empty()) std::cout.write(reinterpret_cast<const char*>(tail.data()), tail.size());
    std::cout.flush();
  }
#ifdef TRACE
  if (tfp) tfp->close();
#endif
  m->final();
  tessera::write_coverage(m->contextp(), "tessera_top");
  delete m;
  return 0;
}
