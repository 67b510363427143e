// SPDX-License-Identifier: Apache-2.0
// Model wrappers over Verilated classes, compiled into each model library (model_abi.h): one
// VerilatedContext per model, the thread's context set on every entry, SV errors collected by
// the hooks of sv_hooks.cpp and thrown as exceptions, which the tables at the end of this file
// turn into error returns of the C interface.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model_abi.h"
#include "svdpi.h"
#include "verilated.h"
#include "verilated_fst_c.h"
#if VM_COVERAGE
#include <unistd.h>

#include <cstdlib>

#include "verilated_cov.h"
#endif

// The model's name in the files of its coverage data (the generated entry file defines it).
#ifndef TESSERA_MODEL_NAME
#define TESSERA_MODEL_NAME "model"
#endif

// The one symbol a model library exports.
#define TESSERA_EXPORT __attribute__((visibility("default")))

namespace tessera {

// SV messages of this thread (sv_hooks.cpp): the error the hooks recorded, and clearing it.
std::string sv_take_error();
void sv_clear();
// The message of the last failed call of the C interface on this thread.
void set_last_error(const char* msg);
size_t copy_last_error(char* buf, size_t len);
size_t copy_output_tail(char* buf, size_t len);

// Sets the thread's Verilator context and clears stale SV errors on entry. The hooks mark a
// failure in the context (gotError), so the per-cycle check is one load from the model's own
// context rather than a thread-local of a shared library.
struct Enter {
  explicit Enter(VerilatedContext* c) {
    Verilated::threadContextp(c);
    c->gotError(false);
    sv_clear();
  }
};

inline void check_sv(const VerilatedContext* c, const char* where) {
  if (c->gotError()) throw std::runtime_error(sv_take_error() + " (during " + where + ")");
}

// Little-endian bytes into a port of any width.
template <class T>
inline void put_le(T& port, const uint8_t* b, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, b, std::min<size_t>(n, sizeof(T)));
  port = static_cast<T>(v);
}
template <std::size_t W>
inline void put_le(VlWide<W>& port, const uint8_t* b, size_t n) {
  for (size_t i = 0; i < W; ++i) {
    uint32_t w = 0;
    const size_t off = 4 * i;
    if (off < n) std::memcpy(&w, b + off, std::min<size_t>(4, n - off));
    port.at(i) = w;
  }
}
template <class T>
inline void get_words(const T& port, uint32_t* out, size_t n) {
  const uint64_t v = port;
  out[0] = static_cast<uint32_t>(v);
  if (n > 1) out[1] = static_cast<uint32_t>(v >> 32);
}
template <std::size_t W>
inline void get_words(const VlWide<W>& port, uint32_t* out, size_t n) {
  for (size_t i = 0; i < std::min(W, n); ++i) out[i] = port.at(i);
}

// First-in first-out queue over one vector that keeps its storage: a queue refilled for every
// operation allocates nothing once it has grown. Taken beats are dropped when the queue runs
// empty, or on a push once they are the larger part.
template <class B>
class Fifo {
 public:
  bool empty() const { return head_ == v_.size(); }
  size_t size() const { return v_.size() - head_; }
  const B& front() const { return v_[head_]; }
  void push_back(const B& b) {
    if (head_ >= 64 && head_ >= size()) {
      v_.erase(v_.begin(), v_.begin() + std::ptrdiff_t(head_));
      head_ = 0;
    }
    v_.push_back(b);
  }
  void pop_front() {
    if (++head_ == v_.size()) {
      v_.clear();
      head_ = 0;
    }
  }

 private:
  std::vector<B> v_;
  size_t head_ = 0;
};

// Stream of beats with idle cycles before each.
template <class B>
struct Stream {
  Fifo<B> q;
  uint32_t waited = 0;
  bool ready_to_show() const { return !q.empty() && waited >= q.front().gap; }
  void advance(bool fired) {
    if (fired) {
      q.pop_front();
      waited = 0;
    } else if (!q.empty() && waited < q.front().gap) {
      ++waited;
    }
  }
};

// In a coverage build (verilator --coverage-*, which defines VM_COVERAGE=1; TESSERA_COVERAGE in
// tessera_sim::builder), saves the counters of a model's context into
// $TESSERA_COVERAGE/<name>-<pid>-<n>.dat, a new file per model; otherwise nothing.
inline void write_coverage(VerilatedContext* ctx, const char* name) {
#if VM_COVERAGE
  const char* dir = std::getenv("TESSERA_COVERAGE");
  if (!dir || !*dir) return;
  static std::atomic<unsigned> seq{0};
  std::string path;
  do {
    path = std::string(dir) + "/" + name + "-" + std::to_string(getpid()) + "-" +
           std::to_string(seq++) + ".dat";
  } while (access(path.c_str(), F_OK) == 0);
  ctx->coveragep()->write(path.c_str());
#else
  (void)ctx;
  (void)name;
#endif
}

// Shared pieces: context, model, trace.
template <class M>
class ModelBase {
 protected:
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<M> m_;
  std::unique_ptr<VerilatedFstC> tfp_;
  uint64_t cycle_ = 0;
  uint64_t tr_start_ = 0, tr_end_ = 0;

  ModelBase() : ctx_(new VerilatedContext) {
    Enter e(ctx_.get());
    ctx_->fatalOnError(false);
    ctx_->traceEverOn(true);
    m_.reset(new M(ctx_.get(), "TOP"));
    m_->clk_i = 0;
    m_->rst_ni = 1;
    m_->eval();
    this->check("construction");
  }
  ~ModelBase() {
    Enter e(ctx_.get());
    if (tfp_) tfp_->close();
    tfp_.reset();
    m_->final();
    write_coverage(ctx_.get(), TESSERA_MODEL_NAME);
    m_.reset();
    ctx_.reset();
    Verilated::threadContextp(nullptr);
    sv_clear();
  }
  // Whether an SV error stopped the model during the current call.
  bool failed() const { return ctx_->gotError(); }
  void check(const char* where) const { check_sv(ctx_.get(), where); }
  inline void dump(uint64_t t) {
    if (tfp_ && cycle_ >= tr_start_ && cycle_ < tr_end_) tfp_->dump(t);
  }
  // One clock edge after the inputs of this cycle were evaluated.
  inline void edge() {
    dump(2 * cycle_);
    ctx_->time(2 * cycle_ + 1);
    m_->clk_i = 1;
    m_->eval();
    dump(2 * cycle_ + 1);
    m_->clk_i = 0;
    ++cycle_;
    ctx_->time(2 * cycle_);
  }
  void open_trace(const std::string& path, uint64_t start, uint64_t end) {
    Enter e(ctx_.get());
    if (tfp_) tfp_->close();
    tfp_.reset(new VerilatedFstC);
    m_->trace(tfp_.get(), 99);
    tfp_->open(path.c_str());
    if (!tfp_->isOpen()) {
      tfp_.reset();
      throw std::runtime_error("cannot open FST file " + path);
    }
    tr_start_ = start;
    tr_end_ = end;
  }
  void close_trace() {
    Enter e(ctx_.get());
    if (tfp_) tfp_->close();
    tfp_.reset();
  }
};

template <class M, unsigned L, unsigned KW, unsigned WW, unsigned AW, bool Backdoor>
class TileSimImpl final : ModelBase<M> {
  using B = ModelBase<M>;
  using B::ctx_;
  using B::cycle_;
  using B::m_;
  static constexpr size_t kWordBytes = size_t(L) * KW;

  struct CfgBeat {
    uint32_t base, rows, k, gap;
  };
  struct WrBeat {
    uint32_t addr, gap;
    std::array<uint8_t, kWordBytes> data;
  };
  struct ActBeat {
    uint32_t gap;
    std::array<uint8_t, KW> data;
  };

  bool drive_ = true;
  Stream<CfgBeat> cfg_;
  Stream<WrBeat> wr_;
  Stream<ActBeat> act_;
  uint32_t ready_permille_ = 1000;
  uint64_t rng_ = 0x9E3779B97F4A7C15ull;
  uint64_t results_ = 0, mac_busy_ = 0, busy_ = 0, err_cycles_ = 0;
  std::vector<uint64_t> cfg_log_, wr_meta_, act_cycles_, res_meta_;
  std::vector<uint8_t> wr_data_, act_data_;
  std::vector<int32_t> res_data_;
  svScope scope_ = nullptr;

  static void set_cfg_port(decltype(M::cfg_i)& port, uint32_t base, uint32_t rows, uint32_t k) {
    const uint32_t w[3] = {k, rows, base};
    put_le(port, reinterpret_cast<const uint8_t*>(w), 12);
  }
  inline bool sink_ready() {
    if (ready_permille_ >= 1000) return true;
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return ((rng_ * 0x2545F4914F6CDD1Dull) >> 32) % 1000 < ready_permille_;
  }

  // One cycle: drive, evaluate, monitor, clock edge, advance the transactors (inlined into the
  // clock loops).
  __attribute__((always_inline)) inline void step() {
    M& m = *m_;
    if (drive_) {
      if (cfg_.ready_to_show()) {
        const CfgBeat& b = cfg_.q.front();
        m.cfg_valid_i = 1;
        set_cfg_port(m.cfg_i, b.base, b.rows, b.k);
      } else {
        m.cfg_valid_i = 0;
      }
      if (wr_.ready_to_show()) {
        const WrBeat& b = wr_.q.front();
        m.wr_valid_i = 1;
        m.wr_addr_i = b.addr;
        put_le(m.wr_data_i, b.data.data(), kWordBytes);
      } else {
        m.wr_valid_i = 0;
      }
      if (act_.ready_to_show()) {
        m.act_valid_i = 1;
        put_le(m.act_data_i, act_.q.front().data.data(), KW);
      } else {
        m.act_valid_i = 0;
      }
      m.res_ready_i = sink_ready();
    }
    m.eval();
    const bool cfg_fire = m.cfg_valid_i && m.cfg_ready_o;
    const bool wr_fire = m.wr_valid_i && m.wr_ready_o;
    const bool act_fire = m.act_valid_i && m.act_ready_o;
    const bool res_fire = m.res_valid_o && m.res_ready_i;
    count_cycle();
    if (cfg_fire) {
      uint32_t w[3];
      get_words(m.cfg_i, w, 3);
      cfg_log_.insert(cfg_log_.end(), {cycle_, w[2], w[1], w[0]});
    }
    if (wr_fire) {
      wr_meta_.insert(wr_meta_.end(), {cycle_, m.wr_addr_i});
      uint32_t w[(kWordBytes + 3) / 4];
      get_words(m.wr_data_i, w, (kWordBytes + 3) / 4);
      const uint8_t* p = reinterpret_cast<const uint8_t*>(w);
      wr_data_.insert(wr_data_.end(), p, p + kWordBytes);
    }
    if (act_fire) {
      act_cycles_.push_back(cycle_);
      uint32_t w[(KW + 3) / 4];
      get_words(m.act_data_i, w, (KW + 3) / 4);
      const uint8_t* p = reinterpret_cast<const uint8_t*>(w);
      act_data_.insert(act_data_.end(), p, p + KW);
    }
    if (res_fire) record_result();
    this->edge();
    if (drive_) {
      cfg_.advance(cfg_fire);
      wr_.advance(wr_fire);
      act_.advance(act_fire);
    }
  }
  // The per-cycle counters, sampled after the evaluation.
  __attribute__((always_inline)) inline void count_cycle() {
    mac_busy_ += m_->mac_busy_o;
    busy_ += m_->busy_o;
    err_cycles_ += m_->err_o;
  }
  inline void record_result() {
    M& m = *m_;
    res_meta_.insert(res_meta_.end(), {cycle_, uint64_t(m.res_last_o)});
    uint32_t w[L];
    get_words(m.res_data_o, w, L);
    for (unsigned l = 0; l < L; ++l) res_data_.push_back(static_cast<int32_t>(w[l]));
    ++results_;
  }
  // Whether the input transactors have nothing left to drive. Beats are queued only between
  // calls, so once this holds it holds for the rest of a call.
  bool quiet() const { return drive_ && cfg_.q.empty() && wr_.q.empty() && act_.q.empty(); }
  // One cycle of step() once quiet() holds and the input valids were set low: only the sink,
  // the evaluation, the result monitor and the counters are left.
  __attribute__((always_inline)) inline void quiet_step() {
    M& m = *m_;
    m.res_ready_i = sink_ready();
    m.eval();
    count_cycle();
    if (m.res_valid_o && m.res_ready_i) record_result();
    this->edge();
  }

  // One copy per record (an element-wise push into a Rust vector crosses the language
  // boundary several times per element).
  template <class T>
  static void move_out(std::vector<T>& from, T* to, uint64_t len) {
    if (len != from.size()) throw std::runtime_error("monitor log length changed");
    if (!from.empty()) std::memcpy(to, from.data(), from.size() * sizeof(T));
    from.clear();
  }

 public:
  static constexpr unsigned kLanes = L, kKWidth = KW, kWeightWords = WW, kActWords = AW;
  static constexpr bool kBackdoor = Backdoor;

  TileSimImpl(const char* scope_name) {
    if constexpr (Backdoor) {
      Enter e(ctx_.get());
      scope_ = svGetScopeFromName(scope_name);
      if (!scope_) throw std::runtime_error(std::string("no DPI scope ") + scope_name);
    }
    m_->cfg_valid_i = 0;
    m_->wr_valid_i = 0;
    m_->act_valid_i = 0;
    m_->res_ready_i = 0;
    m_->err_clear_i = 0;
  }

  void set_drive(bool transactors) { drive_ = transactors; }
  void poke_reset(bool active) { m_->rst_ni = !active; }
  void poke_err_clear(bool value) { m_->err_clear_i = value; }
  void poke_cfg(bool valid, uint32_t base, uint32_t rows, uint32_t k) {
    m_->cfg_valid_i = valid;
    set_cfg_port(m_->cfg_i, base, rows, k);
  }
  void poke_wr(bool valid, uint32_t addr, const uint8_t* data, size_t len) {
    m_->wr_valid_i = valid;
    m_->wr_addr_i = addr;
    put_le(m_->wr_data_i, data, std::min(len, kWordBytes));
  }
  void poke_act(bool valid, const uint8_t* data, size_t len) {
    m_->act_valid_i = valid;
    put_le(m_->act_data_i, data, std::min<size_t>(len, KW));
  }
  void poke_res_ready(bool ready) { m_->res_ready_i = ready; }
  void eval() {
    Enter e(ctx_.get());
    m_->eval();
    this->check("eval");
  }
  uint32_t peek_status() const {
    const M& m = *m_;
    return (uint32_t(m.cfg_ready_o) << 0) | (uint32_t(m.wr_ready_o) << 1) |
           (uint32_t(m.act_ready_o) << 2) | (uint32_t(m.res_valid_o) << 3) |
           (uint32_t(m.res_last_o) << 4) | (uint32_t(m.busy_o) << 5) |
           (uint32_t(m.mac_busy_o) << 6) | (uint32_t(m.err_o) << 7);
  }
  void peek_res(int32_t* out, size_t len) const {
    uint32_t w[L];
    get_words(m_->res_data_o, w, L);
    for (size_t l = 0; l < std::min<size_t>(L, len); ++l) out[l] = int32_t(w[l]);
  }

  void reset(uint32_t cycles) {
    Enter e(ctx_.get());
    M& m = *m_;
    m.rst_ni = 0;
    m.cfg_valid_i = m.wr_valid_i = m.act_valid_i = 0;
    m.res_ready_i = 0;
    m.err_clear_i = 0;
    m.eval();
    for (uint32_t i = 0; i < std::max(cycles, 1u); ++i) {
      m.eval();
      this->edge();
    }
    m.rst_ni = 1;
    m.eval();
    this->check("reset");
  }
  void tick(uint64_t cycles) {
    Enter e(ctx_.get());
    for (uint64_t i = 0; i < cycles; ++i) {
      step();
      if (this->failed()) break;
    }
    this->check("tick");
  }
  uint64_t run_until(uint64_t results, uint64_t max_cycles, bool until_idle) {
    Enter e(ctx_.get());
    const uint64_t start = cycle_;
    const uint64_t goal = results_ + results;
    auto done = [&] {
      if (this->failed()) return true;
      if (results_ < goal) return false;
      return !until_idle || (pending_inputs() == 0 && !m_->busy_o && !m_->res_valid_o);
    };
    bool stop = false;
    while (!stop && cycle_ - start < max_cycles && !quiet()) {
      step();
      stop = done();
    }
    if (!stop && quiet()) {
      M& m = *m_;
      m.cfg_valid_i = 0;
      m.wr_valid_i = 0;
      m.act_valid_i = 0;
      while (!stop && cycle_ - start < max_cycles) {
        quiet_step();
        stop = done();
      }
    }
    this->check("run_until");
    return cycle_ - start;
  }

  void push_cfg(uint32_t base, uint32_t rows, uint32_t k, uint32_t gap) {
    cfg_.q.push_back(CfgBeat{base, rows, k, gap});
  }
  void push_wr(uint32_t addr, const uint8_t* data, size_t len, uint32_t gap) {
    WrBeat b{addr, gap, {}};
    std::memcpy(b.data.data(), data, std::min(len, kWordBytes));
    wr_.q.push_back(b);
  }
  void push_act(const uint8_t* data, size_t len, uint32_t gap) {
    ActBeat b{gap, {}};
    std::memcpy(b.data.data(), data, std::min<size_t>(len, KW));
    act_.q.push_back(b);
  }
  void push_acts(const uint8_t* data, size_t len, uint32_t gap) {
    for (size_t off = 0; off < len; off += KW) {
      ActBeat b{gap, {}};
      std::memcpy(b.data.data(), data + off, std::min<size_t>(len - off, KW));
      act_.q.push_back(b);
    }
  }
  void set_sink(uint32_t ready_permille, uint64_t seed) {
    ready_permille_ = ready_permille;
    rng_ = seed ? seed : 0x9E3779B97F4A7C15ull;
  }
  uint64_t pending_inputs() const {
    return cfg_.q.size() + wr_.q.size() + act_.q.size();
  }

  void log_lens(uint64_t out[7]) const {
    const uint64_t v[7] = {cfg_log_.size(),    wr_meta_.size(),  wr_data_.size(),
                           act_cycles_.size(), act_data_.size(), res_meta_.size(),
                           res_data_.size()};
    std::copy(v, v + 7, out);
  }
  void take_logs(const uint64_t lens[7], uint64_t* cfg, uint64_t* wr_meta, uint8_t* wr_data,
                 uint64_t* act_cycles, uint8_t* act_data, uint64_t* res_meta,
                 int32_t* res_data) {
    uint64_t now[7];
    log_lens(now);
    if (!std::equal(now, now + 7, lens)) throw std::runtime_error("monitor log length changed");
    move_out(cfg_log_, cfg, lens[0]);
    move_out(wr_meta_, wr_meta, lens[1]);
    move_out(wr_data_, wr_data, lens[2]);
    move_out(act_cycles_, act_cycles, lens[3]);
    move_out(act_data_, act_data, lens[4]);
    move_out(res_meta_, res_meta, lens[5]);
    move_out(res_data_, res_data, lens[6]);
  }
  void counters(uint64_t out[5]) const {
    const uint64_t v[5] = {cycle_, mac_busy_, busy_, err_cycles_, results_};
    std::copy(v, v + 5, out);
  }

  void backdoor_write(uint32_t addr, uint32_t piece, uint32_t value) {
    if constexpr (Backdoor) {
      Enter e(ctx_.get());
      svSetScope(scope_);
      M::ram_backdoor_write(addr, piece, value);
      this->check("backdoor write");
    } else {
      throw std::runtime_error("this model has no weight-memory backdoor");
    }
  }
  uint32_t backdoor_read(uint32_t addr, uint32_t piece) {
    if constexpr (Backdoor) {
      Enter e(ctx_.get());
      svSetScope(scope_);
      const uint32_t v = M::ram_backdoor_read(addr, piece);
      this->check("backdoor read");
      return v;
    } else {
      throw std::runtime_error("this model has no weight-memory backdoor");
    }
  }

  void trace_open(const std::string& path, uint64_t start, uint64_t end) {
    this->open_trace(path, start, end);
  }
  void trace_close() { this->close_trace(); }

  uint64_t bare_matvec_loop(uint32_t base, uint32_t rows, uint32_t k, const uint8_t* acts,
                            size_t acts_len, uint32_t ops) {
    Enter e(ctx_.get());
    M& m = *m_;
    const uint32_t chunks = (k + KW - 1) / KW;
    const uint32_t groups = (rows + L - 1) / L;
    if (acts_len < size_t(chunks) * KW) throw std::runtime_error("too few activation bytes");
    const uint64_t start = cycle_;
    m.wr_valid_i = 0;
    m.res_ready_i = 1;
    // The stimulus of the harness's transactors for one queued set-up and its chunks without
    // gaps (TileSimImpl::run_until with until_idle): the set-up and the first chunk are offered
    // together, each until taken, and the loop runs on until the tile is idle, so both loops
    // clock the model through the same cycles.
    for (uint32_t op = 0; op < ops; ++op) {
      bool cfg_taken = false;
      uint32_t sent = 0, got = 0;
      uint32_t w[L];
      set_cfg_port(m.cfg_i, base, rows, k);
      for (;;) {
        m.cfg_valid_i = !cfg_taken;
        if (sent < chunks) {
          m.act_valid_i = 1;
          put_le(m.act_data_i, acts + size_t(sent) * KW, KW);
        } else {
          m.act_valid_i = 0;
        }
        m.eval();
        if (m.cfg_valid_i && m.cfg_ready_o) cfg_taken = true;
        if (m.act_valid_i && m.act_ready_o) ++sent;
        if (m.res_valid_o) {
          get_words(m.res_data_o, w, L);
          ++got;
        }
        mac_busy_ += m.mac_busy_o;
        this->edge();
        if (got >= groups && !m.busy_o && !m.res_valid_o) break;
      }
      m.cfg_valid_i = 0;
    }
    m.act_valid_i = 0;
    m.res_ready_i = 0;
    m.eval();
    this->check("bare loop");
    return cycle_ - start;
  }
};

template <class M>
class ProbeSimImpl final : ModelBase<M> {
 public:
  ProbeSimImpl() {
    this->m_->fire_assert_i = 0;
    this->m_->fire_fatal_i = 0;
    Enter e(this->ctx_.get());
    this->m_->rst_ni = 0;
    this->m_->eval();
    this->edge();
    this->m_->rst_ni = 1;
    this->m_->eval();
    this->check("reset");
  }
  void set_inputs(bool fire_assert, bool fire_fatal) {
    this->m_->fire_assert_i = fire_assert;
    this->m_->fire_fatal_i = fire_fatal;
  }
  void tick(uint64_t cycles) {
    Enter e(this->ctx_.get());
    for (uint64_t i = 0; i < cycles && !this->failed(); ++i) {
      this->m_->eval();
      this->edge();
    }
    this->check("tick");
  }
  uint32_t count() const { return this->m_->count_o; }
  void trace_open(const std::string& path, uint64_t start, uint64_t end) {
    this->open_trace(path, start, end);
  }
  void trace_close() { this->close_trace(); }
};

// The primitives top of the vector unit (vec_prims): combinational primitives, one eval per
// operand pair, and the sequenced units behind one stream.
template <class M>
class VecSimImpl final : ModelBase<M> {
 public:
  VecSimImpl() {
    Enter e(this->ctx_.get());
    M& m = *this->m_;
    m.unit_valid_i = 0;
    m.unit_ready_i = 1;
    m.rst_ni = 0;
    m.eval();
    this->edge();
    m.rst_ni = 1;
    m.eval();
    this->check("reset");
  }
  void run_unit(uint32_t op, const uint32_t* a, const uint32_t* b, size_t n, bool backpressure,
                uint32_t* out) {
    Enter e(this->ctx_.get());
    M& m = *this->m_;
    std::vector<uint64_t> taken(n);
    size_t sent = 0, got = 0;
    uint64_t idle = 0;
    uint32_t lfsr = 0xace1u;
    m.unit_op_i = op;
    while (got < n && !this->failed()) {
      m.unit_valid_i = sent < n;
      if (sent < n) {
        m.a_i = a[sent];
        m.b_i = b[sent];
      }
      lfsr ^= lfsr << 13;
      lfsr ^= lfsr >> 17;
      lfsr ^= lfsr << 5;
      m.unit_ready_i = !backpressure || (lfsr % 3u) != 0;
      m.eval();
      const bool accept = m.unit_valid_i && m.unit_ready_o;
      const bool deliver = m.unit_valid_o && m.unit_ready_i;
      if (deliver) {
        if (got >= sent) throw std::runtime_error("run_unit: a result without a request");
        out[2 * got] = m.unit_y_o;
        out[2 * got + 1] = static_cast<uint32_t>(this->cycle_ - taken[got]);
        ++got;
      }
      if (accept) taken[sent++] = this->cycle_;
      idle = (accept || deliver) ? 0 : idle + 1;
      if (idle > 1000) throw std::runtime_error("run_unit: no progress for 1000 cycles");
      this->edge();
    }
    m.unit_valid_i = 0;
    m.unit_ready_i = 1;
    m.eval();
    this->check("run_unit");
  }
  void eval_batch(const uint32_t* a, const uint32_t* b, size_t n, uint32_t* out) {
    Enter e(this->ctx_.get());
    M& m = *this->m_;
    for (size_t i = 0; i < n && !this->failed(); ++i) {
      m.a_i = a[i];
      m.b_i = b[i];
      m.eval();
      this->edge();  // a time step per pair, for traces
      uint32_t* o = out + i * TESSERA_VEC_OUTPUTS;
      o[0] = m.add_o;
      o[1] = m.sub_o;
      o[2] = m.mul_o;
      o[3] = m.i2f_o;
      o[4] = m.max_o;
      o[5] = m.cmp_o;
      o[6] = m.ldexp_o;
      o[7] = m.f2i_o;
    }
    this->check("eval_batch");
  }
  void trace_open(const std::string& path, uint64_t start, uint64_t end) {
    this->open_trace(path, start, end);
  }
  void trace_close() { this->close_trace(); }
};

// The C interface (model_abi.h) over a wrapper `Impl` made by `Make`: captureless lambdas that
// convert the calls, and turn exceptions into error returns (nothing unwinds into Rust).
template <class F>
int guard(F&& f) noexcept {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    set_last_error(e.what());
  } catch (...) {
    set_last_error("unknown C++ exception");
  }
  return -1;
}

template <class Impl>
inline Impl* self(TesseraModel* m) {
  return reinterpret_cast<Impl*>(m);
}
template <class Impl>
inline const Impl* self(const TesseraModel* m) {
  return reinterpret_cast<const Impl*>(m);
}

template <class Impl, Impl* (*Make)()>
TesseraCommonOps common_ops(uint32_t size) {
  TesseraCommonOps c{};
  c.version = TESSERA_MODEL_ABI_VERSION;
  c.size = size;
  c.last_error = [](char* buf, size_t len) noexcept { return copy_last_error(buf, len); };
  c.output_tail = [](char* buf, size_t len) noexcept { return copy_output_tail(buf, len); };
  c.create = []() noexcept -> TesseraModel* {
    Impl* p = nullptr;
    if (guard([&] { p = Make(); }) != 0) return nullptr;
    return reinterpret_cast<TesseraModel*>(p);
  };
  c.destroy = [](TesseraModel* m) noexcept { delete self<Impl>(m); };
  c.trace_open = [](TesseraModel* m, const char* path, size_t len, uint64_t start,
                    uint64_t end) noexcept {
    return guard([&] { self<Impl>(m)->trace_open(std::string(path, len), start, end); });
  };
  c.trace_close = [](TesseraModel* m) noexcept { self<Impl>(m)->trace_close(); };
  return c;
}

template <class Impl, Impl* (*Make)()>
const TesseraTileOps* tile_ops() {
  static const TesseraTileOps ops = [] {
    TesseraTileOps t{};
    t.common = common_ops<Impl, Make>(sizeof(TesseraTileOps));
    t.lanes = Impl::kLanes;
    t.k_width = Impl::kKWidth;
    t.weight_words = Impl::kWeightWords;
    t.act_words = Impl::kActWords;
    t.backdoor = Impl::kBackdoor;
    t.set_drive = [](TesseraModel* m, bool v) noexcept { self<Impl>(m)->set_drive(v); };
    t.poke_reset = [](TesseraModel* m, bool v) noexcept { self<Impl>(m)->poke_reset(v); };
    t.poke_err_clear = [](TesseraModel* m, bool v) noexcept {
      self<Impl>(m)->poke_err_clear(v);
    };
    t.poke_cfg = [](TesseraModel* m, bool valid, uint32_t base, uint32_t rows,
                    uint32_t k) noexcept { self<Impl>(m)->poke_cfg(valid, base, rows, k); };
    t.poke_wr = [](TesseraModel* m, bool valid, uint32_t addr, const uint8_t* d,
                   size_t n) noexcept { self<Impl>(m)->poke_wr(valid, addr, d, n); };
    t.poke_act = [](TesseraModel* m, bool valid, const uint8_t* d, size_t n) noexcept {
      self<Impl>(m)->poke_act(valid, d, n);
    };
    t.poke_res_ready = [](TesseraModel* m, bool v) noexcept { self<Impl>(m)->poke_res_ready(v); };
    t.eval = [](TesseraModel* m) noexcept { return guard([&] { self<Impl>(m)->eval(); }); };
    t.peek_status = [](const TesseraModel* m) noexcept { return self<Impl>(m)->peek_status(); };
    t.peek_res = [](const TesseraModel* m, int32_t* out, size_t n) noexcept {
      self<Impl>(m)->peek_res(out, n);
    };
    t.reset = [](TesseraModel* m, uint32_t n) noexcept {
      return guard([&] { self<Impl>(m)->reset(n); });
    };
    t.tick = [](TesseraModel* m, uint64_t n) noexcept {
      return guard([&] { self<Impl>(m)->tick(n); });
    };
    t.run_until = [](TesseraModel* m, uint64_t results, uint64_t max_cycles, bool until_idle,
                     uint64_t* cycles) noexcept {
      return guard([&] { *cycles = self<Impl>(m)->run_until(results, max_cycles, until_idle); });
    };
    t.push_cfg = [](TesseraModel* m, uint32_t base, uint32_t rows, uint32_t k,
                    uint32_t gap) noexcept { self<Impl>(m)->push_cfg(base, rows, k, gap); };
    t.push_wr = [](TesseraModel* m, uint32_t addr, const uint8_t* d, size_t n,
                   uint32_t gap) noexcept { self<Impl>(m)->push_wr(addr, d, n, gap); };
    t.push_act = [](TesseraModel* m, const uint8_t* d, size_t n, uint32_t gap) noexcept {
      self<Impl>(m)->push_act(d, n, gap);
    };
    t.push_acts = [](TesseraModel* m, const uint8_t* d, size_t n, uint32_t gap) noexcept {
      self<Impl>(m)->push_acts(d, n, gap);
    };
    t.set_sink = [](TesseraModel* m, uint32_t permille, uint64_t seed) noexcept {
      self<Impl>(m)->set_sink(permille, seed);
    };
    t.pending_inputs = [](const TesseraModel* m) noexcept {
      return self<Impl>(m)->pending_inputs();
    };
    t.log_lens = [](const TesseraModel* m, uint64_t out[7]) noexcept {
      self<Impl>(m)->log_lens(out);
    };
    t.take_logs = [](TesseraModel* m, const uint64_t lens[7], uint64_t* cfg, uint64_t* wr_meta,
                     uint8_t* wr_data, uint64_t* act_cycles, uint8_t* act_data,
                     uint64_t* res_meta, int32_t* res_data) noexcept {
      return guard([&] {
        self<Impl>(m)->take_logs(lens, cfg, wr_meta, wr_data, act_cycles, act_data, res_meta,
                                 res_data);
      });
    };
    t.counters = [](const TesseraModel* m, uint64_t out[5]) noexcept {
      self<Impl>(m)->counters(out);
    };
    t.backdoor_write = [](TesseraModel* m, uint32_t addr, uint32_t piece,
                          uint32_t value) noexcept {
      return guard([&] { self<Impl>(m)->backdoor_write(addr, piece, value); });
    };
    t.backdoor_read = [](TesseraModel* m, uint32_t addr, uint32_t piece,
                         uint32_t* value) noexcept {
      return guard([&] { *value = self<Impl>(m)->backdoor_read(addr, piece); });
    };
    t.bare_matvec_loop = [](TesseraModel* m, uint32_t base, uint32_t rows, uint32_t k,
                            const uint8_t* acts, size_t n, uint32_t ops,
                            uint64_t* cycles) noexcept {
      return guard(
          [&] { *cycles = self<Impl>(m)->bare_matvec_loop(base, rows, k, acts, n, ops); });
    };
    return t;
  }();
  return &ops;
}

template <class Impl, Impl* (*Make)()>
const TesseraProbeOps* probe_ops() {
  static const TesseraProbeOps ops = [] {
    TesseraProbeOps t{};
    t.common = common_ops<Impl, Make>(sizeof(TesseraProbeOps));
    t.set_inputs = [](TesseraModel* m, bool fire_assert, bool fire_fatal) noexcept {
      self<Impl>(m)->set_inputs(fire_assert, fire_fatal);
    };
    t.tick = [](TesseraModel* m, uint64_t n) noexcept {
      return guard([&] { self<Impl>(m)->tick(n); });
    };
    t.count = [](const TesseraModel* m) noexcept { return self<Impl>(m)->count(); };
    return t;
  }();
  return &ops;
}

template <class Impl, Impl* (*Make)()>
const TesseraVecOps* vec_ops() {
  static const TesseraVecOps ops = [] {
    TesseraVecOps t{};
    t.common = common_ops<Impl, Make>(sizeof(TesseraVecOps));
    t.outputs = TESSERA_VEC_OUTPUTS;
    t.eval_batch = [](TesseraModel* m, const uint32_t* a, const uint32_t* b, size_t n,
                      uint32_t* out) noexcept {
      return guard([&] { self<Impl>(m)->eval_batch(a, b, n, out); });
    };
    t.run_unit = [](TesseraModel* m, uint32_t op, const uint32_t* a, const uint32_t* b,
                    size_t n, int backpressure, uint32_t* out) noexcept {
      return guard([&] { self<Impl>(m)->run_unit(op, a, b, n, backpressure != 0, out); });
    };
    return t;
  }();
  return &ops;
}

}  // namespace tessera
