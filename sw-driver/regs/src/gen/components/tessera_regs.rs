// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Addrmap: Tessera control and status registers

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

// Anonymous component instances
pub mod cfg_abuf_words;
pub mod cfg_act_words;
pub mod cfg_grid;
pub mod cfg_rbuf_words;
pub mod cfg_stream;
pub mod cfg_tile;
pub mod cfg_vbuf_words;
pub mod cfg_weight_rom;
pub mod cfg_weight_words;
pub mod cmd_fifo;
pub mod ctrl;
pub mod ecc_corrected;
pub mod ecc_fail;
pub mod ecc_fail_addr;
pub mod error;
pub mod id;
pub mod intr_enable;
pub mod intr_status;
pub mod perf_cycles_hi;
pub mod perf_cycles_lo;
pub mod perf_mac_busy_hi;
pub mod perf_mac_busy_lo;
pub mod perf_stall_cmd_hi;
pub mod perf_stall_cmd_lo;
pub mod perf_stall_input_hi;
pub mod perf_stall_input_lo;
pub mod perf_stall_output_hi;
pub mod perf_stall_output_lo;
pub mod scratch;
pub mod status;
pub mod version;
pub mod weight_rom_digest;

/// Tessera control and status registers
///
/// Registers of the Tessera chip, reached over the AXI4-Lite slave. Bulk data (commands,
/// weights, activations, results) travels on the AXI4-Stream ports instead.
#[derive(Eq, PartialEq)]
pub struct TesseraRegs<'io, IO = peakrdl_rust::io::PtrIO> {
    ptr: *mut u8,
    io: &'io IO,
}

unsafe impl<IO: Sync> Send for TesseraRegs<'_, IO> {}
unsafe impl<IO: Sync> Sync for TesseraRegs<'_, IO> {}

// manually implement Copy to ease generic bounds
// (IO does not need to be Copy)
impl<IO> Copy for TesseraRegs<'_, IO> {}

// manually implement Clone to ease generic bounds
// (IO does not need to be Clone)
impl<IO> Clone for TesseraRegs<'_, IO> {
    fn clone(&self) -> Self {
        *self
    }
}

impl TesseraRegs<'static> {
    /// # Safety
    ///
    /// The caller must guarantee that the provided address points to a
    /// hardware register block implementing this interface.
    #[inline(always)]
    #[must_use]
    pub const unsafe fn from_ptr(ptr: *mut ()) -> Self {
        Self {
            ptr: ptr.cast::<u8>(),
            io: &peakrdl_rust::io::PtrIO,
        }
    }
}

impl<'io, IO> TesseraRegs<'io, IO> {
    /// Size in bytes of the underlying memory
    pub const SIZE: usize = 0x128;

    /// # Safety
    ///
    /// The caller must guarantee that the provided address points to a
    /// hardware register block implementing this interface.
    #[inline(always)]
    #[must_use]
    pub const unsafe fn from_ptr_with(ptr: *mut (), io: &'io IO) -> Self {
        Self {
            ptr: ptr.cast::<u8>(),
            io,
        }
    }

    #[inline(always)]
    #[must_use]
    pub const fn as_ptr(&self) -> *mut () {
        self.ptr.cast::<()>()
    }
}

impl<'io, IO: peakrdl_rust::io::RegisterIO> TesseraRegs<'io, IO> {
    /// Identification
    ///
    /// Constant magic number 0x54455353 ("TESS"); the driver refuses any other value.
    #[inline(always)]
    #[must_use]
    pub const fn id(&self) -> peakrdl_rust::reg::Reg<'io, id::Id, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x0).cast(), self.io)
        }
    }

    /// Version
    ///
    /// Version of the programming interface (registers and descriptor format).
    #[inline(always)]
    #[must_use]
    pub const fn version(&self) -> peakrdl_rust::reg::Reg<'io, version::Version, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x4).cast(), self.io)
        }
    }

    /// Build configuration: tile grid
    #[inline(always)]
    #[must_use]
    pub const fn cfg_grid(&self) -> peakrdl_rust::reg::Reg<'io, cfg_grid::CfgGrid, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x10).cast(), self.io)
        }
    }

    /// Build configuration: MAC array
    #[inline(always)]
    #[must_use]
    pub const fn cfg_tile(&self) -> peakrdl_rust::reg::Reg<'io, cfg_tile::CfgTile, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x14).cast(), self.io)
        }
    }

    /// Build configuration: weight words per tile
    ///
    /// Depth of each tile's weight memory; one word holds Lanes x KWidth int8 weights.
    #[inline(always)]
    #[must_use]
    pub const fn cfg_weight_words(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, cfg_weight_words::CfgWeightWords, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x18).cast(), self.io)
        }
    }

    /// Build configuration: activation buffer chunks per tile
    ///
    /// Largest K a tile accepts is this value times KWidth.
    #[inline(always)]
    #[must_use]
    pub const fn cfg_act_words(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, cfg_act_words::CfgActWords, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x1C).cast(), self.io)
        }
    }

    /// Build configuration: vector buffer words
    ///
    /// Size of the on-chip vector buffer in 32-bit words: the activation buffer
    /// (CFG_ABUF_WORDS x KWidth / 4) plus the result buffer (CFG_RBUF_WORDS x Lanes).
    #[inline(always)]
    #[must_use]
    pub const fn cfg_vbuf_words(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, cfg_vbuf_words::CfgVbufWords, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x20).cast(), self.io)
        }
    }

    /// Build configuration: activation buffer chunks
    ///
    /// Depth of the activation (int8 input vector) buffer in chunks of KWidth int8 elements;
    /// VBUF_LOAD and MATVEC address it in chunks.
    #[inline(always)]
    #[must_use]
    pub const fn cfg_abuf_words(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, cfg_abuf_words::CfgAbufWords, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x24).cast(), self.io)
        }
    }

    /// Build configuration: result buffer words
    ///
    /// Depth of the result buffer in words of Lanes int32 results; MATVEC and VBUF_READ
    /// address it in these words.
    #[inline(always)]
    #[must_use]
    pub const fn cfg_rbuf_words(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, cfg_rbuf_words::CfgRbufWords, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x28).cast(), self.io)
        }
    }

    /// Build configuration: stream width
    ///
    /// Bits of tdata on the AXI4-Stream ports.
    #[inline(always)]
    #[must_use]
    pub const fn cfg_stream(&self) -> peakrdl_rust::reg::Reg<'io, cfg_stream::CfgStream, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x2C).cast(), self.io)
        }
    }

    /// Build configuration: weights in ROM
    ///
    /// 1 when the tiles' weight memories are ROMs whose contents were fixed at build time
    /// from an image (docs/architecture.md, "Weights in ROM"): WEIGHT_LOAD then fails with
    /// ERROR.code 0x13 and WEIGHT_ROM_DIGEST names the image.
    #[inline(always)]
    #[must_use]
    pub const fn cfg_weight_rom(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, cfg_weight_rom::CfgWeightRom, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x30).cast(), self.io)
        }
    }

    /// Digest of the weight ROM image
    ///
    /// FNV-1a (32 bits) of the data bytes of every tile's weight words, tile 0 first, word 0
    /// first, all WeightWords words of each tile (`tessera rom-image` computes it); 0 when
    /// CFG_WEIGHT_ROM.rom is 0. The driver refuses to run a model whose weights have another digest.
    #[inline(always)]
    #[must_use]
    pub const fn weight_rom_digest(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, weight_rom_digest::WeightRomDigest, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x34).cast(), self.io)
        }
    }

    /// Control
    #[inline(always)]
    #[must_use]
    pub const fn ctrl(&self) -> peakrdl_rust::reg::Reg<'io, ctrl::Ctrl, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x40).cast(), self.io)
        }
    }

    /// Status
    #[inline(always)]
    #[must_use]
    pub const fn status(&self) -> peakrdl_rust::reg::Reg<'io, status::Status, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x44).cast(), self.io)
        }
    }

    /// Error
    ///
    /// The first error since the last soft reset. Codes are listed in docs/architecture.md.
    #[inline(always)]
    #[must_use]
    pub const fn error(&self) -> peakrdl_rust::reg::Reg<'io, error::Error, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x48).cast(), self.io)
        }
    }

    /// Interrupt status
    ///
    /// Each bit is set by hardware and cleared by writing 1. The interrupt line is the OR
    /// of the bits enabled in INTR_ENABLE.
    #[inline(always)]
    #[must_use]
    pub const fn intr_status(&self) -> peakrdl_rust::reg::Reg<'io, intr_status::IntrStatus, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x50).cast(), self.io)
        }
    }

    /// Interrupt enable
    #[inline(always)]
    #[must_use]
    pub const fn intr_enable(&self) -> peakrdl_rust::reg::Reg<'io, intr_enable::IntrEnable, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x54).cast(), self.io)
        }
    }

    /// Scratch
    ///
    /// Read/write register with no effect, for bus checks.
    #[inline(always)]
    #[must_use]
    pub const fn scratch(&self) -> peakrdl_rust::reg::Reg<'io, scratch::Scratch, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x60).cast(), self.io)
        }
    }

    /// Command FIFO
    ///
    /// Each write pushes one 32-bit word of a descriptor, as an alternative to the command
    /// stream. It is write-only: a read answers SLVERR.
    #[inline(always)]
    #[must_use]
    pub const fn cmd_fifo(&self) -> peakrdl_rust::reg::Reg<'io, cmd_fifo::CmdFifo, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x70).cast(), self.io)
        }
    }

    /// ECC: corrected errors
    ///
    /// Single-bit errors corrected by SECDED in the tiles' weight memories and the token
    /// engine's program and data memories since power-on (a soft reset keeps it); saturates at
    /// 2^32 - 1.
    #[inline(always)]
    #[must_use]
    pub const fn ecc_corrected(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, ecc_corrected::EccCorrected, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x80).cast(), self.io)
        }
    }

    /// ECC: first uncorrectable error
    ///
    /// Where the first double-bit error since power-on was found (a soft reset keeps it).
    /// A weight memory's stops the command processor with ERROR.code 0x11; the data memory's fails the
    /// token engine's instruction with 0x12.
    #[inline(always)]
    #[must_use]
    pub const fn ecc_fail(&self) -> peakrdl_rust::reg::Reg<'io, ecc_fail::EccFail, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x84).cast(), self.io)
        }
    }

    /// ECC: address of the first uncorrectable error
    ///
    /// Word address in the memory ECC_FAIL names: a weight word of the tile, or a 32-bit
    /// word of the data memory.
    #[inline(always)]
    #[must_use]
    pub const fn ecc_fail_addr(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, ecc_fail_addr::EccFailAddr, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x88).cast(), self.io)
        }
    }

    /// Cycles (bits 31:0)
    #[inline(always)]
    #[must_use]
    pub const fn perf_cycles_lo(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_cycles_lo::PerfCyclesLo, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x100).cast(), self.io)
        }
    }

    /// Cycles (bits 63:32)
    #[inline(always)]
    #[must_use]
    pub const fn perf_cycles_hi(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_cycles_hi::PerfCyclesHi, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x104).cast(), self.io)
        }
    }

    /// Tile-cycles with a MAC step (bits 31:0)
    #[inline(always)]
    #[must_use]
    pub const fn perf_mac_busy_lo(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_mac_busy_lo::PerfMacBusyLo, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x108).cast(), self.io)
        }
    }

    /// Tile-cycles with a MAC step (bits 63:32)
    #[inline(always)]
    #[must_use]
    pub const fn perf_mac_busy_hi(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_mac_busy_hi::PerfMacBusyHi, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x10C).cast(), self.io)
        }
    }

    /// Cycles waiting for input data (bits 31:0)
    #[inline(always)]
    #[must_use]
    pub const fn perf_stall_input_lo(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_stall_input_lo::PerfStallInputLo, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x110).cast(), self.io)
        }
    }

    /// Cycles waiting for input data (bits 63:32)
    #[inline(always)]
    #[must_use]
    pub const fn perf_stall_input_hi(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_stall_input_hi::PerfStallInputHi, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x114).cast(), self.io)
        }
    }

    /// Cycles blocked by output backpressure (bits 31:0)
    #[inline(always)]
    #[must_use]
    pub const fn perf_stall_output_lo(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_stall_output_lo::PerfStallOutputLo, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x118).cast(), self.io)
        }
    }

    /// Cycles blocked by output backpressure (bits 63:32)
    #[inline(always)]
    #[must_use]
    pub const fn perf_stall_output_hi(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_stall_output_hi::PerfStallOutputHi, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x11C).cast(), self.io)
        }
    }

    /// Cycles waiting for a descriptor (bits 31:0)
    #[inline(always)]
    #[must_use]
    pub const fn perf_stall_cmd_lo(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_stall_cmd_lo::PerfStallCmdLo, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x120).cast(), self.io)
        }
    }

    /// Cycles waiting for a descriptor (bits 63:32)
    #[inline(always)]
    #[must_use]
    pub const fn perf_stall_cmd_hi(
        &self,
    ) -> peakrdl_rust::reg::Reg<'io, perf_stall_cmd_hi::PerfStallCmdHi, IO> {
        unsafe {
            peakrdl_rust::reg::Reg::from_ptr_with(self.ptr.wrapping_byte_add(0x124).cast(), self.io)
        }
    }
}
