// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Control

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Control
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct Ctrl(u32);

unsafe impl Send for Ctrl {}
unsafe impl Sync for Ctrl {}

impl core::default::Default for Ctrl {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for Ctrl {
    type Regwidth = u32;
    type Accesswidth = u32;
    type Access = peakrdl_rust::access::W;
    type ByteEndian = peakrdl_rust::endian::LittleEndian;
    type WordEndian = peakrdl_rust::endian::LittleEndian;

    unsafe fn from_raw(val: Self::Regwidth) -> Self {
        Self(val)
    }

    fn to_raw(self) -> Self::Regwidth {
        self.0
    }
}

impl Ctrl {
    pub const START_OFFSET: usize = 0;
    pub const START_WIDTH: usize = 1;
    pub const START_MASK: u32 = 0x1;

    /// start
    ///
    /// Write 1 to run the descriptors queued in CMD_FIFO; the command processor takes
    /// them until the FIFO is empty. Descriptors on the command stream run without it.
    #[inline(always)]
    pub fn set_start(&mut self, val: bool) {
        let val = val as u32;
        self.0 = (self.0 & !(Self::START_MASK << Self::START_OFFSET))
            | ((val & Self::START_MASK) << Self::START_OFFSET);
    }

    pub const SOFT_RESET_OFFSET: usize = 1;
    pub const SOFT_RESET_WIDTH: usize = 1;
    pub const SOFT_RESET_MASK: u32 = 0x1;

    /// soft_reset
    ///
    /// Write 1 to abort every operation, drop queued commands and clear the error.
    #[inline(always)]
    pub fn set_soft_reset(&mut self, val: bool) {
        let val = val as u32;
        self.0 = (self.0 & !(Self::SOFT_RESET_MASK << Self::SOFT_RESET_OFFSET))
            | ((val & Self::SOFT_RESET_MASK) << Self::SOFT_RESET_OFFSET);
    }

    pub const SNAPSHOT_OFFSET: usize = 2;
    pub const SNAPSHOT_WIDTH: usize = 1;
    pub const SNAPSHOT_MASK: u32 = 0x1;

    /// snapshot
    ///
    /// Write 1 to copy the running performance counters into the PERF_* registers.
    #[inline(always)]
    pub fn set_snapshot(&mut self, val: bool) {
        let val = val as u32;
        self.0 = (self.0 & !(Self::SNAPSHOT_MASK << Self::SNAPSHOT_OFFSET))
            | ((val & Self::SNAPSHOT_MASK) << Self::SNAPSHOT_OFFSET);
    }
}

impl core::fmt::Debug for Ctrl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ctrl").finish()
    }
}
