// SPDX-License-Identifier: Apache-2.0
// Random traffic through chip_noc_bench (multicast and reduction trees) with random
// backpressure at every port. Used by verif/tests/chip_noc.rs.
//
// Usage: chip_noc <seed> <mcast_beats> <ops> <gap%> <stall%>
// Multicast: the root sends mcast_beats random words; every leaf must receive each exactly once,
// in root order. Reduction: `ops` operations, each with a random log2 P_k and G row groups; every
// leaf sends its G beats (address out + rp*G + g, random lanes) in order, leaves stall at random.
// The root must deliver each (op, rp, g) exactly once, with lg_pk intact and the exact lane-wise
// int32 sum over the P_k leaves of the row partition, and per row partition in (op, g) order.
// Prints "ok <flits> <cycles>" or "fail <reason>" (exit 1).

#include "Vchip_noc_bench.h"
#include "verilated.h"
#include "coverage.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <vector>

#ifndef NUM_LEAVES
#define NUM_LEAVES 8
#endif
#ifndef LANES
#define LANES 2
#endif

static constexpr int N = NUM_LEAVES;
static constexpr int L = LANES;
static Vchip_noc_bench* m;

template <typename T>
static void set_bits(T& port, int lsb, int width, uint64_t v) {
  for (int i = 0; i < width; i++) {
    int b = lsb + i;
    uint32_t bit = (v >> i) & 1;
    if constexpr (sizeof(T) <= 8) {
      port = (port & ~(static_cast<T>(1) << b)) | (static_cast<T>(bit) << b);
    } else {
      port[b / 32] = (port[b / 32] & ~(1u << (b % 32))) | (bit << (b % 32));
    }
  }
}

template <typename T>
static uint64_t get_bits(const T& port, int lsb, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; i++) {
    int b = lsb + i;
    uint64_t bit;
    if constexpr (sizeof(T) <= 8) bit = (port >> b) & 1;
    else bit = (port[b / 32] >> (b % 32)) & 1;
    v |= bit << i;
  }
  return v;
}

static int fail(const char* why, long a = 0, long b = 0) {
  std::printf("fail %s %ld %ld\n", why, a, b);
  return 1;
}

struct RBeat {
  uint32_t lg_pk, addr;
  int32_t data[L];
};

int main(int argc, char** argv) {
  if (argc < 6) return fail("usage");
  uint64_t seed = std::strtoull(argv[1], nullptr, 0);
  long mbeats = std::atol(argv[2]);
  long ops = std::atol(argv[3]);
  unsigned gap = std::atoi(argv[4]), stall = std::atoi(argv[5]);
  std::mt19937_64 rng(seed);
  auto chance = [&](unsigned p) { return p && (rng() % 100) < p; };
  int lg_n = 0;
  while ((1 << lg_n) < N) lg_n++;

  m = new Vchip_noc_bench;
  m->rst_ni = 0;
  m->clk_i = 0;
  m->eval();
  m->clk_i = 1;
  m->eval();
  m->clk_i = 0;
  m->rst_ni = 1;
  m->eval();

  // Multicast traffic.
  std::vector<uint32_t> sent;
  for (long i = 0; i < mbeats; i++) sent.push_back(static_cast<uint32_t>(rng()));
  std::vector<long> got(N, 0);
  long mc_next = 0;
  bool mc_active = false;

  // Reduction traffic: per leaf a queue of beats; expected sums per address.
  std::vector<std::deque<RBeat>> leafq(N);
  std::map<uint32_t, RBeat> expect;               // address -> expected beat
  std::map<uint32_t, std::pair<long, long>> key;  // address -> (row-partition id, sequence)
  uint32_t next_addr = 0;
  long seq = 0;
  for (long o = 0; o < ops; o++) {
    uint32_t lg = rng() % (lg_n + 1);
    int pk = 1 << lg, pr = N / pk;
    int g_n = 1 + rng() % 6;
    uint32_t out = next_addr;
    next_addr += pr * g_n;
    for (int rp = 0; rp < pr; rp++) {
      for (int g = 0; g < g_n; g++) {
        RBeat e{lg, out + rp * g_n + g, {}};
        for (int t = rp * pk; t < (rp + 1) * pk; t++) {
          RBeat b{lg, e.addr, {}};
          for (int l = 0; l < L; l++) {
            b.data[l] = static_cast<int32_t>(rng());
            e.data[l] = static_cast<int32_t>(static_cast<uint32_t>(e.data[l]) +
                                             static_cast<uint32_t>(b.data[l]));
          }
          leafq[t].push_back(b);
        }
        expect[e.addr] = e;
        key[e.addr] = {o * N + rp, seq++};
      }
    }
  }
  long rbeats_in = 0, rbeats_out = 0;
  std::vector<bool> rd_active(N, false);
  std::map<long, long> last_seq;  // (op, rp) -> last sequence number seen

  uint64_t cycles = 0;
  const uint64_t limit = 200ull * (mbeats + 10) + 2000ull * (ops + 10) + 100000;
  while (true) {
    bool mc_done = true;
    for (int t = 0; t < N; t++) mc_done = mc_done && got[t] == mbeats;
    bool rd_done = expect.empty();
    if (mc_done && rd_done && mc_next == mbeats) break;
    if (++cycles > limit) return fail("timeout", rbeats_out, static_cast<long>(expect.size()));

    // Drive inputs (held while waiting: AXI-style rule).
    if (!mc_active && mc_next < mbeats && !chance(gap)) {
      mc_active = true;
      m->mc_data_i = sent[mc_next];
    }
    m->mc_valid_i = mc_active;
    for (int t = 0; t < N; t++) {
      set_bits(m->mcl_ready_i, t, 1, !chance(stall));
      if (!rd_active[t] && !leafq[t].empty() && !chance(gap)) {
        rd_active[t] = true;
        const RBeat& b = leafq[t].front();
        set_bits(m->rdl_lg_pk_i, t * 5, 5, b.lg_pk);
        set_bits(m->rdl_addr_i, t * 32, 32, b.addr);
        for (int l = 0; l < L; l++)
          set_bits(m->rdl_data_i, (t * L + l) * 32, 32, static_cast<uint32_t>(b.data[l]));
      }
      set_bits(m->rdl_valid_i, t, 1, rd_active[t]);
    }
    m->rd_ready_i = !chance(stall);
    m->eval();

    // Sample handshakes.
    if (mc_active && m->mc_ready_o) {
      mc_active = false;
      mc_next++;
    }
    for (int t = 0; t < N; t++) {
      if (get_bits(m->mcl_valid_o, t, 1) && get_bits(m->mcl_ready_i, t, 1)) {
        uint32_t d = static_cast<uint32_t>(get_bits(m->mcl_data_o, t * 32, 32));
        if (got[t] >= mbeats) return fail("mcast extra beat at leaf", t, got[t]);
        if (d != sent[got[t]]) return fail("mcast wrong or reordered beat at leaf", t, got[t]);
        got[t]++;
      }
      if (rd_active[t] && get_bits(m->rdl_ready_o, t, 1)) {
        rd_active[t] = false;
        leafq[t].pop_front();
        rbeats_in++;
      }
    }
    if (m->rd_valid_o && m->rd_ready_i) {
      uint32_t addr = m->rd_addr_o;
      auto it = expect.find(addr);
      if (it == expect.end()) return fail("reduce unknown or duplicate address", addr);
      if (m->rd_lg_pk_o != it->second.lg_pk) return fail("reduce lg_pk", addr);
      for (int l = 0; l < L; l++) {
        int32_t d = static_cast<int32_t>(get_bits(m->rd_data_o, l * 32, 32));
        if (d != it->second.data[l]) return fail("reduce sum", addr, l);
      }
      auto k = key[addr];
      auto ls = last_seq.find(k.first);
      if (ls != last_seq.end() && ls->second > k.second) return fail("reduce order", addr);
      last_seq[k.first] = k.second;
      expect.erase(it);
      rbeats_out++;
    }

    m->clk_i = 1;
    m->eval();
    m->clk_i = 0;
    m->eval();
  }
  long flits = mbeats * (N + 1) + rbeats_in + static_cast<long>(key.size());
  std::printf("ok %ld %llu\n", flits, static_cast<unsigned long long>(cycles));
  m->final();
  tessera::write_coverage(m->contextp(), "chip_noc_bench");
  delete m;
  return 0;
}
