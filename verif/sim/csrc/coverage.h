// SPDX-License-Identifier: Apache-2.0
// Coverage data of a bench's model: in a coverage build (verilator --coverage-*, which defines
// VM_COVERAGE=1; tessera_sim::builder, TESSERA_COVERAGE) write_coverage saves the counters of a
// context into $TESSERA_COVERAGE/<name>-<pid>-<n>.dat, a new file per call; in any other build,
// or without the variable, it does nothing. Call it once the model has run final().
#pragma once

#include "verilated.h"

#if VM_COVERAGE
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "verilated_cov.h"
#endif

namespace tessera {

inline void write_coverage(VerilatedContext* ctx, const char* name) {
#if VM_COVERAGE
  const char* dir = std::getenv("TESSERA_COVERAGE");
  if (!dir || !*dir) return;
  static unsigned seq = 0;
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

}  // namespace tessera
