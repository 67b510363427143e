// SPDX-License-Identifier: Apache-2.0
// The Verilator message hooks of a model library: $stop, $fatal, failed assertions and $finish
// are recorded per thread (and marked in the model's context) and surface as errors from the
// call that ran the model, never as a process abort. Also the last error of the C interface.
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "tile_sim.h"

namespace {
struct SvState {
  std::string recent;  // console output of the model since the last entry
  std::string error;
  bool failed = false;
};
thread_local SvState t_sv;
constexpr size_t kRecentMax = 8192;
thread_local std::string t_tail;  // last lines of output, for diagnostics
thread_local std::string t_last_error;

size_t copy_out(const std::string& s, char* buf, size_t len) {
  if (buf && len) std::memcpy(buf, s.data(), std::min(len, s.size()));
  return s.size();
}

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
  return e;
}
void sv_clear() { t_sv = SvState{}; }

void set_last_error(const char* msg) { t_last_error = msg; }
size_t copy_last_error(char* buf, size_t len) { return copy_out(t_last_error, buf, len); }
size_t copy_output_tail(char* buf, size_t len) { return copy_out(t_tail, buf, len); }

}  // namespace tessera
