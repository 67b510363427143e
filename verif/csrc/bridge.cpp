// SPDX-License-Identifier: Apache-2.0
// Model factory and the Verilator message hooks: $stop, $fatal, failed assertions and
// $finish are recorded per thread and surface as errors from the call that ran the model,
// never as a process abort.
#include <cstdarg>
#include <cstdio>
#include <string>

#include "csrc/tile_sim.h"
#include "models_gen.h"

namespace {
struct SvState {
  std::string recent;  // console output of the model since the last entry
  std::string error;
  bool failed = false;
};
thread_local SvState t_sv;
constexpr size_t kRecentMax = 8192;
thread_local std::string t_tail;  // last lines of output, for diagnostics

void record_error(const char* filename, int linenum, const char* what) {
  std::string msg = t_sv.recent;
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (msg.empty()) msg = what;
  if (filename && filename[0]) {
    msg += " [";
    msg += filename;
    msg += ":" + std::to_string(linenum) + "]";
  }
  if (!t_sv.failed) t_sv.error = msg;
  t_sv.failed = true;
  tessera::t_sv_failed = true;
  Verilated::threadContextp()->gotError(true);
}
}  // namespace

int tessera_vl_printf(const char* formatp, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, formatp);
  int n = std::vsnprintf(buf, sizeof buf, formatp, ap);
  va_end(ap);
  std::string s;
  if (n >= int(sizeof buf)) {
    s.resize(size_t(n) + 1);
    va_start(ap, formatp);
    std::vsnprintf(&s[0], s.size(), formatp, ap);
    va_end(ap);
    s.resize(size_t(n));
  } else if (n > 0) {
    s.assign(buf, size_t(n));
  }
  std::fputs(s.c_str(), stdout);
  std::fflush(stdout);
  t_sv.recent += s;
  if (t_sv.recent.size() > kRecentMax) t_sv.recent.erase(0, t_sv.recent.size() - kRecentMax);
  t_tail += s;
  if (t_tail.size() > kRecentMax) t_tail.erase(0, t_tail.size() - kRecentMax);
  return n;
}

void vl_stop(const char* filename, int linenum, const char* hier) {
  (void)hier;
  record_error(filename, linenum, "Verilog $stop");
}

void vl_fatal(const char* filename, int linenum, const char* hier, const char* msg) {
  (void)hier;
  if (t_sv.recent.empty() && msg) t_sv.recent = msg;
  record_error(filename, linenum, msg ? msg : "Verilog fatal error");
}

void vl_finish(const char* filename, int linenum, const char* hier) {
  (void)hier;
  Verilated::threadContextp()->gotFinish(true);
  record_error(filename, linenum, "Verilog $finish");
}

namespace tessera {

std::string sv_take_error() {
  std::string e = t_sv.error;
  t_sv = SvState{};
  t_sv_failed = false;
  return e;
}
void sv_clear() {
  t_sv = SvState{};
  t_sv_failed = false;
}

std::unique_ptr<TileSim> new_tile_sim(rust::Str model) {
  auto m = make_tile_model(std::string(model));
  if (!m) throw std::runtime_error("no tile model named " + std::string(model));
  return m;
}

std::unique_ptr<ProbeSim> new_probe_sim(rust::Str model) {
  auto m = make_probe_model(std::string(model));
  if (!m) throw std::runtime_error("no probe model named " + std::string(model));
  return m;
}

rust::String model_output_tail() { return rust::String(t_tail); }

}  // namespace tessera
