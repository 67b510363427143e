//! Chip-level tests of `tessera_top`: one test binary, so the verification library and its
//! Verilator archives are linked once for all of them.
//!
//! The chip runs behind the driver (`tessera_driver::Device` on `tessera_sim::SimTransport`,
//! the one bench `verif/sim/csrc/tessera_sim.cpp`): descriptors from `tessera_abi`, register
//! offsets from the generated layer `tessera_regs`, placements from the driver's mapper, and an
//! in-order scoreboard whose expected values come from the golden model's integer kernel on the
//! inputs each test generated ([`env`]).
//!
//! - [`axi`]: AXI4-Lite and AXI4-Stream protocol at the ports, driven cycle by cycle
//!   (`port_sim.cpp`), legal traffic and manager-side violations;
//! - [`errors`]: illegal programs, their error codes and recovery; the driver's register view;
//! - [`matvec`]: products under random stream timing, programs, CMD_FIFO, counters;
//! - [`regs`]: every register of the map;
//! - [`noc`]: the networks alone under random traffic and backpressure
//!   (`verif/bench/chip_noc_bench.sv`);
//! - [`token`]: the token engine against the reference interpreter on random small models (and
//!   on `ulx3s`'s 32-bit stream and registered units, `FpStages = 1`), its faults and every
//!   operand check (on `tiny` and `ulx3s`), a soft reset in the middle of a token, the
//!   ENG_LOAD and TOKEN checks;
//! - [`token_cycles`]: the whole-token cycle model against tokens traced in RTL, instruction
//!   by instruction (calibration on 64 and 256 tiles ignored);
//! - [`streams`]: random command streams, legal and illegal mixed, over the stream port and
//!   CMD_FIFO, against a reference model of the command processor (proptest, shrinking);
//! - [`rom`]: a chip whose weights are in ROM against the SRAM chip and the interpreter, the
//!   refused WEIGHT_LOAD and the refused model;
//! - [`ecc`]: SECDED of the weight memories and the engine's DMEM under injected single and
//!   double bit flips during tokens;
//! - [`soak`]: thousands of random tokens and models through the token engine with random
//!   backpressure, legal faults, soft resets and a faulty UART link, against the interpreter;
//! - [`latency`]: the cycle model of the projection against the RTL (calibration ignored);
//! - [`bench`]: Llama 3.1 8B shapes on `sim` (ignored).

mod env;

mod axi;
mod bench;
mod ecc;
mod errors;
mod latency;
mod matvec;
mod noc;
mod regs;
mod rom;
mod soak;
mod streams;
mod token;
mod token_cycles;
mod token_ops;
