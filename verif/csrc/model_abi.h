// SPDX-License-Identifier: Apache-2.0
// The C interface of a model library: every model (a tile-shaped top in one configuration, or
// the assertion probe) is built by tessera-sim into its own shared library holding the
// Verilated model, the Verilator runtime, the hooks of sv_hooks.cpp and the wrapper of
// tile_sim.h, and exports one function returning a table of the calls below. Rust loads the
// library (RTLD_LOCAL: each library keeps its own runtime) and calls through the table
// (verif/src/ffi.rs mirrors these structs field by field; keep the two in step and raise the
// version on any change).
//
// Only plain C types cross the boundary: pointers with lengths, fixed-width integers, bool.
// Calls returning int return 0 on success and -1 on an error (a failed SV assertion, $error,
// $fatal, $finish, or a bad request), whose message `last_error` then copies out; calls
// returning void cannot fail.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Raised on any change to these structs (the loader checks it and the size).
#define TESSERA_MODEL_ABI_VERSION 2

// A library exports one function returning its table, `const TesseraTileOps*
// tessera_tile_ops_v1(void)`, `const TesseraProbeOps* tessera_probe_ops_v1(void)` or `const
// TesseraVecOps* tessera_vec_ops_v1(void)`, defined by the entry file that verif/src/library.rs
// generates for the model.

typedef struct TesseraModel TesseraModel;

// Calls every library has.
typedef struct TesseraCommonOps {
  uint32_t version;     // TESSERA_MODEL_ABI_VERSION
  uint32_t size;        // sizeof the whole table (TesseraTileOps or TesseraProbeOps)
  // Copies the message of the last failed call on this thread (at most `len` bytes, not
  // terminated) and returns its full length.
  size_t (*last_error)(char* buf, size_t len);
  // The same for the last lines the model printed on this thread (diagnostics).
  size_t (*output_tail)(char* buf, size_t len);
  // A new model (constructed and evaluated once; the probe also reset); NULL on error.
  TesseraModel* (*create)(void);
  void (*destroy)(TesseraModel* m);
  // FST waveform of cycles [start, end) to `path` (`len` bytes, not terminated).
  int (*trace_open)(TesseraModel* m, const char* path, size_t len, uint64_t start, uint64_t end);
  void (*trace_close)(TesseraModel* m);
} TesseraCommonOps;

// A model with the tile port contract (docs/verification.md, the bridge).
typedef struct TesseraTileOps {
  TesseraCommonOps common;
  // Parameters the model was built with.
  uint32_t lanes, k_width, weight_words, act_words;
  bool backdoor;

  // Per-cycle ports; with set_drive(true) (the default) the transactors own the stream inputs.
  void (*set_drive)(TesseraModel* m, bool transactors);
  void (*poke_reset)(TesseraModel* m, bool active);
  void (*poke_err_clear)(TesseraModel* m, bool value);
  void (*poke_cfg)(TesseraModel* m, bool valid, uint32_t base, uint32_t rows, uint32_t k);
  void (*poke_wr)(TesseraModel* m, bool valid, uint32_t addr, const uint8_t* data, size_t len);
  void (*poke_act)(TesseraModel* m, bool valid, const uint8_t* data, size_t len);
  void (*poke_res_ready)(TesseraModel* m, bool ready);
  int (*eval)(TesseraModel* m);
  uint32_t (*peek_status)(const TesseraModel* m);
  void (*peek_res)(const TesseraModel* m, int32_t* out, size_t len);

  // Clocking; run_until stores the cycles it ran in *cycles.
  int (*reset)(TesseraModel* m, uint32_t cycles);
  int (*tick)(TesseraModel* m, uint64_t cycles);
  int (*run_until)(TesseraModel* m, uint64_t results, uint64_t max_cycles, bool until_idle,
                   uint64_t* cycles);

  // Transactors: beats queued with the idle cycles to insert before each.
  void (*push_cfg)(TesseraModel* m, uint32_t base, uint32_t rows, uint32_t k, uint32_t gap);
  void (*push_wr)(TesseraModel* m, uint32_t addr, const uint8_t* data, size_t len, uint32_t gap);
  void (*push_act)(TesseraModel* m, const uint8_t* data, size_t len, uint32_t gap);
  void (*push_acts)(TesseraModel* m, const uint8_t* data, size_t len, uint32_t gap);
  void (*set_sink)(TesseraModel* m, uint32_t ready_permille, uint64_t seed);
  uint64_t (*pending_inputs)(const TesseraModel* m);

  // Monitors: `log_lens` writes the element counts of the seven records (cfg, wr meta, wr data,
  // act cycles, act data, res meta, res data); `take_logs` copies each record whole into a
  // buffer of exactly that length (`lens`, as read) and clears it.
  void (*log_lens)(const TesseraModel* m, uint64_t out[7]);
  int (*take_logs)(TesseraModel* m, const uint64_t lens[7], uint64_t* cfg, uint64_t* wr_meta,
                   uint8_t* wr_data, uint64_t* act_cycles, uint8_t* act_data, uint64_t* res_meta,
                   int32_t* res_data);
  // cycles, mac_busy cycles, busy cycles, err cycles, results.
  void (*counters)(const TesseraModel* m, uint64_t out[5]);

  // Backdoor of the weight memory (DPI exports of u_weight_ram), 32 bits at a time.
  int (*backdoor_write)(TesseraModel* m, uint32_t addr, uint32_t piece, uint32_t value);
  int (*backdoor_read)(TesseraModel* m, uint32_t addr, uint32_t piece, uint32_t* value);

  // Benchmark reference: the transactors' stimulus in a plain C++ loop; *cycles as run_until.
  int (*bare_matvec_loop)(TesseraModel* m, uint32_t base, uint32_t rows, uint32_t k,
                          const uint8_t* acts, size_t len, uint32_t ops, uint64_t* cycles);
} TesseraTileOps;

// The assertion probe under verif/bench/ (harness self-tests).
typedef struct TesseraProbeOps {
  TesseraCommonOps common;
  void (*set_inputs)(TesseraModel* m, bool fire_assert, bool fire_fatal);
  int (*tick)(TesseraModel* m, uint64_t cycles);
  uint32_t (*count)(const TesseraModel* m);
} TesseraProbeOps;

// The vector unit's arithmetic primitives (verif/bench/vec_prims.sv, combinational): for each
// operand pair the outputs add, sub, mul, i2f, max, cmp, ldexp, f2i of that top, in this order.
#define TESSERA_VEC_OUTPUTS 8
typedef struct TesseraVecOps {
  TesseraCommonOps common;
  uint32_t outputs;  // TESSERA_VEC_OUTPUTS
  // Evaluates the pairs (a[i], b[i]) for i < n and writes out[i * outputs + j]; `out` holds
  // n * outputs words. One trace sample per pair.
  int (*eval_batch)(TesseraModel* m, const uint32_t* a, const uint32_t* b, size_t n,
                    uint32_t* out);
  // Streams the pairs (a[i], b[i]) for i < n through the sequenced unit selected by `op`
  // (the top's unit_op_i) and writes out[2 * i] = the result, out[2 * i + 1] = the cycles from
  // the request's handshake to the result's. With `backpressure` the result's ready is low on
  // about one cycle in three (a fixed pseudo-random pattern).
  int (*run_unit)(TesseraModel* m, uint32_t op, const uint32_t* a, const uint32_t* b, size_t n,
                  int backpressure, uint32_t* out);
} TesseraVecOps;

#ifdef __cplusplus
}  // extern "C"
#endif
