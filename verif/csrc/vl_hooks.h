// SPDX-License-Identifier: Apache-2.0
// Forced into every C++ file of a model library (the model, the Verilator runtime, the
// wrapper): routes the runtime's console output through the harness so that SV messages
// ($display, assertion failures, $fatal) can be returned to Rust, and tells the runtime that
// vl_stop, vl_fatal and vl_finish are provided by the harness (sv_hooks.cpp).
#pragma once
#define VL_USER_STOP
#define VL_USER_FATAL
#define VL_USER_FINISH
#ifdef __cplusplus
extern int tessera_vl_printf(const char* formatp, ...) __attribute__((format(printf, 1, 2)));
#define VL_PRINTF tessera_vl_printf
#endif
