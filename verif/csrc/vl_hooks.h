// SPDX-License-Identifier: Apache-2.0
// Forced into the Verilator runtime's translation units: routes its console output through
// the harness so that SV messages ($display, assertion failures, $fatal) can be returned to
// Rust, and marks vl_stop/vl_fatal/vl_finish as provided by the harness (see bridge.cpp).
#pragma once
#ifdef __cplusplus
extern int tessera_vl_printf(const char* formatp, ...) __attribute__((format(printf, 1, 2)));
#define VL_PRINTF tessera_vl_printf
#endif
