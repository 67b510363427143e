// Generated from rtl/regs/tessera_regs.rdl by scripts/gen-regs. Do not edit.
//! Register: ECC: first uncorrectable error

#[allow(unused_imports)]
use super::_root; // alias to root module of generated code

/// ECC: first uncorrectable error
///
/// Where the first double-bit error since power-on was found (a soft reset keeps it).
/// A weight memory's stops the command processor with ERROR.code 0x11; the data memory's fails the
/// token engine's instruction with 0x12.
#[repr(transparent)]
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct EccFail(u32);

unsafe impl Send for EccFail {}
unsafe impl Sync for EccFail {}

impl core::default::Default for EccFail {
    fn default() -> Self {
        Self(0x0)
    }
}

impl peakrdl_rust::reg::Register for EccFail {
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

impl EccFail {
    pub const TILE_OFFSET: usize = 0;
    pub const TILE_WIDTH: usize = 16;
    pub const TILE_MASK: u32 = 0xFFFF;

    /// tile
    ///
    /// The tile (weight memory).
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn tile(&self) -> u16 {
        let val = (self.0 >> Self::TILE_OFFSET) & Self::TILE_MASK;
        val as u16
    }

    pub const DMEM_OFFSET: usize = 30;
    pub const DMEM_WIDTH: usize = 1;
    pub const DMEM_MASK: u32 = 0x1;

    /// dmem
    ///
    /// 1: the token engine's data memory; 0: a tile's weight memory.
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn dmem(&self) -> bool {
        let val = (self.0 >> Self::DMEM_OFFSET) & Self::DMEM_MASK;
        val != 0
    }

    pub const VALID_OFFSET: usize = 31;
    pub const VALID_WIDTH: usize = 1;
    pub const VALID_MASK: u32 = 0x1;

    /// valid
    ///
    /// A double-bit error was found.
    #[inline(always)]
    #[allow(clippy::missing_panics_doc)]
    #[must_use]
    pub fn valid(&self) -> bool {
        let val = (self.0 >> Self::VALID_OFFSET) & Self::VALID_MASK;
        val != 0
    }
}

impl core::fmt::Debug for EccFail {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EccFail")
            .field("tile", &self.tile())
            .field("dmem", &self.dmem())
            .field("valid", &self.valid())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default() {
        let reg = EccFail::default();
        assert_eq!(reg.tile(), 0);
        assert_eq!(reg.dmem(), false);
        assert_eq!(reg.valid(), false);
    }
}
