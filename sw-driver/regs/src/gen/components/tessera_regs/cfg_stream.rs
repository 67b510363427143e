// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: Build configuration: stream width

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// Build configuration: stream width
///
/// Bits of tdata on the AXI4-Stream ports.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct CfgStream(u32);

unsafe impl Send for CfgStream {}
unsafe impl Sync for CfgStream {}

impl core::default::Default for CfgStream {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for CfgStream {
    type Regwidth = u32;
    type Accesswidth = u32;
    type Access = peakrdl_rust::access::R;
    type ByteEndian = peakrdl_rust::endian::LittleEndian;
    type WordEndian = peakrdl_rust::endian::LittleEndian;

    unsafe fn from_raw(val: Self::Regwidth) -> Self {
        Self(val)
    }

    fn to_raw(self) -> Self::Regwidth {
        self.0
    }
}

impl CfgStream {
    pub const BITS_OFFSET: usize = 0;
    pub const BITS_WIDTH: usize = 32;
    pub const BITS_MASK: u32 = 0xFFFF_FFFF;

    /// bits
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn bits(&self) -> u32 {
        let val = (self.0 >> Self::BITS_OFFSET) & Self::BITS_MASK;
        val
    }
}

impl core::fmt::Debug for CfgStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CfgStream")
            .field("bits", &self.bits())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = CfgStream::default();
        assert_eq!(reg.bits(), 0);
    }
}
