// SPDX-License-Identifier: Apache-2.0
// C++ side of the Rust bridge: model handles with per-cycle ports, C++-side stream transactors
// and monitors (so the per-cycle work stays in C++), DPI backdoor access and FST tracing.
#pragma once
#include <cstdint>
#include <memory>

#include "rust/cxx.h"

namespace tessera {

// A model with the tile port contract (tessera `tile`, or a bench wrapper mirroring it).
class TileSim {
 public:
  virtual ~TileSim() = default;

  // Per-cycle ports. With `set_drive(true)` (the default) the stream transactors own the
  // cfg/wr/act valid+data and res ready inputs; `set_drive(false)` leaves them to the pokes.
  virtual void set_drive(bool transactors) = 0;
  virtual void poke_reset(bool active) = 0;
  virtual void poke_err_clear(bool value) = 0;
  virtual void poke_cfg(bool valid, uint32_t base, uint32_t rows, uint32_t k) = 0;
  virtual void poke_wr(bool valid, uint32_t addr, rust::Slice<const uint8_t> data) = 0;
  virtual void poke_act(bool valid, rust::Slice<const uint8_t> data) = 0;
  virtual void poke_res_ready(bool ready) = 0;
  virtual void eval() = 0;
  virtual uint32_t peek_status() const = 0;
  virtual void peek_res(rust::Slice<int32_t> out) const = 0;

  // Clocking.
  virtual void reset(uint32_t cycles) = 0;
  virtual void tick(uint64_t cycles) = 0;
  virtual uint64_t run_until(uint64_t results, uint64_t max_cycles, bool until_idle) = 0;

  // Transactors: beats queued with the idle cycles to insert before each.
  virtual void push_cfg(uint32_t base, uint32_t rows, uint32_t k, uint32_t gap) = 0;
  virtual void push_wr(uint32_t addr, rust::Slice<const uint8_t> data, uint32_t gap) = 0;
  virtual void push_act(rust::Slice<const uint8_t> data, uint32_t gap) = 0;
  // Consecutive activation chunks (KWidth bytes each), `gap` idle cycles before each.
  virtual void push_acts(rust::Slice<const uint8_t> data, uint32_t gap) = 0;
  virtual void set_sink(uint32_t ready_permille, uint64_t seed) = 0;
  virtual uint64_t pending_inputs() const = 0;

  // Monitors: what the DUT accepted and emitted, with cycle stamps. `log_lens` gives the
  // element counts of the seven records (cfg, wr meta, wr data, act cycles, act data, res meta,
  // res data); `take_logs` copies each record whole into a slice of that length and clears it.
  virtual void log_lens(rust::Slice<uint64_t> out) const = 0;
  virtual void take_logs(rust::Slice<uint64_t> cfg, rust::Slice<uint64_t> wr_meta,
                         rust::Slice<uint8_t> wr_data, rust::Slice<uint64_t> act_cycles,
                         rust::Slice<uint8_t> act_data, rust::Slice<uint64_t> res_meta,
                         rust::Slice<int32_t> res_data) = 0;
  virtual void counters(rust::Slice<uint64_t> out) const = 0;

  // Backdoor of the weight memory (DPI exports of u_weight_ram).
  virtual bool has_backdoor() const = 0;
  virtual void backdoor_write(uint32_t addr, uint32_t piece, uint32_t value) = 0;
  virtual uint32_t backdoor_read(uint32_t addr, uint32_t piece) = 0;

  // FST waveform of cycles [start, end).
  virtual void trace_open(rust::Str path, uint64_t start, uint64_t end) = 0;
  virtual void trace_close() = 0;

  // Benchmark reference: the same stimulus as the transactors get, in a plain C++ loop.
  virtual uint64_t bare_matvec_loop(uint32_t base, uint32_t rows, uint32_t k,
                                    rust::Slice<const uint8_t> acts, uint32_t ops) = 0;
};

// The assertion probe under verif/bench/ (harness self-tests).
class ProbeSim {
 public:
  virtual ~ProbeSim() = default;
  virtual void set_inputs(bool fire_assert, bool fire_fatal) = 0;
  virtual void tick(uint64_t cycles) = 0;
  virtual uint32_t count() const = 0;
  virtual void trace_open(rust::Str path, uint64_t start, uint64_t end) = 0;
  virtual void trace_close() = 0;
};

std::unique_ptr<TileSim> new_tile_sim(rust::Str model);
std::unique_ptr<ProbeSim> new_probe_sim(rust::Str model);
rust::String model_output_tail();

}  // namespace tessera
