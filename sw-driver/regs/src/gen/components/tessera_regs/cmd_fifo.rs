// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Command FIFO

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Command FIFO
///
/// Each write pushes one 32-bit word of a descriptor, as an alternative to the command
/// stream. It is write-only: a read answers SLVERR.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct CmdFifo(u32);

unsafe impl Send for CmdFifo {}
unsafe impl Sync for CmdFifo {}

impl core::default::Default for CmdFifo {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for CmdFifo {
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

impl CmdFifo {
    pub const WORD_OFFSET: usize = 0;
    pub const WORD_WIDTH: usize = 32;
    pub const WORD_MASK: u32 = 0xFFFF_FFFF;

    /// word
    #[inline(always)]
    pub fn set_word(&mut self, val: u32) {
        let val = val as u32;
        self.0 = (self.0 & !(Self::WORD_MASK << Self::WORD_OFFSET))
            | ((val & Self::WORD_MASK) << Self::WORD_OFFSET);
    }
}

impl core::fmt::Debug for CmdFifo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CmdFifo").finish()
    }
}
