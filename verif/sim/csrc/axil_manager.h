// SPDX-License-Identifier: Apache-2.0
// AXI4-Lite manager of the C++ bench of tessera_top (verif/sim/csrc/tessera_sim.cpp): one
// register write or read at a time on the s_axil_* ports of a Verilator model, every handshake
// bounded. `step` is the bench's own clock cycle (it owns the stream transactors and the
// evaluation order); the manager only sets the AXI4-Lite inputs between cycles and samples the
// outputs after an evaluation.
//
// The folder of this header is on the include path of every model that
// tessera_sim::build_model builds, and its headers are part of the model's cache key.

#pragma once

#include <cstdint>

namespace axil {

// Cycles a handshake may take before the access gives up.
constexpr uint64_t kMaxWait = 10000;

// Evaluates and steps until cond() holds, at most max cycles; true when it held.
template <typename Model, typename Step, typename Cond>
bool wait_for(Model* m, Step step, Cond cond, uint64_t max) {
  for (uint64_t i = 0; i < max; i++) {
    m->eval();
    if (cond()) return true;
    step();
  }
  m->eval();
  return cond();
}

// Writes data to addr with every byte enabled; *resp gets BRESP. 0, or -1 on a timeout.
template <typename Model, typename Step>
int write(Model* m, Step step, uint32_t addr, uint32_t data, uint32_t* resp) {
  m->s_axil_awaddr_i = addr;
  m->s_axil_awprot_i = 0;
  m->s_axil_wdata_i = data;
  m->s_axil_wstrb_i = 0xf;
  m->s_axil_awvalid_i = 1;
  m->s_axil_wvalid_i = 1;
  m->s_axil_bready_i = 1;
  bool aw = false, wd = false;
  for (uint64_t i = 0; i < kMaxWait && !(aw && wd); i++) {
    m->eval();
    bool a = m->s_axil_awvalid_i && m->s_axil_awready_o;
    bool w = m->s_axil_wvalid_i && m->s_axil_wready_o;
    step();
    if (a) { aw = true; m->s_axil_awvalid_i = 0; }
    if (w) { wd = true; m->s_axil_wvalid_i = 0; }
  }
  if (!(aw && wd)) return -1;
  if (!wait_for(m, step, [m] { return static_cast<bool>(m->s_axil_bvalid_o); }, kMaxWait)) {
    return -1;
  }
  *resp = m->s_axil_bresp_o;
  step();
  m->s_axil_bready_i = 0;
  return 0;
}

// Reads addr into *data; *resp gets RRESP. 0, or -1 on a timeout.
template <typename Model, typename Step>
int read(Model* m, Step step, uint32_t addr, uint32_t* data, uint32_t* resp) {
  m->s_axil_araddr_i = addr;
  m->s_axil_arprot_i = 0;
  m->s_axil_arvalid_i = 1;
  m->s_axil_rready_i = 1;
  if (!wait_for(m, step, [m] { return static_cast<bool>(m->s_axil_arready_o); }, kMaxWait)) {
    return -1;
  }
  step();
  m->s_axil_arvalid_i = 0;
  if (!wait_for(m, step, [m] { return static_cast<bool>(m->s_axil_rvalid_o); }, kMaxWait)) {
    return -1;
  }
  *data = m->s_axil_rdata_o;
  *resp = m->s_axil_rresp_o;
  step();
  m->s_axil_rready_i = 0;
  return 0;
}

}  // namespace axil
