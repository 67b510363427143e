// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: ECC: address of the first uncorrectable error

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// ECC: address of the first uncorrectable error
///
/// Word address in the memory ECC_FAIL names: a weight word of the tile, or a 32-bit
/// word of the data memory.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct EccFailAddr(u32);

unsafe impl Send for EccFailAddr {}
unsafe impl Sync for EccFailAddr {}

impl core::default::Default for EccFailAddr {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for EccFailAddr {
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

impl EccFailAddr {
    pub const ADDR_OFFSET: usize = 0;
    pub const ADDR_WIDTH: usize = 32;
    pub const ADDR_MASK: u32 = 0xFFFF_FFFF;

    /// addr
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn addr(&self) -> u32 {
        let val = (self.0 >> Self::ADDR_OFFSET) & Self::ADDR_MASK;
        val
    }
}

impl core::fmt::Debug for EccFailAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EccFailAddr")
            .field("addr", &self.addr())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = EccFailAddr::default();
        assert_eq!(reg.addr(), 0);
    }
}
